"""Parameters: the defaults below, overridden by a flat YAML file such as ``config/default.yaml``.

The README's parameter table documents every key; the ROS nodes read the same keys
from their private namespace.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
MODELS_DIRECTORY = PACKAGE_ROOT / "models"

MODEL_KEYS = ("gender_model", "emotion_model")
DEFAULTS: dict[str, Any] = {
    "detector": "blazeface",
    "blazeface_model": "",
    "blazeface_input_scale": 0.45,
    "blazeface_score_threshold": 0.5,
    "blazeface_nms_iou": 0.3,
    "haar_scale_factor": 1.1,
    "haar_min_neighbors": 5,
    "min_face_size": 40,
    "detection_width": 640,
    "gender_model": "models/gender_mini_xception.onnx",
    "emotion_model": "models/emotion_mini_xception.onnx",
    "onnx_threads": 1,
    "opencv_threads": 1,
}


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The defaults, then the keys of the YAML file at ``path``, then ``overrides``."""
    config = dict(DEFAULTS)
    if path is not None:
        with open(path) as stream:
            loaded = yaml.safe_load(stream) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: expected a mapping of parameter names to values")
        config.update(loaded)
    config.update(overrides or {})
    for key in MODEL_KEYS:
        config[key] = str(resolve_package_path(config[key]))
    return config


def resolve_package_path(path: str | Path) -> Path:
    """Relative paths name files of the package (``models/...``), wherever the caller runs."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else PACKAGE_ROOT / path
