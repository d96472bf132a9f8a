"""BlazeFace face detection (Bazarevsky et al. 2019, MediaPipe's full-range model) on onnxruntime.

The network predicts, for each anchor of a grid with a 4-pixel stride, a face
score and a box relative to the anchor, in input pixels. This module does the
rest: the input (frame scaled by ``input_scale``, padded to multiples of 32),
anchors, decoding, the score threshold and MediaPipe's weighted non-maximum
suppression, which averages overlapping boxes instead of dropping them, so the
box does not jitter between neighbouring anchors.

BlazeFace's box is tighter than Haar's (eyebrows to mouth) and lower; the
classifiers' crop margins were measured on Haar boxes, so every box is reframed
by :data:`HAAR_FRAMING` before it is returned.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnxruntime

from face_affect.detectors.blazeface_model import SIZE_MULTIPLE, ensure_model
from face_affect.detectors.registry import register_detector
from face_affect.frames import check_frame, resize_frame
from face_affect.geometry import iou_matrix
from face_affect.sessions import open_session
from face_affect.settings import DEFAULTS, Settings
from face_affect.types import FaceBox, Margins, as_margins

ANCHOR_STRIDE = 4
"""Input pixels between anchors: the output grid is a quarter of the input size."""
LOGIT_CLIP = 100.0
"""MediaPipe clips the score logits before the sigmoid."""
SIZED_SESSIONS = 4
"""Input sizes that get a session of their own: a camera's frames all have one size."""
KEYPOINTS = 6
"""Eyes, nose tip, mouth and ear tragions (``face_affect.quality.KEYPOINT_NAMES``), after the box's four regressors."""
HAAR_FRAMING: Margins = (0.04, 0.14, 0.05, 0.0)
"""Growth (left, top, right, bottom) of BlazeFace's box, as fractions of its size, that gives
Haar's box for the same face: the median over faces both detectors find in the test photos
(``bench/detection.py --fit-framing``)."""


def anchor_centres(input_width: int, input_height: int, stride: int = ANCHOR_STRIDE) -> np.ndarray:
    """``[N, 2]`` anchor centres ``(x, y)`` in input pixels, row by row, as the network orders its outputs."""
    columns, rows = input_width // stride, input_height // stride
    y, x = np.mgrid[0:rows, 0:columns]
    return np.stack([x.ravel() + 0.5, y.ravel() + 0.5], axis=1).astype(np.float32) * stride


