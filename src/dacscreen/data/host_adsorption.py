"""The host reference (SCIENCE.md §5): each SRR species on the metal-free host.

Much of the binding on PCN can come from Li–N contacts with the host rather than from the
metals. The metals' share of a site's binding is E_ads(site) − E_ads(bare host), both of the same
method, where E_ads(bare host, X) = E(host + X) − E(host) − E(X).

A pure recipe (quacc-style): :func:`relax_on_bare_host` takes its calculator, relaxes X from
every orientation the pair sites offer, placed over the same spot (the reference pair's anchors,
Cu–Ni, placement 0) on the intact host (its N–H hydrogens kept), and returns the lowest valid
relaxation. Host atoms more than ``fix_radius`` from that spot stay fixed, as on the sites. The
labeller stores it as the reference ``bare_<host>_<X>``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ase import Atoms
from ase.constraints import FixAtoms
from ase.geometry import find_mic

from dacscreen.data import anomalies
from dacscreen.data.adsorbates import orientations, place_adsorbate
from dacscreen.data.hosts import build_host, default_supercell
from dacscreen.data.relax import RelaxResult, relax
from dacscreen.data.sites import build_site

SPOT_PAIR = ("Cu", "Ni")
"""The pair whose anchors mark the spot on the host where the adsorbate is placed."""


def reference_name(host: str, state: str) -> str:
    """Store name of the bare-host reference of ``state``, e.g. ``bare_melon_Li2S2``."""
    return f"bare_{host}_{state}"


def bare_host_starts(host: str, state: str) -> list[tuple[str, Atoms]]:
    """(orientation, structure) starts of ``state`` on the metal-free host, over the spot of
    the reference pair; the adsorbate is tagged 2, the host 0 (no metal)."""
    site = build_site(host, list(SPOT_PAIR), 0)
    bare = build_host(host, default_supercell(host))
    out = []
    for mode in orientations(2, state):
        placed = place_adsorbate(site, state, mode)
        start = bare.copy()
        start += placed[placed.get_tags() == 2]
        start.info.update({"adsorbate": state, "orientation": mode})
        out.append((mode, start))
    return out


def spot(host: str) -> np.ndarray:
    """Cartesian centre (Å) of the reference pair's anchors on ``host``."""
    site = build_site(host, list(SPOT_PAIR), 0)
    return site.positions[site.get_tags() == 1].mean(axis=0)


def relax_on_bare_host(
    host: str, state: str, calc: Any, fmax: float, steps: int, optimizer: str, fix_radius: float = 6.0
) -> tuple[str, RelaxResult] | None:
    """Relax every start of :func:`bare_host_starts`; the lowest converged one whose adsorbate
    stays on the host (not desorbed), with its orientation, or None."""
    centre = spot(host)
    best: tuple[str, RelaxResult] | None = None
    for mode, start in bare_host_starts(host, state):
        vec = start.positions - centre
        vec[:, 2] = 0.0
        d = find_mic(vec, start.cell, pbc=[True, True, False])[1]
        start.set_constraint(FixAtoms(indices=np.where((start.get_tags() == 0) & (d > fix_radius))[0]))
        res = relax(start, calc, fmax, steps, fix_radius=None, optimizer=optimizer)
        valid = res.converged and not anomalies.check_adsorbate(res.final)
        if valid and (best is None or res.energy < best[1].energy):
            best = (mode, res)
    return best
