"""Building blocks shared by the architectures: radial bases and cutoffs."""

from __future__ import annotations

import copy
import math
from typing import Any

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

    def __init__(self, n_features: int, hidden: int, n_rbf: int, cutoff: float, layers: int) -> None:
        super().__init__()
        self.embed = nn.Linear(n_features, hidden)
        self.rbf = GaussianRBF(n_rbf, cutoff)
        self.hidden, self.cutoff, self.layers = hidden, cutoff, layers

    def field(
        self, data: object, keep: torch.Tensor | None
    ) -> list[tuple[torch.Tensor, torch.Tensor] | None]:
        """Per layer, the edges to pass messages on and the nodes to update: all (None) or the
        :func:`receptive_field` of ``keep``."""
        if keep is None:
            return [None] * self.layers
        return list(receptive_field(data.edge_index, keep, self.layers))  # type: ignore[attr-defined]


def receptive_field(
    edge_index: torch.Tensor, keep: torch.Tensor, layers: int
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per message-passing layer (first to last): the indices of the edges whose messages can
    still reach a node of ``keep`` (bool, per node) by the end of the last layer, and of the
    nodes whose state after that layer is still needed.

    The last layer needs only the edges into ``keep`` and only ``keep``'s updates; the layer
    before also the edges into those edges' sources, and so on. A forward pass restricted to
    these gives the nodes of ``keep`` exactly the embeddings of the full pass (the other nodes'
    embeddings are then incomplete and must not be used). Inference needs only the site and
    adsorbate atoms, so most of the host drops out of the last layers.
    """
    src, dst = edge_index
    need = keep.clone()
    out = []
    for _ in range(layers):
        edges = need.index_select(0, dst).nonzero().flatten()
        out.append((edges, need.nonzero().flatten()))
        need = need.clone()
        need[src.index_select(0, edges)] = True
    return out[::-1]


def field_subgraph(data: Any, layers: int) -> Any:
    """A shallow copy of ``data`` (a graph or batch) that keeps only the edges of the
    :func:`receptive_field` of its site and adsorbate atoms (tags > 0) over ``layers`` layers.

    The fields are nested, so the first layer's edges hold every later layer's, and an inference
    pass on the copy gives the site and adsorbate atoms the same embeddings as one on ``data``.
    Pruned once per batch, the distances, radial bases and cutoffs of the edges no message can
    carry to the site (most of the host's, about 60 %) are never computed by any member.
    """
    edges = receptive_field(data.edge_index, data.tags > 0, layers)[0][0]
    out = copy.copy(data)
    out.edge_index = data.edge_index.index_select(1, edges)
    out.edge_vec = data.edge_vec.index_select(0, edges)
    return out


def edges_into(data: Any, nodes: torch.Tensor) -> Any:
    """A shallow copy of ``data`` (a graph or batch) that keeps only the edges into ``nodes``
    (bool per node): what a per-atom head needs for those atoms alone."""
    edges = nodes.index_select(0, data.edge_index[1]).nonzero().flatten()
    out = copy.copy(data)
    out.edge_index = data.edge_index.index_select(1, edges)
    out.edge_vec = data.edge_vec.index_select(0, edges)
    return out
