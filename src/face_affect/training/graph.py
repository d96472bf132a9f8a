"""What wraps a trained network for inference: input normalisation and softmax.

Training and export use this one module, so the normalisation a model was
trained with is the one inside its ONNX graph (never a flag a caller must set).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from face_affect.training.mini_xception import MiniXception
from face_affect.training.sequential_cnn import SequentialFullyCNN

ARCHITECTURES = {"mini_xception": MiniXception, "sequential_cnn": SequentialFullyCNN}
STANDARDISATION_FLOOR = 16.0
"""Added to each crop's pixel variance (grey levels squared): a flat or nearly flat crop is not
amplified into pure sensor noise."""
NORMALIZATIONS = {
    "scale": "x / 127.5 - 1 (raw 0..255 pixels to [-1, 1])",
    "standardise": f"per crop (x - mean(x)) / sqrt(var(x) + {STANDARDISATION_FLOOR:g}) (raw 0..255 pixels)",
}
"""What the ``normalization`` metadata of a model says, by the name training uses. ``scale`` is
the paper's, and that of every model before per-crop standardisation: the ONNX graph does either,
so the runtime always feeds raw pixels."""


def normalise(raw_pixels: Tensor, method: str = "scale") -> Tensor:
    """Raw 0..255 pixels ``[N, C, H, W]`` as network input.

    ``standardise`` removes each crop's brightness and contrast, which a dim or washed-out
    camera changes and which say nothing about expression or gender.
    """
    if method == "scale":
        return raw_pixels / 127.5 - 1.0
    if method == "standardise":
        centred = raw_pixels - raw_pixels.mean(dim=(1, 2, 3), keepdim=True)
        variance = (centred * centred).mean(dim=(1, 2, 3), keepdim=True)
        return centred / torch.sqrt(variance + STANDARDISATION_FLOOR)
    raise ValueError(f"unknown normalization {method!r}; one of {sorted(NORMALIZATIONS)}")


def build_network(architecture: str, num_classes: int, in_channels: int = 1, widths: Sequence[int] = ()) -> nn.Module:
    """``widths``: the mini-Xception's layer widths (:data:`PAPER_WIDTHS` when empty)."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; one of {sorted(ARCHITECTURES)}")
    if not widths:
        return ARCHITECTURES[architecture](num_classes=num_classes, in_channels=in_channels)
    if architecture != "mini_xception":
        raise ValueError(f"widths are for mini_xception, not {architecture!r}")
    return MiniXception(num_classes=num_classes, in_channels=in_channels, widths=tuple(widths))


class InferenceGraph(nn.Module):
    """Raw pixels ``float32 [N, C, H, W]`` in, class probabilities ``[N, K]`` out.

    With ``flip_average`` the logits are averaged with those of the mirrored face
    (test-time augmentation): worth about 1.5 points on FER-2013 for twice the cost.
    A network with several heads (a dict of logits per task) gives a tuple of
    probabilities, one per head in the dict's order, each head averaged alike.
    """

    def __init__(self, network: nn.Module, flip_average: bool = False, normalization: str = "scale") -> None:
        super().__init__()
        self.network = network
        self.flip_average = flip_average
        self.normalization = normalization

    def logits(self, raw_pixels: Tensor) -> Tensor | dict[str, Tensor]:
        logits = self.network(normalise(raw_pixels, self.normalization))
        if self.flip_average:
            mirrored = self.network(normalise(torch.flip(raw_pixels, dims=[3]), self.normalization))
            if isinstance(logits, dict):
                return {task: (values + mirrored[task]) / 2 for task, values in logits.items()}
            logits = (logits + mirrored) / 2
        return logits

    def forward(self, raw_pixels: Tensor) -> Tensor | tuple[Tensor, ...]:
        logits = self.logits(raw_pixels)
        if isinstance(logits, dict):
            return tuple(torch.softmax(values, dim=1) for values in logits.values())
        return torch.softmax(logits, dim=1)
