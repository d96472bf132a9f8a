"""The ROS 1 :class:`~face_affect.node_core.messages.MessageKit`: ``face_affect.msg``, rospy's time,
cv_bridge's images."""

from __future__ import annotations

import rospy
from sensor_msgs.msg import RegionOfInterest
from std_msgs.msg import Header

from face_affect import msg
from face_affect.node_core import messages
from face_affect.ros.images import ImageConverter


def to_time(seconds: float) -> rospy.Time:
    return rospy.Time.from_sec(max(0.0, seconds))


ROS1_KIT = messages.MessageKit(
    faces=msg,
    region_type=RegionOfInterest,
    header_type=Header,
    images=ImageConverter(),
    time_of=to_time,
    seconds_of=lambda time: time.to_sec(),
    nanoseconds_of=lambda time: time.to_nsec(),
)
