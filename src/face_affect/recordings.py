"""ROS bags without ROS: every camera image of a recording analysed, and the results written back into a copy.

Reads ROS 1 ``.bag`` files and ROS 2 bags (a folder with ``metadata.yaml``, or one ``.db3``
or ``.mcap`` file) through ``rosbags`` (Ternaris, Apache-2.0), which reads and writes both ROS
versions and every rosbag2 storage in pure Python, with message definitions taken from the
bag itself. The ``mcap`` packages read MCAP only (``mcap-ros1-support`` is ROS 1 messages in
MCAP, not ``.bag`` files) and no sqlite3 bags, which are rosbag2's default before Iron.

Each image topic is one camera: its own tracks and smoothing (:class:`~face_affect.video.VideoPipeline`),
in message time (the header stamp; the bag's time where the stamp is zero), as on the robot.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from rosbags.highlevel import AnyReader
from rosbags.interfaces import Connection, ConnectionExtRosbag2, MessageDefinitionFormat, Nodetype
from rosbags.rosbag1 import Writer as Ros1Writer
from rosbags.rosbag1 import WriterError as Ros1WriterError
from rosbags.rosbag2 import StoragePlugin
from rosbags.rosbag2 import Writer as Ros2Writer
from rosbags.rosbag2 import WriterError as Ros2WriterError
from rosbags.typesys import Stores, TypesysError, get_types_from_idl, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from face_affect.bag_salvage import DamagedBagError, SalvagedBag, bag_kind
from face_affect.errors import RecordingError
from face_affect.image_messages import ImageError, compressed_to_bgr, raw_to_bgr
from face_affect.node_core.images import ImageConverter
from face_affect.node_core.messages import MessageKit, affect_array, sec_nanosec_conversions
from face_affect.pipeline import FaceAffectPipeline
from face_affect.settings import PACKAGE_DIRECTORY, Settings, as_settings
from face_affect.types import FaceResult
from face_affect.video import VideoPipeline

RAW_IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
IMAGE_TYPES = (RAW_IMAGE, COMPRESSED_IMAGE)
RESULTS_TOPIC = "/face_affect/results"
ANNOTATED_TOPIC = "/face_affect/annotated"
RESULTS_TYPE = "face_affect/msg/FaceAffectArray"
MESSAGE_DEFINITIONS = PACKAGE_DIRECTORY / "message_definitions"
"""``msg/`` of the repository (a link, installed with the package): the definitions written into output bags."""


@dataclass
class RecordedImage:
    """One image message of a recording, decoded (``frame``) or not (``problem`` says why)."""

    topic: str
    stamp_ns: int
    """The header stamp, integer nanoseconds (0 if the camera left it unset)."""
    time_ns: int
    """When the bag recorded it, nanoseconds."""
    frame: np.ndarray | None
    problem: str = ""
    header: Any = None
    """The message's ``std_msgs/Header`` as the bag reader decoded it."""

    @property
    def seconds(self) -> float:
        """The frame's time for tracking: its stamp, or the bag's time for an unstamped image."""
        return (self.stamp_ns or self.time_ns) / 1e9


