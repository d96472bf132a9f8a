"""A self-describing ONNX classifier: labels, input size, colour and crop come from its metadata.

The contract every model under ``models/`` follows: input ``float32 [N, C, H, W]``
of raw 0..255 pixels (normalisation is inside the graph), output class
probabilities ``[N, K]`` (softmax inside the graph), and ``metadata_props``:

=================  ===========================================================
``task``           ``emotion`` or ``gender``
``labels``         JSON list of class names in output order
``input_color``    ``grey`` (C = 1)
``input_size``     JSON ``[width, height]``
``crop_margin``    JSON ``[left, top, right, bottom]``: growth of the detector box that
                   reproduces the training framing (see ``preprocessing``)
``normalization``  what the graph does to the raw pixels (for people)
=================  ===========================================================
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime

from face_affect.preprocessing import as_margins, to_model_input

REQUIRED_METADATA = ("task", "labels", "input_color", "input_size", "crop_margin")


class ModelError(ValueError):
    """A model file that is missing, unreadable or does not follow the contract."""


class OnnxClassifier:
    def __init__(self, path: str | Path, threads: int = 1, expected_task: str | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(f"{self.path}: model file not found")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self.session = onnxruntime.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises several unrelated types for bad files
            raise ModelError(f"{self.path}: not a loadable ONNX model ({error})") from error
        metadata = self.session.get_modelmeta().custom_metadata_map
        missing = [key for key in REQUIRED_METADATA if key not in metadata]
        if missing:
            raise ModelError(f"{self.path}: metadata lacks {', '.join(missing)}")
        self.metadata = dict(metadata)
        self.task = metadata["task"]
        if expected_task is not None and self.task != expected_task:
            raise ModelError(f"{self.path}: task is {self.task!r}, expected {expected_task!r}")
        try:
            self.labels = tuple(str(label) for label in json.loads(metadata["labels"]))
            self.input_width, self.input_height = (int(size) for size in json.loads(metadata["input_size"]))
            self.crop_margin = as_margins(json.loads(metadata["crop_margin"]))
        except (ValueError, TypeError) as error:
            raise ModelError(f"{self.path}: malformed metadata ({error})") from error
        if metadata["input_color"] != "grey":
            raise ModelError(f"{self.path}: input_color {metadata['input_color']!r} is not supported (grey)")
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        shape = model_input.shape
        if len(shape) != 4 or shape[1] != 1 or shape[2:] != [self.input_height, self.input_width]:
            raise ModelError(
                f"{self.path}: input shape {shape} does not match metadata "
                f"[N, 1, {self.input_height}, {self.input_width}]"
            )
        outputs = self.session.get_outputs()[0].shape
        if len(outputs) != 2 or outputs[1] != len(self.labels):
            raise ModelError(f"{self.path}: output shape {outputs} does not match {len(self.labels)} labels")

    def predict(self, grey_crops: list[np.ndarray]) -> np.ndarray:
        """Probabilities ``[N, K]`` for grey face crops of any size (resized here), in one run."""
        if not grey_crops:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        batch = to_model_input(grey_crops, self.input_width, self.input_height)
        return self.predict_batch(batch)

    def predict_batch(self, batch: np.ndarray) -> np.ndarray:
        """Probabilities for an already-sized ``float32 [N, 1, H, W]`` batch of raw pixels."""
        return self.session.run(None, {self.input_name: batch})[0]
