"""Intermediates and their placement on sites."""

from __future__ import annotations

from pathlib import Path

import ase.build
import ase.io
import numpy as np
import pytest
from ase import Atoms

from dacscreen.data.adsorbates import molecule, orientations, place_adsorbate
from dacscreen.data.sites import build_site
from dacscreen.errors import StructureError
from dacscreen.thermo import SRR_SPECIES

FORMULA = {"S8": "S8", "Li2S8": "Li2S8", "Li2S6": "Li2S6", "Li2S4": "Li2S4", "Li2S2": "Li2S2", "Li2S": "Li2S"}


@pytest.mark.parametrize("name", SRR_SPECIES)
def test_molecules_are_sane(name: str) -> None:
    mol = molecule(name)
    assert mol.get_chemical_formula() == FORMULA[name]
    d = mol.get_all_distances()
    np.fill_diagonal(d, 9.0)
    assert 1.9 < d.min() < 2.5


@pytest.mark.parametrize("host", ["heptazine", "melon"])
@pytest.mark.parametrize("name", SRR_SPECIES)
def test_placements_above_site(host: str, name: str) -> None:
    site = build_site(host, ["Cu", "Ni"])
    z_sheet = site.positions[:, 2].mean()
    for mode in orientations(2, name):
        atoms = place_adsorbate(site, name, mode)
        tags = atoms.get_tags()
        assert (tags == 2).sum() == len(molecule(name))
        d = atoms.get_all_distances(mic=True)[tags == 2][:, tags != 2]
        assert d.min() >= 1.85
        assert atoms.positions[tags == 2, 2].min() > z_sheet + 1.0


def test_in_plane_images_match_ase_minimum_image() -> None:
    """The clearance check's periodic images agree with ASE's exact minimum image on a skewed
    (hexagonal, 120°) cell with vacuum along z."""
    from ase.geometry import find_mic

    from dacscreen.data.adsorbates import _in_plane_images

    cell = np.array([[7.1, 0.0, 0.0], [-3.55, 6.149, 0.0], [0.0, 0.0, 25.0]])
    rng = np.random.default_rng(0)
    vec = rng.uniform(-15.0, 15.0, size=(500, 3)) * [1.0, 1.0, 0.2]
    ours = _in_plane_images(cell, vec)
    ref, _ = find_mic(vec, cell, pbc=[True, True, False])
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), np.linalg.norm(ref, axis=1), atol=1e-9)


def test_molecule_returns_an_independent_copy() -> None:
    first = molecule("Li2S2")
    first.positions += 10.0
    assert np.abs(molecule("Li2S2").positions.mean(axis=0)).max() < 1e-9


@pytest.mark.parametrize(("name", "binder"), [("CO", "C"), ("NH3", "N"), ("H2O", "O"), ("SH2", "S")])
def test_any_molecule_of_ase_binds_through_one_atom(name: str, binder: str) -> None:
    """A molecule of ASE's database is placed on a metal through its least electronegative
    heavy atom, which is the adsorbate's lowest atom, above the metal."""
    site = build_site("melon", ["Cu", "Ni"])
    for mode in orientations(2, name):
        atoms = place_adsorbate(site, name, mode)
        ads = atoms[atoms.get_tags() == 2]
        assert sorted(ads.get_chemical_symbols()) == sorted(ase.build.molecule(name).get_chemical_symbols())
        assert ads[0].symbol == binder and ads.positions[:, 2].min() >= ads.positions[0, 2] - 1e-6
    assert orientations(2, name) == ["top1", "top2", "bridge"] and orientations(1, name) == ["top1"]


def test_an_adsorbate_from_a_structure_file(tmp_path: Path) -> None:
    """A file gives any adsorbate (here COOH, not in ASE's database): it binds through its first atom."""
    cooh = Atoms("COOH", positions=[[0, 0, 0], [1.2, 0, 0.6], [-1.1, 0, 0.7], [-1.2, 0, 1.6]])
    path = tmp_path / "cooh.xyz"
    ase.io.write(path, cooh)
    atoms = place_adsorbate(build_site("melon", ["Cu"]), str(path), "top1")
    ads = atoms[atoms.get_tags() == 2]
    assert ads.get_chemical_formula() == cooh.get_chemical_formula() and ads[0].symbol == "C"
    with pytest.raises(StructureError, match="XeF6"):
        place_adsorbate(build_site("melon", ["Cu"]), "XeF6", "top1")


@pytest.mark.parametrize("name", ["CO2", "CH4"])
def test_a_molecule_centred_on_its_binding_atom_lies_flat(name: str) -> None:
    site = build_site("melon", ["Cu", "Ni"])
    atoms = place_adsorbate(site, name, "top1")
    ads = atoms[atoms.get_tags() == 2]
    assert ads[0].symbol == "C" and np.ptp(ads.positions[:, 2]) < 1.3
    assert ads.positions[:, 2].min() > site.positions[:, 2].max() + 1.0
