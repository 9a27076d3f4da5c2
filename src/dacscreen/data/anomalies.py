"""Post-relaxation checks (SCIENCE.md §3): anomalies of the site, and the adsorbate's state class.

An anomaly of the *site* (a metal out of the plane or off N, the pair separated or merged, the
adsorbate desorbed) makes a record invalid: it is stored, flagged, and never a label. A changed
bond graph of the *adsorbate* is chemistry, not an anomaly: Li2S2 that relaxes into two S on the
metals with the Li on the host's N has broken its S–S bond, which is what the Li2S2 → Li2S step
needs. Such a record keeps its energy as a valid relaxed state and carries its class
(:func:`state_class`); the label of an intermediate is its lowest-energy valid state, whatever
the class.

Each anomaly check returns a short reason string, or "" when the structure is fine.
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


def check_adsorbate(final: Atoms) -> str:
    """The adsorbate's anomaly: desorbed (no adsorbate atom within :data:`DESORB` of the host)."""
    tags = final.get_tags()
    if not (tags == 2).any():
        return ""
    ads = np.where(tags == 2)[0]
    sub = np.where(tags != 2)[0]
    d = final.get_all_distances(mic=True)[np.ix_(ads, sub)]
    return "adsorbate desorbed" if d.min() > DESORB else ""


def check(final: Atoms) -> str:
    """All anomaly checks; "" when the relaxed structure is a valid state."""
    return check_site(final) or check_adsorbate(final)


STATE_CLASSES = ("intact", "ss_cleaved", "li_detached", "other")
"""The classes of a relaxed adsorbate state (stored as ``state_class``): ``intact`` (the bond
graph of the start), ``ss_cleaved`` (an S–S bond of the start is broken: "S–S cleaved"),
``li_detached`` (S–S bonds kept, but a Li left the adsorbate's S: "Li detached"), ``other``
(any other change of the graph, e.g. a new S–S bond). A clean site is ``intact``."""

LEGACY_ANOMALY = "adsorbate dissociated"
"""The anomaly string that records labelled before the state classes carry for a changed
adsorbate bond graph; the store migrates them to valid states (:mod:`dacscreen.data.label_rules`)."""


def state_class(initial: Atoms, final: Atoms) -> str:
    """The class (:data:`STATE_CLASSES`) of the relaxed adsorbate in ``final`` against its start
    ``initial`` (same atoms, same order; tag 2 marks the adsorbate)."""
    if not (final.get_tags() == 2).any():
        return "intact"
    n0, ss0 = _adsorbate_graph(initial)
    n1, ss1 = _adsorbate_graph(final)
    if ss0 - ss1:
        return "ss_cleaved"
    if n1 > n0:
        return "li_detached"
    return "other" if ss1 != ss0 or n1 != n0 else "intact"
