"""A SchNet/CGCNN-style continuous-filter convolution network (invariant, distances only)."""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.utils import scatter

from dacscreen.models.layers import Backbone, cosine_cutoff, mlp


class Interaction(nn.Module):
    """x_i += Σ_j W(d_ij) ⊙ φ(x_j), with a filter network on the distance expansion."""

    def __init__(self, hidden: int, n_rbf: int, cutoff: float) -> None:
        super().__init__()
        self.filter = mlp(n_rbf, hidden, hidden)
        self.lin_in = nn.Linear(hidden, hidden)
        self.out = mlp(hidden, hidden, hidden)
        self.cutoff = cutoff

    def forward(
        self, x: torch.Tensor, edge_index: torch.Tensor, rbf: torch.Tensor, d: torch.Tensor
    ) -> torch.Tensor:
        src, dst = edge_index
        w = self.filter(rbf) * cosine_cutoff(d, self.cutoff)[:, None]
        msg = self.lin_in(x)[src] * w
        return x + self.out(scatter(msg, dst, dim=0, dim_size=x.size(0), reduce="sum"))


class SchNetBackbone(Backbone):
    """Node embeddings (n_atoms, hidden) from descriptor features and periodic edges."""

    def __init__(
        self, n_features: int, hidden: int = 64, layers: int = 3, n_rbf: int = 32, cutoff: float = 5.0
    ) -> None:
        super().__init__(n_features, hidden, n_rbf, cutoff, layers)
        self.blocks = nn.ModuleList(Interaction(hidden, n_rbf, cutoff) for _ in range(layers))

    def forward(self, data: object, keep: torch.Tensor | None = None) -> torch.Tensor:
        """Node embeddings; with ``keep`` (bool per node) exact only for those nodes, computed
        on their :func:`receptive_field` alone."""
        d = data.edge_vec.norm(dim=-1)
        rbf = self.rbf(d)
        x = self.embed(data.x)
        for block, part in zip(self.blocks, self.field(data, keep), strict=True):
            e = part[0] if part is not None else slice(None)
            x = block(x, data.edge_index[:, e], rbf[e], d[e])
        return x
