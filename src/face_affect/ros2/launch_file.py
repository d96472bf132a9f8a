"""``ros2 launch PACKAGE FILE [name:=value ...]`` where ros2cli is not installed (it has no wheel, so
``make ros2``'s workspace lacks it): ``make demo-ros2`` and test/ros2 run the installed launch files
through it. As ``ros2 launch`` does, it includes the file with the arguments in a ``LaunchService``
that also gets them as its argv, and exits with the service's status (0 unless launch itself failed).
``--own-domain``: the launch and its nodes in a ROS domain that no other run on this machine holds, with
discovery on this machine only (:func:`face_affect.ros2.domains.isolate`).

    python3 -m face_affect.ros2.launch_file [--own-domain] face_affect demo.launch.py record:=true duration:=5
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import AnyLaunchDescriptionSource

from face_affect.ros2.domains import isolate
from launch import LaunchDescription, LaunchService


def launch_argument(text: str) -> tuple[str, str]:
    name, separator, value = text.partition(":=")
    if not separator or not name:
        raise argparse.ArgumentTypeError(f"{text!r} is not name:=value")
    return name, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="face_affect.ros2.launch_file", description=__doc__.split("\n\n")[0])
    parser.add_argument("--own-domain", action="store_true", help="a ROS_DOMAIN_ID no other run here holds")
    parser.add_argument("package", help="a package of the workspace, e.g. face_affect")
    parser.add_argument("launch_file", help="a file in the package's share/PACKAGE/launch/")
    parser.add_argument("arguments", nargs="*", type=launch_argument, help="launch arguments, name:=value")
    options = parser.parse_args(argv)
    path = Path(get_package_share_directory(options.package)) / "launch" / options.launch_file
    if not path.is_file():
        parser.error(f"{path}: no such launch file")
    if options.own_domain:
        print(f"ROS_DOMAIN_ID={isolate()}, discovery on this machine only", flush=True)
    service = LaunchService(argv=[f"{name}:={value}" for name, value in options.arguments])
    source = AnyLaunchDescriptionSource(str(path))
    service.include_launch_description(
        LaunchDescription([IncludeLaunchDescription(source, launch_arguments=options.arguments)])
    )
    return service.run()


if __name__ == "__main__":
    sys.exit(main())
