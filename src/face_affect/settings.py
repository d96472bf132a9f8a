"""Every parameter of the library, the CLI and the ROS nodes: defined once, typed and checked.

:class:`Settings` holds the defaults. :func:`load_settings` reads a flat YAML file
(``config/default.yaml``, the nodes' format) and overrides such as the CLI's
``--set KEY=VALUE`` or a node's private parameters, and refuses what it cannot use
with :class:`~face_affect.errors.SettingsError`: an unknown key (naming the closest
valid one), a value of the wrong type, or one out of range. The README's parameter
table is checked against :data:`SETTINGS` by a test.

Relative model paths are resolved here, once, against the package (:data:`PACKAGE_DIRECTORY`).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from face_affect.errors import SettingsError

PACKAGE_DIRECTORY = Path(__file__).resolve().parent
SOURCE_ROOT = PACKAGE_DIRECTORY.parents[1]
"""The repository root when running from a checkout (``src/face_affect/../..``); training writes there."""
MODELS_DIRECTORY = PACKAGE_DIRECTORY / "models"
"""The shipped models: in a checkout a link to the repository's ``models/``, in an installed package
its package data (``setup.py``)."""


def resolve_model_path(path: str | Path) -> Path:
    """``~`` expanded; a relative path names a file of the package (``models/...``), wherever the caller runs."""
    resolved = Path(os.path.expanduser(str(path)))
    return resolved if resolved.is_absolute() else PACKAGE_DIRECTORY / resolved


def setting(
    default: Any,
    help: str,
    unit: str = "",
    minimum: float | None = None,
    maximum: float | None = None,
    choices: tuple[str, ...] = (),
    ros: bool = False,
) -> Any:
    """A dataclass field with what the checks and the README table need."""
    metadata = {"help": help, "unit": unit, "minimum": minimum, "maximum": maximum, "choices": choices, "ros": ros}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Settings:
    """The parameters; see the README's table for what each does."""

    detector: str = setting("blazeface", "face detector, a registered name (`face_affect.detectors`)")
    blazeface_model: str = setting("", "BlazeFace ONNX file; empty: converted once from the installed weights")
    blazeface_input_scale: float = setting(0.45, "BlazeFace network input size", "input px per source px", 0.05, 4.0)
    blazeface_score_threshold: float = setting(
        0.5, "BlazeFace detections scoring less are dropped", "0..1", 0.001, 0.999
    )
    blazeface_nms_iou: float = setting(0.3, "BlazeFace detections overlapping more are merged", "0..1", 0.001, 1.0)
    haar_scale_factor: float = setting(1.1, "Haar image-pyramid step", "", 1.001, 4.0)
    haar_min_neighbors: int = setting(5, "overlapping Haar detections needed to keep a face", "", 0, 100)
    min_face_size: int = setting(40, "smallest face side Haar searches for", "px (source)", 1, 10000)
    detection_width: int = setting(640, "frames wider than this get a downscaled (coarse) pass", "px", 0, 100000)
    gender_model: str = setting("models/gender_mini_xception.onnx", "gender classifier, ONNX")
    emotion_model: str = setting("models/emotion_mini_xception_wide.onnx", "emotion classifier, ONNX")
    age_model: str = setting("models/age_mini_xception.onnx", "age estimator, ONNX; empty: no age estimate")
    extra_models: list = setting([], "further classifier ONNX files; each one's task comes from its metadata")
    onnx_threads: int = setting(1, "onnxruntime intra-op threads per model", "threads", 1, 64)
    opencv_threads: int = setting(1, "OpenCV threads per process; 0 = every core", "threads", 0, 64)
    track_confirm_hits: int = setting(
        3, "frames a face must be seen in before its track is confirmed", "frames", 1, 100
    )
    track_timeout: float = setting(1.5, "a confirmed track not seen for this long ends", "s", 0.0, 60.0)
    track_timeout_frames: int = setting(
        3,
        "a track also survives this many of the camera's frame intervals unseen, where that is longer "
        "than track_timeout (a slow or throttled camera); 0: seconds only",
        "frames",
        0,
        1000,
    )
    track_max_centre_distance: float = setting(
        1.0, "a box farther than this from a track's predicted box is not that face", "box sizes", 0.05, 10.0
    )
    track_max_size_ratio: float = setting(
        1.6, "a box whose size differs more from a track's is not that face", "", 1.0, 10.0
    )
    track_max_tracks: int = setting(100, "tracks kept at most; boxes beyond start none", "tracks", 1, 10000)
    gender_time_constant: float = setting(3.0, "time constant of the smoothed gender estimate", "s", 0.0, 600.0)
    emotion_time_constant: float = setting(0.5, "time constant of the smoothed emotion estimate", "s", 0.0, 600.0)
    age_time_constant: float = setting(
        30.0, "time constant of the smoothed age estimate: age does not change within a visit", "s", 0.0, 3600.0
    )
    gender_min_confidence: float = setting(
        0.9,
        "a track's smoothed gender is stated only at this confidence or more, else it is unsure (empty label)",
        "0..1",
        0.0,
        1.0,
    )
    emotion_min_confidence: float = setting(
        0.4,
        "a track's smoothed emotion is stated only at this confidence or more, else it is unsure (empty label)",
        "0..1",
        0.0,
        1.0,
    )
    other_time_constant: float = setting(
        1.0, "time constant of the smoothed estimates of `extra_models`", "s", 0.0, 600.0
    )
    full_weight_face_width: int = setting(
        60, "faces this wide or wider count fully in a smoothed estimate", "px", 1, 10000
    )
    view_weighting: bool = setting(
        True,
        "a frame also counts by its view: frontalness (BlazeFace keypoints), sharpness and exposure of the crop",
    )
    detection_interval: float = setting(
        0.2,
        "full-frame detection at most this often; in between, faces are re-detected around their predicted boxes",
        "s",
        0.0,
        60.0,
    )
    redetection_margin: float = setting(
        0.5, "region re-detected around a predicted box, grown by this on each side", "box sizes", 0.1, 5.0
    )
    classification_interval: float = setting(
        0.1, "a confirmed, steady track is re-classified at most this often", "s", 0.0, 60.0
    )
    compressed: bool = setting(False, "subscribe to `<image>/compressed`", ros=True)
    annotated_buffer: int = setting(
        30, "camera frames kept to match the overlay to results", "frames", 1, 1000, ros=True
    )
    annotate: bool = setting(True, "offer `/face_affect/annotated`", ros=True)
    heatmaps: bool = setting(False, "compute heatmaps for every frame", ros=True)
    heatmap_tasks: list = setting(["emotion"], "tasks whose heatmaps are computed", ros=True)
    diagnostics_period: float = setting(1.0, "time between `/diagnostics` publications", "s", 0.05, 3600.0, ros=True)
    diagnostics_silent_after: float = setting(
        5.0, "no input for this long makes the status WARN", "s", 0.1, 86400.0, ros=True
    )
    diagnostics_min_rate: float = setting(
        5.0, "publishing below this rate (less 10%) makes the status WARN; 0: no check", "Hz", 0.0, 1000.0, ros=True
    )
    diagnostics_max_delay: float = setting(
        0.5,
        "frames older than this when published (camera stamp to output) make the status WARN",
        "s",
        0.001,
        3600.0,
        ros=True,
    )
    stamp_max_age: float = setting(
        60.0, "input stamped further behind the node's clock is rejected", "s", 0.001, 1e9, ros=True
    )
    stamp_max_ahead: float = setting(
        5.0, "input stamped further ahead of the node's clock is rejected", "s", 0.0, 1e9, ros=True
    )
    ros4hri: bool = setting(
        False,
        "also publish each confirmed face on ROS4HRI's (REP-155) `/humans/faces/` topics; needs hri_msgs",
        ros=True,
    )

    def time_constant(self, task: str) -> float:
        """The smoothing time constant of a task's estimate."""
        constants = {"gender": self.gender_time_constant, "emotion": self.emotion_time_constant}
        return {**constants, "age": self.age_time_constant}.get(task, self.other_time_constant)

    def min_confidence(self, task: str) -> float:
        """The confidence below which a task's smoothed estimate is unsure: gender and emotion; 0 for others."""
        return {"gender": self.gender_min_confidence, "emotion": self.emotion_min_confidence}.get(task, 0.0)

    @property
    def named_models(self) -> list[tuple[str, str]]:
        """``(task, file)`` of the models named by task: gender, emotion and, if set, age."""
        named = [("gender", self.gender_model), ("emotion", self.emotion_model)]
        return named + ([("age", self.age_model)] if self.age_model else [])

    @property
    def model_paths(self) -> list[Path]:
        """The classifier files to run, resolved: gender, emotion, age (if set), then :attr:`extra_models`."""
        return [resolve_model_path(path) for path in (*(path for _, path in self.named_models), *self.extra_models)]

    @property
    def blazeface_model_path(self) -> Path | None:
        return resolve_model_path(self.blazeface_model) if self.blazeface_model else None

    def with_values(self, values: Mapping[str, Any], source: str = "") -> Settings:
        """A copy with ``values`` checked and applied (see :func:`check_value`)."""
        return replace(self, **{key: check_value(key, value, source) for key, value in values.items()})


