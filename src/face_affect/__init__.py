"""face_affect: real-time face detection with emotion and gender classification.

A plain Python library (numpy, OpenCV, onnxruntime); the ROS nodes in
``face_affect.ros`` are thin adapters over it, and ``face_affect.training``
(an optional extra) is the only part that imports torch.
"""

from face_affect.detection import FaceBox, HaarFaceDetector
from face_affect.pipeline import Attribute, FaceAffectPipeline, FaceResult

__all__ = ["Attribute", "FaceAffectPipeline", "FaceBox", "FaceResult", "HaarFaceDetector"]
