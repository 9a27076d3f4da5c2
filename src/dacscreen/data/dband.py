"""d-band centres from a GFN1-xTB (tblite) calculation (SCIENCE.md §6).

The d-projected density of states of metal m is built from Mulliken weights of the molecular
orbitals, w_i = Σ_{μ∈d(m)} C_μi (S C)_μi, broadened by Gaussians of width ``sigma`` (eV). The
centre ε_d = ∫E ρ_d(E) dE / ∫ρ_d(E) dE is taken over a window (eV relative to the Fermi level)
and reported relative to E_F (eV). Two windows are stored (SCIENCE.md §6): the occupied band
:data:`OCCUPIED` [−10, 0] eV and the full band :data:`FULL` [−10, +10] eV, which papers and
public data sets mostly quote. A metal with no d weight inside a window gets no value there
(NaN): there is no fall-back to an unbounded window (that fall-back once gave −589.7 eV for
single-atom Sc). GFN1-xTB has no d basis on Zn and Cd, so they get no xTB value. Γ-point only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.units import Bohr, Hartree

from dacscreen.optional import requires

OCCUPIED: tuple[float, float] = (-10.0, 0.0)
"""The occupied d band, eV vs E_F (keys ``dband_m1``, ``dband_m2``, ``dband_window``)."""
FULL: tuple[float, float] = (-10.0, 10.0)
"""The full d band, eV vs E_F (keys ``dband_full_m1``, ``dband_full_m2``, ``dband_full_window``)."""


def window_text(window: tuple[float, float]) -> str:
    """A window as stored, e.g. ``-10,0``."""
    return f"{window[0]:g},{window[1]:g}"


def dband_keys(occupied: list[float], full: list[float], method: str) -> dict[str, object]:
    """The record keys of both centres of the site's metals (first, last), each with its
    window; a NaN centre (no d weight in the window) is left out."""
    keys: dict[str, object] = {
        "dband_method": method,
        "dband_window": window_text(OCCUPIED),
        "dband_full_window": window_text(FULL),
    }
    for prefix, vals in (("dband", occupied), ("dband_full", full)):
        for name, value in zip((f"{prefix}_m1", f"{prefix}_m2"), (vals[0], vals[-1]), strict=True):
            if np.isfinite(value):
                keys[name] = float(value)
    return keys


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


def d_band_both(atoms: Atoms, sigma: float = 0.2) -> dict[str, object]:
    """:func:`dband_keys` of the metals (tag 1) from one GFN1-xTB run: occupied and full band."""
    indices = [int(i) for i in np.where(atoms.get_tags() == 1)[0]]
    eps, _, weights, ef = d_weights(atoms)
    occ, full = ([_centre(eps, weights[i], float(ef), w, sigma) for i in indices] for w in (OCCUPIED, FULL))
    return dband_keys(occ, full, DBandResult({}, 0.0, OCCUPIED).method)


def _centre(eps: np.ndarray, w: np.ndarray, ef: float, window: tuple[float, float], sigma: float) -> float:
    """First moment of the Gaussian-broadened d-DOS over ``window`` (eV vs E_F); NaN if empty."""
    grid = np.linspace(window[0], window[1], 4001) + ef
    rho = (w[None, :] * np.exp(-((grid[:, None] - eps[None, :]) ** 2) / (2 * sigma**2))).sum(axis=1)
    norm = np.trapezoid(rho, grid)
    if norm < 0.05:  # (almost) no d weight in the window: no meaningful centre
        return float("nan")
    centre = float(np.trapezoid(grid * rho, grid) / norm - ef)
    return centre if window[0] - 1.0 <= centre <= window[1] + 1.0 else float("nan")
