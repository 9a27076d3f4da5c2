"""A PaiNN-style equivariant network (Schütt et al. 2021): scalar and vector features, so that
bond angles and directions enter the messages."""

from __future__ import annotations

import torch
from torch import nn

from dacscreen.models.layers import Backbone, cosine_cutoff, mlp


class Message(nn.Module):
    """Equivariant message block: updates scalars s and vectors v from neighbours."""

    def __init__(self, hidden: int, n_rbf: int) -> None:
        super().__init__()
        self.phi = mlp(hidden, hidden, 3 * hidden)
        self.w = nn.Linear(n_rbf, 3 * hidden)
        self.hidden = hidden

    def forward(self, s, v, edge_index, rbf_fc, unit):  # type: ignore[no-untyped-def]
        """``rbf_fc`` is the radial basis times the cosine cutoff with the cutoff itself appended
        (E, n_rbf + 1), so one matrix product gives the cutoff-damped filter w(rbf)·f_c.
        ``v`` is None before the first message (all-zero vectors), which skips its gather.

        The scalar and the three vector messages go into one (E, 4, hidden) tensor that a single
        ``index_add`` sums onto the atoms (the memory-bound hot path on CPU).
        """
        src, dst = edge_index
        filt = rbf_fc @ torch.cat([self.w.weight.t(), self.w.bias[None, :]])
        x = self.phi(s).index_select(0, src) * filt
        ds, dv_v, dv_r = torch.split(x, self.hidden, dim=-1)
        msg = x.new_empty(x.size(0), 4, self.hidden)  # filled in place (autograd records it)
        msg[:, 0] = ds
        msg[:, 1:] = dv_r[:, None, :] * unit[:, :, None]
        if v is not None:
            msg[:, 1:].addcmul_(v.index_select(0, src), dv_v[:, None, :])
        agg = torch.zeros(s.size(0), 4, self.hidden, device=s.device, dtype=x.dtype).index_add_(0, dst, msg)
        return s + agg[:, 0], agg[:, 1:] if v is None else v + agg[:, 1:]


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
        super().__init__(n_features, hidden, n_rbf, cutoff, layers)
        self.messages = nn.ModuleList(Message(hidden, n_rbf) for _ in range(layers))
        self.updates = nn.ModuleList(Update(hidden) for _ in range(layers))

    def forward(self, data: object, keep: torch.Tensor | None = None) -> torch.Tensor:
        """Node embeddings; with ``keep`` (bool per node) exact only for those nodes, computed
        on their :func:`receptive_field` alone."""
        d = data.edge_vec.norm(dim=-1)
        unit = data.edge_vec / d[:, None].clamp(min=1e-6)
        fc = cosine_cutoff(d, self.cutoff)[:, None]
        rbf_fc = torch.cat([self.rbf(d) * fc, fc], dim=1)
        s = self.embed(data.x)
        v = None
        for msg, upd, part in zip(self.messages, self.updates, self.field(data, keep), strict=True):
            if part is None:
                s, v = msg(s, v, data.edge_index, rbf_fc, unit)
                s, v = upd(s, v)
                continue
            e, nodes = part
            s, v = msg(s, v, data.edge_index[:, e], rbf_fc[e], unit[e])
            s_n, v_n = upd(s.index_select(0, nodes), v.index_select(0, nodes))
            s, v = s.index_copy(0, nodes, s_n), v.index_copy(0, nodes, v_n)
        return s
