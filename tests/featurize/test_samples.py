"""Training targets attached to sample graphs."""

from __future__ import annotations

import numpy as np

from dacscreen.data.sites import build_site
from dacscreen.featurize.samples import relaxation_displacement


def test_displacement_takes_the_minimum_image() -> None:
    site = build_site("melon", ["Cu", "Ni"])
    relaxed = site.copy()
    a = site.cell[0]
    relaxed.positions[0] += a - np.array([0.0, 0.0, 0.3])  # moved 0.3 Å down, wrapped one cell over
    disp = relaxation_displacement(site, relaxed)
    np.testing.assert_allclose(disp[0], [0.0, 0.0, -0.3], atol=1e-9)
    np.testing.assert_allclose(disp[1:], 0.0, atol=1e-9)


def test_displacement_is_unknown_without_a_matching_relaxed_structure() -> None:
    site = build_site("melon", ["Cu", "Ni"])
    assert np.isnan(relaxation_displacement(site, None)).all()
    other = build_site("melon", ["Fe", "Ni"])
    assert np.isnan(relaxation_displacement(site, other)).all()
