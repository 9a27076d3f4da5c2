"""Thermodynamics against numbers worked out by hand."""

from __future__ import annotations

import pytest

from dacscreen import thermo


def test_adsorption_energy_sign() -> None:
    # E(X*) = -105, E(*) = -100, E(X) = -3 -> -2 eV (binding)
    assert thermo.adsorption_energy(-105.0, -100.0, -3.0) == pytest.approx(-2.0)


GSTAR = {"S8": -10.0, "Li2S8": -14.0, "Li2S6": -12.0, "Li2S4": -9.0, "Li2S2": -6.5, "Li2S": -4.0}
MU_LI = -1.9


def test_step_free_energies_by_hand() -> None:
    dgs = thermo.srr_free_energies(GSTAR, MU_LI)
    # 1: -14 - (-10) - 2(-1.9) = -0.2
    # 2: 4(-12) - 3(-14) + 3.8 = -48 + 42 + 3.8 = -2.2
    # 3: 3(-9) - 2(-12) + 3.8 = -27 + 24 + 3.8 = 0.8
    # 4: 2(-6.5) - (-9) + 3.8 = -13 + 9 + 3.8 = -0.2
    # 5: 2(-4) - (-6.5) + 3.8 = -8 + 6.5 + 3.8 = 2.3
    assert dgs == pytest.approx([-0.2, -2.2, 0.8, -0.2, 2.3])
    assert thermo.rate_determining_step(dgs) == (5, pytest.approx(2.3))
    assert thermo.limiting_potential(dgs) == pytest.approx(-1.15)


def test_normalisations_agree_per_electron() -> None:
    two = thermo.srr_free_energies(GSTAR, MU_LI)
    per_e = thermo.srr_free_energies(GSTAR, MU_LI, "per-electron")
    per_p = thermo.srr_free_energies(GSTAR, MU_LI, "per-product")
    assert per_e == pytest.approx([x / 2 for x in two])
    assert per_p[1] == pytest.approx(two[1] / 4)  # 3 Li2S8 -> 4 Li2S6
    assert per_p[4] == pytest.approx(two[4] / 2)


def test_cumulative_profile_balances_lithium() -> None:
    profile = thermo.cumulative_profile([1.0] * 5)
    # 1 + 1/3 + 2/3 + 2 + 4 = 8 two-electron steps = 16 Li for 8 Li2S
    assert profile[-1] == pytest.approx(8.0)
    assert profile[0] == 0.0


def test_potential_shift_and_limiting_potential() -> None:
    dgs = [0.2, -0.1, 0.4, 0.0, 0.6]
    shifted = thermo.shift_to_potential(dgs, thermo.limiting_potential(dgs))
    assert max(shifted) == pytest.approx(0.0)
    assert thermo.to_li_in_scale(2.1) == pytest.approx(1.48)


def test_binding_energy_and_delta_chi() -> None:
    assert thermo.binding_energy(-210.0, -200.0, -4.0, -5.0) == pytest.approx(-1.0)
    assert thermo.binding_energy(-205.0, -200.0, -4.0) == pytest.approx(-1.0)
    assert thermo.delta_chi("Cu", "Ni") == pytest.approx(0.01)
    assert thermo.delta_chi("Cu", None) == 0.0


def test_srr_from_adsorption_roundtrip() -> None:
    emol = dict.fromkeys(thermo.SRR_SPECIES, -1.0)
    eads = {x: g + 1.0 for x, g in GSTAR.items()}
    res = thermo.srr_from_adsorption(eads, emol, MU_LI)
    assert res.rds_step == 5
    assert res.dg_rds == pytest.approx(2.3)
    assert "ZPE" in res.correction


def test_step_labels() -> None:
    assert thermo.SRR_STEPS[4].label == "Li2S2* + 2 Li → 2 Li2S*"


def test_binding_energy_with_displaced_hydrogen() -> None:
    # E(site) = -300, 3 H leave as 1/2 H2 (mu_H = -3.4): -300 - 10.2 + 290 + 4 + 5 = -11.2
    assert thermo.binding_energy(-300.0, -290.0, -4.0, -5.0, 3, -3.4) == pytest.approx(-11.2)
