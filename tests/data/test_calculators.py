"""Swappable calculators: the CHGNet fast path and lookup by name."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from dacscreen.data.calculators import get_calculator
from dacscreen.errors import ConfigError


def test_chgnet_skips_stress_only_when_not_asked() -> None:
    """Forces and energy without the stress head equal CHGNet's full ``efsm`` prediction, and a
    cell relaxation still gets its stress."""
    dynamics = pytest.importorskip("chgnet.model.dynamics")
    calc = get_calculator("chgnet")
    atoms = bulk("Cu", cubic=True) * (2, 1, 1)
    atoms.rattle(0.05, seed=1)
    atoms.calc = calc
    forces, energy = atoms.get_forces(), atoms.get_potential_energy()
    assert "stress" not in calc.results
    ref = atoms.copy()
    ref.calc = dynamics.CHGNetCalculator(model=calc.model)
    assert np.allclose(forces, ref.get_forces(), atol=1e-6)
    assert energy == pytest.approx(ref.get_potential_energy(), abs=1e-6)
    assert np.allclose(atoms.get_stress(), ref.get_stress(), atol=1e-6)


def test_unknown_calculator_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown calculator 'nope'"):
        get_calculator("nope")
    with pytest.raises(ConfigError, match="has no attribute Nope"):
        get_calculator("ase.calculators.emt:Nope")
