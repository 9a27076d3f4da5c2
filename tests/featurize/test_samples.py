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


def test_orientation_variants_cover_every_other_start_with_the_same_label() -> None:
    from dacscreen.data.adsorbates import orientations
    from dacscreen.featurize.samples import Sample, input_orientation, orientation_variants

    site = build_site("melon", ["Cu", "Ni"])
    s = Sample("melon", "Cu", "Ni", 0, "Li2S", "top2", -2.5, (np.nan, np.nan), site, "m", site)
    variants = orientation_variants(s)
    assert sorted([v.orientation for v in variants] + ["top2"]) == sorted(orientations(2, "Li2S"))
    assert all(v.e_ads == -2.5 and v.relaxed is None for v in variants)
    template = orientation_variants(Sample("melon", "Cu", "Ni", 0, "Li2S", "template", -2.5, (0.0, 0.0)))
    assert input_orientation(Sample("melon", "Cu", "Ni", 0, "Li2S", "template", -2.5, (0.0, 0.0))) == "bridge"
    assert [v.orientation for v in template] == orientations(2, "Li2S")[1:]
    assert orientation_variants(Sample("melon", "Cu", "Ni", 0, "clean", "none", -1.0, (0.0, 0.0))) == []
