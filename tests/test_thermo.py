"""Thermodynamics against numbers worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from dacscreen import thermo


def test_adsorption_energy_sign() -> None:
    # E(X*) = -105, E(*) = -100, E(X) = -3 -> -2 eV (binding)
    assert thermo.adsorption_energy(-105.0, -100.0, -3.0) == pytest.approx(-2.0)


GSTAR = {"S8": -10.0, "Li2S8": -14.0, "Li2S6": -12.0, "Li2S4": -9.0, "Li2S2": -6.5, "Li2S": -4.0}
MU_LI = -1.9


def test_step_free_energies_by_hand() -> None:
    """The per-product form (the default, SCIENCE.md §5), each step worked out by hand."""
    dgs = thermo.srr_free_energies(GSTAR, MU_LI)
    # 1: S8* + 2 Li -> Li2S8*:           -14 - (-10) - 2(-1.9)          = -0.2
    # 2: 3/4 Li2S8* + 1/2 Li -> Li2S6*:  -12 - 0.75(-14) - 0.5(-1.9)    = -12 + 10.5 + 0.95 = -0.55
    # 3: 2/3 Li2S6* + 2/3 Li -> Li2S4*:  -9 - (2/3)(-12) - (2/3)(-1.9)  = -9 + 8 + 1.2667 = 0.26667
    # 4: 1/2 Li2S4* + Li -> Li2S2*:      -6.5 - 0.5(-9) - (-1.9)        = -6.5 + 4.5 + 1.9 = -0.1
    # 5: 1/2 Li2S2* + Li -> Li2S*:       -4 - 0.5(-6.5) - (-1.9)        = -4 + 3.25 + 1.9 = 1.15
    assert dgs == pytest.approx([-0.2, -0.55, 0.8 / 3, -0.1, 1.15])
    assert thermo.rate_determining_step(dgs) == (5, pytest.approx(1.15))
    # U_L = -max(dG_i / n_e,i), n_e = (2, 1/2, 2/3, 1, 1): max(-0.1, -1.1, 0.4, -0.1, 1.15)
    assert thermo.limiting_potential(dgs) == pytest.approx(-1.15)
    assert thermo.electrons() == pytest.approx((2, 0.5, 2 / 3, 1, 1))


def test_two_electron_form_by_hand() -> None:
    dgs = thermo.srr_free_energies(GSTAR, MU_LI, "two-electron")
    # 1: -14 - (-10) - 2(-1.9) = -0.2
    # 2: 4(-12) - 3(-14) + 3.8 = -48 + 42 + 3.8 = -2.2
    # 3: 3(-9) - 2(-12) + 3.8 = -27 + 24 + 3.8 = 0.8
    # 4: 2(-6.5) - (-9) + 3.8 = -13 + 9 + 3.8 = -0.2
    # 5: 2(-4) - (-6.5) + 3.8 = -8 + 6.5 + 3.8 = 2.3
    assert dgs == pytest.approx([-0.2, -2.2, 0.8, -0.2, 2.3])
    assert thermo.limiting_potential(dgs, "two-electron") == pytest.approx(-1.15)


def test_limiting_potential_does_not_depend_on_the_form() -> None:
    forms = thermo.NORMALISATIONS
    uls = [thermo.limiting_potential(thermo.srr_free_energies(GSTAR, MU_LI, f), f) for f in forms]
    assert uls == pytest.approx([uls[0]] * len(forms))
    cumulative = thermo.srr_free_energies(GSTAR, MU_LI, "cumulative")
    two = thermo.srr_free_energies(GSTAR, MU_LI, "two-electron")
    assert sum(cumulative) == pytest.approx(thermo.cumulative_profile(two)[-1])


def test_cumulative_profile_balances_lithium() -> None:
    profile = thermo.cumulative_profile([1.0] * 5)
    # 1 + 1/3 + 2/3 + 2 + 4 = 8 two-electron steps = 16 Li for 8 Li2S
    assert profile[-1] == pytest.approx(8.0)
    assert profile[0] == 0.0


def test_potential_shift_and_limiting_potential() -> None:
    dgs = [0.2, -0.1, 0.4, 0.0, 0.6]
    shifted = thermo.shift_to_potential(dgs, thermo.limiting_potential(dgs))
    assert max(shifted) == pytest.approx(0.0)
    # n_e = 1 for step 5: 0.6 + 1 * U_L(-0.6) = 0; step 3: 0.4 + (2/3)(-0.6) = 0
    assert shifted[4] == pytest.approx(0.0) and shifted[2] == pytest.approx(0.0)
    assert thermo.to_li_in_scale(2.1) == pytest.approx(1.48)


def test_binding_energy_and_delta_chi() -> None:
    assert thermo.binding_energy(-210.0, -200.0, -4.0, -5.0) == pytest.approx(-1.0)
    assert thermo.binding_energy(-205.0, -200.0, -4.0) == pytest.approx(-1.0)
    assert thermo.delta_chi("Cu", "Ni") == pytest.approx(0.01)
    assert thermo.delta_chi("Cu", None) == 0.0


def test_srr_profile_members_and_missing_species() -> None:
    """The one thermo road: per-member profiles (σ from their spread), ΔG5 from Li2S2 and Li2S
    alone, and no ΔG_RDS when an intermediate is missing."""
    emol = dict.fromkeys(thermo.SRR_SPECIES, -1.0)
    eads = {x: np.array([g + 1.0, g + 1.2]) for x, g in GSTAR.items()}
    prof = thermo.srr_profile(eads, emol, MU_LI)
    assert prof.normalisation == "per-product" and "ZPE" in prof.correction
    # member 2 has every G* 0.2 higher: dG5 shifts by 0.2 - 0.1 = 0.1 -> 1.15 and 1.25
    assert prof.step_dgs[4] == pytest.approx(1.2) and prof.step_std[4] == pytest.approx(0.05)
    assert prof.rds_step == 5 and prof.dg_rds == pytest.approx(1.2)
    only5 = thermo.srr_profile({"Li2S2": -5.5, "Li2S": -3.0}, emol, MU_LI)
    assert only5.step_dgs[4] == pytest.approx(1.15)
    assert np.isnan(only5.step_dgs[0]) and np.isnan(only5.dg_rds) and only5.rds_step == 0
    assert only5.columns()["dg_5"] == pytest.approx(1.15)


def test_step_labels() -> None:
    assert thermo.SRR_STEPS[4].label == "Li2S2* + 2 Li → 2 Li2S*"


def test_binding_energy_with_displaced_hydrogen() -> None:
    # E(site) = -300, 3 H leave as 1/2 H2 (mu_H = -3.4): -300 - 10.2 + 290 + 4 + 5 = -11.2
    assert thermo.binding_energy(-300.0, -290.0, -4.0, -5.0, 3, -3.4) == pytest.approx(-11.2)
