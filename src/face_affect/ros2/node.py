"""What both ROS 2 nodes share: parameters from the settings table, ``~/ready``, ``~/enable``,
``/diagnostics``, the camera subscription, and a :class:`~face_affect.node_core.host.NodeHost`."""

from __future__ import annotations

import array
import signal
import sys
from collections.abc import Callable
from typing import Any

import rclpy
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.event_handler import PublisherEventCallbacks
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import CompressedImage, Image, RegionOfInterest
from std_msgs.msg import Bool, Header
from std_srvs.srv import SetBool

from face_affect import msg
from face_affect.errors import MissingPackageError, ModelError, SettingsError
from face_affect.node_core.diagnostics import CounterWindows, DiagnosedWork, OutputChecks, Status, node_status
from face_affect.node_core.host import EnableSwitch, NodeHost, Output
from face_affect.node_core.images import ImageConverter
from face_affect.node_core.memory import keep_large_blocks_in_heap, release_free_memory
from face_affect.node_core.messages import MessageKit, sec_nanosec_conversions
from face_affect.settings import DEFAULTS, SETTINGS, Settings, load_settings

CAMERA_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
"""Camera input: the sensor-data profile (best effort) with a queue of one, as stale frames are of no use."""
LATCHED_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
"""ROS 1's latched topics: a late subscriber gets the last message."""
RESULTS_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5, reliability=ReliabilityPolicy.RELIABLE)


ROS2_KIT = MessageKit(
    faces=msg,
    region_type=RegionOfInterest,
    header_type=Header,
    # An array.array, not bytes: rclpy's setter checks every byte of any other sequence in Python.
    images=ImageConverter(Image, CompressedImage, pixel_data=lambda data: array.array("B", data)),
    **sec_nanosec_conversions(Time),
)

PARAMETER_TYPES = {
    "bool": Parameter.Type.BOOL,
    "int": Parameter.Type.INTEGER,
    "float": Parameter.Type.DOUBLE,
    "str": Parameter.Type.STRING,
    "list": Parameter.Type.STRING_ARRAY,
}


def parameter_descriptor(name: str) -> ParameterDescriptor:
    """A setting as a ROS 2 parameter: its type, help, unit and range from the settings table.

    Read-only: the ROS 1 nodes read their parameters once, at start, and so do these.
    """
    item = SETTINGS[name]
    kind = item.type if isinstance(item.type, str) else item.type.__name__
    unit = item.metadata["unit"]
    descriptor = ParameterDescriptor(
        name=name,
        type=PARAMETER_TYPES[kind].value,
        description=item.metadata["help"] + (f" ({unit})" if unit else ""),
        read_only=True,
    )
    if kind == "list":
        # ROS 2 has no typed empty list ([] in a file or on the command line reads as unset), and a statically
        # typed parameter left unset fails every get_parameters call that names it: typed by the library.
        descriptor.dynamic_typing = True
        descriptor.additional_constraints = "a list of strings; unset (as [] reads) is an empty list"
    low, high = item.metadata["minimum"], item.metadata["maximum"]
    if low is not None and high is not None:
        if kind == "float":
            descriptor.floating_point_range = [FloatingPointRange(from_value=float(low), to_value=float(high))]
        elif kind == "int":
            descriptor.integer_range = [IntegerRange(from_value=int(low), to_value=int(high), step=1)]
    return descriptor


def declared_value(node: Node, name: str) -> Any:
    """One setting declared as a read-only parameter of its type (a list: see :func:`parameter_descriptor`),
    default from :class:`Settings`; its value as given, for :func:`~face_affect.settings.check_value` to judge.

    rclpy refuses a value that its descriptor does not allow (an int for a float, a value out of range)
    with a traceback, before the library can check it: such a value is declared again untyped and left to
    the library, which takes an int for a float (as ROS 1 does) and names the setting otherwise. A list
    setting left unset is an empty list (:func:`parameter_descriptor`).
    """
    default = getattr(DEFAULTS, name)
    descriptor = parameter_descriptor(name)
    try:
        declared_default = (default or None) if isinstance(default, list) else default
        value = node.declare_parameter(name, declared_default, descriptor).value
    except (InvalidParameterTypeException, InvalidParameterValueException):
        untyped = ParameterDescriptor(description=descriptor.description, read_only=True, dynamic_typing=True)
        value = node.declare_parameter(name, None, untyped).value
    return [] if value is None and isinstance(default, list) else value


