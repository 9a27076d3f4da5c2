"""SRR intermediates as molecular geometries, and their placement on a site.

Geometries are reasonable starting points for relaxation (bond lengths in Å): S–S 2.06,
S–S–S 108°, Li–S 2.35 (bridging) or 2.15 (terminal). Placement orientations (SCIENCE.md §4):
S bridging M1–M2, S on top of M1, S on top of M2, and Li toward a pyridinic N. Adsorbate
atoms carry tag 2.

Any other adsorbate comes from ASE's molecule database by name (``CO2``, ``NH3``, ``H2O``, ...:
:func:`ase.build.molecule`) or from a structure file (any format ASE reads) given as its path; it
binds through one atom and is placed on top of a metal or on the bridge, like H, O and OH
(:func:`other_adsorbate`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import ase.io
import numpy as np
from ase import Atoms

from dacscreen.errors import StructureError
from dacscreen.thermo import SRR_SPECIES

SS = 2.06
LIS = 2.35
ANCHOR_HEIGHT = {"S": 2.3, "Li": 2.1, "O": 1.9, "H": 1.6}
"""Initial height (Å) of the anchoring atom above its target (metal or N); 2.0 for others."""
MIN_CONTACT = 1.9
"""Smallest accepted initial distance (Å) between adsorbate and substrate atoms."""


def s8_crown() -> Atoms:
    """S8 crown ring (D4d): radius 2.345 Å, puckering ±0.495 Å, S–S 2.05 Å."""
    ang = np.arange(8) * np.pi / 4.0
    z = 0.495 * (-1.0) ** np.arange(8)
    pos = np.c_[2.345 * np.cos(ang), 2.345 * np.sin(ang), z]
    return Atoms("S8", positions=pos)


def _zigzag_chain(n: int) -> np.ndarray:
    half = np.deg2rad(108.0) / 2.0
    dx, dy = SS * np.sin(half), SS * np.cos(half)
    return np.array([[k * dx, (k % 2) * dy, 0.0] for k in range(n)])


def li2sn_chain(n: int) -> Atoms:
    """Li2Sn (n = 4, 6, 8): a zigzag Sn chain with one Li bridging each chain end."""
    s = _zigzag_chain(n)
    li = []
    for end, nxt in ((0, 2), (n - 1, n - 3)):
        mid = (s[end] + s[nxt]) / 2.0
        half = np.linalg.norm(s[end] - s[nxt]) / 2.0
        out = np.array([0.0, -1.0 if end % 2 == 0 else 1.0, 0.0])
        li.append(mid + out * np.sqrt(max(LIS**2 - half**2, 0.5)))
    return Atoms(f"Li2S{n}", positions=np.vstack([li, s]))


def li2s2() -> Atoms:
    """Li2S2 as a planar rhombus: S–S 2.15 Å with both Li bridging (Li–S 2.35 Å)."""
    h = np.sqrt(LIS**2 - (2.15 / 2.0) ** 2)
    return Atoms("Li2S2", positions=[[0, h, 0], [0, -h, 0], [-1.075, 0, 0], [1.075, 0, 0]])


def li2s() -> Atoms:
    """Bent Li2S: Li–S 2.15 Å, Li–S–Li 110°."""
    half = np.deg2rad(55.0)
    return Atoms(
        "Li2S",
        positions=[
            [2.15 * np.sin(half), 2.15 * np.cos(half), 0],
            [-2.15 * np.sin(half), 2.15 * np.cos(half), 0],
            [0, 0, 0],
        ],
    )


def small_adsorbate(name: str) -> Atoms:
    """H, O, OH or OOH with the binding atom first (O–H 0.97 Å, O–O 1.45 Å, bent 105°)."""
    geo = {
        "H": [("H", (0, 0, 0))],
        "O": [("O", (0, 0, 0))],
        "OH": [("O", (0, 0, 0)), ("H", (0, 0, 0.97))],
        "OOH": [("O", (0, 0, 0)), ("O", (1.15, 0, 0.88)), ("H", (1.15, 0.94, 1.12))],
    }[name]
    return Atoms([g[0] for g in geo], positions=[g[1] for g in geo])


SMALL_ADSORBATES = ("H", "O", "OH", "OOH")


def molecule(name: str) -> Atoms:
    """Gas-phase geometry of an SRR intermediate (centred at its centroid) or of a small
    adsorbate (H, O, OH, OOH; binding atom at the origin). A new Atoms object each call."""
    return _molecule(name).copy()


@lru_cache(maxsize=32)
def _molecule(name: str) -> Atoms:
    if name in SMALL_ADSORBATES:
        return small_adsorbate(name)
    builders = {
        "S8": s8_crown,
        "Li2S8": lambda: li2sn_chain(8),
        "Li2S6": lambda: li2sn_chain(6),
        "Li2S4": lambda: li2sn_chain(4),
        "Li2S2": li2s2,
        "Li2S": li2s,
    }
    if name not in builders:
        return other_adsorbate(name)
    mol = builders[name]()
    mol.positions -= mol.positions.mean(axis=0)
    return mol


def other_adsorbate(name: str) -> Atoms:
    """An adsorbate that is neither an SRR intermediate nor H/O/OH/OOH: a structure file
    (``name`` is its path; it binds through its first atom) or a molecule of ASE's database by
    name (it binds through its least electronegative atom other than H, e.g. C of CO and CO2, N
    of NH3, O of H2O; H of H2). The binding atom is put first at the origin, and the molecule is
    turned so that its centroid lies straight above it (+z); a molecule centred on that atom
    (CO2, CH4) is laid flat instead (:func:`_stand_up`)."""
    from ase.build import molecule as ase_molecule
    from ase.data import atomic_numbers

    from dacscreen.elements import pauling

    path = Path(name)
    if path.is_file():
        try:
            mol, bind = ase.io.read(path), 0
        except Exception as exc:
            raise StructureError(f"{path}: cannot read the adsorbate ({exc})") from exc
    else:
        try:
            mol = ase_molecule(name)
        except KeyError as exc:
            known = ", ".join((*SRR_SPECIES, *SMALL_ADSORBATES))
            raise StructureError(
                f"unknown adsorbate '{name}': not {known}, a molecule of ASE's database (ase.build.molecule) "
                "or a structure file"
            ) from exc
        heavy = [i for i, a in enumerate(mol) if a.symbol != "H"] or list(range(len(mol)))
        bind = min(heavy, key=lambda i: (pauling(mol[i].symbol), atomic_numbers[mol[i].symbol]))
    order = [bind, *(i for i in range(len(mol)) if i != bind)]
    pos = mol.positions[order] - mol.positions[bind]
    return Atoms([mol[i].symbol for i in order], positions=_stand_up(pos, pos.mean(axis=0), 0.1))


def orientations(n_metals: int, name: str) -> list[str]:
    """Placement orientations offered for an adsorbate on a single- or dual-atom site: the SRR
    intermediates' S/Li modes, else (one binding atom) on top of a metal or on the bridge."""
    if name not in SRR_SPECIES:
        return ["top1"] if n_metals == 1 else ["top1", "top2", "bridge"]
    modes = ["bridge", "top1", "top2", "li_n"] if n_metals == 2 else ["top1", "flat", "li_n"]
    if "Li" not in name:
        modes = [m for m in modes if m != "li_n"]
    return modes


