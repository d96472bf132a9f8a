"""mini-Xception (Arriaga, Valdenegro-Toro and Ploger, 2017, Sec. 3 and Fig. 4).

Two plain 3x3 convolutions, then residual modules of depth-wise separable
convolutions whose widths double, then a 3x3 convolution to one map per class and
global average pooling. No fully connected layer: that is why the model has about
57k parameters at 48x48 with 7 classes.

``widths`` scales the paper's own block: the stem's width, then one width per residual
module. :data:`PAPER_WIDTHS` is the paper's network; ``(16, 32, 64, 128, 256)`` is the same
network twice as wide, and a longer list adds modules (each halves the resolution).
"""

from __future__ import annotations

from torch import Tensor, nn

PAPER_WIDTHS = (8, 16, 32, 64, 128)
"""The stem's two convolutions, then the four residual modules, as in the paper's Fig. 4."""
MINIMUM_WIDTH = 8
"""Narrower layers (4 or 6 channels in the stem or the first module) crash oneDNN's channels-last
backward pass on this project's CPUs (torch 2.13); the paper's narrowest is 8."""


class SeparableConv2d(nn.Sequential):
    """A 3x3 depth-wise convolution followed by a 1x1 point-wise one (no biases: BN follows)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels, bias=False),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
        )


class ResidualSeparableModule(nn.Module):
    """Halves the resolution: two separable convolutions and a max-pool, plus a strided 1x1 shortcut."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.shortcut = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, stride=2, bias=False),
            nn.BatchNorm2d(out_channels),
        )
        self.body = nn.Sequential(
            SeparableConv2d(in_channels, out_channels),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
            SeparableConv2d(out_channels, out_channels),
            nn.BatchNorm2d(out_channels),
            nn.MaxPool2d(3, stride=2, padding=1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x) + self.shortcut(x)


def conv_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    """An unpadded 3x3 convolution, batch norm and ReLU, as in the paper's stem."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    )


def check_widths(widths: tuple[int, ...]) -> None:
    if len(widths) < 2 or min(widths) < MINIMUM_WIDTH:
        raise ValueError(
            f"widths {widths}: the stem's, then one or more residual modules', each at least {MINIMUM_WIDTH}"
        )


def trunk_layers(in_channels: int, widths: tuple[int, ...]) -> list[nn.Module]:
    """The paper's stem and residual modules, up to (not including) the last convolution to the classes."""
    check_widths(widths)
    stem_width, *residual_widths = widths
    layers: list[nn.Module] = [
        conv_bn_relu(in_channels, stem_width),
        conv_bn_relu(stem_width, stem_width),
    ]
    width = stem_width
    for next_width in residual_widths:
        layers.append(ResidualSeparableModule(width, next_width))
        width = next_width
    return layers


def class_head(width: int, num_classes: int) -> nn.Conv2d:
    """The paper's last layer: a 3x3 convolution to one map per class (global average pooling follows)."""
    return nn.Conv2d(width, num_classes, 3, padding=1)


class MiniXception(nn.Module):
    """Returns class logits; softmax and input normalisation are added at export."""

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 1,
        widths: tuple[int, ...] = PAPER_WIDTHS,
    ) -> None:
        super().__init__()
        self.widths = tuple(widths)
        layers = trunk_layers(in_channels, self.widths)
        layers.append(class_head(self.widths[-1], num_classes))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(self.features(x)).flatten(1)


class MultiHeadMiniXception(nn.Module):
    """One mini-Xception trunk, one paper's last layer per task: logits per task, in ``heads``' order.

    The heads share every feature; each is the same 3x3 convolution and global average
    pooling that ends the single-task network, so a head costs what a class costs there.
    """

    def __init__(self, heads: dict[str, int], in_channels: int = 1, widths: tuple[int, ...] = PAPER_WIDTHS) -> None:
        super().__init__()
        if not heads:
            raise ValueError("a multi-head network needs at least one head")
        self.widths = tuple(widths)
        self.tasks = tuple(heads)
        self.trunk = nn.Sequential(*trunk_layers(in_channels, self.widths))
        self.heads = nn.ModuleDict({task: class_head(self.widths[-1], count) for task, count in heads.items()})
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        features = self.trunk(x)
        return {task: self.pool(head(features)).flatten(1) for task, head in self.heads.items()}
