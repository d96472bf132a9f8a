"""Face detection, gender, emotion and age on one camera topic (ROS 2; ROS 1: face_affect.launch).

ros2 launch face_affect face_affect.launch.py image:=/camera/image_raw [config:=robot.yaml] [ros4hri:=true]
"""

import os
import tempfile
from pathlib import Path

import yaml
from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, OpaqueFunction, Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from face_affect.settings import SETTINGS, load_settings, read_settings_file
from launch import LaunchDescription

SHARE = Path(get_package_share_directory("face_affect"))
DEFAULT_CONFIG = SHARE / "config" / "default.yaml"
TRUE = ("true", "1", "yes")


def node_parameters(config: str, annotated: bool, ros4hri: bool) -> str:
    """config/default.yaml, then the ``config`` file over it (flat YAML, as in ROS 1), checked by the
    settings table at launch, written as a ROS 2 parameter file for both nodes: each value in its declared
    type, and an empty list as ``[]`` (which the nodes read as empty; launch_ros refuses it in a dict)."""
    settings = load_settings(DEFAULT_CONFIG)
    if config:
        settings = settings.with_values(read_settings_file(config), config)
    values = {name: getattr(settings, name) for name in SETTINGS}
    parameters = {"/**": {"ros__parameters": {**values, "annotate": annotated, "ros4hri": ros4hri}}}
    # As launch_ros does with a dict of parameters: a file of its own, left for the nodes' respawns.
    descriptor, path = tempfile.mkstemp(prefix="face_affect_parameters_", suffix=".yaml")
    with os.fdopen(descriptor, "w") as stream:
        yaml.safe_dump(parameters, stream)
    return path


def nodes(context, *args, **kwargs):
    argument = {name: LaunchConfiguration(name).perform(context) for name in ARGUMENTS}
    respawn = argument["respawn"].lower() in TRUE
    parameters = node_parameters(
        argument["config"], argument["annotated"].lower() in TRUE, argument["ros4hri"].lower() in TRUE
    )
    return [
        Node(
            package="face_affect",
            executable=executable,
            name=name,
            namespace="face_affect",
            output="screen",
            parameters=[parameters],
            remappings=[("image", argument["image"])],
            respawn=respawn,
            respawn_delay=float(argument["respawn_delay"]),
            # respawn false: fail fast, a dead node ends the whole launch (ROS 1's required).
            on_exit=None if respawn else Shutdown(reason=f"{name} exited"),
        )
        for executable, name in (("detector_node", "detector"), ("classifier_node", "classifier"))
    ]


ARGUMENTS = {
    "image": ("/camera/rgb/image_raw", "camera topic, sensor_msgs/Image (with compressed: true, its /compressed)"),
    "config": (str(DEFAULT_CONFIG), "parameter file (flat YAML, as config/default.yaml) loaded over the defaults"),
    "annotated": ("true", "offer /face_affect/annotated (drawn only while someone subscribes)"),
    "ros4hri": ("false", "also publish the faces on ROS4HRI's /humans/faces/ topics (REP-155; needs hri_msgs)"),
    "respawn": ("true", "restart a node that dies (after respawn_delay s); false: a dead node ends the launch"),
    "respawn_delay": ("2", "seconds before a dead node is started again"),
}


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [
            DeclareLaunchArgument(name, default_value=default, description=doc)
            for name, (default, doc) in ARGUMENTS.items()
        ]
        + [OpaqueFunction(function=nodes)]
    )
