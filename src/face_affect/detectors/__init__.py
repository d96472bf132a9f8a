"""Face detectors behind one interface (:mod:`.registry`); importing this package registers the built-in ones.

Every detector returns :class:`~face_affect.types.FaceBox` objects in source-image
pixels with a top-left origin, whatever resolution it ran at internally.
"""

from face_affect.detectors import blazeface, haar
from face_affect.detectors.registry import FaceDetector, create_detector, detector_names, register_detector

__all__ = ["FaceDetector", "blazeface", "create_detector", "detector_names", "haar", "register_detector"]