@dataclass
class RecordedFaces:
    """What :func:`analyse_recording` yields per image message: the image and its confirmed tracks."""

    image: RecordedImage
    faces: list[FaceResult] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The CLI's line: ``image`` mode's keys (``width``, ``height``, ``faces``), ``topic`` and ``stamp_ns``."""
        frame = self.image.frame
        height, width = frame.shape[:2] if frame is not None else (0, 0)
        return {
            "topic": self.image.topic,
            "stamp_ns": self.image.stamp_ns,
            "width": width,
            "height": height,
            "faces": [face.to_json() for face in self.faces],
        }


@dataclass
class Message:
    """One message of the recording in bag order; ``image`` is set for the selected image topics."""

    connection: Connection
    time_ns: int
    data: bytes | memoryview
    image: RecordedImage | None = None


def stamp_of(header: Any) -> int:
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def storage_file(path: Path) -> Path | None:
    """The file that holds a bag's messages: the path itself, or the one .db3 or .mcap file in a ROS 2 bag's folder."""
    if path.is_file():
        return path
    files = [file for file in sorted(path.iterdir()) if file.suffix in (".db3", ".mcap")]
    return files[0] if len(files) == 1 else None


def bag_path(path: Path) -> Path:
    """What ``rosbags`` opens for ``path``: a ``.db3``/``.mcap`` inside a bag folder means the folder; a folder
    without ``metadata.yaml`` (rosbag2 writes it last: a recording that did not finish) its one storage file."""
    if path.suffix in (".db3", ".mcap") and (path.parent / "metadata.yaml").is_file():
        return path.parent
    if path.is_dir() and not (path / "metadata.yaml").is_file():
        return storage_file(path) or path
    return path


class Recording:
    """An open bag (use as a context manager): its topics and its image messages in bag order."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.damage = ""
        """Why the bag could not be opened through its index (its records are then read from the start)."""
        if not self.path.exists():
            raise RecordingError(f"{self.path}: not found")
        if self.path.is_dir() and not (self.path / "metadata.yaml").is_file() and storage_file(self.path) is None:
            raise RecordingError(f"{self.path}: not a ROS 2 bag (no metadata.yaml and no one .db3 or .mcap file)")
        storage = storage_file(self.path)  # None for a ROS 2 bag split over several files
        kind = bag_kind(storage) if storage is not None else "split"
        if not kind:
            raise RecordingError(
                f"{self.path}: not a bag (a ROS 1 bag is a .bag file, a ROS 2 bag a folder with metadata.yaml, "
                "a .db3 or a .mcap file)"
            )
        if kind != "ros1" and self.path.suffix == ".bag":
            raise RecordingError(f"{self.path}: a ROS 2 bag named .bag, which says ROS 1")
        self.reader: AnyReader | SalvagedBag
        if kind == "ros1" and self.path.suffix != ".bag":
            # rosbags goes by the name; `rosbag record` leaves NAME.bag.active when it is killed, without an index.
            self.damage = "not named .bag, so read without its index (NAME.bag.active: a recording that did not finish)"
            self.reader = self.salvage(self.path)
        else:
            self.reader = self.open_indexed(storage)
        self.ros1 = not self.reader.is2
        self.messages_read = 0
        self.last_time_ns: int | None = None

    def open_indexed(self, storage: Path | None) -> AnyReader | SalvagedBag:
        """The bag through rosbags; failing that (a damaged index), its records from the start."""
        try:
            reader = AnyReader([bag_path(self.path)], default_typestore=get_typestore(Stores.ROS2_HUMBLE))
            reader.open()
            return reader
        except Exception as error:  # rosbags raises several types (even UnicodeDecodeError) for a damaged bag
            self.damage = f"its index is unreadable ({describe(error)})"
            salvaged = self.salvage(storage) if storage is not None else None
            if salvaged is None or not salvaged.connections:
                if salvaged is not None:
                    salvaged.close()
                raise RecordingError(f"{self.path}: not a readable bag ({describe(error)})") from error
            return salvaged

    def salvage(self, storage: Path) -> SalvagedBag:
        """The records of ``storage`` from the start; :class:`RecordingError` if they cannot be read at all."""
        try:
            return SalvagedBag(storage)
        except (DamagedBagError, TypesysError, OSError) as error:
            raise RecordingError(f"{self.path}: not a readable bag ({describe(error)})") from error

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *exception: object) -> None:
        self.close()

    def close(self) -> None:
        if self.reader.stack is not None:
            self.reader.close()

    @property
    def salvaged(self) -> bool:
        """Whether the bag's index was unreadable (:attr:`damage` says why) and its records are read in file order."""
        return isinstance(self.reader, SalvagedBag)

    @property
    def topics(self) -> dict[str, str]:
        """Every topic and its message type."""
        return {connection.topic: connection.msgtype for connection in self.reader.connections}

    @property
    def image_topics(self) -> list[str]:
        return sorted(topic for topic, kind in self.topics.items() if kind in IMAGE_TYPES)

    def select(self, topics: Sequence[str] = ()) -> list[str]:
        """``topics`` checked (each must be an image topic of the bag), or every image topic if none are given."""
        if not topics:
            if not self.image_topics:
                raise RecordingError(f"{self.path}: no image topic; topics: {self.describe_topics()}")
            return self.image_topics
        for topic in topics:
            kind = self.topics.get(topic)
            if kind is None:
                raise RecordingError(f"{self.path}: no topic {topic}; topics: {self.describe_topics()}")
            if kind not in IMAGE_TYPES:
                raise RecordingError(f"{self.path}: {topic} is {kind}, not sensor_msgs/Image or CompressedImage")
        return list(dict.fromkeys(topics))

    def describe_topics(self) -> str:
        return ", ".join(f"{topic} ({kind})" for topic, kind in sorted(self.topics.items())) or "none"

    def image_count(self, topics: Sequence[str]) -> int:
        return sum(c.msgcount for c in self.reader.connections if c.topic in topics)

    def messages(self, topics: Sequence[str], everything: bool = False) -> Iterator[Message]:
        """The messages of ``topics`` (all messages if ``everything``) in bag order, the images decoded.

        A bag cut short yields what it holds up to the damage, then raises :class:`RecordingError`
        saying after how many messages and at what time it stopped.
        """
        wanted = set(topics)
        connections = [] if everything else [c for c in self.reader.connections if c.topic in wanted]
        iterator = self.reader.messages(connections=connections)
        while True:
            try:
                connection, time_ns, data = next(iterator)
            except StopIteration:
                return
            except Exception as error:  # rosbags and its storages raise several types for a damaged bag
                raise RecordingError(self.stopped(describe(error))) from error
            self.messages_read += 1
            self.last_time_ns = time_ns
            image = self.decode(connection, time_ns, data) if connection.topic in wanted else None
            yield Message(connection, time_ns, data, image)

    def stopped(self, reason: str) -> str:
        where = "before its first message"
        if self.last_time_ns is not None:
            where = f"after {self.messages_read} messages, at {self.last_time_ns / 1e9:.3f} s (bag time)"
        return f"{self.path}: damaged or cut short, stopped {where}: {reason}"

    def decode(self, connection: Connection, time_ns: int, data: bytes | memoryview) -> RecordedImage:
        try:
            message = self.reader.deserialize(data, connection.msgtype)
        except Exception as error:  # a malformed message is that message's problem, not the bag's
            return RecordedImage(connection.topic, 0, time_ns, None, f"unreadable message ({describe(error)})")
        image = RecordedImage(connection.topic, stamp_of(message.header), time_ns, None, header=message.header)
        try:
            if connection.msgtype == COMPRESSED_IMAGE:
                image.frame = compressed_to_bgr(message.data, message.format)
            else:
                image.frame = raw_to_bgr(message)
        except ImageError as error:
            image.problem = str(error)
        return image