def declare_settings(node: Node) -> Settings:
    """Every setting declared as a parameter (:func:`declared_value`), then checked as the library checks
    them: a value of the wrong type or out of range stops the node with one line naming the setting
    (:class:`~face_affect.errors.SettingsError`)."""
    return load_settings(overrides={name: declared_value(node, name) for name in SETTINGS})


def rclpy_host(node: Node) -> NodeHost:
    """The node core's host: the node's name, clock and logger."""
    logger = node.get_logger()
    return NodeHost(
        node.get_fully_qualified_name(),
        lambda: node.get_clock().now().nanoseconds * 1e-9,
        logger.info,
        logger.warning,
        logger.error,
    )


def create_output_publisher(node: Node, message_type: type, topic: str, qos: QoSProfile | int) -> Any:
    """A publisher of the nodes' outputs, without rclpy's default QoS event handlers (incompatible QoS,
    incompatible type): the subscribing side reports those too, and each handler is one more entity
    that rclpy's executor adds to its wait set, in Python, at every wake-up (a node shaped like the
    classifier, at 30 Hz: 0.2 ms a message less without any default handler, measured here)."""
    return node.create_publisher(
        message_type, topic, qos, event_callbacks=PublisherEventCallbacks(use_default_callbacks=False)
    )


def topic_output(publisher: Any) -> Output:
    return Output(publisher.topic_name, publisher.publish, publisher.get_subscription_count)


def image_topic(node: Node, compressed: bool) -> str:
    """The camera topic a node reads: ``image`` as remapped, or its ``/compressed`` sibling."""
    topic = node.resolve_topic_name("image")
    return f"{topic}/compressed" if compressed else topic


def subscribe_image(node: Node, compressed: bool, callback: Callable[[Any], None]) -> Any:
    """The camera with the sensor-data QoS (:data:`CAMERA_QOS`)."""
    message_type = CompressedImage if compressed else Image
    return node.create_subscription(message_type, image_topic(node, compressed), callback, CAMERA_QOS)


def release_memory_periodically(node: Node, period: float) -> Any:
    """Every ``period`` seconds, heap memory freed by large messages goes back to the system (:mod:`memory`)."""
    return node.create_timer(period, release_free_memory)


def publish_ready(node: Node) -> Any:
    """Transient-local ``~/ready``: tests and launch scripts wait on it instead of sleeping."""
    publisher = create_output_publisher(node, Bool, "~/ready", LATCHED_QOS)
    publisher.publish(Bool(data=True))
    return publisher


