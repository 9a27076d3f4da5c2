"""The multi-task model: one backbone, a graph-level adsorption-energy head, a node-level
d-band-centre head for the metal atoms (tag 1) and, optionally, an auxiliary relaxation head."""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.utils import scatter

from dacscreen.config import ModelConfig
from dacscreen.featurize.graphs import N_SITE_FEATURES, N_TAGS
from dacscreen.models.layers import GaussianRBF, cosine_cutoff, edges_into, mlp
from dacscreen.models.painn import PaiNNBackbone
from dacscreen.models.schnet import SchNetBackbone

BACKBONES = {"schnet": SchNetBackbone, "painn": PaiNNBackbone}
N_NODE_FEATURES = 7 + N_TAGS


class DisplacementHead(nn.Module):
    """Auxiliary relaxation head (the "Noisy Nodes" idea of Godwin et al., ICLR 2022): the
    displacement (Å) of every atom from its input to its relaxed position.

    Each edge contributes a learned scalar times the unit vector towards its neighbour, so the
    output turns with the structure for any backbone. Trained next to the energy, it gives the
    embeddings 3 labels per atom instead of one per structure; screening never uses it.
    """

    def __init__(self, hidden: int, n_rbf: int, cutoff: float) -> None:
        super().__init__()
        self.pair = mlp(2 * hidden, hidden, hidden)
        self.filt = nn.Linear(n_rbf, hidden)
        self.out = nn.Linear(hidden, 1)
        self.rbf = GaussianRBF(n_rbf, cutoff)
        self.cutoff = cutoff

    def forward(self, h: torch.Tensor, data: object) -> torch.Tensor:
        """(n_atoms, 3) displacements in Å."""
        src, dst = data.edge_index
        d = data.edge_vec.norm(dim=-1).clamp(min=1e-6)
        pair = self.pair(torch.cat([h.index_select(0, dst), h.index_select(0, src)], dim=-1))
        w = self.out(pair * self.filt(self.rbf(d))).squeeze(-1) * cosine_cutoff(d, self.cutoff)
        vec = data.edge_vec * (w / d)[:, None].to(data.edge_vec.dtype)
        return torch.zeros(h.size(0), 3, device=h.device, dtype=vec.dtype).index_add_(0, dst, vec)


class MultiTaskGNN(nn.Module):
    """Predicts E_ads (eV, one per graph) and ε_d (eV vs E_F, one per metal node).

    The energy head sums per-atom contributions of the site and adsorbate atoms (tags 1, 2),
    whose embeddings already carry their host environment. With ``site_descriptor`` a graph
    head adds a term from the mean site/adsorbate embedding together with the metal-pair
    descriptor ``site_x`` (what the descriptor baselines see), so the model has the elemental
    trends and the geometry in one place. With ``displacement_weight > 0`` a
    :class:`DisplacementHead` also predicts the relaxation of every atom (Å). Energies and
    d-band centres are in standardised units, which the ensemble wrapper converts back to eV.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.backbone = BACKBONES[cfg.arch](N_NODE_FEATURES, cfg.hidden, cfg.layers, cfg.n_rbf, cfg.cutoff)
        self.energy_head = mlp(cfg.hidden, cfg.hidden, 1, cfg.dropout)
        self.dband_head = mlp(cfg.hidden, cfg.hidden, 1, cfg.dropout)
        self.graph_head = (
            mlp(cfg.hidden + N_SITE_FEATURES, cfg.hidden, 1, cfg.dropout) if cfg.site_descriptor else None
        )
        self.displacement_head = (
            DisplacementHead(cfg.hidden, cfg.n_rbf, cfg.cutoff) if cfg.displacement_weight > 0 else None
        )

    def forward(
        self, data: object, inference: bool = False, loss_only: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Per-graph energy, per-node d-band centre, per-node displacement (None without the
        head). ``inference``: the same energies and metal d-band centres, computed on the edges
        that reach the site and adsorbate atoms only (:func:`receptive_field`), without the
        displacement head; the d-band centres of other atoms are then meaningless.
        ``loss_only``: exact for what the training loss reads (energies, the metals' d-band
        centres, the site and adsorbate atoms' displacements), computed on the receptive field of
        those atoms and of their neighbours (the displacement head's pair terms read both ends of
        an edge); the loss and its gradients are the full pass's, at about half its cost, and the
        other atoms' outputs are meaningless."""
        site_atoms = data.tags > 0
        disp_data = edges_into(data, site_atoms) if loss_only else data
        h = self.backbone(data, self._exact_nodes(site_atoms, disp_data, inference, loss_only))
        atom_e = self.energy_head(h).squeeze(-1)
        n_graphs = int(data.num_graphs) if hasattr(data, "num_graphs") else 1
        batch = data.batch if getattr(data, "batch", None) is not None else torch.zeros_like(data.tags)
        site = site_atoms.to(atom_e.dtype)
        energy = scatter(atom_e * site, batch, dim=0, dim_size=n_graphs, reduce="sum")
        if self.graph_head is not None:
            pooled = scatter(h * site[:, None], batch, dim=0, dim_size=n_graphs, reduce="sum")
            pooled = (
                pooled / scatter(site, batch, dim=0, dim_size=n_graphs, reduce="sum").clamp(min=1.0)[:, None]
            )
            energy = energy + self.graph_head(
                torch.cat([pooled, data.site_x.to(pooled.dtype)], dim=-1)
            ).squeeze(-1)
        dband = self.dband_head(h).squeeze(-1)
        disp = (
            self.displacement_head(h, disp_data)
            if self.displacement_head is not None and not inference
            else None
        )
        return energy, dband, disp

    def _exact_nodes(
        self, site_atoms: torch.Tensor, into_site: object, inference: bool, loss_only: bool
    ) -> torch.Tensor | None:
        """The nodes whose embeddings must be exact (None: every node, the full pass): the site
        and adsorbate atoms and, for the training loss with the displacement head, also the
        sources of ``into_site``'s edges (those into the site and adsorbate atoms)."""
        if not (inference or loss_only):
            return None
        if inference or self.displacement_head is None:
            return site_atoms
        need = site_atoms.clone()
        need[into_site.edge_index[0]] = True
        return need