def describe(error: BaseException) -> str:
    text = " ".join(str(argument) for argument in error.args) or type(error).__name__
    return text.rstrip(".")


class RecordingAnalyser:
    """One :class:`VideoPipeline` per camera topic over a shared :class:`FaceAffectPipeline` (models loaded once)."""

    def __init__(self, pipeline: FaceAffectPipeline, settings: Settings) -> None:
        self.pipeline = pipeline
        self.settings = settings
        self.cameras: dict[str, VideoPipeline] = {}

    def analyse(self, image: RecordedImage) -> list[FaceResult]:
        """The confirmed tracks of ``image``'s topic after it (``[]`` for an image that was not decoded)."""
        if image.frame is None:
            return []
        camera = self.cameras.get(image.topic)
        if camera is None:
            camera = self.cameras[image.topic] = VideoPipeline(self.pipeline, self.settings)
        return camera.process(image.frame, image.seconds)

    def messages(
        self, recording: Recording, topics: Sequence[str], everything: bool = False
    ) -> Iterator[tuple[Message, list[FaceResult]]]:
        """Each message of ``topics`` (every message if ``everything``) in bag order, with its image's faces
        (``[]`` for other messages); :class:`RecordingError` at damage, after what came before it."""
        for message in recording.messages(topics, everything):
            yield message, self.analyse(message.image) if message.image is not None else []


def analyse_recording(
    path: str | Path,
    topics: Sequence[str] = (),
    settings: Settings | dict | None = None,
    pipeline: FaceAffectPipeline | None = None,
) -> Iterator[RecordedFaces]:
    """Every image message of ``topics`` (default: every image topic) with its faces, in bag order.

    Images that cannot be decoded come with ``image.problem`` and no faces. A missing file, a
    path that is not a bag, a topic it lacks, or damage part way raise :class:`RecordingError`
    (after yielding what came before the damage)::

        for answer in analyse_recording("trial.bag", ["/camera/image_raw"]):
            print(answer.image.stamp_ns, [face.gender.label for face in answer.faces])
    """
    settings = as_settings(settings)
    analyser = RecordingAnalyser(pipeline or FaceAffectPipeline.from_settings(settings), settings)
    with Recording(path) as recording:
        for message, faces in analyser.messages(recording, recording.select(topics)):
            assert message.image is not None
            yield RecordedFaces(message.image, faces)


