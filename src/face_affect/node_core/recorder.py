"""What the demo's ``record_results`` node keeps, for ROS 1 and ROS 2 alike: every ``FaceAffectArray`` as a
JSON line (``results.jsonl``), an annotated frame a ``image_interval`` (``annotated_<sec>.<nsec>.jpg``),
and ``summary.txt``: rates, label counts and ages.

The adapters subscribe ``results`` and ``annotated`` (subscribing ``annotated`` is what makes the
classifier draw, so the demo also exercises the lazy path), hand each message to
:class:`ResultRecorder`, and end the recording and the launch in their ROS's way.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from face_affect.image_messages import ImageError
from face_affect.node_core.messages import MessageKit, affect_array_to_json

RESULTS_FILE = "results.jsonl"
SUMMARY_FILE = "summary.txt"


class ResultRecorder:
    """Writes results and annotated frames under ``output_directory`` as they arrive (from any thread),
    and counts what the summary says.

    ``warn`` reports an annotated frame that cannot be decoded (it is counted, not saved).
    """

    def __init__(
        self, output_directory: Path, image_interval: float, kit: MessageKit, warn: Callable[[str], None]
    ) -> None:
        self.output_directory = output_directory
        self.output_directory.mkdir(parents=True, exist_ok=True)
        self.results_file = open(output_directory / RESULTS_FILE, "w")  # noqa: SIM115 - open until close()
        self.image_interval = image_interval
        self.kit = kit
        self.warn = warn
        self.lock = threading.Lock()
        self.first_result = threading.Event()
        self.result_times: list[float] = []
        self.annotated_times: list[float] = []
        self.saved_images = 0
        self.last_saved = -float("inf")
        self.faces = 0
        self.frames_with_faces = 0
        self.genders: Counter[str] = Counter()
        self.emotions: Counter[str] = Counter()
        self.ages: list[float] = []

    def receive_results(self, message: Any) -> None:
        """One ``FaceAffectArray``: a JSON line and its faces counted (none once :meth:`finish` has run)."""
        with self.lock:
            if self.results_file.closed:
                return
            self.result_times.append(time.monotonic())
            self.results_file.write(json.dumps(affect_array_to_json(self.kit, message)) + "\n")
            self.faces += len(message.faces)
            self.frames_with_faces += bool(message.faces)
            self.genders.update(face.gender or "unsure" for face in message.faces)
            self.emotions.update(face.emotion or "unsure" for face in message.faces)
            self.ages.extend(face.age for face in message.faces if not math.isnan(face.age))
        self.first_result.set()

    def receive_annotated(self, message: Any) -> None:
        """One ``annotated`` frame: counted, and saved as JPEG when ``image_interval`` has passed since the last."""
        now = time.monotonic()
        with self.lock:
            self.annotated_times.append(now)
            if now - self.last_saved < self.image_interval:
                return
            self.last_saved = now
        try:
            image = self.kit.images.to_bgr(message)
        except ImageError as error:
            self.warn(f"annotated frame not saved: {error}")
            return
        seconds, nanoseconds = divmod(self.kit.nanoseconds_of(message.header.stamp), 10**9)
        cv2.imwrite(str(self.output_directory / f"annotated_{seconds}.{nanoseconds:09d}.jpg"), image)
        with self.lock:
            self.saved_images += 1

    @property
    def has_results(self) -> bool:
        with self.lock:
            return bool(self.result_times)

    def summary(self) -> str:
        with self.lock:
            self.results_file.flush()
            return "\n".join(
                [
                    (
                        f"results: {len(self.result_times)} frames at {rate_hz(self.result_times):.1f} Hz, "
                        f"{self.frames_with_faces} with faces, {self.faces} faces"
                    ),
                    f"gender: {format_counts(self.genders)}",
                    f"emotion: {format_counts(self.emotions)}",
                    f"age: {describe_ages(self.ages)}",
                    (
                        f"annotated: {len(self.annotated_times)} frames at "
                        f"{rate_hz(self.annotated_times):.1f} Hz, {self.saved_images} saved"
                    ),
                    f"output: {self.output_directory}",
                ]
            )

    def finish(self) -> str:
        """Closes the results file, writes ``summary.txt`` and returns its text (the adapter logs it)."""
        summary = self.summary()
        self.close()
        (self.output_directory / SUMMARY_FILE).write_text(summary + "\n")
        return summary

    def close(self) -> None:
        with self.lock:
            self.results_file.close()


def rate_hz(times: list[float]) -> float:
    if len(times) < 2 or times[-1] <= times[0]:
        return 0.0
    return (len(times) - 1) / (times[-1] - times[0])


def format_counts(counts: Counter[str]) -> str:
    return ", ".join(f"{label} {count}" for label, count in counts.most_common()) or "none"


def describe_ages(ages: list[float]) -> str:
    """The median and range of the smoothed ages reported, or why there are none."""
    if not ages:
        return "none (no age model, or no faces)"
    return f"median {np.median(ages):.0f} years, {min(ages):.0f}-{max(ages):.0f}"
