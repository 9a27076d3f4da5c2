"""Building blocks shared by the architectures: radial bases and cutoffs."""

from __future__ import annotations

import math

import torch
from torch import nn


class GaussianRBF(nn.Module):
    """Gaussian expansion of distances (Å) on ``n`` centres in [0, cutoff]."""

    def __init__(self, n: int, cutoff: float) -> None:
        super().__init__()
        self.register_buffer("centres", torch.linspace(0.0, cutoff, n))
        self.gamma = 0.5 / (cutoff / n) ** 2

    def forward(self, d: torch.Tensor) -> torch.Tensor:
        return torch.exp(-self.gamma * (d[:, None] - self.centres[None, :]) ** 2)


def cosine_cutoff(d: torch.Tensor, cutoff: float) -> torch.Tensor:
    """Smooth envelope 0.5(cos(πd/rc)+1) for d < rc, else 0."""
    return 0.5 * (torch.cos(d * math.pi / cutoff) + 1.0) * (d < cutoff)


def mlp(n_in: int, n_hidden: int, n_out: int, dropout: float = 0.0) -> nn.Sequential:
    """Two-layer perceptron with SiLU."""
    return nn.Sequential(
        nn.Linear(n_in, n_hidden), nn.SiLU(), nn.Dropout(dropout), nn.Linear(n_hidden, n_out)
    )


class Backbone(nn.Module):
    """Shared input stage: a linear embedding of the node descriptors and the distance basis."""

    def __init__(self, n_features: int, hidden: int, n_rbf: int, cutoff: float) -> None:
        super().__init__()
        self.embed = nn.Linear(n_features, hidden)
        self.rbf = GaussianRBF(n_rbf, cutoff)
        self.hidden, self.cutoff = hidden, cutoff
