"""Export a trained network to the self-describing ONNX contract of ``face_affect.classifier``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import torch

from face_affect.training.graph import NORMALIZATIONS, InferenceGraph, build_network
from face_affect.types import Margins

OPSET = 17


def export_onnx(
    network: torch.nn.Module,
    path: Path,
    input_size: tuple[int, int],
    metadata: dict[str, object],
    flip_average: bool = False,
    normalization: str = "scale",
    outputs: tuple[str, ...] = ("probabilities",),
) -> None:
    """Writes ``path``: raw-pixel input ``[N, 1, H, W]``, probabilities out, metadata as strings.

    ``metadata`` must hold at least ``task``, ``labels`` and ``crop_margin`` (a multi-head network:
    ``tasks`` and ``labels_<task>``, and ``outputs`` its tasks, in its heads' order); lists and
    numbers are stored as JSON. ``flip_average`` and ``normalization``: see :class:`InferenceGraph`.
    """
    width, height = input_size
    graph = InferenceGraph(network, flip_average, normalization).eval()
    example = torch.full((1, 1, height, width), 128.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        graph,
        (example,),
        str(path),
        input_names=["pixels"],
        output_names=list(outputs),
        dynamic_axes={"pixels": {0: "batch"}, **{name: {0: "batch"} for name in outputs}},
        opset_version=OPSET,
        dynamo=False,
    )
    model = onnx.load(str(path))
    properties = {
        "input_color": "grey",
        "input_size": [width, height],
        "normalization": NORMALIZATIONS[normalization],
        "test_time_augmentation": "mean logits of the face and its mirror image" if flip_average else "none",
        **metadata,
    }
    del model.metadata_props[:]
    for key, value in properties.items():
        entry = model.metadata_props.add()
        entry.key = key
        entry.value = value if isinstance(value, str) else json.dumps(value)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def torch_probabilities(
    network: torch.nn.Module, batch: np.ndarray, flip_average: bool = False, normalization: str = "scale"
) -> np.ndarray | tuple[np.ndarray, ...]:
    """The reference the ONNX file must match: the same graph run in torch (a multi-head network: one
    array per head)."""
    with torch.no_grad():
        probabilities = InferenceGraph(network, flip_average, normalization).eval()(torch.from_numpy(batch))
    if isinstance(probabilities, tuple):
        return tuple(values.numpy() for values in probabilities)
    return probabilities.numpy()


def load_checkpoint(architecture: str, num_classes: int, checkpoint: Path) -> tuple[torch.nn.Module, str]:
    """The network of the checkpoint's widths and weights, and the input normalisation it was trained with."""
    state = torch.load(checkpoint, weights_only=False)
    network = build_network(architecture, num_classes, widths=state.get("widths", ()))
    network.load_state_dict(state["network"])
    return network.eval().to(memory_format=torch.contiguous_format), state.get("normalization", "scale")


def describe_margins(margins: Margins) -> list[float]:
    return [round(float(side), 3) for side in margins]
