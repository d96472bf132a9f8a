"""Frame in, faces with gender and emotion out: detection, cropping and both classifiers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from face_affect.classifier import OnnxClassifier
from face_affect.config import load_config
from face_affect.detection import FaceBox, FaceDetector, create_detector
from face_affect.preprocessing import FrameError, check_frame, crop_face, enclosing_margin, recrop, to_grey

__all__ = ["Attribute", "FaceAffectPipeline", "FaceClassifiers", "FaceResult", "FrameError", "model_crops"]


@dataclass
class Attribute:
    """One classifier's answer for one face."""

    label: str
    confidence: float
    probabilities: dict[str, float]

    @classmethod
    def from_probabilities(cls, probabilities: np.ndarray, labels: tuple[str, ...]) -> Attribute:
        best = int(np.argmax(probabilities))
        return cls(
            label=labels[best],
            confidence=float(probabilities[best]),
            probabilities={label: float(p) for label, p in zip(labels, probabilities)},
        )


@dataclass
class FaceResult:
    box: FaceBox
    gender: Attribute
    emotion: Attribute

    def to_json(self) -> dict[str, Any]:
        """The CLI's and demo's JSON schema for one face."""
        return {
            "box": self.box.as_list(),
            "score": self.box.score,
            "gender": self.gender.label,
            "gender_confidence": self.gender.confidence,
            "gender_probabilities": self.gender.probabilities,
            "emotion": self.emotion.label,
            "emotion_confidence": self.emotion.confidence,
            "emotion_probabilities": self.emotion.probabilities,
        }


class FaceClassifiers:
    """Both classifiers, without a detector: what a node that receives crops needs."""

    def __init__(self, gender: OnnxClassifier, emotion: OnnxClassifier) -> None:
        self.gender = gender
        self.emotion = emotion

    @classmethod
    def from_config(cls, config: dict[str, Any] | None = None) -> FaceClassifiers:
        """Builds from a parameter dict (keys of ``config/default.yaml``; missing keys take defaults).

        Also sets OpenCV's thread count for the process (``opencv_threads``): left at its
        default, Haar detection and resizing spread over every core, which a robot needs
        for other work.
        """
        config = load_config(overrides=config)
        cv2.setNumThreads(int(config["opencv_threads"]))
        threads = int(config["onnx_threads"])
        return cls(
            gender=OnnxClassifier(config["gender_model"], threads, expected_task="gender"),
            emotion=OnnxClassifier(config["emotion_model"], threads, expected_task="emotion"),
        )

    @property
    def crop_margin(self) -> float:
        """A uniform margin enclosing both classifiers' framings: the crops the detector sends."""
        return enclosing_margin([self.gender.crop_margin, self.emotion.crop_margin])

    @property
    def classifiers(self) -> dict[str, OnnxClassifier]:
        """The classifiers by task name, as parameters such as ``heatmap_tasks`` name them."""
        return {"gender": self.gender, "emotion": self.emotion}

    @property
    def model_files(self) -> list[str]:
        """The model files this object runs, for diagnostics: which models a robot really uses."""
        return [str(model.path) for model in self.classifiers.values()]

    @property
    def gender_labels(self) -> tuple[str, ...]:
        return self.gender.labels

    @property
    def emotion_labels(self) -> tuple[str, ...]:
        return self.emotion.labels

    def classify_crops(self, crops: list[np.ndarray], boxes: list[FaceBox], crop_margin: float) -> list[FaceResult]:
        """Classifies grey crops made at ``crop_margin`` around ``boxes``, each model at its own margin."""
        if len(crops) != len(boxes):
            raise ValueError(f"{len(crops)} crops for {len(boxes)} boxes")
        per_model = {}
        for classifier in (self.gender, self.emotion):
            per_model[classifier.task] = classifier.predict(model_crops(classifier, crops, boxes, crop_margin))
        return [
            FaceResult(
                box=box,
                gender=Attribute.from_probabilities(per_model["gender"][index], self.gender.labels),
                emotion=Attribute.from_probabilities(per_model["emotion"][index], self.emotion.labels),
            )
            for index, box in enumerate(boxes)
        ]


class FaceAffectPipeline(FaceClassifiers):
    """Detection, cropping and both classifiers."""

    def __init__(self, detector: FaceDetector, gender: OnnxClassifier, emotion: OnnxClassifier) -> None:
        super().__init__(gender, emotion)
        self.detector = detector

    @classmethod
    def from_config(cls, config: dict[str, Any] | None = None) -> FaceAffectPipeline:
        """As :meth:`FaceClassifiers.from_config`, plus the detector the parameters choose."""
        config = load_config(overrides=config)
        classifiers = FaceClassifiers.from_config(config)
        return cls(create_detector(config), classifiers.gender, classifiers.emotion)

    @property
    def model_files(self) -> list[str]:
        return [str(self.detector.model_path), *super().model_files]

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """The faces in a frame, left to right, boxes inside it (see :meth:`process` for what a frame is)."""
        return self.detector.detect(check_frame(image))

    def face_crops(self, image: np.ndarray, boxes: list[FaceBox]) -> list[np.ndarray]:
        """Grey crops of the faces at ``boxes`` at :attr:`crop_margin`: what :meth:`classify_crops` takes
        and what the detector node sends."""
        grey = to_grey(image)
        return [crop_face(grey, box, self.crop_margin) for box in boxes]

    def classify(self, image: np.ndarray, boxes: list[FaceBox]) -> list[FaceResult]:
        """Classifies the faces at ``boxes`` in a frame (see :meth:`process`)."""
        return self.classify_crops(self.face_crops(image, boxes), boxes, self.crop_margin)

    def process(self, image: np.ndarray) -> list[FaceResult]:
        """Every face in a frame with its gender and emotion, left to right.

        A frame is a ``uint8`` numpy array of at least 1x1 pixels: ``H x W`` grey, or
        ``H x W x C`` with 1 (grey), 3 (BGR, as ``cv2.imread`` gives) or 4 (BGRA)
        channels, in any memory layout (slices, negative strides). A frame too small
        to hold a face gives ``[]``. Anything else (``None``, another dtype, another
        number of dimensions or channels, zero height or width) raises
        :class:`FrameError`, a ``ValueError`` whose message names the problem
        (``test/test_fuzzing.py`` holds both detectors to this).
        """
        return self.classify(image, self.detect(image))


def model_crops(
    classifier: OnnxClassifier, crops: list[np.ndarray], boxes: list[FaceBox], crop_margin: float
) -> list[np.ndarray]:
    """Each classifier's own framing, cut out of crops made at ``crop_margin`` around ``boxes``."""
    return [recrop(crop, box.width, box.height, crop_margin, classifier.crop_margin) for crop, box in zip(crops, boxes)]
