"""Post-relaxation anomaly checks (SCIENCE.md §3). An anomalous record is never a valid label.

Each check returns a short reason string, or "" when the structure is fine.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.data import covalent_radii
from ase.neighborlist import natural_cutoffs, neighbor_list
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

MAX_HEIGHT = 1.5
"""A metal more than this (Å) above the mean plane of its N neighbours has left the sheet."""
MAX_PAIR = 4.0
"""A pair further apart than this (Å) has separated."""
MERGE_FACTOR = 0.6
"""Two metals closer than this × (r1 + r2) have merged."""
DESORB = 3.0
"""An adsorbate with no atom within this (Å) of the substrate has desorbed."""
BOND_FACTOR = 1.25
"""Atoms closer than this × (r_i + r_j) are bonded (covalent radii)."""


def metal_coordination(atoms: Atoms, index: int, cutoff: float = 2.6) -> int:
    """Number of N atoms within ``cutoff`` (Å) of atom ``index``."""
    d = atoms.get_distances(index, range(len(atoms)), mic=True)
    return int(sum(1 for k, a in enumerate(atoms) if a.symbol == "N" and k != index and d[k] < cutoff))


def metal_pair_distance(atoms: Atoms) -> float:
    """M–M distance (Å) of a dual-atom site; 0.0 for a single-atom site."""
    idx = np.where(atoms.get_tags() == 1)[0]
    if len(idx) < 2:
        return 0.0
    return float(atoms.get_distance(int(idx[0]), int(idx[1]), mic=True))


def check_site(atoms: Atoms) -> str:
    """Anomalies of the metals: out of plane, no N neighbour, separated or merged pair."""
    tags = atoms.get_tags()
    metals = np.where(tags == 1)[0]
    for m in metals:
        d = atoms.get_distances(int(m), range(len(atoms)), mic=True)
        near_n = [k for k, a in enumerate(atoms) if a.symbol == "N" and d[k] < 2.6]
        if not near_n:
            return f"{atoms[m].symbol} lost all N neighbours"
        plane = atoms.positions[near_n, 2].mean()
        if atoms.positions[m, 2] - plane > MAX_HEIGHT:
            return f"{atoms[m].symbol} left the plane"
    if len(metals) == 2:
        dist = metal_pair_distance(atoms)
        r = covalent_radii[atoms.numbers[metals]].sum()
        if dist > MAX_PAIR:
            return f"pair separated ({dist:.2f} Å)"
        if dist < MERGE_FACTOR * r:
            return f"pair merged ({dist:.2f} Å)"
    return ""


def _adsorbate_graph(atoms: Atoms) -> tuple[int, set[tuple[int, int]]]:
    ads = atoms[atoms.get_tags() == 2]
    cut = [c * BOND_FACTOR for c in natural_cutoffs(ads, mult=1.0)]
    i, j = neighbor_list("ij", ads, cut)
    n = len(ads)
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    n_comp, _ = connected_components(graph, directed=False)
    ss = {
        (int(a), int(b)) for a, b in zip(i, j, strict=True) if a < b and ads[a].symbol == ads[b].symbol == "S"
    }
    return n_comp, ss


def check_adsorbate(initial: Atoms, final: Atoms) -> str:
    """Anomalies of the adsorbate: desorbed, or dissociated (S–S bonds or fragments changed)."""
    tags = final.get_tags()
    if not (tags == 2).any():
        return ""
    ads = np.where(tags == 2)[0]
    sub = np.where(tags != 2)[0]
    d = final.get_all_distances(mic=True)[np.ix_(ads, sub)]
    if d.min() > DESORB:
        return "adsorbate desorbed"
    n0, ss0 = _adsorbate_graph(initial)
    n1, ss1 = _adsorbate_graph(final)
    if n1 > n0 or ss1 != ss0:
        return "adsorbate dissociated"
    return ""


def check(initial: Atoms, final: Atoms) -> str:
    """All anomaly checks; "" when the relaxed structure is a valid label."""
    return check_site(final) or check_adsorbate(initial, final)
