"""The library's errors, in one place so that any module can raise them without importing another's code.

All are ``ValueError`` subclasses: callers that only want "bad input" catch that.
"""

from __future__ import annotations


class FrameError(ValueError):
    """A frame the detectors and classifiers cannot take (see :func:`face_affect.frames.check_frame`)."""


class ModelError(ValueError):
    """A model file that is missing, unreadable or does not follow the contract."""


class SettingsError(ValueError):
    """A setting that does not exist, has the wrong type or lies out of its range."""


class MissingPackageError(ValueError):
    """An optional package that a setting needs is not installed (``ros4hri: true`` without ``hri_msgs``)."""


class RecordingError(ValueError):
    """A recording (ROS bag) that cannot be read or written: missing, not a bag, cut short, a topic it lacks."""