def register_definition(typestore: Typestore, connection: Connection) -> None:
    """The message type of ``connection`` as the bag defines it, unless ``typestore`` knows it already."""
    if connection.msgtype in typestore.fielddefs:
        return
    definition = connection.msgdef
    if definition.format == MessageDefinitionFormat.IDL:
        typestore.register(get_types_from_idl(definition.data))
    else:
        typestore.register(get_types_from_msg(definition.data, connection.msgtype))


def face_affect_types(typestore: Typestore) -> None:
    """Registers our message types (``msg/*.msg``) in ``typestore``, so it can write them with their definitions."""
    types: dict = {}
    for definition in sorted(MESSAGE_DEFINITIONS.glob("*.msg")):
        types.update(get_types_from_msg(definition.read_text(), f"face_affect/msg/{definition.stem}"))
    typestore.register(types)


ONE_BYTE_TYPES = {"byte": "uint8", "char": "uint8", "octet": "uint8"}


def message_builder(typestore: Typestore, typename: str, **defaults: Any) -> Callable[..., Any]:
    """``typestore``'s class of ``typename``, called as rospy's and rclpy's classes are: arrays of numbers may be
    lists (rosbags serialises numpy arrays only), and ``defaults`` fill the fields not given."""
    message_class = typestore.types[typename]
    arrays: dict[str, np.dtype] = {}
    for name, (node, detail) in typestore.fielddefs[typename][1]:
        if node in (Nodetype.ARRAY, Nodetype.SEQUENCE) and detail[0][0] == Nodetype.BASE:
            element = detail[0][1][0]
            if element != "string":
                arrays[name] = np.dtype(ONE_BYTE_TYPES.get(element, element))

    def build(**fields: Any) -> Any:
        for name, dtype in arrays.items():
            if name in fields:
                fields[name] = np.asarray(fields[name], dtype)
        return message_class(**{**defaults, **fields})

    return build


def rosbags_kit(typestore: Typestore) -> MessageKit:
    """The node core's :class:`~face_affect.node_core.messages.MessageKit` over ``typestore``'s classes (our
    messages registered): a bag gets the messages the nodes publish, built by the same functions."""
    types = typestore.types
    time_type = types["builtin_interfaces/msg/Time"]
    prefix = "face_affect/msg/"
    faces = {name[len(prefix) :]: message_builder(typestore, name) for name in types if name.startswith(prefix)}

    return MessageKit(
        faces=SimpleNamespace(**faces),
        region_type=message_builder(typestore, "sensor_msgs/msg/RegionOfInterest", do_rectify=False),
        header_type=types["std_msgs/msg/Header"],
        images=ImageConverter(
            types[RAW_IMAGE], types[COMPRESSED_IMAGE], pixel_data=lambda data: np.frombuffer(data, np.uint8)
        ),
        **sec_nanosec_conversions(time_type),
    )


