"""The multi-task model: one backbone, a graph-level adsorption-energy head and a node-level
d-band-centre head for the metal atoms (tag 1)."""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.utils import scatter

from dacscreen.config import ModelConfig
from dacscreen.featurize.graphs import N_SITE_FEATURES, N_TAGS
from dacscreen.models.layers import mlp
from dacscreen.models.painn import PaiNNBackbone
from dacscreen.models.schnet import SchNetBackbone

BACKBONES = {"schnet": SchNetBackbone, "painn": PaiNNBackbone}
N_NODE_FEATURES = 7 + N_TAGS


class MultiTaskGNN(nn.Module):
    """Predicts E_ads (eV, one per graph) and ε_d (eV vs E_F, one per metal node).

    The energy head sums per-atom contributions of the site and adsorbate atoms (tags 1, 2),
    whose embeddings already carry their host environment. With ``site_descriptor`` a graph
    head adds a term from the mean site/adsorbate embedding together with the metal-pair
    descriptor ``site_x`` (what the descriptor baselines see), so the model has the elemental
    trends and the geometry in one place. Outputs are in standardised units, which the
    ensemble wrapper converts back to eV.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.backbone = BACKBONES[cfg.arch](N_NODE_FEATURES, cfg.hidden, cfg.layers, cfg.n_rbf, cfg.cutoff)
        self.energy_head = mlp(cfg.hidden, cfg.hidden, 1, cfg.dropout)
        self.dband_head = mlp(cfg.hidden, cfg.hidden, 1, cfg.dropout)
        self.graph_head = (
            mlp(cfg.hidden + N_SITE_FEATURES, cfg.hidden, 1, cfg.dropout) if cfg.site_descriptor else None
        )

    def forward(self, data: object) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.backbone(data)
        atom_e = self.energy_head(h).squeeze(-1)
        n_graphs = int(data.num_graphs) if hasattr(data, "num_graphs") else 1
        batch = data.batch if getattr(data, "batch", None) is not None else torch.zeros_like(data.tags)
        site = (data.tags > 0).to(atom_e.dtype)
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
        return energy, dband
