"""Progress on a terminal, silence in a pipe: the CLI under a real pseudo-terminal (stderr) and through pipes.

stdout stays JSON lines, byte for byte the same either way.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import cv2
import pytest

from conftest import LIBRARY_PATH, run_cli
from recorded_bags import PHOTOS, write_bag

CLIP_FRAMES = 90
"""Long enough for a few redraws (tqdm redraws at most ten times a second) on a fast machine too."""


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six seconds of the bundled photos at 15 Hz, as an mp4."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    frames = [cv2.imread(str(photo)) for photo in PHOTOS]
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15.0, (width, height))
    for index in range(CLIP_FRAMES):
        writer.write(cv2.resize(frames[index * len(frames) // CLIP_FRAMES], (width, height)))
    writer.release()
    return path


def run_on_terminal(*arguments: str) -> tuple[str, str]:
    """The CLI with stderr on a pseudo-terminal (100 columns), stdout on a pipe: (stdout, what the terminal got)."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "face_affect", *arguments],
        stdout=subprocess.PIPE,
        stderr=terminal,
        env={"PYTHONPATH": str(LIBRARY_PATH), "PATH": "/usr/bin:/bin"},
    )
    os.close(terminal)
    output: list[bytes] = []
    reader = threading.Thread(target=lambda: output.append(process.stdout.read()))  # a full pipe would block it
    reader.start()
    shown = bytearray()
    while True:  # read while it runs: a full terminal buffer would block it
        try:
            data = os.read(controller, 4096)
        except OSError:  # EIO: the process closed the terminal
            break
        if not data:
            break
        shown += data
    process.wait(timeout=300)
    reader.join()
    stdout = output[0]
    os.close(controller)
    assert process.returncode == 0, shown.decode(errors="replace")
    return stdout.decode(), shown.decode(errors="replace")


def without_process(stdout: str) -> str:
    """``stdout`` with each track id's per-process random prefix (``qkzfa_12``) cut to ``_12``."""
    return re.sub(r'"track_id": "[a-z]{5}_', '"track_id": "_', stdout)


def redraws(shown: str, total: int) -> list[int]:
    """The counts that the bar showed, in order (``N/total``), one per redraw."""
    return [int(count) for count in re.findall(rf"\b(\d+)/{total}\b", shown)]


def test_video_shows_progress_on_a_terminal_and_none_in_a_pipe(clip: Path):
    stdout, shown = run_on_terminal("video", str(clip))
    counts = redraws(shown, CLIP_FRAMES)
    assert len(set(counts)) >= 3, shown
    assert counts == sorted(counts) and counts[-1] == CLIP_FRAMES
    assert "frames/s" in shown and "faces" in shown and "<" in shown  # rate and time left
    assert re.search(rf"summary: {CLIP_FRAMES} frames, \d+ faces, \d+ people, [\d.]+ s", shown)
    piped = run_cli("video", str(clip))
    assert piped.returncode == 0
    # JSON lines only, the same whatever stderr is, but for the tracks' per-process prefix (tracking.new_track_id)
    assert without_process(piped.stdout) == without_process(stdout)
    assert len(stdout.splitlines()) == CLIP_FRAMES
    assert "\r" not in piped.stderr and not redraws(piped.stderr, CLIP_FRAMES)
    assert re.fullmatch(
        rf"summary: {CLIP_FRAMES} frames, \d+ faces, \d+ people, [\d.]+ s \([\d.]+ frames/s\)\n", piped.stderr
    )


def test_quiet_shows_nothing_on_a_terminal(clip: Path):
    stdout, shown = run_on_terminal("video", str(clip), "--max-frames", "10", "--quiet")
    assert shown == "" and len(stdout.splitlines()) == 10


def test_bag_and_an_image_folder_show_progress_on_a_terminal(tmp_path: Path):
    written = write_bag(tmp_path / "trial.bag", ros1=True)
    _, shown = run_on_terminal("bag", str(tmp_path / "trial.bag"))
    assert redraws(shown, len(written))[-1] == len(written) and "images/s" in shown
    assert re.search(rf"summary: {len(written)} images, \d+ faces, \d+ people", shown)
    _, shown = run_on_terminal("image", str(PHOTOS[0].parent))
    assert redraws(shown, len(PHOTOS))[-1] == len(PHOTOS)
    assert re.search(rf"summary: {len(PHOTOS)} images, 8 faces, [\d.]+ s", shown)  # no tracks: no people
