"""``dacscreen build`` end to end."""

from __future__ import annotations

from pathlib import Path

import ase.io
import numpy as np
from typer.testing import CliRunner

from dacscreen.cli import app

runner = CliRunner()


def test_build_heptazine_cuni(tmp_path: Path) -> None:
    out = tmp_path / "cuni.extxyz"
    res = runner.invoke(app, ["build", "--host", "heptazine", "--metals", "Cu", "Ni", "--out", str(out)])
    assert res.exit_code == 0, res.output
    atoms = ase.io.read(out)
    assert atoms.get_chemical_formula() == "C24CuN32Ni"
    assert abs(atoms.cell.lengths()[0] - 14.2) < 0.2
    d = atoms.get_all_distances(mic=True)
    np.fill_diagonal(d, 9)
    assert d.min() > 1.0


def test_build_with_adsorbate_tags(tmp_path: Path) -> None:
    out = tmp_path / "ads.extxyz"
    res = runner.invoke(app, ["build", "--metals", "Cu", "Ni", "--adsorbate", "Li2S2", "--out", str(out)])
    assert res.exit_code == 0, res.output
    atoms = ase.io.read(out)
    tagged = [a.symbol for a in atoms if a.tag == 2]
    assert sorted(tagged) == ["Li", "Li", "S", "S"]


def test_build_melon_cif(tmp_path: Path) -> None:
    out = tmp_path / "cuni_melon.cif"
    res = runner.invoke(app, ["build", "--host", "melon", "--metals", "Cu", "Ni", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "Cu" in ase.io.read(out).get_chemical_symbols()


def test_build_unknown_element(tmp_path: Path) -> None:
    res = runner.invoke(app, ["build", "--metals", "Xx", "Ni", "--out", str(tmp_path / "x.xyz")])
    assert res.exit_code != 0
    assert "Xx" in res.output


def test_build_non_transition_needs_flag(tmp_path: Path) -> None:
    res = runner.invoke(app, ["build", "--metals", "Na", "--out", str(tmp_path / "x.xyz")])
    assert res.exit_code == 2
    assert "Na" in res.output
    res = runner.invoke(
        app, ["build", "--metals", "Na", "--allow-non-transition", "--out", str(tmp_path / "x.xyz")]
    )
    assert res.exit_code == 0, res.output
