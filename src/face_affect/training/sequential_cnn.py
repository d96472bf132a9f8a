"""The paper's sequential fully-convolutional network (Arriaga et al., 2017, Sec. 3).

Nine convolutions with batch norm and ReLU in pairs of growing width, a
down-sampling step after each pair, the last convolution producing one map per
class, then global average pooling: about 600k parameters, no dense layer.
"""

from __future__ import annotations

from torch import Tensor, nn

# (first width, second width, kernel size) of each pair of convolutions.
STAGES = ((16, 16, 7), (32, 32, 5), (64, 64, 3), (128, 256, 3))
DROPOUT = 0.5


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    )


def stage(in_channels: int, middle_channels: int, out_channels: int, kernel_size: int) -> nn.Sequential:
    """Two convolutions, then average pooling to half resolution and dropout."""
    return nn.Sequential(
        conv_bn_relu(in_channels, middle_channels, kernel_size),
        conv_bn_relu(middle_channels, out_channels, kernel_size),
        nn.AvgPool2d(2, ceil_mode=True),
        nn.Dropout(DROPOUT),
    )


class SequentialFullyCNN(nn.Module):
    """Returns class logits; softmax and input normalisation are added at export."""

    def __init__(self, num_classes: int, in_channels: int = 1) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_channels
        for middle_width, next_width, kernel_size in STAGES:
            layers.append(stage(width, middle_width, next_width, kernel_size))
            width = next_width
        layers.append(nn.Conv2d(width, num_classes, 3, padding=1))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(self.features(x)).flatten(1)
