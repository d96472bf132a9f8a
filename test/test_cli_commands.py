"""The command lines users type: every one in the README, and options on either side of the subcommand.

Needs only the bundled frames (``data/frames``), so it runs without ``../shared/data`` too.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import REPOSITORY, run_cli
from recorded_bags import write_bag

FRAMES = REPOSITORY / "data" / "frames"
PHOTO = FRAMES / "face_recognition_two_people.jpg"
README = REPOSITORY / "README.md"
CLI_SECTION = "## Python and CLI, without ROS"


def readme_cli_commands() -> list[str]:
    """The ``face-affect`` and ``python -m face_affect`` lines of the README's CLI section's code blocks."""
    text = README.read_text()
    section = text[text.index(CLI_SECTION) :]
    section = section[: section.index("\n## ", len(CLI_SECTION))]
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S):
        for line in block.splitlines():
            line = line.split(" #", 1)[0].strip()
            if line.startswith("face-affect ") or re.match(r"\S*python3? -m face_affect ", line):
                commands.append(line)
    return commands


def short_video(path: Path) -> Path:
    """Twelve frames of the bundled photo as an mp4: the README's ``clip.mp4``."""
    frame = cv2.imread(str(PHOTO))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15.0, (frame.shape[1], frame.shape[0]))
    for _ in range(12):
        writer.write(frame)
    writer.release()
    return path


def recorded_bag(path: Path) -> Path:
    """A ROS 1 bag of the bundled photos (``test/recorded_bags.py``): the README's ``trial.bag``."""
    if not path.exists():
        write_bag(path, ros1=True)
    return path


def bundled_examples(tmp_path: Path) -> dict[str, str]:
    """The README's example files, each with the bundled file (or one made in ``tmp_path``) that stands in for it."""
    return {
        "photo.jpg": str(PHOTO),
        "../shared/data/photos": str(FRAMES),
        "clip.mp4": str(short_video(tmp_path / "clip.mp4")),
        "clip_annotated.mp4": str(tmp_path / "clip_annotated.mp4"),
        "trial.bag": str(recorded_bag(tmp_path / "trial.bag")),
    }


def runnable(command: str, tmp_path: Path, examples: dict[str, str]) -> list[str]:
    """The README line's arguments, its example files replaced by ``examples`` and its ``/tmp/`` output in ``tmp_path``.

    Only the README's own words are moved into ``tmp_path``: a substituted file keeps its path even when the
    checkout itself lives under ``/tmp``.
    """
    words = shlex.split(command.split(" > ")[0])
    words = words[1:] if words[0] == "face-affect" else words[3:]  # face-affect | python -m face_affect
    return [
        examples[word] if word in examples else str(tmp_path / Path(word).name) if word.startswith("/tmp/") else word
        for word in words
    ]


def test_runnable_keeps_substituted_files_of_a_checkout_under_tmp(tmp_path: Path):
    examples = {"photo.jpg": "/tmp/clone/data/frames/photo.jpg", "../shared/data/photos": "/tmp/clone/data/frames"}
    command = "face-affect image photo.jpg ../shared/data/photos --annotate /tmp/annotated --set detector=haar"
    assert runnable(command, tmp_path, examples) == [
        "image",
        "/tmp/clone/data/frames/photo.jpg",
        "/tmp/clone/data/frames",
        "--annotate",
        str(tmp_path / "annotated"),
        "--set",
        "detector=haar",
    ]


def test_the_readme_shows_cli_commands():
    commands = readme_cli_commands()
    assert len(commands) >= 4, commands
    assert any("--set" in command for command in commands)


@pytest.mark.parametrize("command", readme_cli_commands())
def test_every_readme_command_runs(command: str, tmp_path: Path):
    completed = run_cli(*runnable(command, tmp_path, bundled_examples(tmp_path)))
    assert completed.returncode == 0, f"{command}\n{completed.stderr}"
    records = [json.loads(line) for line in completed.stdout.splitlines()]
    assert records and all("faces" in record for record in records)
    assert sum(len(record["faces"]) for record in records) >= 2, command


@pytest.mark.parametrize(
    "arguments",
    [
        ["image", str(PHOTO), "--json"],
        ["--json", "image", str(PHOTO)],
        ["image", str(PHOTO), "--set", "detector=haar"],
        ["--set", "detector=haar", "image", str(PHOTO)],
        ["image", "--config", "{config}", str(PHOTO)],
        ["--config", "{config}", "image", str(PHOTO), "--set", "min_face_size=30"],
    ],
    ids=["json-after", "json-before", "set-after", "set-before", "config-after", "config-before-set-after"],
)
def test_shared_options_work_before_and_after_the_subcommand(arguments: list[str], tmp_path: Path):
    config = tmp_path / "haar.yaml"
    config.write_text("detector: haar\n")
    completed = run_cli(*(word.format(config=config) for word in arguments))
    assert completed.returncode == 0, completed.stderr
    (record,) = (json.loads(line) for line in completed.stdout.splitlines())
    assert len(record["faces"]) == 2
    if any("haar" in word for word in arguments):
        # BlazeFace's scores are probabilities; Haar's are level weights, above 1 for these faces.
        assert all(face["score"] > 1 for face in record["faces"]), record["faces"]


def test_settings_after_the_subcommand_override_those_before():
    completed = run_cli("--set", "min_face_size=2000", "image", str(PHOTO), "--set", "min_face_size=30")
    assert completed.returncode == 0, completed.stderr
    assert len(json.loads(completed.stdout)["faces"]) == 2


@pytest.mark.parametrize("placement", ["before", "after"])
def test_a_misspelt_key_exits_2_naming_the_right_one(placement: str):
    option = ["--set", "detecter=haar"]
    arguments = option + ["image", str(PHOTO)] if placement == "before" else ["image", str(PHOTO), *option]
    completed = run_cli(*arguments)
    assert completed.returncode == 2
    assert "unknown setting 'detecter'; did you mean 'detector'?" in completed.stderr
    assert not completed.stdout and "Traceback" not in completed.stderr


def test_config_given_twice_is_refused(tmp_path: Path):
    config = tmp_path / "a.yaml"
    config.write_text("detector: haar\n")
    completed = run_cli("--config", str(config), "image", str(PHOTO), "--config", str(config))
    assert completed.returncode == 2
    assert "--config given twice" in completed.stderr


def test_video_takes_options_after_the_subcommand(tmp_path: Path):
    clip = short_video(tmp_path / "clip.mp4")
    completed = run_cli("video", str(clip), "--max-frames", "5", "--set", "detector=haar", "--json")
    assert completed.returncode == 0, completed.stderr
    frames = [json.loads(line) for line in completed.stdout.splitlines()]
    assert [frame["frame"] for frame in frames] == list(range(5))
    assert np.mean([len(frame["faces"]) for frame in frames[3:]]) == 2  # confirmed by the third frame