class RecordingWriter:
    """A new bag of the input's kind: every input message, plus ``/face_affect/results`` per analysed image and,
    if asked, ``/face_affect/annotated``. Closed (a complete, indexed bag) even when the input stops short."""

    def __init__(self, path: str | Path, recording: Recording, annotated: bool = False) -> None:
        self.path = Path(path)
        if self.path.exists():
            raise RecordingError(f"{self.path}: exists already; bags are written to a new path")
        self.ros1 = recording.ros1
        self.typestore = get_typestore(Stores.ROS1_NOETIC if self.ros1 else Stores.ROS2_HUMBLE)
        face_affect_types(self.typestore)
        if self.ros1:
            if self.path.suffix != ".bag":
                raise RecordingError(f"{self.path}: a ROS 1 bag's copy must be a .bag file")
            self.writer: Any = Ros1Writer(self.path)
        else:
            source = bag_path(recording.path)
            mcap = source.suffix == ".mcap" or any(source.glob("*.mcap"))
            plugin = StoragePlugin.MCAP if mcap else StoragePlugin.SQLITE3
            self.writer = Ros2Writer(self.path, version=8, storage_plugin=plugin)
        self.writer.open()
        try:
            self.results = self.writer.add_connection(RESULTS_TOPIC, RESULTS_TYPE, typestore=self.typestore)
            self.annotated = (
                self.writer.add_connection(ANNOTATED_TOPIC, RAW_IMAGE, typestore=self.typestore) if annotated else None
            )
        except BaseException as error:  # a bag left open is no bag: closed, and removed as it holds nothing yet
            self.discard()
            if isinstance(error, (KeyError, TypesysError, Ros1WriterError, Ros2WriterError)):
                raise RecordingError(f"{self.path}: cannot start the bag ({describe(error)})") from error
            raise
        self.copies: dict[int, Connection] = {}
        self.types = self.typestore.types
        self.kit = rosbags_kit(self.typestore)

    def discard(self) -> None:
        """Closes the new bag and removes it: it holds nothing of the input yet, and the path is free to try again."""
        try:
            self.writer.close()
        finally:
            if self.path.is_dir():
                shutil.rmtree(self.path)
            else:
                self.path.unlink(missing_ok=True)

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exception: object) -> None:
        self.close()

    def close(self) -> None:
        """Finishes the bag (its index and metadata): what was written stays readable."""
        self.writer.close()

    def copy(self, message: Message) -> None:
        """The input message, unchanged, on its own topic."""
        connection = message.connection
        copy = self.copies.get(connection.id)
        if copy is None:
            copy = self.copies[connection.id] = self.add_copy(connection)
        self.writer.write(copy, message.time_ns, message.data)

    def add_copy(self, connection: Connection) -> Connection:
        """The input's connection: its own definition and hash where the bag has both, else ours from the typestore
        (the standard messages, and what the bag defines)."""
        known = connection.msgdef.format != MessageDefinitionFormat.NONE and bool(connection.digest)
        try:
            if not known and connection.msgdef.data:
                register_definition(self.typestore, connection)
            if self.ros1:
                definition = {"msgdef": connection.msgdef.data, "md5sum": connection.digest} if known else {}
                return self.writer.add_connection(
                    connection.topic, connection.msgtype, typestore=self.typestore, **definition
                )
            ext = connection.ext
            assert isinstance(ext, ConnectionExtRosbag2)
            definition = {"msgdef": connection.msgdef.data, "rihs01": connection.digest} if known else {}
            return self.writer.add_connection(
                connection.topic,
                connection.msgtype,
                typestore=self.typestore,
                serialization_format=ext.serialization_format,
                offered_qos_profiles=ext.offered_qos_profiles,
                **definition,
            )
        except (KeyError, TypesysError, Ros1WriterError, Ros2WriterError) as error:
            raise RecordingError(
                f"{self.path}: cannot copy {connection.topic} ({connection.msgtype}): {describe(error)}"
            ) from error

    def header(self, image: RecordedImage) -> Any:
        """The image's header as our typestore's class (a ROS 1 header keeps its ``seq``)."""
        sec, nanosec = divmod(image.stamp_ns, 1_000_000_000)
        stamp = self.types["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec)
        frame_id = getattr(image.header, "frame_id", "")
        if self.ros1:
            return self.types["std_msgs/msg/Header"](
                seq=getattr(image.header, "seq", 0), stamp=stamp, frame_id=frame_id
            )
        return self.types["std_msgs/msg/Header"](stamp=stamp, frame_id=frame_id)

    def write_results(
        self, image: RecordedImage, faces: Iterable[FaceResult], labels: dict[str, Sequence[str]]
    ) -> None:
        """A ``FaceAffectArray`` with the image's header, at the image's bag time: what the classifier node
        publishes (:func:`~face_affect.node_core.messages.affect_array`)."""
        message = affect_array(
            self.kit, self.header(image), list(faces), labels.get("gender", ()), labels.get("emotion", ())
        )
        self.writer.write(self.results, image.time_ns, self.serialize(message, RESULTS_TYPE))

    def write_annotated(self, image: RecordedImage, annotated: np.ndarray) -> None:
        if self.annotated is None:
            return
        message = self.kit.images.to_message(annotated, "bgr8", self.header(image))
        self.writer.write(self.annotated, image.time_ns, self.serialize(message, RAW_IMAGE))

    def serialize(self, message: object, typename: str) -> memoryview:
        if self.ros1:
            return self.typestore.serialize_ros1(message, typename)
        return self.typestore.serialize_cdr(message, typename)
