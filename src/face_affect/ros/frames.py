"""``publish_frames``: a folder of photos as a camera topic, so the graph runs without a camera."""

from __future__ import annotations

from pathlib import Path

import rospkg
import rospy
from geometry_msgs.msg import TransformStamped
from sensor_msgs.msg import Image
from tf2_msgs.msg import TFMessage

from face_affect.node_core.frames import read_frames
from face_affect.ros.images import ImageConverter


def publish_camera_transform(parent_frame: str, frame_id: str) -> rospy.Publisher:
    """A latched identity transform ``parent_frame`` -> ``frame_id`` on ``/tf_static``: with no robot
    around, it gives rviz a fixed frame that exists, so its global status is OK."""
    transform = TransformStamped()
    transform.header.stamp = rospy.Time.now()
    transform.header.frame_id = parent_frame
    transform.child_frame_id = frame_id
    transform.transform.rotation.w = 1.0
    publisher = rospy.Publisher("/tf_static", TFMessage, queue_size=1, latch=True)
    publisher.publish(TFMessage(transforms=[transform]))
    return publisher


def publish_frames() -> None:
    """Publishes the frames in a loop at ``~rate`` Hz, each for ``~seconds_per_image``.

    Each message gets a fresh stamp, so downstream nodes see a live camera. With
    ``~parent_frame`` set, the camera's frame hangs below it in tf.
    """
    default_folder = Path(rospkg.RosPack().get_path("face_affect")) / "data" / "frames"
    folder = Path(rospy.get_param("~folder", "") or default_folder)
    rate_hz = float(rospy.get_param("~rate", 15.0))
    seconds_per_image = float(rospy.get_param("~seconds_per_image", 2.0))
    frame_id = rospy.get_param("~frame_id", "camera")
    parent_frame = rospy.get_param("~parent_frame", "")
    frames = read_frames(folder, lambda text: rospy.logwarn(f"{rospy.get_name()}: {text}"))
    if not frames:
        rospy.logfatal(f"{rospy.get_name()}: no readable images in {folder}")
        raise SystemExit(1)
    converter = ImageConverter()
    messages = [converter.bridge.cv2_to_imgmsg(image, encoding="bgr8") for _, image in frames]
    publisher = rospy.Publisher("image", Image, queue_size=1)
    if parent_frame:
        transform = publish_camera_transform(parent_frame, frame_id)  # latched while this node lives
        rospy.loginfo(f"{rospy.get_name()}: {frame_id} below {parent_frame} on {transform.resolved_name}")
    rospy.loginfo(
        f"{rospy.get_name()}: publishing {len(frames)} images from {folder} "
        f"on {publisher.resolved_name} at {rate_hz:g} Hz"
    )
    frames_per_image = max(1, round(seconds_per_image * rate_hz))
    rate = rospy.Rate(rate_hz)
    count = 0
    while not rospy.is_shutdown():
        message = messages[(count // frames_per_image) % len(messages)]
        message.header.stamp = rospy.Time.now()
        message.header.frame_id = frame_id
        message.header.seq = count
        publisher.publish(message)
        count += 1
        try:
            rate.sleep()
        except rospy.ROSInterruptException:
            break
