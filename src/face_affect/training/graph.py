"""What wraps a trained network for inference: input normalisation and softmax.

Training and export use this one module, so the normalisation a model was
trained with is the one inside its ONNX graph (never a flag a caller must set).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from face_affect.training.mini_xception import MiniXception
from face_affect.training.sequential_cnn import SequentialFullyCNN

NORMALIZATION = "x / 127.5 - 1 (raw 0..255 pixels to [-1, 1])"
ARCHITECTURES = {"mini_xception": MiniXception, "sequential_cnn": SequentialFullyCNN}


def normalise(raw_pixels: Tensor) -> Tensor:
    return raw_pixels / 127.5 - 1.0


def build_network(architecture: str, num_classes: int, in_channels: int = 1) -> nn.Module:
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; one of {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[architecture](num_classes=num_classes, in_channels=in_channels)


class InferenceGraph(nn.Module):
    """Raw pixels ``float32 [N, C, H, W]`` in, class probabilities ``[N, K]`` out."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, raw_pixels: Tensor) -> Tensor:
        return torch.softmax(self.network(normalise(raw_pixels)), dim=1)
