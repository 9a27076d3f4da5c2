"""Validation of built sites: clashes, host connectivity, metal anchoring and pair distance."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.data import covalent_radii
from ase.neighborlist import neighbor_list

from dacscreen.data.sites import PAIR_RANGE
from dacscreen.errors import StructureError

CLASH_FACTOR = 0.7
"""Two atoms closer than this × (r_i + r_j) clash."""
MN_BOND = 2.6
"""A metal within this distance (Å) of N is bound to it."""


def check_clashes(atoms: Atoms) -> None:
    """No two atoms closer than 0.7 × the sum of their covalent radii."""
    d = atoms.get_all_distances(mic=True)
    r = covalent_radii[atoms.numbers]
    limit = CLASH_FACTOR * (r[:, None] + r[None, :])
    np.fill_diagonal(d, np.inf)
    bad = np.argwhere(d < limit)
    if len(bad):
        i, j = bad[0]
        raise StructureError(
            f"atoms {i} ({atoms[i].symbol}) and {j} ({atoms[j].symbol}) are {d[i, j]:.2f} Å apart, "
            f"closer than {limit[i, j]:.2f} Å"
        )


def check_heptazine_connectivity(atoms: Atoms) -> None:
    """Host C all 3-coordinated; N 2- (pyridinic) or 3-coordinated (central, bridging, N–H)."""
    host = atoms[atoms.get_tags() == 0]
    i, j = neighbor_list("ij", host, 1.6)
    heavy = np.array([host[k].symbol != "H" for k in range(len(host))])
    cn = np.bincount(i[heavy[j]], minlength=len(host))
    for k, a in enumerate(host):
        if a.symbol == "C" and cn[k] != 3:
            raise StructureError(f"host C {k} has {cn[k]} neighbours, expected 3")
        if a.symbol == "N" and cn[k] not in (1, 2, 3):
            raise StructureError(f"host N {k} has {cn[k]} heavy-atom neighbours")


def check_metals_anchored(atoms: Atoms, host: str) -> None:
    """Each metal bound to N; a pair within the host's accepted M–M range."""
    metals = np.where(atoms.get_tags() == 1)[0]
    for m in metals:
        d = atoms.get_distances(int(m), range(len(atoms)), mic=True)
        if not any(a.symbol == "N" and d[k] < MN_BOND for k, a in enumerate(atoms) if k != m):
            raise StructureError(f"metal {atoms[m].symbol} (atom {m}) is not bound to any N")
    if len(metals) == 2:
        dist = atoms.get_distance(int(metals[0]), int(metals[1]), mic=True)
        lo, hi = PAIR_RANGE[host]
        if not lo <= dist <= hi:
            raise StructureError(f"M–M distance {dist:.2f} Å outside {lo}–{hi} Å")


def validate_site(atoms: Atoms, host: str) -> None:
    """All checks of a built site; raises StructureError on the first failure."""
    check_clashes(atoms)
    check_heptazine_connectivity(atoms)
    check_metals_anchored(atoms, host)
