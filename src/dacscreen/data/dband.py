"""d-band centres from a GFN1-xTB (tblite) calculation (SCIENCE.md §6).

The d-projected density of states of metal m is built from Mulliken weights of the molecular
orbitals, w_i = Σ_{μ∈d(m)} C_μi (S C)_μi, broadened by Gaussians of width ``sigma`` (eV). The
centre ε_d = ∫E ρ_d(E) dE / ∫ρ_d(E) dE is taken over ``window`` (eV relative to the Fermi level,
default [−10, 0]) and reported relative to E_F (eV). When a metal has no d weight inside the
window (a filled, deep d shell such as Zn or Cd in GFN1-xTB) the full band is used and the
window is recorded as (−inf, inf). Γ-point only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.units import Bohr, Hartree

from dacscreen.data.calculators import requires


@dataclass(frozen=True)
class DBandResult:
    """d-band centres (eV vs E_F) of the requested atoms, with the window used."""

    centres: dict[int, float]
    fermi: float
    window: tuple[float, float]
    method: str = "tblite-GFN1-xTB-mulliken"


def _fermi_level(eps: np.ndarray, occ: np.ndarray) -> float:
    occupied = eps[occ > 0.5 * occ.max()]
    empty = eps[occ <= 0.5 * occ.max()]
    homo = occupied.max()
    return float((homo + empty.min()) / 2.0) if len(empty) else float(homo)


def d_weights(
    atoms: Atoms, method: str = "GFN1-xTB", accuracy: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run tblite once; return orbital energies (eV), occupations, per-atom d weights, E_F."""
    interface = requires("tblite.interface", "tblite")
    calc = interface.Calculator(
        method,
        atoms.numbers,
        atoms.positions / Bohr,
        lattice=np.asarray(atoms.cell) / Bohr if atoms.pbc.any() else None,
        periodic=atoms.pbc if atoms.pbc.any() else None,
    )
    calc.set("verbosity", 0)
    calc.set("accuracy", accuracy)
    calc.set("save-integrals", 1)
    res = calc.singlepoint()
    eps = np.asarray(res.get("orbital-energies")) * Hartree
    occ = np.asarray(res.get("orbital-occupations"))
    if occ.ndim > 1:
        occ = occ.sum(axis=0)
    coeff = np.asarray(res.get("orbital-coefficients"))
    overlap = np.asarray(res.get("overlap-matrix"))
    orb_shell = np.asarray(calc.get("orbital-map"))
    shell_atom = np.asarray(calc.get("shell-map"))
    ang = np.asarray(calc.get("angular-momenta"))
    if coeff.ndim == 3:
        coeff = coeff[0]
    mull = coeff * (overlap @ coeff)  # (n_ao, n_mo)
    is_d = ang[orb_shell] == 2
    atom_of = shell_atom[orb_shell]
    weights = np.zeros((len(atoms), mull.shape[1]))
    for mu in np.where(is_d)[0]:
        weights[atom_of[mu]] += mull[mu]
    return eps, occ, weights, np.array(_fermi_level(eps, occ))


def d_band_centres(
    atoms: Atoms,
    indices: list[int] | None = None,
    window: tuple[float, float] = (-10.0, 0.0),
    sigma: float = 0.2,
) -> DBandResult:
    """d-band centres (eV vs E_F) of ``indices`` (default: the metals, tag 1)."""
    if indices is None:
        indices = [int(i) for i in np.where(atoms.get_tags() == 1)[0]]
    eps, _, weights, ef = d_weights(atoms)
    centres = {i: _centre(eps, weights[i], float(ef), window, sigma) for i in indices}
    return DBandResult(centres, float(ef), window)


def _centre(eps: np.ndarray, w: np.ndarray, ef: float, window: tuple[float, float], sigma: float) -> float:
    """First moment of the Gaussian-broadened d-DOS over ``window`` (eV vs E_F); NaN if empty."""
    grid = np.linspace(window[0], window[1], 4001) + ef
    rho = (w[None, :] * np.exp(-((grid[:, None] - eps[None, :]) ** 2) / (2 * sigma**2))).sum(axis=1)
    norm = np.trapezoid(rho, grid)
    if norm < 0.05:  # (almost) no d weight in the window: no meaningful centre
        return float("nan")
    centre = float(np.trapezoid(grid * rho, grid) / norm - ef)
    return centre if window[0] - 1.0 <= centre <= window[1] + 1.0 else float("nan")
