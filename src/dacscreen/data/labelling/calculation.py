"""The labeller's calculator: an ASE calculator built once from the config, and the plumbing a
single point needs on top of it (GPAW builds its own per structure; GFN1-xTB needs the lowest
spin state; d-band centres come from a second calculator)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import CalculationFailed

from dacscreen.config import CalculatorConfig
from dacscreen.data.calculators import get_calculator, lowest_spin
from dacscreen.data.dft import SCFConvergenceError

log = logging.getLogger(__name__)


class Calculation:
    """The configured calculator (``name`` and ``kwargs``), created on first use, and whether
    clean sites also get their d-band centres (``dband``)."""

    def __init__(self, calculator: CalculatorConfig, dband: bool) -> None:
        self.name = calculator.name
        self.kwargs = dict(calculator.kwargs)
        self.dband = dband
        self._calc: Any = None

    @property
    def calc(self) -> Any:
        """The ASE calculator, created on first use."""
        if self._calc is None:
            self._calc = get_calculator(self.name, **self.kwargs)
        return self._calc

    def attach(self, atoms: Atoms) -> Atoms:
        """A bare copy of ``atoms`` with the calculator attached and the initial moments it
        needs (GPAW: Hund's rule on the metals, a fresh calculator; GFN1-xTB: the lowest spin)."""
        a = bare(atoms, atoms.positions)
        if self.name == "gpaw":
            from dacscreen.data.dft import gpaw_calculator, gpaw_settings, with_moments

            a = with_moments(a)
            a.calc = gpaw_calculator(a, gpaw_settings(self.kwargs))
            return a
        if self.name == "tblite":
            a.set_initial_magnetic_moments(lowest_spin(a))
        a.calc = self.calc
        return a

    def single_point(self, atoms: Atoms, dband: bool) -> tuple[float, dict[str, Any]]:
        """Energy (eV) of ``atoms`` as given, and extra keys (GPAW: moment, d-band centres);
        raises :class:`SCFConvergenceError` when the SCF does not converge."""
        if self.name == "gpaw":
            from dacscreen.data.dft import gpaw_energy, gpaw_settings

            return gpaw_energy(atoms, gpaw_settings(self.kwargs), dband)
        a = self.attach(atoms)
        extra = self.dband_keys(atoms) if dband and self.dband else {}
        try:
            return float(a.get_potential_energy()), extra
        except CalculationFailed as exc:  # e.g. a GFN1-xTB SCF that does not converge
            raise SCFConvergenceError(f"{a.get_chemical_formula()}: {exc}") from exc

    @staticmethod
    def dband_keys(atoms: Atoms) -> dict[str, Any]:
        """Both d-band centres of the metals (:func:`dacscreen.data.dband.d_band_both`); none,
        with a warning, when that calculation fails (it must not lose the relaxation)."""
        from dacscreen.data.dband import d_band_both

        try:
            return d_band_both(atoms)
        except Exception as exc:
            log.warning("d-band calculation failed: %s", exc)
            return {}


def bare(atoms: Atoms, positions: np.ndarray) -> Atoms:
    """``atoms``' species, cell and tags at ``positions``, without stored keys or arrays."""
    return Atoms(atoms.numbers, positions=positions, cell=atoms.cell, pbc=atoms.pbc, tags=atoms.get_tags())
