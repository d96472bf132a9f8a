"""ROS4HRI (REP-155) output of the ROS 2 classifier node (``ros4hri: true``): the core's schedule
(:mod:`face_affect.node_core.hri`) on transient-local publishers (ROS 1's latched topics), ROS 2 ``hri_msgs``."""

from __future__ import annotations

from rclpy.node import Node
from sensor_msgs.msg import Image

from face_affect.errors import MissingPackageError
from face_affect.node_core.hri import FACES_NAMESPACE, FaceSchedule
from face_affect.ros2.node import LATCHED_QOS, ROS2_KIT, create_output_publisher, topic_output

try:
    from hri_msgs import msg as hri_msgs
except ImportError:  # optional; face_schedule says what to install
    hri_msgs = None

MISSING_HRI_MSGS = "ros4hri: true needs the ROS 2 package hri_msgs (apt-get install ros-jazzy-hri-msgs)"


class FaceTopics:
    """One face's publishers."""

    def __init__(self, node: Node, face_id: str) -> None:
        self.node = node
        namespace = f"{FACES_NAMESPACE}/{face_id}"
        self.publishers = [
            create_output_publisher(node, hri_msgs.NormalizedRegionOfInterest2D, f"{namespace}/roi", LATCHED_QOS),
            create_output_publisher(node, hri_msgs.Expression, f"{namespace}/expression", LATCHED_QOS),
            create_output_publisher(node, hri_msgs.SoftBiometrics, f"{namespace}/softbiometrics", LATCHED_QOS),
            create_output_publisher(node, Image, f"{namespace}/cropped", 1),
        ]
        self.roi, self.expression, self.softbiometrics, self.cropped = map(topic_output, self.publishers)

    def close(self) -> None:
        for publisher in self.publishers:
            self.node.destroy_publisher(publisher)


def face_schedule(node: Node) -> FaceSchedule:
    """The REP-155 face topics of the confirmed tracks (see :mod:`face_affect.node_core.hri`)."""
    if hri_msgs is None:
        raise MissingPackageError(MISSING_HRI_MSGS)
    tracked = topic_output(create_output_publisher(node, hri_msgs.IdsList, f"{FACES_NAMESPACE}/tracked", 1))
    return FaceSchedule(
        hri_msgs, ROS2_KIT, lambda face_id: FaceTopics(node, face_id), tracked, lambda: node.get_clock().now().to_msg()
    )
