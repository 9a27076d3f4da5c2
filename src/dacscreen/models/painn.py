"""A PaiNN-style equivariant network (Schütt et al. 2021): scalar and vector features, so that
bond angles and directions enter the messages."""

from __future__ import annotations

import torch
from torch import nn

from dacscreen.models.layers import Backbone, cosine_cutoff, mlp


class Message(nn.Module):
    """Equivariant message block: updates scalars s and vectors v from neighbours."""

    def __init__(self, hidden: int, n_rbf: int, cutoff: float) -> None:
        super().__init__()
        self.phi = mlp(hidden, hidden, 3 * hidden)
        self.w = nn.Linear(n_rbf, 3 * hidden)
        self.hidden, self.cutoff = hidden, cutoff

    def forward(self, s, v, edge_index, rbf, d, unit):  # type: ignore[no-untyped-def]
        """``v`` is None before the first message (all-zero vectors), which skips its gather.

        Sums over edges use ``index_add`` (fused gather-multiply-add, the memory-bound hot path).
        """
        src, dst = edge_index
        x = self.phi(s).index_select(0, src) * self.w(rbf) * cosine_cutoff(d, self.cutoff)[:, None]
        ds, dv_v, dv_r = torch.split(x, self.hidden, dim=-1)
        dv = dv_r[:, None, :] * unit[:, :, None]
        if v is None:
            v = torch.zeros(s.size(0), 3, self.hidden, device=s.device, dtype=s.dtype)
        else:
            dv = torch.addcmul(dv, v.index_select(0, src), dv_v[:, None, :])
        return s.index_add(0, dst, ds), v.index_add(0, dst, dv)


class Update(nn.Module):
    """Equivariant update block mixing scalar and vector channels per atom."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.U = nn.Linear(hidden, hidden, bias=False)
        self.V = nn.Linear(hidden, hidden, bias=False)
        self.mix = mlp(2 * hidden, hidden, 3 * hidden)
        self.hidden = hidden

    def forward(self, s: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        uv, vv = self.U(v), self.V(v)
        norm = torch.sqrt((vv**2).sum(dim=1) + 1e-8)
        a = self.mix(torch.cat([s, norm], dim=-1))
        a_vv, a_sv, a_ss = torch.split(a, self.hidden, dim=-1)
        return s + a_sv * (uv * vv).sum(dim=1) + a_ss, v + a_vv[:, None, :] * uv


class PaiNNBackbone(Backbone):
    """Scalar node embeddings (n_atoms, hidden) after equivariant message passing."""

    def __init__(
        self, n_features: int, hidden: int = 64, layers: int = 3, n_rbf: int = 32, cutoff: float = 5.0
    ) -> None:
        super().__init__(n_features, hidden, n_rbf, cutoff)
        self.messages = nn.ModuleList(Message(hidden, n_rbf, cutoff) for _ in range(layers))
        self.updates = nn.ModuleList(Update(hidden) for _ in range(layers))

    def forward(self, data: object) -> torch.Tensor:
        d = data.edge_vec.norm(dim=-1)
        unit = data.edge_vec / d[:, None].clamp(min=1e-6)
        rbf = self.rbf(d)
        s = self.embed(data.x)
        v = None
        for msg, upd in zip(self.messages, self.updates, strict=True):
            s, v = msg(s, v, data.edge_index, rbf, d, unit)
            s, v = upd(s, v)
        return s