def _rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation matrix taking unit vector a onto unit vector b (Rodrigues)."""
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    v, c = np.cross(a, b), float(np.dot(a, b))
    if np.linalg.norm(v) < 1e-8:
        return np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx * (1.0 / (1.0 + c))


def _orient(mol: Atoms, anchor: np.ndarray, axis: np.ndarray, built_upright: bool = False) -> np.ndarray:
    """Positions of ``mol`` with ``anchor`` at the origin, the body pointing up (+z) and the
    molecule's long axis along ``axis`` in the plane. ``built_upright``: the molecule already
    stands on its binding atom as built (one-atom binders, :func:`other_adsorbate`)."""
    pos = mol.positions - anchor
    if not built_upright:
        pos = _stand_up(pos, mol.positions.mean(axis=0) - anchor)
    flat = pos[:, :2] - pos[:, :2].mean(axis=0)
    if np.linalg.norm(flat) > 1e-6 and np.linalg.norm(axis[:2]) > 1e-6:
        _, _, vt = np.linalg.svd(flat)
        long_axis = np.array([*vt[0], 0.0])
        pos = pos @ _rotation(long_axis, np.array([axis[0], axis[1], 0.0])).T
    return pos


def _stand_up(pos: np.ndarray, body: np.ndarray, near: float = 0.3) -> np.ndarray:
    """Turn ``pos`` (anchor at the origin) so that the body points up (+z); an anchor within
    ``near`` (Å) of the centroid, or a long chain that would dip below the anchor, is laid flat
    instead."""
    up = np.array([0.0, 0.0, 1.0])
    upright = pos @ _rotation(body, up).T if np.linalg.norm(body) >= near else None
    if upright is not None and upright[:, 2].min() > -0.5:
        return upright
    _, _, vt = np.linalg.svd(pos - pos.mean(axis=0))
    pos = pos @ _rotation(vt[2], up).T
    pos[:, 2] -= min(0.0, pos[:, 2].min())
    return pos


@lru_cache(maxsize=4096)
def _oriented(name: str, anchor: tuple[float, float, float], axis_xy: tuple[float, float]) -> np.ndarray:
    """:func:`_orient` of molecule ``name``, cached on the exact inputs: most pair sites of one
    placement share the in-plane M1→M2 vector, so a screen orients each intermediate only a few
    times. (Only the in-plane part of the axis enters the orientation.)"""
    pos = _orient(molecule(name), np.array(anchor), np.array([*axis_xy, 0.0]), name not in SRR_SPECIES)
    pos.flags.writeable = False
    return pos


def place_adsorbate(site: Atoms, name: str, mode: str) -> Atoms:
    """Place intermediate ``name`` on ``site`` (metals tagged 1) in orientation ``mode``.

    Returns a new Atoms object with the adsorbate tagged 2, raised until no adsorbate atom is
    closer than :data:`MIN_CONTACT` to the substrate, apart from the anchor's target.
    """
    mol = molecule(name)
    metals = np.where(site.get_tags() == 1)[0]
    mpos = site.positions[metals]
    z_sheet = site.positions[site.get_tags() == 0][:, 2].mean()
    axis = mpos[-1] - mpos[0] if len(metals) == 2 else np.array([1.0, 0.0, 0.0])
    symbols = mol.get_chemical_symbols()
    s_idx = [i for i, x in enumerate(symbols) if x == "S"]
    li_idx = [i for i, x in enumerate(symbols) if x == "Li"]
    if mode == "bridge" and not s_idx:
        target, anchor, elem = mpos.mean(axis=0), mol.positions[0], symbols[0]
    elif mode == "bridge":
        target, anchor, elem = mpos.mean(axis=0), mol.positions[s_idx].mean(axis=0), "S"
    elif mode in ("top1", "top2"):
        m = mpos[0] if mode == "top1" or len(metals) == 1 else mpos[1]
        if s_idx:
            target, elem = m, "S"
            anchor = mol.positions[min(s_idx, key=lambda i: np.linalg.norm(mol.positions[i]))]
            if name == "S8":
                anchor = mol.positions[s_idx[0]]
        else:  # small adsorbates bind through their first atom
            target, elem, anchor = m, symbols[0], mol.positions[0]
    elif mode == "flat":
        target, anchor, elem = mpos[0], mol.positions.mean(axis=0), "S"
    elif mode == "li_n":
        if not li_idx:
            raise StructureError(f"orientation 'li_n' needs Li in the adsorbate, not {name}")
        target, anchor, elem = _nearest_n(site, mpos), mol.positions[li_idx[0]], "Li"
    else:
        raise StructureError(f"unknown orientation '{mode}'")
    pos = _oriented(name, tuple(float(x) for x in anchor), (float(axis[0]), float(axis[1])))
    base = np.array([target[0], target[1], max(target[2], z_sheet) + ANCHOR_HEIGHT.get(elem, 2.0)])
    ads = Atoms(symbols, positions=pos + base, tags=[2] * len(mol))
    _lift_clear(site, ads)
    out = site.copy()
    out += ads
    out.info.update(site.info)
    out.info.update({"adsorbate": name, "orientation": mode})
    return out


def _nearest_n(site: Atoms, mpos: np.ndarray) -> np.ndarray:
    n_pos = site.positions[(site.numbers == 7) & (site.get_tags() == 0)]
    return n_pos[int(np.argmin(np.linalg.norm(n_pos - mpos.mean(axis=0), axis=1)))]


def _in_plane_images(cell: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """(n, 3) shortest in-plane periodic images of displacements ``vec`` (..., 3): wrapped to
    the nearest lattice point, then the best of the 3 × 3 neighbouring images (exact for skewed
    cells, where rounding fractional coordinates alone is not)."""
    vec = vec.reshape(-1, 3)
    frac = np.linalg.solve(cell.T, vec.T).T
    vec = vec - np.round(frac[:, :2]) @ cell[:2]
    shifts = np.array([(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1)], dtype=float) @ cell[:2]
    images = vec[:, None, :] + shifts[None, :, :]  # (n, 9, 3)
    best = np.argmin((images[..., :2] ** 2).sum(-1), axis=1)
    return images[np.arange(len(vec)), best]


def _lift_clear(site: Atoms, ads: Atoms, step: float = 0.1, max_lift: float = 6.0) -> None:
    """Raise ``ads`` in z, in ``step`` Å increments up to ``max_lift``, until its closest contact
    with ``site`` is ≥ MIN_CONTACT (in place). The minimum-image vectors of every adsorbate–site
    pair are found once; all candidate lifts are then tried at once. Lifting is along
    z, normal to the sheet, so the nearest image of each pair stays the nearest at every lift."""
    vec = _in_plane_images(site.cell.array, site.positions[None, :, :] - ads.positions[:, None, :])
    lifts = np.arange(round(max_lift / step) + 1) * step
    dz = vec[None, :, 2] - lifts[:, None]
    closest = np.sqrt((vec[None, :, :2] ** 2).sum(-1) + dz**2).min(axis=1)
    clear = np.nonzero(closest >= MIN_CONTACT)[0]
    ads.positions[:, 2] += lifts[clear[0]] if len(clear) else lifts[-1]
