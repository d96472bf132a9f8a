"""The whole graph without a camera (ROS 2; ROS 1: demo.launch): the bundled photos published as a
15 Hz camera on /camera/rgb/image_raw, with face_affect.launch.py on it, and with ``record:=true`` the
recorder, whose exit after ``duration`` seconds ends the launch (exit status 0, as ``make demo``).

    ros2 launch face_affect demo.launch.py [rate:=15] [frames:=/some/folder] [ros4hri:=true]
    ros2 launch face_affect demo.launch.py record:=true [output_dir:=demo_output] [duration:=20]
"""

from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription, Shutdown
from launch.conditions import IfCondition
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import EnvironmentVariable, LaunchConfiguration
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
        "record": ("false", "write results and annotated frames (make demo-ros2)"),
        "output_dir": ([EnvironmentVariable("PWD", default_value="/tmp"), "/demo_output"], "where the recorder writes"),
        "duration": ("20", "seconds recorded after the first result; the launch then ends"),
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
            Node(
                condition=IfCondition(LaunchConfiguration("record")),
                package="face_affect",
                executable="record_results",
                name="recorder",
                namespace="face_affect",
                output="screen",
                parameters=[
                    {
                        "output_dir": ParameterValue(LaunchConfiguration("output_dir"), value_type=str),
                        "duration": ParameterValue(LaunchConfiguration("duration"), value_type=float),
                    }
                ],
                # Done recording (or failed to start): the whole demo ends, as ROS 1's required recorder ends it.
                on_exit=Shutdown(reason="the recorder exited"),
            ),
        ]
    )
