"""Single- and dual-atom metal sites on PCN hosts, with symmetry-distinct placements.

* heptazine g-C3N4: metals sit in the six-fold N cavity. Anchors lie toward the midpoints of
  the six N–N edges of the cavity; a pair occupies two opposite edges (≈2.6 Å apart), so that
  each metal binds pyridinic N of a different heptazine unit.
* melon: a metal replaces the H of an N–H group and is placed 2.0 Å from that N and from the
  nearest N across the inter-chain gap; a pair replaces two neighbouring N–H hydrogens.

Placements are enumerated on the bare host and deduplicated by their local environment, so
that symmetry-equivalent placements appear once (for a homonuclear pair, swapping the metals
gives the same placement). Tags: host = 0, metal site = 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations_with_replacement, permutations

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, covalent_radii

from dacscreen.data.hosts import build_host, default_supercell
from dacscreen.elements import check_metals, metal_rank
from dacscreen.errors import StructureError
from dacscreen.site_key import SiteKey

MN_TARGET = 2.0
"""Target metal–N distance (Å) used to place a metal."""
CAVITY_ANCHOR_RADIUS = 1.3
"""In-plane distance of a dual-atom anchor from the cavity centre in g-C3N4 (Å)."""
SINGLE_ANCHOR_RADIUS = 0.5
"""In-plane distance of a single-atom anchor from the cavity centre (Å)."""
PAIR_CLEARANCE = 0.8
"""A pair is built at least this × (r_M1 + r_M2) apart (covalent radii); the same factor sets
the metal–N distance in :func:`metal_height`."""
H_CLASH = 1.4
"""An H closer than this (Å, in-plane) to a melon metal anchor is displaced by the metal."""
PAIR_RANGE = {"heptazine": (2.4, 3.7), "melon": (3.0, 3.8)}
"""Accepted as-built M–M distances (Å) for each host."""


@dataclass(frozen=True)
class Anchor:
    """A metal position on the bare host, before the metal's own height is chosen."""

    xy: tuple[float, float]
    kind: str
    removes_h: tuple[int, ...] = ()
    n_pair: tuple[int, ...] = ()


@dataclass(frozen=True)
class Placement:
    """A symmetry-distinct placement: one anchor (single atom) or an ordered anchor pair."""

    index: int
    anchors: tuple[Anchor, ...]
    label: str
    removed_h: tuple[int, ...] = field(default=())


def _wrap_xy(atoms: Atoms, vec: np.ndarray) -> np.ndarray:
    """Minimum-image in-plane displacement of one vector (3,) or of many (n, 3)."""
    frac = np.linalg.solve(atoms.cell.array.T, vec.T)
    frac[:2] -= np.round(frac[:2])
    return (atoms.cell.array.T @ frac).T


def _cavity_by_geometry(host: Atoms) -> tuple[np.ndarray, list[int]]:
    """Cavity centre as the point equidistant (√3·d) from six two-coordinated N."""
    two = _two_coordinated_n(host)
    pos = host.positions
    mid = host.cell.array[:2].sum(axis=0) / 2.0
    candidates = []
    for i in two:
        for j in two:
            if j <= i:
                continue
            v = _wrap_xy(host, pos[j] - pos[i])
            if 4.5 < np.linalg.norm(v) < 4.9:
                c = pos[i] + v / 2.0
                d = np.array([np.linalg.norm(_wrap_xy(host, pos[k] - c)) for k in two])
                empty = min(np.linalg.norm(_wrap_xy(host, q - c)) for q in pos) > 2.0
                if empty and np.sum(d < 2.6) == 6:
                    candidates.append(
                        (
                            float(np.linalg.norm(_wrap_xy(host, c - mid))),
                            c,
                            [two[k] for k in np.where(d < 2.6)[0]],
                        )
                    )
    if not candidates:
        raise StructureError("no six-fold N cavity found in the heptazine host")
    candidates.sort(key=lambda t: t[0])
    return candidates[0][1], candidates[0][2]


def _two_coordinated_n(host: Atoms) -> list[int]:
    from ase.neighborlist import neighbor_list

    i = neighbor_list("i", host, 1.6)
    cn = np.bincount(i, minlength=len(host))
    return [k for k, a in enumerate(host) if a.symbol == "N" and cn[k] == 2]


def _heptazine_anchors(host: Atoms, radius: float) -> list[Anchor]:
    centre, ring = _cavity_by_geometry(host)
    angles = sorted(ring, key=lambda k: np.arctan2(*(_wrap_xy(host, host.positions[k] - centre)[[1, 0]])))
    anchors = []
    for a, b in zip(angles, angles[1:] + angles[:1], strict=True):
        va = _wrap_xy(host, host.positions[a] - centre)
        vb = _wrap_xy(host, host.positions[b] - centre)
        mid = (va + vb) / 2.0
        mid[2] = 0.0
        u = mid / np.linalg.norm(mid)
        kind = "intra" if _share_neighbour(host, a, b) else "inter"
        xy = centre + radius * u
        anchors.append(Anchor((float(xy[0]), float(xy[1])), kind, (), (a, b)))
    return anchors


