"""The package as colcon installs it (build/ros2_ws/install): whole, with no link into the source tree."""

from __future__ import annotations

from pathlib import Path

from ament_index_python.packages import get_package_share_directory

import face_affect
from face_affect.recordings import MESSAGE_DEFINITIONS

INSTALLED = Path(face_affect.__file__).parent
SHARE = Path(get_package_share_directory("face_affect"))


def test_the_installed_package_is_the_one_imported() -> None:
    assert "install" in INSTALLED.parts, INSTALLED


def test_the_installed_package_holds_files_not_links() -> None:
    """A link into the checkout breaks when it moves; a relative one (message_definitions -> ../../msg) dangles."""
    for folder in (INSTALLED, SHARE):
        links = [f"{path} -> {path.readlink()}" for path in folder.rglob("*") if path.is_symlink()]
        assert not links
    assert (SHARE / "launch" / "face_affect.launch.py").is_file()
    assert (INSTALLED / "models" / "emotion_mini_xception.onnx").is_file()


def test_the_message_definitions_are_installed() -> None:
    """face-affect bag writes these into the bags it records."""
    assert MESSAGE_DEFINITIONS.parent == INSTALLED
    names = {path.name for path in MESSAGE_DEFINITIONS.glob("*.msg")}
    assert {"FaceAffect.msg", "FaceAffectArray.msg", "FaceDetectionArray.msg"} <= names
