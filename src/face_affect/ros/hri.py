"""ROS4HRI (REP-155) output of the ROS 1 classifier node (``ros4hri: true``): the core's schedule
(:mod:`face_affect.node_core.hri`) on latched rospy publishers.

``hri_msgs`` is optional: without it the package runs as before, and ``ros4hri: true`` stops the
node at start with :class:`~face_affect.errors.MissingPackageError`.
"""

from __future__ import annotations

import rospy
from sensor_msgs.msg import Image

from face_affect.errors import MissingPackageError
from face_affect.node_core.hri import FACES_NAMESPACE, FaceSchedule
from face_affect.ros.messages import ROS1_KIT
from face_affect.ros.node import topic_output

try:
    from hri_msgs import msg as hri_msgs
except ImportError:  # optional; face_schedule says what to install
    hri_msgs = None

MISSING_HRI_MSGS = (
    "ros4hri: true needs the ROS package hri_msgs (apt-get install ros-noetic-hri-msgs, "
    "or build ros4hri/hri_msgs in this workspace)"
)


class FaceTopics:
    """One face's publishers."""

    def __init__(self, face_id: str) -> None:
        namespace = f"{FACES_NAMESPACE}/{face_id}"
        self.roi = rospy.Publisher(f"{namespace}/roi", hri_msgs.NormalizedRegionOfInterest2D, queue_size=1, latch=True)
        self.expression = rospy.Publisher(f"{namespace}/expression", hri_msgs.Expression, queue_size=1, latch=True)
        self.softbiometrics = rospy.Publisher(
            f"{namespace}/softbiometrics", hri_msgs.SoftBiometrics, queue_size=1, latch=True
        )
        self.cropped_publisher = rospy.Publisher(f"{namespace}/cropped", Image, queue_size=1)
        self.cropped = topic_output(self.cropped_publisher)

    def close(self) -> None:
        for publisher in (self.roi, self.expression, self.softbiometrics, self.cropped_publisher):
            publisher.unregister()


def face_schedule() -> FaceSchedule:
    """The REP-155 face topics of the confirmed tracks (see :mod:`face_affect.node_core.hri`)."""
    if hri_msgs is None:
        raise MissingPackageError(MISSING_HRI_MSGS)
    tracked = topic_output(rospy.Publisher(f"{FACES_NAMESPACE}/tracked", hri_msgs.IdsList, queue_size=1))
    return FaceSchedule(hri_msgs, ROS1_KIT, FaceTopics, tracked, rospy.Time.now)
