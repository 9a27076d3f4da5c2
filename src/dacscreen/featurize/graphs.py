"""Periodic crystal graphs for the GNNs.

Edges come from vesin's periodic neighbour list (a drop-in for ASE's ``neighbor_list`` that is
about 50× faster; minimum image and beyond, so small cells are handled); torch-geometric's
``radius_graph`` would ignore the periodic boundary. Node features
are element descriptors that let a model extrapolate to unseen metals (Pauling χ, group,
period, d-electron count, covalent radius, first ionisation energy, mass) plus the atom tag
one-hot (host / site / adsorbate). Distances are expanded into Gaussians inside the models.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
import torch
from ase import Atoms
from ase.data import chemical_symbols
from ase.formula import Formula
from torch_geometric.data import Data
from vesin import ase_neighbor_list

from dacscreen.elements import element_features
from dacscreen.featurize.descriptors import metal_descriptor

FEATURIZER_VERSION = 3
"""Bump when the node, edge or graph definition changes; saved models record it.
2: graphs carry ``site_x``, the scaled metal-pair descriptor.
3: graphs carry ``state``, the adsorbate key of :func:`state_key`."""
FEATURE_SCALE = np.array([4.0, 18.0, 7.0, 10.0, 2.0, 15.0, 200.0])
SITE_SCALE = np.concatenate([2.0 * FEATURE_SCALE, FEATURE_SCALE, [4.0, 1.0]])
"""Scale of :func:`dacscreen.featurize.descriptors.metal_descriptor` (sum, |difference|, |Δχ|,
pair flag), so that ``site_x`` entries are of order one."""
N_SITE_FEATURES = len(SITE_SCALE)
N_TAGS = 3


@dataclass(frozen=True)
class GraphSettings:
    """Featuriser settings; part of the cache key and of every saved model."""

    cutoff: float = 5.0
    max_neighbors: int = 16
    version: int = FEATURIZER_VERSION

    def digest(self) -> str:
        """A short hash of the settings."""
        return hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:10]


def node_features(atoms: Atoms) -> torch.Tensor:
    """(n_atoms, 7 + 3) float tensor: scaled element descriptors and the tag one-hot."""
    unique, inverse = np.unique(atoms.numbers, return_inverse=True)
    table = np.array([element_features(chemical_symbols[z]) for z in unique]) / FEATURE_SCALE
    elem = table[inverse]
    tags = np.clip(atoms.get_tags(), 0, N_TAGS - 1)
    onehot = np.eye(N_TAGS)[tags]
    return torch.tensor(np.hstack([elem, onehot]), dtype=torch.float32)


def periodic_edges(atoms: Atoms, cutoff: float, max_neighbors: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Edge index (2, E) and edge vectors (E, 3) in Å, keeping the nearest ``max_neighbors``."""
    i, j, d, vec = ase_neighbor_list("ijdD", atoms, cutoff)
    order = np.lexsort((d, i))
    i_sorted = i[order]
    starts = np.searchsorted(i_sorted, i_sorted, side="left")
    rank = np.arange(len(order)) - starts  # position of each edge among its centre's neighbours
    keep = np.zeros(len(i), dtype=bool)
    keep[order[rank < max_neighbors]] = True
    # message passing runs j -> i
    edge_index = torch.tensor(np.vstack([j[keep], i[keep]]), dtype=torch.long)
    return edge_index, torch.tensor(vec[keep], dtype=torch.float32)


def site_features(atoms: Atoms) -> torch.Tensor:
    """(1, N_SITE_FEATURES): the scaled descriptor of the site's metals (tag 1; the first two),
    zeros for a structure without a tagged metal."""
    metals = tuple(chemical_symbols[z] for z in atoms.numbers[atoms.get_tags() == 1][:2])
    if not metals:
        return torch.zeros(1, N_SITE_FEATURES)
    return _site_row(metals).clone()


@lru_cache(maxsize=1024)
def _site_row(metals: tuple[str, ...]) -> torch.Tensor:
    """The scaled site descriptor of one or two metals (the same for every graph of a site)."""
    desc = metal_descriptor(metals[0], metals[1] if len(metals) > 1 else None) / SITE_SCALE
    return torch.tensor(desc, dtype=torch.float32).unsqueeze(0)


def state_key(atoms: Atoms) -> str:
    """The state of a structure: the formula of its adsorbate atoms (tag 2), e.g. ``Li2S2``, or
    ``clean`` for a bare site."""
    ads = [chemical_symbols[z] for z in atoms.numbers[atoms.get_tags() == 2]]
    return Formula.from_list(ads).format("hill") if ads else "clean"


def atoms_to_graph(atoms: Atoms, settings: GraphSettings | None = None) -> Data:
    """An Atoms object as a torch-geometric ``Data`` with x, pos, edge_index, edge_vec, tags,
    the graph-level ``site_x`` and the ``state`` key."""
    s = settings or GraphSettings()
    edge_index, edge_vec = periodic_edges(atoms, s.cutoff, s.max_neighbors)
    return Data(
        site_x=site_features(atoms),
        x=node_features(atoms),
        pos=torch.tensor(atoms.positions, dtype=torch.float32),
        edge_index=edge_index,
        edge_vec=edge_vec,
        tags=torch.tensor(atoms.get_tags(), dtype=torch.long),
        num_nodes=len(atoms),
        state=state_key(atoms),
    )
