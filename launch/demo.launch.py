"""The whole graph without a camera (ROS 2; ROS 1: demo.launch): the bundled photos published as a
15 Hz camera on /camera/rgb/image_raw, with face_affect.launch.py on it.

    ros2 launch face_affect demo.launch.py [rate:=15] [frames:=/some/folder] [ros4hri:=true]
"""

from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from launch import LaunchDescription

SHARE = Path(get_package_share_directory("face_affect"))
CAMERA = "/camera/rgb/image_raw"


def generate_launch_description() -> LaunchDescription:
    arguments = {
        "rate": ("15", "Hz"),
        "frames": ("", "folder of images to publish; empty: data/frames"),
        "config": (str(SHARE / "config" / "default.yaml"), "parameter file (flat YAML)"),
        "respawn": ("true", "restart a node that dies; false: a dead node ends the launch"),
        "ros4hri": ("false", "also publish ROS4HRI's /humans/faces/ topics (needs hri_msgs)"),
    }
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=value, description=doc) for name, (value, doc) in arguments.items()]
        + [
            Node(
                package="face_affect",
                executable="publish_frames",
                name="camera",
                output="screen",
                parameters=[
                    {
                        "folder": ParameterValue(LaunchConfiguration("frames"), value_type=str),
                        "rate": ParameterValue(LaunchConfiguration("rate"), value_type=float),
                    }
                ],
                remappings=[("image", CAMERA)],
            ),
            IncludeLaunchDescription(
                PythonLaunchDescriptionSource(str(SHARE / "launch" / "face_affect.launch.py")),
                launch_arguments={
                    "image": CAMERA,
                    "config": LaunchConfiguration("config"),
                    "annotated": "true",
                    "respawn": LaunchConfiguration("respawn"),
                    "ros4hri": LaunchConfiguration("ros4hri"),
                }.items(),
            ),
        ]
    )
