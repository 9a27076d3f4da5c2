"""Bad input: a clear message naming the file/key/element, exit code 2, nothing lost."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import ase
import pytest
from ase.build import molecule
from typer.testing import CliRunner

from dacscreen.cli import app
from dacscreen.data.store import Record, Store
from dacscreen.errors import DacscreenError

runner = CliRunner()
ASE_VASP = Path(ase.__file__).parent / "test" / "testdata" / "vasp"


def _run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


def test_unknown_config_key(tmp_path: Path) -> None:
    cfg = tmp_path / "build.yaml"
    cfg.write_text("host: melon\nmetalz: [Cu]\n")
    res = _run("build", "--config", str(cfg), "--out", str(tmp_path / "x.xyz"))
    assert res.exit_code == 2
    assert "metalz" in res.output and "build.yaml" in res.output


def test_wrong_type_in_config(tmp_path: Path) -> None:
    cfg = tmp_path / "build.yaml"
    cfg.write_text("placement: first\n")
    res = _run("build", "--config", str(cfg), "--out", str(tmp_path / "x.xyz"))
    assert res.exit_code == 2 and "placement" in res.output


def test_empty_metal_list(tmp_path: Path) -> None:
    cfg = tmp_path / "build.yaml"
    cfg.write_text("metals: []\n")
    res = _run("build", "--config", str(cfg), "--out", str(tmp_path / "x.xyz"))
    assert res.exit_code == 2 and "empty" in res.output


def test_unknown_element_and_non_transition(tmp_path: Path) -> None:
    res = _run("build", "--metals", "Qq", "--out", str(tmp_path / "x.xyz"))
    assert res.exit_code == 2 and "Qq" in res.output
    res = _run("build", "--metals", "Al", "Cu", "--out", str(tmp_path / "x.xyz"))
    assert res.exit_code == 2 and "Al" in res.output


def _vasp_tree(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    good = root / "Cu_clean"
    good.mkdir(parents=True)
    atoms = molecule("CH4")
    atoms.set_cell([10, 10, 10])
    atoms[0].symbol = "Cu"
    ase.io.write(good / "CONTCAR", atoms, format="vasp")
    (root / "bad_poscar").mkdir()
    (root / "bad_poscar" / "CONTCAR").write_text("not a poscar\n1.0\n")
    (root / "nan_energy").mkdir()
    ase.io.write(root / "nan_energy" / "CONTCAR", atoms, format="vasp")
    (tmp_path / "energies.csv").write_text("folder,E0_eV\nCu_clean,-10.5\nbad_poscar,-3\nnan_energy,nan\n")
    return root


def test_import_reports_each_bad_file_and_keeps_the_rest(tmp_path: Path) -> None:
    root = _vasp_tree(tmp_path)
    db = tmp_path / "s.db"
    args = [
        "--json",
        "dataset",
        "import",
        "--source",
        str(root),
        "--method",
        "vasp-test",
        "--db",
        str(db),
        "--config",
        _import_cfg(tmp_path),
    ]
    res = _run(*args)
    assert res.exit_code == 0, res.output
    assert "bad_poscar/CONTCAR" in res.output and "malformed" in res.output
    assert "nan_energy" in res.output and "not finite" in res.output
    assert Store(db).count() == 1
    again = _run(*args)
    assert again.exit_code == 0 and Store(db).count() == 1


def _import_cfg(tmp_path: Path) -> str:
    cfg = tmp_path / "import.yaml"
    cfg.write_text(
        f"source: {tmp_path}\nmethod: x\nenergies_csv: {tmp_path / 'energies.csv'}\nenergy_column: E0_eV\n"
    )
    return str(cfg)


def test_malformed_cif(tmp_path: Path) -> None:
    (tmp_path / "bad.cif").write_text("data_x\n_cell_length_a 3\nloop_\n_atom_site_label\n")
    (tmp_path / "labels.csv").write_text("file,energy\nbad.cif,-1.0\n")
    cfg = tmp_path / "imp.yaml"
    cfg.write_text(f"source: {tmp_path / 'labels.csv'}\nformat: csv\nmethod: x\n")
    res = _run("dataset", "import", "--config", str(cfg), "--db", str(tmp_path / "s.db"))
    assert "bad.cif" in res.output


def test_truncated_and_unconverged_vasprun(tmp_path: Path) -> None:
    src = (ASE_VASP / "vasprun_pstress.xml").read_text()
    trunc = tmp_path / "runs" / "truncated"
    trunc.mkdir(parents=True)
    (trunc / "vasprun.xml").write_text(src[: len(src) // 2])
    unconv = tmp_path / "runs" / "unconverged"
    unconv.mkdir()
    n_sc = src.split("<calculation>")[-1].count("<scstep>")
    import re

    (unconv / "vasprun.xml").write_text(re.sub(r'(name="NELM">)\s*\d+', rf"\g<1> {n_sc}", src))
    good = tmp_path / "runs" / "good"
    good.mkdir()
    shutil.copy(ASE_VASP / "vasprun_pstress.xml", good / "vasprun.xml")
    (good / "job.json").write_text('{"host": "user", "m1": "C", "m2": "", "state": "clean", "tags": [1, 0]}')
    db = tmp_path / "s.db"
    res = _run("ingest", str(tmp_path / "runs"), "--method", "vasp-test", "--db", str(db))
    assert res.exit_code == 0, res.output
    assert "truncated/vasprun.xml" in res.output and "cannot parse" in res.output
    assert "unconverged/vasprun.xml" in res.output and "not converged" in res.output
    assert Store(db).count() == 1


def _record(energy: float, rid: str) -> Record:
    atoms = molecule("H2O")
    atoms.set_cell([8, 8, 8])
    return Record(atoms, energy, {"rid": rid, "task": rid, "kind": "site"})


def test_nan_energy_rejected_nothing_written(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.write_records([_record(-1.0, "a")])
    for bad in (float("nan"), float("inf")):
        with pytest.raises(DacscreenError, match="not finite"):
            store.write_records([_record(-2.0, "b"), _record(bad, "c")])
    assert store.count() == 1


def test_missing_model_path(tmp_path: Path) -> None:
    res = _run("screen", "--model", str(tmp_path / "nope"), "--metals", "Cu", "--out", str(tmp_path / "o"))
    assert res.exit_code == 2 and "nope" in res.output


def test_locked_database(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store = Store(db, timeout=1.0)
    store.write_records([_record(-1.0, "a")])
    con = sqlite3.connect(db, timeout=0.1)
    con.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(DacscreenError, match="locked"):
            store.write_records([_record(-2.0, "b")])
    finally:
        con.rollback()
        con.close()
    assert store.count() == 1
    store.write_records([_record(-2.0, "b")])
    assert store.count() == 2


def test_disk_full_when_writing_outputs(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.write_records([_record(-1.0, "a")])
    res = _run("dataset", "export", "--db", str(tmp_path / "s.db"), "--format", "csv", "--out", "/dev/full")
    assert res.exit_code == 2
    assert "no space left" in res.output


def test_json_flag_is_machine_readable(tmp_path: Path) -> None:
    res = _run("--json", "build", "--metals", "Cu", "--out", str(tmp_path / "x.extxyz"))
    assert res.exit_code == 0
    assert json.loads(res.stdout)["formula"]


def test_csv_rows_sharing_a_structure_file_are_all_imported(tmp_path: Path) -> None:
    """Each CSV row is one record, even when rows point to the same structure file; a second
    import of the same table writes nothing new and says so."""
    from dacscreen.data.sites import build_site

    ase.io.write(tmp_path / "cu.xyz", build_site("melon", ["Cu"]))
    ase.io.write(tmp_path / "ni.xyz", build_site("melon", ["Ni"]))
    (tmp_path / "labels.csv").write_text("file,energy\ncu.xyz,-1.0\ncu.xyz,-2.0\nni.xyz,-3.0\n")
    args = ["--json", "dataset", "import", "--source", str(tmp_path / "labels.csv"), "--method", "x"]
    args += ["--db", str(tmp_path / "s.db")]
    first = _run(*args)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["written"] == 3
    again = _run(*args)
    assert json.loads(again.stdout)["written"] == 0 and json.loads(again.stdout)["already_present"] == 3
    assert Store(tmp_path / "s.db").count() == 3