def decode_boxes(regressors: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """``[N, 16]`` in input pixels: corners ``(x0, y0, x1, y1)`` from the regressors' centre offset and size,
    then the six keypoints' ``x, y`` (offsets from the anchor, as the box centre's)."""
    centres = anchors + regressors[:, 0:2]
    half_sizes = regressors[:, 2:4] / 2
    keypoints = np.tile(anchors, KEYPOINTS) + regressors[:, 4 : 4 + 2 * KEYPOINTS]
    return np.concatenate([centres - half_sizes, centres + half_sizes, keypoints], axis=1)


def scores_from_logits(logits: np.ndarray) -> np.ndarray:
    """Sigmoid in float64: exp(100) overflows float32."""
    return 1.0 / (1.0 + np.exp(-np.minimum(np.maximum(logits.astype(np.float64), -LOGIT_CLIP), LOGIT_CLIP)))


def weighted_non_maximum_suppression(
    boxes: np.ndarray, scores: np.ndarray, iou_threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """MediaPipe's weighted NMS: each cluster becomes its score-weighted mean box with its best score.

    The best remaining box and every remaining box overlapping it by more than
    ``iou_threshold`` form a cluster; repeated until no box remains. ``boxes`` are rows of
    corners, optionally followed by keypoints (averaged alike). Returns the merged rows
    ``[M, columns]`` and scores ``[M]``, best first.
    """
    order = np.argsort(-scores, kind="stable")
    boxes, scores = boxes[order], scores[order]
    # All overlaps at once: a face leaves a few dozen boxes, so the matrix is small.
    clustered = iou_matrix(boxes[:, :4], boxes[:, :4]) > iou_threshold
    merged_boxes, merged_scores = [], []
    remaining = np.ones(len(scores), dtype=bool)
    for best in range(len(scores)):
        if not remaining[best]:
            continue
        cluster = remaining & clustered[best]
        cluster[best] = True
        remaining &= ~cluster
        weights = scores[cluster]
        merged_boxes.append(weights @ boxes[cluster] / weights.sum())
        merged_scores.append(scores[best])
    merged = np.reshape(np.array(merged_boxes, dtype=np.float32), (-1, boxes.shape[1]))
    return merged, np.array(merged_scores, dtype=np.float32)


def reframe(boxes: np.ndarray, margins: Margins) -> np.ndarray:
    """Corner boxes grown on each side by ``margins`` (fractions of the box's width and height)."""
    left, top, right, bottom = margins
    width, height = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    growth = np.stack([-left * width, -top * height, right * width, bottom * height], axis=1)
    return boxes + growth


class BlazeFaceDetector:
    """Faces with the BlazeFace full-range network, boxes framed like Haar's.

    ``input_scale`` is network input pixels per source pixel. It sets the smallest
    face found (about 16 input pixels, so 35 source pixels at 0.45) and the cost,
    which grows with the input's pixel count (a VGA frame at 0.45 is 288x224, 1.75
    times the network's native 192x192). The network misses faces wider than about
    180 input pixels (400 source pixels at 0.45): frames wider than ``detection_width``,
    where a close face can be that large, get a second, coarse pass at that width.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        score_threshold: float = DEFAULTS.blazeface_score_threshold,
        nms_iou: float = DEFAULTS.blazeface_nms_iou,
        input_scale: float = DEFAULTS.blazeface_input_scale,
        threads: int = DEFAULTS.onnx_threads,
        detection_width: int = DEFAULTS.detection_width,
        framing: Margins = HAAR_FRAMING,
    ) -> None:
        if not 0.0 < score_threshold < 1.0:
            raise ValueError(f"score_threshold must be in (0, 1), got {score_threshold}")
        if not 0.0 < nms_iou <= 1.0:
            raise ValueError(f"nms_iou must be in (0, 1], got {nms_iou}")
        if not 0.0 < input_scale <= 4.0:
            raise ValueError(f"input_scale must be in (0, 4], got {input_scale}")
        self.model_path = ensure_model(model_path)
        self.threads = threads
        self.session = self.new_session()
        self.input_name = self.session.get_inputs()[0].name
        self.sized_sessions: dict[tuple[int, int], onnxruntime.InferenceSession] = {}
        self.score_threshold = score_threshold
        # Scores grow with the logits, so the threshold is first compared before the sigmoid (with a
        # little slack for rounding), then exactly on the few scores computed.
        self.logit_threshold = float(np.log(score_threshold / (1.0 - score_threshold))) - 1e-4
        self.nms_iou = nms_iou
        self.input_scale = input_scale
        self.detection_width = detection_width
        self.framing = as_margins(framing)
        self.anchors: dict[tuple[int, int], np.ndarray] = {}

    def new_session(self, input_size: tuple[int, int] | None = None) -> onnxruntime.InferenceSession:
        """A session for any input size, or for ``input_size`` (width, height) only.

        With the size fixed, onnxruntime knows every tensor's shape and fuses the residual
        additions after the pooling layers into the convolutions (about 5% faster).
        """
        dimensions = {}
        if input_size is not None:
            width, height = input_size
            anchors = (width // ANCHOR_STRIDE) * (height // ANCHOR_STRIDE)
            dimensions = {"width": width, "height": height, "anchors": anchors}
        return open_session(self.model_path, self.threads, dimensions=dimensions)

    def session_for(self, width: int, height: int) -> onnxruntime.InferenceSession:
        """The fixed-size session for this input size, made on first use (tens of milliseconds); the
        generic session once :data:`SIZED_SESSIONS` sizes have their own."""
        session = self.sized_sessions.get((width, height))
        if session is None:
            if len(self.sized_sessions) >= SIZED_SESSIONS:
                return self.session
            session = self.sized_sessions[(width, height)] = self.new_session((width, height))
        return session

    def network_input(self, image: np.ndarray, input_scale: float) -> tuple[np.ndarray, np.ndarray]:
        """The ``[1, 3, H, W]`` RGB -1..1 tensor (frame at its top-left, black padding) and the
        input-per-source scale of box corners ``(x, y, x, y)``; :class:`FrameError` for anything but a
        frame (:func:`check_frame`)."""
        height, width = check_frame(image).shape[:2]
        scaled_width, scaled_height = max(1, round(width * input_scale)), max(1, round(height * input_scale))
        # Scaled first, so the colour conversion and normalisation touch the small image only.
        scaled = resize_frame(image, scaled_width, scaled_height)
        if scaled.ndim == 2 or scaled.shape[2] == 1:
            planes = [scaled.reshape(scaled_height, scaled_width)] * 3
        else:
            blue, green, red = cv2.split(scaled)[:3]
            planes = [red, green, blue]
        # Filled plane by plane: a third of the time of cv2.dnn.blobFromImage on the padded image.
        padded_height = scaled_height + -scaled_height % SIZE_MULTIPLE
        padded_width = scaled_width + -scaled_width % SIZE_MULTIPLE
        tensor = np.empty((1, 3, padded_height, padded_width), np.float32)
        tensor[0, :, scaled_height:] = -1.0
        tensor[0, :, :scaled_height, scaled_width:] = -1.0
        for channel, plane in zip(tensor[0], planes):
            np.subtract(plane, 127.5, out=channel[:scaled_height, :scaled_width], dtype=np.float32)
        tensor[0, :, :scaled_height, :scaled_width] *= 1 / 127.5
        x_scale, y_scale = scaled_width / width, scaled_height / height
        return tensor, np.array([x_scale, y_scale, x_scale, y_scale], dtype=np.float32)

    def detect_corners(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The network's own boxes ``(x0, y0, x1, y1)`` in source pixels, before reframing, each followed by
        its six keypoints' ``x, y`` (``[N, 16]``), and their scores."""
        boxes, scores = self.detect_at_scale(image, self.input_scale)
        width = image.shape[1]
        if 0 < self.detection_width < width:
            coarse_boxes, coarse_scores = self.detect_at_scale(image, self.input_scale * self.detection_width / width)
            boxes, scores = weighted_non_maximum_suppression(
                np.concatenate([boxes, coarse_boxes]), np.concatenate([scores, coarse_scores]), self.nms_iou
            )
        return boxes, scores

    def detect_at_scale(self, image: np.ndarray, input_scale: float) -> tuple[np.ndarray, np.ndarray]:
        tensor, scale = self.network_input(image, input_scale)
        height, width = tensor.shape[2:]
        if (width, height) not in self.anchors:
            self.anchors[(width, height)] = anchor_centres(width, height)
        regressors, logits = self.session_for(width, height).run(None, {self.input_name: tensor})
        confident = np.flatnonzero(logits[0, :, 0] >= self.logit_threshold)
        scores = scores_from_logits(logits[0, confident, 0])
        keep = scores >= self.score_threshold  # the same test after rounding, so the threshold holds exactly
        confident, scores = confident[keep], scores[keep]
        boxes = decode_boxes(regressors[0, confident], self.anchors[(width, height)][confident])
        boxes, scores = weighted_non_maximum_suppression(boxes, scores, self.nms_iou)
        return boxes / np.tile(scale[:2], 2 + KEYPOINTS), scores

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """Faces in a frame (:func:`check_frame`), left to right; :class:`FrameError` for anything else."""
        rows, scores = self.detect_corners(image)
        boxes = reframe(rows[:, :4], self.framing)
        image_height, image_width = image.shape[:2]
        faces = []
        # Clipped to the frame like Haar's boxes (ROS regions of interest are unsigned).
        boxes = np.clip(np.round(boxes), 0, [image_width, image_height, image_width, image_height]).astype(int)
        keypoints = np.round(rows[:, 4:].astype(np.float64), 1)
        for (x0, y0, x1, y1), points, score in zip(boxes.tolist(), keypoints.tolist(), scores.tolist()):
            if x1 > x0 and y1 > y0:
                faces.append(FaceBox(x=x0, y=y0, width=x1 - x0, height=y1 - y0, score=score, keypoints=tuple(points)))
        return sorted(faces, key=lambda face: (face.x, face.y))

    @staticmethod
    def confidence(score: float) -> float:
        """The score itself: the sigmoid of the network's logit, already 0..1."""
        return min(1.0, max(0.0, score))


def blazeface_from_settings(settings: Settings) -> BlazeFaceDetector:
    return BlazeFaceDetector(
        model_path=settings.blazeface_model_path,
        score_threshold=settings.blazeface_score_threshold,
        nms_iou=settings.blazeface_nms_iou,
        input_scale=settings.blazeface_input_scale,
        threads=settings.onnx_threads,
        detection_width=settings.detection_width,
    )


register_detector("blazeface", blazeface_from_settings)
