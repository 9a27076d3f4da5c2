"""The multi-task model: one backbone, a graph-level adsorption-energy head and a node-level
d-band-centre head for the metal atoms (tag 1)."""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.utils import scatter

from dacscreen.config import ModelConfig
from dacscreen.featurize.graphs import N_TAGS
from dacscreen.models.layers import mlp
from dacscreen.models.painn import PaiNNBackbone
from dacscreen.models.schnet import SchNetBackbone

BACKBONES = {"schnet": SchNetBackbone, "painn": PaiNNBackbone}
N_NODE_FEATURES = 7 + N_TAGS


class MultiTaskGNN(nn.Module):
    """Predicts E_ads (eV, one per graph) and ε_d (eV vs E_F, one per metal node).

    The energy head sums per-atom contributions of the site and adsorbate atoms (tags 1, 2),
    whose embeddings already carry their host environment; outputs are in standardised units,
    which the ensemble wrapper converts back to eV.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.backbone = BACKBONES[cfg.arch](N_NODE_FEATURES, cfg.hidden, cfg.layers, cfg.n_rbf, cfg.cutoff)
        self.energy_head = mlp(cfg.hidden, cfg.hidden, 1, cfg.dropout)
        self.dband_head = mlp(cfg.hidden, cfg.hidden, 1, cfg.dropout)

    def forward(self, data: object) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.backbone(data)
        atom_e = self.energy_head(h).squeeze(-1)
        n_graphs = int(data.num_graphs) if hasattr(data, "num_graphs") else 1
        batch = data.batch if getattr(data, "batch", None) is not None else torch.zeros_like(data.tags)
        site = (data.tags > 0).to(atom_e.dtype)
        energy = scatter(atom_e * site, batch, dim=0, dim_size=n_graphs, reduce="sum")
        dband = self.dband_head(h).squeeze(-1)
        return energy, dband
