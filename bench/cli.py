"""The CLI on a folder of photos against a bare script doing the paper's recipe, as whole processes.

The bare script is what a user would otherwise write: OpenCV's stock Haar
(``detectMultiScale`` with its defaults) on each photo, then both committed ONNX
models on every face, resized without a margin. Both run as fresh processes,
imports and model loading included, ``--repeats`` times each, one thread.

    PYTHONPATH=src .venv/bin/python bench/cli.py [--folder ../shared/data/photos]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
PHOTOS = REPOSITORY.parent / "shared" / "data" / "photos"
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENCV_FOR_THREADS_NUM": "1"}


def bare_script(folder: Path) -> None:
    """Stock Haar plus both models per face, one JSON line per photo (run in a child process)."""
    import cv2
    import numpy as np
    import onnxruntime

    cv2.setNumThreads(1)
    cascade = cv2.CascadeClassifier("/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    models = {
        task: onnxruntime.InferenceSession(str(REPOSITORY / "models" / f"{task}_mini_xception.onnx"), options)
        for task in ("gender", "emotion")
    }
    for path in sorted(folder.iterdir()):
        grey = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2GRAY)
        faces = []
        for x, y, width, height in cascade.detectMultiScale(grey):
            face = {"box": [int(x), int(y), int(width), int(height)]}
            for task, session in models.items():
                size = session.get_inputs()[0].shape[2]
                crop = cv2.resize(grey[y : y + height, x : x + width], (size, size)).astype(np.float32)
                face[task] = session.run(None, {"pixels": crop[None, None]})[0][0].tolist()
            faces.append(face)
        print(json.dumps({"image": path.name, "faces": faces}))


def timed_run(command: list[str]) -> tuple[float, int]:
    """Wall seconds of one process and the number of faces in its JSON lines."""
    environment = {**os.environ, **ONE_THREAD, "PYTHONPATH": str(REPOSITORY / "src")}
    start = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, env=environment, check=True)
    seconds = time.perf_counter() - start
    faces = sum(len(json.loads(line)["faces"]) for line in completed.stdout.splitlines() if line.startswith("{"))
    return seconds, faces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=PHOTOS)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", type=Path, default=REPOSITORY / "bench" / "results" / "cli.json")
    parser.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)  # the child process
    arguments = parser.parse_args()
    if arguments.bare:
        bare_script(arguments.folder)
        return
    haar_config = Path(tempfile.mkdtemp()) / "haar.yaml"
    haar_config.write_text("detector: haar\n")
    cli = [sys.executable, "-m", "face_affect"]
    commands = {
        "face_affect CLI (BlazeFace)": [*cli, "image", str(arguments.folder)],
        "face_affect CLI (Haar)": [*cli, "--config", str(haar_config), "image", str(arguments.folder)],
        "bare script (stock Haar)": [sys.executable, __file__, "--bare", "--folder", str(arguments.folder)],
    }
    photos = len(list(arguments.folder.iterdir()))
    results = {}
    print(f"{photos} photos in {arguments.folder}; median of {arguments.repeats} runs, whole process, one thread")
    print(f"{'command':<30} {'seconds':>8} {'min':>6} {'faces':>6}")
    for name, command in commands.items():
        runs = [timed_run(command) for _ in range(arguments.repeats)]
        seconds = sorted(run[0] for run in runs)
        results[name] = {"median_seconds": seconds[len(seconds) // 2], "min_seconds": seconds[0], "faces": runs[0][1]}
        print(f"{name:<30} {results[name]['median_seconds']:>8.2f} {seconds[0]:>6.2f} {runs[0][1]:>6}")
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps({"photos": photos, **results}, indent=2) + "\n")
    print(f"written {arguments.output}")


if __name__ == "__main__":
    main()
