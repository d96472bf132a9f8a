"""Installs the ``face_affect`` library: through catkin (the ROS path), or alone with ``pip install .``.

The shipped models travel as package data: ``src/face_affect/models`` is a link to the repository's
``models/`` (catkin refuses packages spread over several folders), copied into the installed package.
"""

from pathlib import Path
from xml.etree import ElementTree

from setuptools import setup

PACKAGES = [
    "face_affect",
    "face_affect.detectors",
    "face_affect.node_core",
    "face_affect.ros",
    "face_affect.ros2",
    "face_affect.saliency",
    "face_affect.training",
]
PACKAGE_DIRECTORIES = {"": "src"}
# message_definitions links to msg/: the definitions that face-affect bag writes into its output bags.
PACKAGE_DATA = {"face_affect": ["models/*.onnx", "models/MODEL_CARD.md", "message_definitions/*.msg"]}
# What the library imports at run time. OpenCV is the exception: ROS needs Debian's python3-opencv, the
# one cv_bridge is built against, and a pip wheel would shadow it, so a ROS-free install asks for the
# "opencv" extra (opencv-python-headless) and catkin leaves it out.
# rosbags reads and writes ROS 1 and ROS 2 bags without ROS (face-affect bag); tqdm draws the CLI's progress bar.
RUNTIME_REQUIREMENTS = [
    "numpy<2",
    "onnxruntime>=1.16",
    "onnx>=1.14",
    "pyyaml>=5",
    "scipy>=1.6",
    "rosbags>=0.11",
    "tqdm>=4.60",
]
EXTRAS = {
    "opencv": ["opencv-python-headless<5"],
    "train": ["torch==2.13.0"],
    "test": ["pytest", "hypothesis"],
}

try:
    from catkin_pkg.python_setup import generate_distutils_setup
except ImportError:  # pip's isolated build, or a machine without ROS
    generate_distutils_setup = None

if generate_distutils_setup is not None:
    arguments = generate_distutils_setup(packages=PACKAGES, package_dir=PACKAGE_DIRECTORIES, package_data=PACKAGE_DATA)
else:
    package_xml = ElementTree.parse(Path(__file__).with_name("package.xml")).getroot()
    arguments = {
        "name": package_xml.findtext("name"),
        "version": package_xml.findtext("version"),
        "description": " ".join(package_xml.findtext("description").split()),
        "license": package_xml.findtext("license"),
        "packages": PACKAGES,
        "package_dir": PACKAGE_DIRECTORIES,
        "package_data": PACKAGE_DATA,
        "entry_points": {"console_scripts": ["face-affect = face_affect.cli:main"]},
    }

setup(
    python_requires=">=3.10",  # rosbags needs 3.10,
    install_requires=RUNTIME_REQUIREMENTS,
    extras_require=EXTRAS,
    **arguments,
)
