"""Library results to face_affect messages and back, for ROS 1 and ROS 2 alike; every array carries the source header.

The message classes, image conversion and time conversion of one ROS version come in a
:class:`MessageKit`: the fields are the same in both (ROS 1's ``time`` is ROS 2's
``builtin_interfaces/Time``), so one function builds or checks each message for both.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from face_affect.cropping import crop_region
from face_affect.message_fields import affect_fields
from face_affect.node_core.images import ImageConverter
from face_affect.saliency import SaliencyMaps, heatmap_image
from face_affect.tracking import Track
from face_affect.types import FaceBox, FaceResult


@dataclass(frozen=True)
class MessageKit:
    """One ROS version's messages as the core builds and reads them.

    ``faces``: the module of our messages (``face_affect.msg`` in both: one package holds the messages and the library);
    ``region_type``: ``sensor_msgs/RegionOfInterest``; ``header_type``: ``std_msgs/Header``;
    ``time_of`` and ``seconds_of`` convert a time field from and to seconds, ``nanoseconds_of`` to whole
    nanoseconds (exact, where seconds as a float are not).
    """

    faces: Any
    """The module, or any object with the message classes as attributes (the bag writer's, from ``rosbags``)."""
    region_type: Callable[..., Any]
    header_type: type
    images: ImageConverter
    time_of: Callable[[float], Any]
    seconds_of: Callable[[Any], float]
    nanoseconds_of: Callable[[Any], int]

    def stamp_seconds(self, header: Any) -> float:
        return self.seconds_of(header.stamp)


def time_fields(seconds: float) -> tuple[int, int]:
    """``(sec, nanosec)`` of a time in seconds, to the nearest nanosecond (negative: zero): a ROS 2
    ``builtin_interfaces/Time``'s fields, or those of a bag writer's time class."""
    return divmod(max(0, round(seconds * 1e9)), 1_000_000_000)


def sec_nanosec_conversions(time_type: Callable[..., Any]) -> dict[str, Callable]:
    """A :class:`MessageKit`'s ``time_of``, ``seconds_of`` and ``nanoseconds_of`` for a time class with ``sec``
    and ``nanosec`` fields (ROS 2's ``builtin_interfaces/Time``, rosbags' class of it)."""

    def time_of(seconds: float) -> Any:
        sec, nanosec = time_fields(seconds)
        return time_type(sec=sec, nanosec=nanosec)

    return {
        "time_of": time_of,
        "seconds_of": lambda time: time.sec + time.nanosec * 1e-9,
        "nanoseconds_of": lambda time: time.sec * 1_000_000_000 + time.nanosec,
    }


def region_of_interest(kit: MessageKit, box: FaceBox) -> Any:
    return kit.region_type(x_offset=box.x, y_offset=box.y, width=box.width, height=box.height)


MAX_FACES = 256
"""Faces per message accepted at most: more is no camera's frame but a flood."""


class FaceMessageError(ValueError):
    """A ``FaceDetectionArray`` that no detector of ours sends: rejected, counted and logged."""


@dataclass
class TrackedFace:
    """One face of a ``FaceDetectionArray``, as the classifier uses it."""

    track_id: str
    confirmed: bool
    detected: bool
    first_seen: float
    box: FaceBox
    crop: np.ndarray | None
    """The grey crop at the array's margin; ``None`` while the track coasts."""
    confidence: float
    """The detector's score mapped to 0..1 (``FaceDetection.confidence``)."""


def detection_array(
    kit: MessageKit,
    header: Any,
    image_shape: Sequence[int],
    tracks: Sequence[Track],
    crops: Sequence[np.ndarray | None],
    crop_margin: float,
    confidence: Callable[[float], float],
) -> Any:
    """The tracks of one frame; ``crops`` has one entry per track, ``None`` for a coasting one.
    ``confidence`` maps a score to 0..1 (the detector's :meth:`~face_affect.detectors.FaceDetector.confidence`)."""
    faces = [
        kit.faces.FaceDetection(
            track_id=track.track_id,
            confirmed=track.confirmed,
            detected=track.detected,
            first_seen=kit.time_of(track.first_seen),
            roi=region_of_interest(kit, track.box),
            score=track.box.score,
            confidence=confidence(track.box.score),
            keypoints=list(track.box.keypoints) if track.detected else [],
            crop=(
                kit.images.to_message(crop, "mono8", header)
                if crop is not None
                else kit.images.image_type(header=header)
            ),
        )
        for track, crop in zip(tracks, crops)
    ]
    return kit.faces.FaceDetectionArray(
        header=header,
        image_height=image_shape[0],
        image_width=image_shape[1],
        crop_margin=crop_margin,
        faces=faces,
    )


def expected_crop_size(box: FaceBox, crop_margin: float) -> tuple[int, int]:
    """``(width, height)`` of the crop the detector cuts at ``crop_margin`` around ``box``."""
    _, _, width, height = crop_region(box, crop_margin)
    return width, height


def tracked_faces(kit: MessageKit, message: Any) -> list[TrackedFace]:
    """The faces of a message, checked: anything on the robot's network can publish there.

    :class:`FaceMessageError` (or ``ImageError`` for a crop) names the first problem: too many
    faces, a margin that is not finite or not in 0..2, a track id twice, a non-finite score, a
    confidence outside 0..1, keypoints that are not six finite points,
    an empty box or one outside the stated image, a crop whose size does not match its box
    and the margin, or a crop that is not mono8.
    """
    if len(message.faces) > MAX_FACES:
        raise FaceMessageError(f"{len(message.faces)} faces in one message (at most {MAX_FACES})")
    margin = float(message.crop_margin)
    if not math.isfinite(margin) or not 0.0 <= margin <= 2.0:
        raise FaceMessageError(f"crop_margin {margin} is not in 0..2")
    faces, seen = [], set()
    for index, face in enumerate(message.faces):
        where = f"face {index}"
        if not face.track_id or face.track_id in seen:
            raise FaceMessageError(f"{where}: track id {face.track_id!r} is empty or repeated")
        seen.add(face.track_id)
        if not math.isfinite(face.score):
            raise FaceMessageError(f"{where}: score {face.score} is not finite")
        if not 0.0 <= face.confidence <= 1.0:  # also NaN
            raise FaceMessageError(f"{where}: confidence {face.confidence} is not in 0..1")
        roi = face.roi
        if roi.width == 0 or roi.height == 0:
            raise FaceMessageError(f"{where}: empty box {roi.width}x{roi.height}")
        if roi.x_offset + roi.width > message.image_width or roi.y_offset + roi.height > message.image_height:
            raise FaceMessageError(
                f"{where}: box {roi.x_offset},{roi.y_offset} {roi.width}x{roi.height} leaves the "
                f"{message.image_width}x{message.image_height} image"
            )
        if len(face.keypoints) not in (0, 12) or not all(math.isfinite(value) for value in face.keypoints):
            raise FaceMessageError(f"{where}: {len(face.keypoints)} keypoint values (0 or 12, finite)")
        box = FaceBox(
            x=roi.x_offset,
            y=roi.y_offset,
            width=roi.width,
            height=roi.height,
            score=face.score,
            keypoints=tuple(face.keypoints),
        )
        crop = None
        if face.detected:
            crop = kit.images.to_mono8(face.crop)
            expected = expected_crop_size(box, margin)
            if (crop.shape[1], crop.shape[0]) != expected:
                raise FaceMessageError(
                    f"{where}: crop {crop.shape[1]}x{crop.shape[0]} does not match its box and margin {expected}"
                )
        faces.append(
            TrackedFace(
                face.track_id,
                face.confirmed,
                face.detected,
                kit.seconds_of(face.first_seen),
                box,
                crop,
                face.confidence,
            )
        )
    return faces


def affect_array(
    kit: MessageKit,
    header: Any,
    results: Sequence[FaceResult],
    gender_labels: Sequence[str],
    emotion_labels: Sequence[str],
) -> Any:
    """Tracked results: ``attributes`` smoothed, ``frame_attributes`` per frame (fields: ``message_fields``)."""
    faces = [
        kit.faces.FaceAffect(
            first_seen=kit.time_of(result.first_seen or 0.0),
            roi=region_of_interest(kit, result.box),
            **affect_fields(result, gender_labels, emotion_labels),
        )
        for result in results
    ]
    return kit.faces.FaceAffectArray(
        header=header,
        gender_labels=list(gender_labels),
        emotion_labels=list(emotion_labels),
        faces=faces,
    )


def heatmap_array(
    kit: MessageKit,
    header: Any,
    track_ids: Sequence[str],
    maps_per_task: Sequence[tuple[str, SaliencyMaps]],
) -> Any:
    """One mono8 heatmap per face and task, named by the face's track id."""
    heatmaps = [
        kit.faces.FaceHeatmap(
            track_id=track_id,
            task=task,
            class_name=class_name,
            heatmap=kit.images.to_message(heatmap_image(gradient), "mono8", header),
        )
        for task, maps in maps_per_task
        for track_id, gradient, class_name in zip(track_ids, maps.gradients, maps.class_names)
    ]
    return kit.faces.FaceHeatmapArray(header=header, heatmaps=heatmaps)


def affect_array_to_json(kit: MessageKit, message: Any) -> dict:
    """One JSON line of ``make demo``: the CLI's face schema plus the source stamp."""
    return {
        "stamp": kit.stamp_seconds(message.header),
        "frame_id": message.header.frame_id,
        "faces": [
            {
                "track_id": face.track_id,
                "first_seen": kit.seconds_of(face.first_seen),
                "detected": face.detected,
                "box": [face.roi.x_offset, face.roi.y_offset, face.roi.width, face.roi.height],
                "gender": face.gender or None,  # unsure: null, as in the CLI
                "gender_confidence": face.gender_confidence,
                "gender_probabilities": dict(zip(message.gender_labels, face.gender_probabilities)),
                "emotion": face.emotion or None,
                "emotion_confidence": face.emotion_confidence,
                "emotion_probabilities": dict(zip(message.emotion_labels, face.emotion_probabilities)),
                "age": json_number(face.age),
                "age_std": json_number(face.age_std),
                "age_confidence": face.age_confidence,
                "frame": {
                    "gender": face.frame_gender,
                    "emotion": face.frame_emotion,
                    "emotion_probabilities": dict(zip(message.emotion_labels, face.frame_emotion_probabilities)),
                    "age": json_number(face.frame_age),
                },
            }
            for face in message.faces
        ],
    }


def json_number(value: float) -> float | None:
    """A message's float for JSON: NaN (not known) becomes ``null``."""
    return None if math.isnan(value) else round(float(value), 2)
