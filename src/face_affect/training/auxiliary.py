"""Auxiliary tasks: UTKFace's race and age labels as extra outputs while the network learns gender.

The gender mini-Xception underfits its 7,600 training faces (96.5% on them, 94.6% on
validation without mirror averaging), and more width is not the paper's network. Learning
race and age from the same features asks more of them at no cost at run time: the extra
outputs are channels of the last convolution only, and :func:`without_auxiliary_outputs`
cuts them off before the network is validated, kept or exported. (On UTKFace it did not beat
the plain network on validation; ``models/MODEL_CARD.md`` has the figures.)
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as functional
from torch import Tensor, nn

from face_affect.training.graph import build_network

RACE_CLASSES = 5
"""UTKFace race codes 0-4: White, Black, Asian, Indian, Others."""
AUXILIARY_OUTPUTS = RACE_CLASSES + 1
"""Race logits, then one age output."""
AGE_CENTRE, AGE_SCALE = 35.0, 20.0
"""Ages (13-116 here) are regressed as ``(age - AGE_CENTRE) / AGE_SCALE``, of order one like the logits."""


def auxiliary_targets(extra: dict[str, np.ndarray]) -> tuple[Tensor, Tensor]:
    """Race codes (int64) and scaled ages (float32) for a split's ``extra`` side information."""
    if "race" not in extra or "age" not in extra:
        raise ValueError("auxiliary tasks need race and age labels (a gender data set)")
    race = torch.from_numpy(np.asarray(extra["race"], dtype=np.int64))
    age = torch.from_numpy((np.asarray(extra["age"], dtype=np.float32) - AGE_CENTRE) / AGE_SCALE)
    return race, age


def auxiliary_loss(auxiliary_outputs: Tensor, race: Tensor, age: Tensor) -> Tensor:
    """Race cross-entropy plus smooth-L1 age error, for outputs ``[N, AUXILIARY_OUTPUTS]``."""
    race_loss = functional.cross_entropy(auxiliary_outputs[:, :RACE_CLASSES], race)
    age_loss = functional.smooth_l1_loss(auxiliary_outputs[:, RACE_CLASSES], age)
    return race_loss + age_loss


def without_auxiliary_outputs(
    network: nn.Module, architecture: str, num_classes: int, widths: tuple[int, ...] = ()
) -> nn.Module:
    """A plain ``num_classes`` network with ``network``'s weights: the last convolution's
    extra output channels (the auxiliary tasks come after the classes) are dropped."""
    plain = build_network(architecture, num_classes, widths=widths)
    expected = plain.state_dict()
    state = {}
    for name, value in network.state_dict().items():
        if value.shape != expected[name].shape:
            value = value[:num_classes]  # the last convolution's weight and bias
        state[name] = value
    plain.load_state_dict(state)
    return plain.to(memory_format=torch.channels_last)
