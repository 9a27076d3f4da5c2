"""Reference structures relaxed with the labeller (SCIENCE.md §5).

* ``Li_bcc``: bcc Li, μ_Li = energy per atom (0 V vs Li/Li+);
* ``mol_<X>``: each SRR intermediate isolated in a cubic box (S8 gives μ_S = E/8);
* ``bulk_<M>``: the elemental ground-state metal (ASE reference state), μ_M per atom;
* ``host_<name>``: the bare host sheet, for E_bind;
* ``mol_H2``: H2, for the H a metal displaces on melon (μ_H = E/2).
"""

from __future__ import annotations

from ase import Atoms
from ase.build import bulk

from dacscreen.data.adsorbates import molecule
from dacscreen.data.hosts import build_host, default_supercell

MOLECULE_BOX = 18.0
"""Edge of the cubic box for isolated molecules (Å)."""
PER_ATOM_PREFIXES = ("Li_bcc", "bulk_")


def li_bcc() -> Atoms:
    """Conventional bcc Li cell (a = 3.44 Å)."""
    return bulk("Li", "bcc", a=3.44, cubic=True)


def boxed_molecule(name: str) -> Atoms:
    """SRR intermediate ``name`` centred in a periodic cubic box."""
    mol = molecule(name)
    mol.set_cell([MOLECULE_BOX] * 3)
    mol.center()
    mol.pbc = True
    return mol


def h2_molecule() -> Atoms:
    """H2 in the molecule box (μ_H = E/2, for H released when a metal replaces N–H)."""
    mol = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]], cell=[MOLECULE_BOX] * 3, pbc=True)
    mol.center()
    return mol


def bulk_metal(symbol: str) -> Atoms:
    """The elemental reference solid from ASE's reference states; bcc/fcc fall-backs for the
    few complex ground states ASE does not build (e.g. α-Mn is approximated as bcc)."""
    try:
        return bulk(symbol)
    except (ValueError, KeyError, RuntimeError):
        return bulk(symbol, "bcc", a=2.9)


def host_reference(name: str, supercell: tuple[int, int] | None = None) -> Atoms:
    """The bare host sheet in the screening supercell."""
    return build_host(name, supercell or default_supercell(name))


def reference_structures(host: str, metals: list[str], species: list[str]) -> dict[str, tuple[Atoms, bool]]:
    """All references as ``name -> (atoms, relax_cell)``."""
    refs: dict[str, tuple[Atoms, bool]] = {
        "Li_bcc": (li_bcc(), True),
        f"host_{host}": (host_reference(host), False),
    }
    for x in species:
        refs[f"mol_{x}"] = (boxed_molecule(x), False)
    refs["mol_H2"] = (h2_molecule(), False)
    for m in metals:
        refs[f"bulk_{m}"] = (bulk_metal(m), True)
    return refs


def reference_value(name: str, energy: float, natoms: int) -> float:
    """Energy per atom for bulk/Li references (a chemical potential), total energy otherwise."""
    return energy / natoms if name.startswith(PER_ATOM_PREFIXES) else energy
