"""``publish_frames`` (ROS 2): a folder of photos as a camera topic, so the graph runs without a camera."""

from __future__ import annotations

import sys
from pathlib import Path

import rclpy
from ament_index_python.packages import get_package_share_directory
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from face_affect.node_core.frames import read_frames
from face_affect.ros2.node import ROS2_KIT


class FramePublisher:
    """Publishes the frames in a loop at ``rate`` Hz, each for ``seconds_per_image``, freshly stamped."""

    def __init__(self, node: Node) -> None:
        self.node = node
        default_folder = Path(get_package_share_directory("face_affect")) / "data" / "frames"
        folder = Path(node.declare_parameter("folder", "").value or default_folder)
        rate_hz = float(node.declare_parameter("rate", 15.0).value)
        seconds_per_image = float(node.declare_parameter("seconds_per_image", 2.0).value)
        self.frame_id = node.declare_parameter("frame_id", "camera").value
        frames = read_frames(folder, node.get_logger().warning)
        if not frames:
            raise FileNotFoundError(f"no readable images in {folder}")
        self.messages = [ROS2_KIT.images.to_message(image, "bgr8", Header()) for _, image in frames]
        self.publisher = node.create_publisher(Image, "image", 1)
        self.frames_per_image = max(1, round(seconds_per_image * rate_hz))
        self.count = 0
        node.get_logger().info(
            f"publishing {len(frames)} images from {folder} on {self.publisher.topic_name} at {rate_hz:g} Hz"
        )
        self.timer = node.create_timer(1.0 / rate_hz, self.publish)

    def publish(self) -> None:
        message = self.messages[(self.count // self.frames_per_image) % len(self.messages)]
        message.header = Header(stamp=self.node.get_clock().now().to_msg(), frame_id=self.frame_id)
        self.publisher.publish(message)
        self.count += 1


def main() -> None:
    rclpy.init(args=sys.argv)
    node = Node("publish_frames")
    try:
        FramePublisher(node)
        rclpy.spin(node)
    except FileNotFoundError as error:
        node.get_logger().fatal(str(error))
        sys.exit(1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