def enable_service(node: Node, switch: EnableSwitch) -> Any:
    """``~/enable`` (std_srvs/SetBool) for the core's :class:`~face_affect.node_core.host.EnableSwitch`."""

    def handle(request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        response.success, response.message = True, switch.set(request.data)
        return response

    return node.create_service(SetBool, "~/enable", handle)


class DiagnosticsPublisher:
    """One node's status on ``/diagnostics`` every ``diagnostics_period`` (``diagnostic_updater`` has no ROS 2
    wheel): the core's counters (:func:`~face_affect.node_core.diagnostics.node_status`) merged with its
    output rate and delay checks unless paused, as ``diagnostic_updater`` merges them in ROS 1."""

    def __init__(
        self,
        node: Node,
        work: DiagnosedWork,
        settings: Settings,
        enable: EnableSwitch,
    ) -> None:
        self.node = node
        self.name = f"{node.get_fully_qualified_name().lstrip('/')}: {work.task}"
        self.work = work
        self.settings = settings
        self.windows = CounterWindows(work.counts)
        self.checks = OutputChecks(
            settings.diagnostics_min_rate, settings.diagnostics_max_delay, settings.stamp_max_ahead
        )
        self.enable = enable
        self.publisher = create_output_publisher(node, DiagnosticArray, "/diagnostics", 10)
        self.timer = node.create_timer(settings.diagnostics_period, self.publish)

    def published(self, stamp: Time) -> None:
        self.checks.published(ROS2_KIT.seconds_of(stamp), self.node.get_clock().now().nanoseconds * 1e-9)

    def status(self) -> Status:
        window = self.windows.next()
        enabled = self.enable.enabled
        work = self.work
        silent_after = self.settings.diagnostics_silent_after
        status = node_status(window, enabled, work.input_topic, work.model_files, silent_after, work.extra_values())
        checks = self.checks.take(window.seconds)
        status.values.update(checks.values)
        if enabled:
            status.merge(checks)
        return status

    def publish(self) -> None:
        status = self.status()
        message = DiagnosticStatus(
            level=bytes([status.level]),
            name=self.name,
            message=status.message,
            hardware_id="none",
            values=[KeyValue(key=key, value=value) for key, value in status.values.items()],
        )
        self.publisher.publish(
            DiagnosticArray(header=Header(stamp=self.node.get_clock().now().to_msg()), status=[message])
        )


def interrupt(signal_number: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signal_number).name)


def end_spin_on_signals() -> None:
    """SIGINT and SIGTERM raise KeyboardInterrupt in the main thread, whatever the node inherited.

    A process started in the background by a non-interactive shell (``make ... &``, CI) inherits SIGINT
    ignored, and Python then leaves it ignored: launch's SIGINT did nothing, and each node was ended by
    its SIGTERM 5 s later, with no summary logged and exit status -15.
    """
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def run_node(name: str, node_factory: Callable[[Node], object]) -> None:
    """Starts a node; a bad model or setting, or a package a setting needs, ends it with one fatal line
    and exit status 1 (as in ROS 1). One executor thread: detection and classification run on the core's
    workers, so ``~/enable`` answers while a frame is processed (rclpy's MultiThreadedExecutor cost
    0.08 cores more at 30 Hz); the overlay of ``annotated`` (decoding, drawing, publishing a frame)
    and the diagnostics run on the executor thread itself. At the end the core's workers finish the
    message in hand before the node is destroyed.

    Large messages are received into heap memory that is reused (:mod:`memory`), set before rclpy starts
    its threads: rclpy takes every camera frame into fresh buffers, and with glibc's defaults each one
    faulted in anew (about 2 ms of CPU a VGA frame, measured with perf; 1.2 ms with the heap kept).
    """
    heap_tuned = keep_large_blocks_in_heap()
    # SIGINT (Ctrl-C, launch) and SIGTERM (launch's escalation) end the spin here, so the worker stops
    # before the context it publishes in is shut down; rclpy's own handlers would shut the context first.
    end_spin_on_signals()
    rclpy.init(args=sys.argv, signal_handler_options=SignalHandlerOptions.NO)
    node = Node(name)
    if not heap_tuned:
        node.get_logger().info(
            f"{node.get_fully_qualified_name()}: glibc's allocation left as it is (see face_affect.node_core.memory)"
        )
    status = 0
    try:
        adapter = node_factory(node)
    except (ModelError, SettingsError, MissingPackageError) as error:
        node.get_logger().fatal(f"{node.get_fully_qualified_name()}: cannot start: {error}")
        adapter, status = None, 1
    if adapter is not None:
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        try:
            executor.spin()
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        finally:
            adapter.shutdown()
    node.destroy_node()
    rclpy.try_shutdown()
    sys.exit(status)
