"""Element validation and the per-metal descriptors used by featurisers and baselines.

All values come from pymatgen's element data: Pauling electronegativity (dimensionless),
covalent radius (Å, from ASE), first ionisation energy (eV).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from ase.data import atomic_numbers, covalent_radii
from pymatgen.core.periodic_table import Element

from dacscreen.errors import ElementError

METALS_3D = ["Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn"]
METALS_4D = ["Y", "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd"]
METALS_5D = ["Hf", "Ta", "W", "Re", "Os", "Ir", "Pt", "Au"]
DEFAULT_METALS: list[str] = METALS_3D + METALS_4D + METALS_5D
"""The default screening set: Sc–Zn, Y–Cd and Hf–Au (28 metals)."""


def check_element(symbol: str) -> str:
    """Return ``symbol`` if it is a real element, else raise an error that names it."""
    if symbol not in atomic_numbers or symbol == "X":
        raise ElementError(f"unknown element symbol '{symbol}'")
    return symbol


def check_metals(metals: list[str], *, allow_non_transition: bool = False) -> list[str]:
    """Validate a metal list: known symbols, non-empty, transition metals unless allowed."""
    if not metals:
        raise ElementError("the metal list is empty; give at least one metal")
    for sym in metals:
        check_element(sym)
        el = Element(sym)
        if not allow_non_transition and not el.is_transition_metal:
            raise ElementError(
                f"'{sym}' is not a transition metal; pass --allow-non-transition "
                "(or allow_non_transition: true in the config) to screen it"
            )
    return list(dict.fromkeys(metals))


@lru_cache(maxsize=256)
def pauling(symbol: str) -> float:
    """Pauling electronegativity χ (dimensionless)."""
    return float(Element(symbol).X)


def delta_chi(m1: str, m2: str | None) -> float:
    """Electronegativity mismatch |χ(M1) − χ(M2)|; 0 for a single-atom site (m2 None/empty)."""
    if not m2:
        return 0.0
    return abs(pauling(m1) - pauling(m2))


@lru_cache(maxsize=256)
def d_electrons(symbol: str) -> int:
    """Number of d electrons in the ground-state configuration of the free atom."""
    count = 0
    for n_l, occ in valence_subshells(symbol):
        if n_l.endswith("d"):
            count += occ
    return count


def valence_subshells(symbol: str) -> list[tuple[str, int]]:
    """Ground-state subshells of the free atom in filling order, e.g. [("1s", 2), ..., ("3d", 8)]."""
    struct = Element(symbol).full_electronic_structure
    return [(f"{n}{orb}", int(occ)) for n, orb, occ in struct]


@lru_cache(maxsize=256)
def element_features(symbol: str) -> tuple[float, ...]:
    """Descriptor vector of an element that lets models extrapolate to unseen metals.

    Order: Pauling χ, group, period, d-electron count, covalent radius (Å),
    first ionisation energy (eV), atomic mass (u).
    """
    el = Element(symbol)
    chi = float(el.X) if el.X == el.X else 0.0
    ie = float(el.ionization_energies[0]) if el.ionization_energies else 0.0
    return (
        chi,
        float(el.group),
        float(el.row),
        float(d_electrons(symbol)),
        float(covalent_radii[el.Z]),
        ie,
        float(el.atomic_mass),
    )


ELEMENT_FEATURE_NAMES = ("chi", "group", "period", "d_electrons", "cov_radius", "ie1", "mass")


REFERENCE_PAIR = ("Cu", "Ni")
"""The reference study's pair, Cu1Ni1: Cu on the first anchor, as the shipped labels build it."""


def canonical_metals(metals: Sequence[str]) -> tuple[str, ...]:
    """The one order of a site's metals, whatever order a user gives them: :func:`metal_rank`
    order, except the reference pair, which keeps the study's name (Cu1Ni1). The first metal
    goes on the first anchor, so the order names a structure."""
    ordered = tuple(sorted(metals, key=metal_rank))
    return REFERENCE_PAIR if sorted(ordered) == sorted(REFERENCE_PAIR) else ordered


def metal_rank(metal: str) -> tuple[int, int]:
    """Canonical metal order: the default metal set's order (Sc–Zn, Y–Cd, Hf–Au), then any
    other element by atomic number."""
    if metal in DEFAULT_METALS:
        return (0, DEFAULT_METALS.index(metal))
    return (1, atomic_numbers[metal])