DEFAULTS = Settings()
"""The defaults, for constructors that take single settings as keyword arguments."""
SETTINGS = {item.name: item for item in fields(Settings)}
"""The settings' dataclass fields by name: type, default and metadata (help, unit, range, ROS-only)."""


def check_value(key: str, value: Any, source: str = "") -> Any:
    """``value`` as the setting ``key`` takes it, or :class:`SettingsError` naming the key and the value."""
    where = f"{source}: " if source else ""
    if key not in SETTINGS:
        close = difflib.get_close_matches(key, SETTINGS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise SettingsError(f"{where}unknown setting {key!r}{hint}")
    item = SETTINGS[key]
    expected = item.type if isinstance(item.type, str) else item.type.__name__
    if expected == "bool":
        ok = isinstance(value, bool)
    elif expected == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif expected == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif expected == "str":
        ok = isinstance(value, str)
    else:  # list of strings
        ok = isinstance(value, (list, tuple)) and all(isinstance(entry, str) for entry in value)
        value = list(value) if ok else value
    if not ok:
        kind = "list of strings" if expected == "list" else expected
        raise SettingsError(f"{where}setting {key!r} must be a {kind}, got {value!r}")
    low, high = item.metadata["minimum"], item.metadata["maximum"]
    if (low is not None and value < low) or (high is not None and value > high):
        raise SettingsError(f"{where}setting {key!r} must lie in [{low:g}, {high:g}], got {value!r}")
    return value


def read_settings_file(path: str | Path) -> dict[str, Any]:
    """The mapping of a flat YAML parameter file; :class:`SettingsError` for anything else."""
    try:
        with open(path) as stream:
            loaded = yaml.safe_load(stream) or {}
    except OSError as error:
        raise SettingsError(f"{path}: cannot read settings ({error.strerror})") from error
    except yaml.YAMLError as error:
        raise SettingsError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from error
    if not isinstance(loaded, dict):
        raise SettingsError(f"{path}: expected a mapping of setting names to values")
    return loaded


def parse_assignment(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` (the CLI's ``--set``); the value is read as YAML, so ``0.3``, ``true`` and ``[a, b]`` are typed."""
    key, separator, value = text.partition("=")
    if not separator or not key.strip():
        raise SettingsError(f"--set {text!r}: expected KEY=VALUE")
    try:
        return key.strip(), yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError as error:
        raise SettingsError(f"--set {text!r}: value is not valid YAML") from error


def load_settings(
    path: str | Path | None = None, overrides: Mapping[str, Any] | None = None, ignore: tuple[str, ...] = ()
) -> Settings:
    """The defaults, then the keys of the YAML file at ``path``, then ``overrides``, each checked.

    ``ignore`` names keys that are not settings but may sit beside them (a ROS node's
    private namespace also holds the parameters that rosparam or rostest set).
    """
    settings = Settings()
    if path is not None:
        values = read_settings_file(path)
        settings = settings.with_values({k: v for k, v in values.items() if k not in ignore}, str(path))
    if overrides:
        settings = settings.with_values({k: v for k, v in overrides.items() if k not in ignore})
    return settings


def as_settings(value: Settings | Mapping[str, Any] | None) -> Settings:
    """A :class:`Settings`, or a mapping of overrides of the defaults (checked), or ``None`` for the defaults."""
    if isinstance(value, Settings):
        return value
    return load_settings(overrides=value)
