"""What a face detector is, and the registry that maps the ``detector`` setting to a backend.

A new backend is one module that defines a class with :class:`FaceDetector`'s
``detect``, ``confidence`` and ``model_path`` and calls :func:`register_detector` with a factory that
builds it from :class:`~face_affect.settings.Settings`; ``face_affect.detectors``
imports the built-in ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from face_affect.errors import SettingsError
from face_affect.settings import Settings, as_settings
from face_affect.types import FaceBox


class FaceDetector(Protocol):
    model_path: Path  # the cascade or network file, for diagnostics

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """Faces in a grey, BGR or BGRA uint8 frame, inside it; ``FrameError`` for anything else.

        See :func:`face_affect.frames.check_frame`.
        """
        ...

    def confidence(self, score: float) -> float:
        """A box's score mapped to 0..1 (ROS4HRI's ``c``): monotonic, larger is surer, not calibrated."""
        ...


DetectorFactory = Callable[[Settings], FaceDetector]
_FACTORIES: dict[str, DetectorFactory] = {}


def register_detector(name: str, factory: DetectorFactory) -> None:
    """Makes ``detector: name`` build ``factory(settings)``; a name is registered once."""
    if name in _FACTORIES and _FACTORIES[name] is not factory:
        raise ValueError(f"detector {name!r} is already registered")
    _FACTORIES[name] = factory


def detector_names() -> list[str]:
    return sorted(_FACTORIES)


def create_detector(settings: Settings | Mapping[str, Any]) -> FaceDetector:
    """The detector that ``settings.detector`` names, built from ``settings`` (or overrides of the defaults)."""
    settings = as_settings(settings)
    factory = _FACTORIES.get(settings.detector)
    if factory is None:
        raise SettingsError(f"unknown detector {settings.detector!r}; available: {', '.join(detector_names())}")
    return factory(settings)
