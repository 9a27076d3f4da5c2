"""Property-based tests of the thermodynamics and the structure builder."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dacscreen import thermo
from dacscreen.data.sites import build_site, placements_for
from dacscreen.data.validate import validate_site
from dacscreen.elements import DEFAULT_METALS

energies = st.floats(min_value=-50, max_value=50, allow_nan=False)


@given(st.fixed_dictionaries(dict.fromkeys(thermo.SRR_SPECIES, energies)), st.floats(-5, 0))
def test_steps_sum_to_profile(gstar: dict[str, float], mu_li: float) -> None:
    dgs = thermo.srr_free_energies(gstar, mu_li, "two-electron")
    profile = thermo.cumulative_profile(dgs)
    weighted = sum(w * d for w, d in zip(thermo.STEPS_PER_S8, dgs, strict=True))
    assert profile[-1] == pytest.approx(weighted, abs=1e-6)
    # overall: S8* + 16 Li -> 8 Li2S*, independent of the intermediates
    assert profile[-1] == pytest.approx(8 * gstar["Li2S"] - gstar["S8"] - 16 * mu_li, abs=1e-6)
    rds, dg = thermo.rate_determining_step(dgs)
    assert dgs[rds - 1] == dg
    assert dg == max(dgs) and thermo.limiting_potential(dgs, "two-electron") == pytest.approx(-dg / 2)
    per_product = thermo.srr_free_energies(gstar, mu_li)
    assert thermo.limiting_potential(per_product) == pytest.approx(
        thermo.limiting_potential(dgs, "two-electron"), abs=1e-6
    )


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from(DEFAULT_METALS), st.sampled_from(DEFAULT_METALS), st.sampled_from(["heptazine", "melon"])
)
def test_random_pairs_build_valid_sites(m1: str, m2: str, host: str) -> None:
    sc = (2, 2) if host == "heptazine" else (1, 2)
    for p in placements_for(host, sc, [m1, m2]):
        validate_site(build_site(host, [m1, m2], p.index), host)


@settings(max_examples=15, deadline=None)
@given(st.sampled_from(DEFAULT_METALS), st.sampled_from(["heptazine", "melon"]))
def test_homonuclear_swap_changes_nothing(m: str, host: str) -> None:
    sc = (2, 2) if host == "heptazine" else (1, 2)
    assert len(placements_for(host, sc, [m, m])) == len(placements_for(host, sc, ["Cu", "Cu"]))
    a = build_site(host, [m, m], 0)
    idx = [i for i, t in enumerate(a.get_tags()) if t == 1]
    swapped = a.copy()
    swapped.positions[idx] = a.positions[idx[::-1]]
    assert sorted(map(tuple, np.round(a.positions, 6))) == sorted(map(tuple, np.round(swapped.positions, 6)))
    assert a.get_chemical_formula() == swapped.get_chemical_formula()
