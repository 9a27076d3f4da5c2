"""Polymeric carbon nitride hosts: heptazine g-C3N4 and melon-type PCN.

Geometry follows SCIENCE.md §2: a honeycomb grid of bond length ``d`` (Å) with the central
heptazine N at the origin, inner C at d, pyridinic N at √3·d, tip C at 2d and the bridging N at
3d beyond a tip, so that the g-C3N4 lattice constant is a = 3√3·d (7.12 Å for d = 1.37 Å).
All atoms of a host carry tag 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from ase import Atoms

BOND = 1.37
"""Honeycomb C–N bond length d (Å)."""
NH_BOND = 1.01
"""N–H bond length (Å)."""
DEFAULT_VACUUM = 20.0
"""Cell height (Å); the sheet sits at z = vacuum/2, leaving ≥15 Å free for S8 and Li2S8."""
MELON_GAP = 3.4
"""Extra inter-chain separation of melon (Å) beyond the g-C3N4 packing."""

HOSTS = ("heptazine", "melon")


def _unit(deg: float) -> np.ndarray:
    rad = np.deg2rad(deg)
    return np.array([np.cos(rad), np.sin(rad), 0.0])


def heptazine_unit(center: np.ndarray, d: float = BOND) -> tuple[list[str], list[np.ndarray]]:
    """One C6N7 heptazine unit centred at ``center``; tip C point along 60°, 180°, 300°."""
    symbols: list[str] = ["N"]
    pos: list[np.ndarray] = [center.copy()]
    for ang in (0.0, 120.0, 240.0):
        symbols.append("C")
        pos.append(center + d * _unit(ang))
    for ang in (30.0, 90.0, 150.0, 210.0, 270.0, 330.0):
        symbols.append("N")
        pos.append(center + np.sqrt(3.0) * d * _unit(ang))
    for ang in (60.0, 180.0, 300.0):
        symbols.append("C")
        pos.append(center + 2.0 * d * _unit(ang))
    return symbols, pos


def _sheet(symbols: list[str], pos: list[np.ndarray], cell: np.ndarray, vacuum: float) -> Atoms:
    atoms = Atoms(symbols, positions=np.array(pos), cell=cell, pbc=True)
    atoms.positions[:, 2] = vacuum / 2.0
    atoms.set_tags(0)
    atoms.wrap()
    return atoms


def heptazine_cell(d: float = BOND, vacuum: float = DEFAULT_VACUUM) -> Atoms:
    """The C6N8 primitive cell of heptazine g-C3N4 (hexagonal, a = 3√3·d, γ = 120°)."""
    symbols, pos = heptazine_unit(np.zeros(3), d)
    symbols.append("N")
    pos.append(3.0 * d * _unit(60.0))
    a = 3.0 * np.sqrt(3.0) * d
    cell = np.array([a * _unit(30.0), a * _unit(150.0), [0.0, 0.0, vacuum]])
    return _sheet(symbols, pos, cell, vacuum)


def melon_cell(d: float = BOND, gap: float = MELON_GAP, vacuum: float = DEFAULT_VACUUM) -> Atoms:
    """A rectangular melon cell: one zigzag chain of two N–H-bridged heptazines with NH2 ends.

    The chain runs along x (period 9d); chains stack along y with an extra ``gap`` (Å) so that
    the NH2 of one chain faces the N–H bridge of the next, as in the planar melon layer.
    Composition per cell: C12 N18 H6 (two C6N7 units, two N–H bridges, two NH2 ends).
    """
    centres = [np.zeros(3), np.array([4.5 * d, np.sqrt(27.0) / 2.0 * d, 0.0])]
    symbols: list[str] = []
    pos: list[np.ndarray] = []
    for c in centres:
        s, p = heptazine_unit(c, d)
        symbols += s
        pos += p
    # N–H bridges: (bridge position, H direction)
    bridges = [(3.0 * d * _unit(60.0), 120.0), (centres[1] + 3.0 * d * _unit(300.0), 240.0)]
    for n_pos, h_ang in bridges:
        symbols += ["N", "H"]
        pos += [n_pos, n_pos + NH_BOND * _unit(h_ang)]
    # NH2 ends on the free tips: A at 300°, B at 60°
    for c, tip in ((centres[0], 300.0), (centres[1], 60.0)):
        n_pos = c + 3.0 * d * _unit(tip)
        symbols += ["N", "H", "H"]
        pos += [n_pos, n_pos + NH_BOND * _unit(tip + 60.0), n_pos + NH_BOND * _unit(tip - 60.0)]
    cell = np.diag([9.0 * d, np.sqrt(27.0) * d + gap, vacuum])
    return _sheet(symbols, pos, cell, vacuum)


@dataclass(frozen=True)
class HostSpec:
    """Which host and supercell to build."""

    name: str = "melon"
    supercell: tuple[int, int] = (2, 2)
    vacuum: float = DEFAULT_VACUUM


def build_host(name: str, supercell: tuple[int, int] = (2, 2), vacuum: float = DEFAULT_VACUUM) -> Atoms:
    """Build a host sheet by name (``heptazine`` or ``melon``) as an ``nx × ny`` supercell (a new
    Atoms object; the geometry is built once per process and copied)."""
    return _cached_host(name, tuple(supercell), float(vacuum)).copy()


@lru_cache(maxsize=16)
def _cached_host(name: str, supercell: tuple[int, int], vacuum: float) -> Atoms:
    if name == "heptazine":
        cell = heptazine_cell(vacuum=vacuum)
    elif name == "melon":
        cell = melon_cell(vacuum=vacuum)
    else:
        from dacscreen.errors import StructureError

        raise StructureError(f"unknown host '{name}'; choose one of {', '.join(HOSTS)}")
    nx, ny = supercell
    host = cell.repeat((nx, ny, 1))
    host.set_tags(0)
    return host


def default_supercell(name: str) -> tuple[int, int]:
    """Default supercell: 2×2 for heptazine (C24N32, a = b ≈ 14.2 Å), 1×2 for melon."""
    return (2, 2) if name == "heptazine" else (1, 2)