def _share_neighbour(host: Atoms, a: int, b: int) -> bool:
    """Whether N atoms a and b are bonded to a common C (the same heptazine unit)."""
    from ase.neighborlist import neighbor_list

    i, j = neighbor_list("ij", host, 1.6)
    return bool(set(j[i == a]) & set(j[i == b]))


def _melon_anchors(host: Atoms) -> list[Anchor]:
    from ase.neighborlist import neighbor_list

    pos = host.positions
    i, j = neighbor_list("ij", host, 1.2)
    anchors = []
    for h in (k for k, a in enumerate(host) if a.symbol == "H"):
        own = int(j[(i == h)][0])
        u = _wrap_xy(host, pos[h] - pos[own])
        u /= np.linalg.norm(u)
        p0 = pos[own] + MN_TARGET * u
        others = [
            (np.linalg.norm(_wrap_xy(host, pos[k] - p0)), k)
            for k, a in enumerate(host)
            if a.symbol == "N" and k != own
        ]
        _, other = min(others)
        xy = _between(pos[own], pos[own] + _wrap_xy(host, pos[other] - pos[own]), p0)
        clash = tuple(
            k
            for k, a in enumerate(host)
            if a.symbol == "H" and np.linalg.norm(_wrap_xy(host, pos[k] - xy)[:2]) < H_CLASH
        )
        anchors.append(Anchor((float(xy[0]), float(xy[1])), "NH", tuple(sorted({h, *clash})), (own, other)))
    return anchors


def _between(a: np.ndarray, b: np.ndarray, guess: np.ndarray) -> np.ndarray:
    """In-plane point MN_TARGET from both a and b, nearest ``guess`` (or ``guess`` if none)."""
    v = b - a
    v[2] = 0.0
    sep = np.linalg.norm(v)
    if sep >= 2.0 * MN_TARGET or sep < 1e-6:
        return guess
    mid = a + v / 2.0
    perp = np.array([-v[1], v[0], 0.0]) / sep
    h = np.sqrt(MN_TARGET**2 - (sep / 2.0) ** 2)
    sols = [mid + h * perp, mid - h * perp]
    return min(sols, key=lambda s: np.linalg.norm((s - guess)[:2]))


def _anchor_fingerprint(host: Atoms, xy: tuple[float, float]) -> tuple[float, ...]:
    p = np.array([xy[0], xy[1], host.positions[:, 2].mean()])
    d = sorted(round(float(x), 1) for x in np.linalg.norm(_wrap_xy(host, host.positions - p), axis=1))
    return tuple(d[:12])


@lru_cache(maxsize=16)
def enumerate_placements(host_name: str, supercell: tuple[int, int], n_metals: int) -> tuple[Placement, ...]:
    """Symmetry-distinct placements of ``n_metals`` (1 or 2) metals on a host supercell.

    For a pair the anchors are ordered (M1 at the first anchor); placements equivalent by the
    host's symmetry, and for n_metals = 2 also the swapped order, are returned once here and
    the swapped order is added back by :func:`placements_for` when M1 ≠ M2.
    """
    host = build_host(host_name, supercell)
    if host_name == "heptazine":
        radius = SINGLE_ANCHOR_RADIUS if n_metals == 1 else CAVITY_ANCHOR_RADIUS
        anchors = _heptazine_anchors(host, radius)
    else:
        anchors = _melon_anchors(host)
    seen: dict[tuple, Placement] = {}
    if n_metals == 1:
        for a in anchors:
            key = (_anchor_fingerprint(host, a.xy),)
            seen.setdefault(key, Placement(len(seen), (a,), a.kind, _removed(a)))
        return tuple(seen.values())
    lo, hi = PAIR_RANGE[host_name]
    for a, b in permutations(anchors, 2):
        dist = float(np.linalg.norm(_wrap_xy(host, np.array([*b.xy, 0.0]) - np.array([*a.xy, 0.0]))))
        if not lo <= dist <= hi or set(a.removes_h) & set(b.removes_h):
            continue
        fa, fb = _anchor_fingerprint(host, a.xy), _anchor_fingerprint(host, b.xy)
        key = (*sorted([fa, fb]), round(dist, 1))
        label = f"{a.kind}-{b.kind}"
        seen.setdefault(key, Placement(len(seen), (a, b), label, _removed(a, b)))
    return tuple(seen.values())


def _removed(*anchors: Anchor) -> tuple[int, ...]:
    return tuple(sorted({h for a in anchors for h in a.removes_h}))


def placements_for(host_name: str, supercell: tuple[int, int], metals: list[str]) -> list[Placement]:
    """Placements for a concrete metal set: heteronuclear pairs also get the swapped order."""
    base = enumerate_placements(host_name, supercell, len(metals))
    if len(metals) == 1 or metals[0] == metals[1]:
        return list(base)
    return list(_ordered_pair_placements(host_name, tuple(supercell)))


