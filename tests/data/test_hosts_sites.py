"""Host and site builders: composition, cell, connectivity, anchoring, placements."""

from __future__ import annotations

import numpy as np
import pytest

from dacscreen.data.hosts import build_host
from dacscreen.data.sites import build_site, placements_for
from dacscreen.data.validate import validate_site
from dacscreen.elements import DEFAULT_METALS
from dacscreen.errors import StructureError


def _metal_idx(atoms):
    return [i for i, t in enumerate(atoms.get_tags()) if t == 1]


def test_heptazine_host() -> None:
    host = build_host("heptazine", (2, 2))
    assert host.get_chemical_formula() == "C24N32"
    a, b, c = host.cell.lengths()
    assert a == pytest.approx(14.24, abs=0.1)
    assert b == pytest.approx(14.24, abs=0.1)
    assert c >= 15.0


def test_melon_host_has_nh_groups() -> None:
    host = build_host("melon", (1, 2))
    assert host.get_chemical_formula() == "C24H12N36"


@pytest.mark.parametrize("host", ["heptazine", "melon"])
@pytest.mark.parametrize("metals", [["Cu", "Ni"], ["Cu"], ["Ni"], ["Hf", "Au"], ["Zn", "Zn"]])
def test_sites_validate(host: str, metals: list[str]) -> None:
    for p in range(len(placements_for(host, (2, 2) if host == "heptazine" else (1, 2), metals))):
        atoms = build_site(host, metals, p)
        validate_site(atoms, host)
        d = atoms.get_all_distances(mic=True)
        np.fill_diagonal(d, 9.0)
        assert d.min() > 0.9


def test_cuni_heptazine_geometry() -> None:
    atoms = build_site("heptazine", ["Cu", "Ni"])
    i, j = _metal_idx(atoms)
    assert 2.4 <= atoms.get_distance(i, j, mic=True) <= 3.6
    assert atoms.get_chemical_formula() == "C24CuN32Ni"


def test_cuni_melon_geometry() -> None:
    atoms = build_site("melon", ["Cu", "Ni"])
    i, j = _metal_idx(atoms)
    assert 3.0 <= atoms.get_distance(i, j, mic=True) <= 3.8
    for m in (i, j):
        d = atoms.get_distances(m, range(len(atoms)), mic=True)
        assert sum(1 for k, a in enumerate(atoms) if a.symbol == "N" and d[k] < 2.2) >= 2


def test_hetero_pairs_get_swapped_placements() -> None:
    homo = placements_for("heptazine", (2, 2), ["Ni", "Ni"])
    hetero = placements_for("heptazine", (2, 2), ["Cu", "Ni"])
    assert len(hetero) == 2 * len(homo)


def test_unknown_placement() -> None:
    with pytest.raises(StructureError, match="placement 99"):
        build_site("melon", ["Cu"], 99)


def test_every_default_metal_builds() -> None:
    for m in DEFAULT_METALS:
        validate_site(build_site("melon", [m, "Cu"]), "melon")


@pytest.mark.parametrize("pair", [("Y", "Y"), ("La", "La"), ("La", "Y"), ("Cu", "Ni")])
def test_large_pairs_fit_the_heptazine_cavity(pair: tuple[str, str]) -> None:
    """Two large metals are pushed apart in the cavity (a Y–Y pair was built 2.60 Å apart,
    closer than 0.7 × 2 r_Y); small pairs keep the opposite-edge anchors."""
    for p in range(len(placements_for("heptazine", (2, 2), list(pair)))):
        site = build_site("heptazine", list(pair), p)
        validate_site(site, "heptazine")
        i, j = _metal_idx(site)
        if pair == ("Cu", "Ni"):
            assert site.get_distance(i, j, mic=True) == pytest.approx(2.6, abs=0.05)
