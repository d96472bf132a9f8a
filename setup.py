"""Installs the ``face_affect`` library: through catkin, or alone with ``pip install -e .``."""

from pathlib import Path
from xml.etree import ElementTree

from setuptools import setup

PACKAGES = ["face_affect", "face_affect.ros", "face_affect.training"]
# OpenCV is not listed: the system one (python3-opencv) must stay the one cv_bridge uses.
RUNTIME_REQUIREMENTS = ["numpy<2", "onnxruntime", "pyyaml"]

try:
    from catkin_pkg.python_setup import generate_distutils_setup
except ImportError:  # pip's isolated build, or a machine without ROS
    generate_distutils_setup = None

if generate_distutils_setup is not None:
    arguments = generate_distutils_setup(packages=PACKAGES, package_dir={"": "src"})
else:
    package_xml = ElementTree.parse(Path(__file__).with_name("package.xml")).getroot()
    arguments = {
        "name": package_xml.findtext("name"),
        "version": package_xml.findtext("version"),
        "description": " ".join(package_xml.findtext("description").split()),
        "license": package_xml.findtext("license"),
        "packages": PACKAGES,
        "package_dir": {"": "src"},
    }

setup(
    python_requires=">=3.9",
    install_requires=RUNTIME_REQUIREMENTS,
    extras_require={"train": ["torch==2.13.0", "onnx"]},
    **arguments,
)