@lru_cache(maxsize=16)
def _ordered_pair_placements(host_name: str, supercell: tuple[int, int]) -> tuple[Placement, ...]:
    """Pair placements with the swapped order added after each asymmetric one."""
    host = build_host(host_name, supercell)
    out: list[Placement] = []
    for p in enumerate_placements(host_name, supercell, 2):
        out.append(Placement(len(out), p.anchors, p.label, p.removed_h))
        fa, fb = (_anchor_fingerprint(host, a.xy) for a in p.anchors)
        if fa != fb:
            out.append(Placement(len(out), p.anchors[::-1], "-".join(p.label.split("-")[::-1]), p.removed_h))
    return tuple(out)


def site_keys(
    host: str,
    metals: list[str],
    include_single: bool = True,
    include_pairs: bool = True,
    allow_non_transition: bool = False,
    placements: str = "first",
    supercell: tuple[int, int] | None = None,
) -> list[SiteKey]:
    """The site space of a metal set, the one enumerator that labelling, screening and the
    active-learning loop share: the n single atoms, then the n(n+1)/2 pairs (homo and hetero),
    each pair in canonical order (:meth:`SiteKey.of`) whatever the order of ``metals``; with
    ``placements="all"`` every symmetry-distinct placement of each site, else the first.

    The default 28 metals give 28 single atoms + 406 pairs = 434 sites (first placement).
    """
    ranked = sorted(check_metals(metals, allow_non_transition=allow_non_transition), key=metal_rank)
    sites = [[m] for m in ranked] if include_single else []
    sites += [[a, b] for a, b in combinations_with_replacement(ranked, 2)] if include_pairs else []
    sc = supercell or default_supercell(host)
    out = []
    for site in sites:
        key = SiteKey.of(host, site)
        n = len(placements_for(host, sc, list(key.metals))) if placements == "all" else 1
        out += [SiteKey.of(host, key.metals, p) for p in range(n)]
    return out


def metal_height(metal: str, anchor: Anchor, host: Atoms) -> float:
    """Height (Å) above the sheet at which the metal is at least 0.8 × (r_M + r_N) from N."""
    p = np.array([*anchor.xy, host.positions[:, 2].mean()])
    n_pos = host.positions[np.array(host.get_chemical_symbols()) == "N"]
    d_inplane = float(np.linalg.norm(_wrap_xy(host, n_pos - p)[:, :2], axis=1).min())
    target = 0.8 * (covalent_radii[atomic_numbers[metal]] + covalent_radii[7])
    return float(np.sqrt(max(0.0, target**2 - d_inplane**2)))


def _separated(host: Atoms, metals: list[str], anchors: tuple[Anchor, ...]) -> tuple[Anchor, ...]:
    """Push a pair's anchors apart, symmetrically along the line joining them, until they are
    :data:`PAIR_CLEARANCE` × (r_M1 + r_M2) apart: two large metals (Y, La) in one heptazine
    cavity would otherwise sit closer than their atomic radii allow."""
    if len(anchors) < 2:
        return anchors
    a, b = (np.array([*x.xy, 0.0]) for x in anchors)
    vec = _wrap_xy(host, b - a)
    dist = float(np.linalg.norm(vec))
    need = PAIR_CLEARANCE * sum(covalent_radii[atomic_numbers[m]] for m in metals)
    if dist >= need:
        return anchors
    shift = (need - dist) / 2.0 * vec / dist
    moved = (a - shift, a + vec + shift)
    return tuple(
        Anchor((float(p[0]), float(p[1])), x.kind, x.removes_h, x.n_pair)
        for p, x in zip(moved, anchors, strict=True)
    )


def build_site(
    host_name: str,
    metals: list[str],
    placement: int = 0,
    supercell: tuple[int, int] | None = None,
) -> Atoms:
    """Build a single- or dual-atom site: metals tagged 1 on a host tagged 0.

    ``metals`` has one (single-atom site) or two symbols (M1, M2). ``placement`` indexes
    :func:`placements_for`. Raises :class:`StructureError` for an unknown placement.
    """
    sc = supercell or default_supercell(host_name)
    host = build_host(host_name, sc)
    options = placements_for(host_name, sc, metals)
    if not 0 <= placement < len(options):
        raise StructureError(
            f"placement {placement} does not exist for {'-'.join(metals)} on {host_name}; "
            f"choose 0..{len(options) - 1}"
        )
    chosen = options[placement]
    z0 = host.positions[:, 2].mean()
    site = host.copy()
    for metal, anchor in zip(metals, _separated(host, metals, chosen.anchors), strict=True):
        z = z0 + metal_height(metal, anchor, host)
        site += Atoms(metal, positions=[[anchor.xy[0], anchor.xy[1], z]], tags=[1])
    if chosen.removed_h:
        del site[list(chosen.removed_h)]
    site.info.update(
        {
            "host": host_name,
            "m1": metals[0],
            "m2": metals[1] if len(metals) > 1 else "",
            "placement": placement,
            "placement_label": chosen.label,
        }
    )
    return site
