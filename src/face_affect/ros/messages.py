"""Library results to ROS messages and back; every array carries the source header."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sensor_msgs.msg import RegionOfInterest
from std_msgs.msg import Header

from face_affect.msg import (
    FaceAffect,
    FaceAffectArray,
    FaceDetection,
    FaceDetectionArray,
    FaceHeatmap,
    FaceHeatmapArray,
)
from face_affect.ros.images import ImageConverter
from face_affect.saliency import SaliencyMaps, heatmap_image
from face_affect.types import Attribute, FaceBox, FaceResult


def region_of_interest(box: FaceBox) -> RegionOfInterest:
    return RegionOfInterest(x_offset=box.x, y_offset=box.y, width=box.width, height=box.height)


def detection_array(
    header: Header,
    image_shape: Sequence[int],
    boxes: Sequence[FaceBox],
    crops: Sequence[np.ndarray],
    crop_margin: float,
    converter: ImageConverter,
) -> FaceDetectionArray:
    faces = [
        FaceDetection(
            roi=region_of_interest(box),
            score=box.score,
            crop_margin=crop_margin,
            crop=converter.to_message(crop, "mono8", header),
        )
        for box, crop in zip(boxes, crops)
    ]
    return FaceDetectionArray(header=header, image_height=image_shape[0], image_width=image_shape[1], faces=faces)


def boxes_and_crops(message: FaceDetectionArray, converter: ImageConverter) -> tuple[list[FaceBox], list[np.ndarray]]:
    boxes = [
        FaceBox(
            x=face.roi.x_offset, y=face.roi.y_offset, width=face.roi.width, height=face.roi.height, score=face.score
        )
        for face in message.faces
    ]
    crops = [converter.to_mono8(face.crop) for face in message.faces]
    return boxes, crops


def probabilities_in_order(attribute: Attribute, labels: Sequence[str]) -> list[float]:
    return [float(attribute.probabilities[label]) for label in labels]


def affect_array(
    header: Header,
    results: Sequence[FaceResult],
    gender_labels: Sequence[str],
    emotion_labels: Sequence[str],
) -> FaceAffectArray:
    faces = [
        FaceAffect(
            id=index,
            roi=region_of_interest(result.box),
            gender=result.gender.label,
            gender_confidence=result.gender.confidence,
            gender_probabilities=probabilities_in_order(result.gender, gender_labels),
            emotion=result.emotion.label,
            emotion_confidence=result.emotion.confidence,
            emotion_probabilities=probabilities_in_order(result.emotion, emotion_labels),
        )
        for index, result in enumerate(results)
    ]
    return FaceAffectArray(
        header=header,
        gender_labels=list(gender_labels),
        emotion_labels=list(emotion_labels),
        faces=faces,
    )


def heatmap_array(
    header: Header, maps_per_task: Sequence[tuple[str, SaliencyMaps]], converter: ImageConverter
) -> FaceHeatmapArray:
    """One mono8 heatmap per face and task; ``id`` is the face's index, as in ``affect_array``."""
    heatmaps = [
        FaceHeatmap(
            id=index,
            task=task,
            class_name=class_name,
            heatmap=converter.to_message(heatmap_image(gradient), "mono8", header),
        )
        for task, maps in maps_per_task
        for index, (gradient, class_name) in enumerate(zip(maps.gradients, maps.class_names))
    ]
    return FaceHeatmapArray(header=header, heatmaps=heatmaps)


def affect_array_to_json(message: FaceAffectArray) -> dict:
    """One JSON line of ``make demo``: the CLI's face schema plus the source stamp."""
    return {
        "stamp": message.header.stamp.to_sec(),
        "frame_id": message.header.frame_id,
        "faces": [
            {
                "id": face.id,
                "box": [face.roi.x_offset, face.roi.y_offset, face.roi.width, face.roi.height],
                "gender": face.gender,
                "gender_confidence": face.gender_confidence,
                "gender_probabilities": dict(zip(message.gender_labels, face.gender_probabilities)),
                "emotion": face.emotion,
                "emotion_confidence": face.emotion_confidence,
                "emotion_probabilities": dict(zip(message.emotion_labels, face.emotion_probabilities)),
            }
            for face in message.faces
        ],
    }
