"""Bring your own data: energies-only tables, builder round trips, sites without a bare record,
non-transition metals, and user targets scored one by one in train and evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import ase.io
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from ase.build import bulk
from typer.testing import CliRunner

from dacscreen.cli import app
from dacscreen.config import ImportConfig, TrainConfig
from dacscreen.data.importers import run_import
from dacscreen.data.store import Store
from dacscreen.featurize.samples import collect_samples

METALS = ["Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Mo", "Ru", "Rh", "Pd", "Ag"]
STATES = {"clean": (-600.0, 0.0), "CO2": (-623.0, 0.3), "COOH": (-627.0, 1.0), "CO": (-615.0, 0.6)}


def energies_table(path: Path, host: str = "gcn", metals: list[str] = METALS) -> Path:
    """A paper-style table: metal, support, species, E, ZPE, TS (eV); E is a state offset plus
    a per-metal effect scaled by the state, so every target is learnable from the metal."""
    rng = np.random.default_rng(0)
    effect = {m: rng.normal() for m in metals}
    rows = [
        {
            "metal": m,
            "support": host,
            "species": st,
            "E": round(off + effect[m] * (1 + k) + rng.normal(0, 0.02), 4),
            "ZPE": 0.1 * k,
            "TS": 0.05 * k,
        }
        for m in metals
        for st, (off, k) in STATES.items()
    ]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def import_config(table: Path, **extra: object) -> ImportConfig:
    return ImportConfig.model_validate(
        {
            "source": str(table),
            "format": "energies",
            "method": "paper-pbe",
            "metal_column": "metal",
            "state_column": "species",
            "host_column": "support",
            "host_prefix": "user",
            "energy_column": "E",
            "zpe_column": "ZPE",
            "ts_column": "TS",
            **extra,
        }
    )


USER_TARGETS = {
    "method": "paper-pbe",
    "targets": ["COOH", "CO"],
    "target_definitions": {
        "COOH": {"terms": {"COOH": 1.0, "CO2": -1.0}},  # needs no bare site
        "CO": {"terms": {"CO": 1.0, "clean": -1.0}},
    },
    "clean_target": "none",
}


def test_energies_only_table_is_imported_row_by_row(tmp_path: Path) -> None:
    table = energies_table(tmp_path / "table.csv")
    df = pd.read_csv(table)
    df.loc[3, "E"] = float("nan")
    df["ZPE"] = df["ZPE"].astype(object)
    df.loc[5, "ZPE"] = "n/a"
    df.to_csv(table, index=False)
    store = Store(tmp_path / "s.db")
    report = run_import(store, import_config(table))
    assert report.written == len(df) - 2 and report.without_structure == report.written
    assert [e.split(":")[0] for e in report.errors] == [f"{table} row 5", f"{table} row 7"]
    row = next(store.rows(kind="site", m1="Sc", adsorbate="COOH"))
    assert row.energy == pytest.approx(row.e_raw + 0.1 - 0.05) and row.structure == "none"
    assert row.natoms == 0 and row.host == "user-gcn"
    again = run_import(store, import_config(table))  # resumable: nothing twice
    assert again.written == 0 and again.skipped_existing == report.written


def test_energies_only_rows_get_the_platform_structure_where_it_can_build_one(tmp_path: Path) -> None:
    """A shipped host and a placeable adsorbate give the builder's site (tagged metals and
    adsorbate, unrelaxed); anything else is stored without atoms."""
    pd.DataFrame(
        [
            {"metal": "Fe", "species": "clean", "E": -600.0},
            {"metal": "Fe", "species": "CO", "E": -615.0},
            {"metal": "Fe", "species": "XYZ", "E": -615.0},
        ]
    ).to_csv(tmp_path / "t.csv", index=False)
    cfg = import_config(
        tmp_path / "t.csv", host_column=None, host_prefix="heptazine", zpe_column=None, ts_column=None
    )
    store = Store(tmp_path / "s.db")
    report = run_import(store, cfg)
    assert report.written == 3 and report.without_structure == 1
    by_state = {r.adsorbate: r for r in store.rows(kind="site")}
    co = by_state["CO"].toatoms()
    assert by_state["CO"].structure == "built" and sorted(co.symbols[co.get_tags() == 2]) == ["C", "O"]
    assert list(co.symbols[co.get_tags() == 1]) == ["Fe"]
    assert by_state["XYZ"].structure == "none" and by_state["XYZ"].natoms == 0


def test_energies_only_table_gets_per_target_leave_metal_out_results(tmp_path: Path) -> None:
    """The issue's done-when: an energies-only table in, `dacscreen evaluate` gives every user
    target its own leave-metal-out metrics next to every baseline; `train` says why a GNN
    cannot learn structure-less rows."""
    table = energies_table(tmp_path / "table.csv")
    db = tmp_path / "s.db"
    run_import(Store(db), import_config(table))
    cfg = tmp_path / "train.yaml"
    cfg.write_text(yaml.safe_dump({**USER_TARGETS, "db": str(db), "out": str(tmp_path / "mine")}))
    runner = CliRunner()
    res = runner.invoke(app, ["--json", "evaluate", "--config", str(cfg), "--folds", "3"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["models"] == "baselines" and report["targets"] == ["e_ads:CO", "e_ads:COOH"]
    for target in report["targets"]:
        row = report[target]
        assert {"baseline", "random forest", "metal identity"} <= set(row) and "gnn" not in row
        assert row["baseline"]["n"] == len(METALS)
        assert {"mae", "r2", "spearman", "within_1sigma"} <= set(row["baseline"])
    assert report["random"]["targets"] == ["e_ads:CO", "e_ads:COOH"]
    md = (tmp_path / "mine" / "evaluation" / "evaluation.md").read_text()
    assert "descriptor baselines only" in md and "| e_ads:COOH | 15 |" in md
    res = runner.invoke(app, ["train", "--config", str(cfg)])
    assert res.exit_code == 2
    assert "no structure for a GNN" in res.output and "evaluate --config" in res.output


def test_energies_on_a_shipped_host_train_the_gnn_and_report_each_target(tmp_path: Path) -> None:
    """Where the platform builds the sites, the GNN trains on them and the train summary gives
    every user target its own held-out metrics (never one R² pooled over targets)."""
    table = energies_table(tmp_path / "table.csv", host="x", metals=METALS[:8])
    db = tmp_path / "s.db"
    report = run_import(Store(db), import_config(table, host_column=None, host_prefix="heptazine"))
    assert report.without_structure == 8  # COOH is not an ASE molecule: those rows have no atoms
    targets = {
        **USER_TARGETS,
        "targets": ["CO"],
        "target_definitions": {"CO": USER_TARGETS["target_definitions"]["CO"]},
    }
    cfg = tmp_path / "train.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                **targets,
                "db": str(db),
                "out": str(tmp_path / "gnn"),
                "model": {"arch": "schnet", "hidden": 8, "layers": 1, "n_rbf": 8, "ensemble": 1},
                "split": {"kind": "leave-metal-out", "test_metals": ["Fe", "Co"], "val_fraction": 0.3},
                "epochs": 2,
                "batch_size": 4,
            }
        )
    )
    res = CliRunner().invoke(app, ["--json", "train", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert set(summary["held_out"]) == {"e_ads:CO"}
    assert summary["held_out"]["e_ads:CO"]["gnn"]["n"] == 2


def test_a_site_without_a_bare_record_keeps_the_targets_that_do_not_need_it(tmp_path: Path) -> None:
    table = energies_table(tmp_path / "table.csv", metals=["Fe", "Co"])
    df = pd.read_csv(table)
    df[df.species != "clean"].to_csv(table, index=False)
    store = Store(tmp_path / "s.db")
    run_import(store, import_config(table))
    cfg = TrainConfig.model_validate(USER_TARGETS)
    samples = collect_samples(store, cfg.method, None, cfg.target_definitions, cfg.clean_target)
    assert sorted((s.m1, s.state) for s in samples) == [("Co", "COOH"), ("Fe", "COOH")]  # CO needs clean
    assert all(s.relaxed is None and s.structure == "none" for s in samples)


@pytest.mark.parametrize(
    ("metals", "placement", "adsorbate"),
    [(["Cu", "Ni"], 0, None), (["Cu", "Ni"], 0, "Li2S2"), (["Ta", "Cu"], 1, "Li2S"), (["Fe"], 0, "CO")],
)
def test_builder_output_round_trips_through_import(
    tmp_path: Path, metals: list[str], placement: int, adsorbate: str | None
) -> None:
    """`build` → (a calculation adds the energy) → `dataset import` gives the same site."""
    out = tmp_path / "site.xyz"
    args = ["build", "--host", "melon", "--metals", *metals, "--placement", str(placement), "--out", str(out)]
    res = CliRunner().invoke(app, args + (["--adsorbate", adsorbate] if adsorbate else []))
    assert res.exit_code == 0, res.output
    atoms = ase.io.read(out)
    atoms.info["energy"] = -512.5
    ase.io.write(out, atoms)
    store = Store(tmp_path / "s.db")
    assert run_import(store, ImportConfig(source=out, format="extxyz", method="mine")).written == 1
    row = next(store.rows(kind="site"))
    assert (row.host, row.m1, row.m2, row.placement) == (
        "melon",
        metals[0],
        metals[1] if len(metals) > 1 else "",
        placement,
    )
    assert row.adsorbate == (adsorbate or "clean")
    assert sorted(row.toatoms().symbols[row.toatoms().get_tags() == 1]) == sorted(metals)


def test_non_transition_metal_sites_are_tagged_as_the_site(tmp_path: Path) -> None:
    """A CSV import of an Sn single atom (a p-block metal) marks Sn as the site; Li of an
    adsorbate stays adsorbate."""
    site = bulk("C", "diamond", a=3.57).repeat((2, 2, 2))
    site[0].symbol = "Sn"
    ads = site.copy()
    ads.append("Li")
    ads.positions[-1] = site.positions[0] + [0.0, 0.0, 2.5]
    ase.io.write(tmp_path / "clean.cif", site)
    ase.io.write(tmp_path / "li.cif", ads)
    pd.DataFrame({"file": ["clean.cif", "li.cif"], "energy": [-100.0, -102.0]}).to_csv(
        tmp_path / "l.csv", index=False
    )
    store = Store(tmp_path / "s.db")
    report = run_import(store, ImportConfig(source=tmp_path / "l.csv", format="csv", method="m"))
    assert report.written == 2, report.errors
    for row in store.rows(kind="site"):
        atoms = row.toatoms()
        assert row.m1 == "Sn" and list(atoms.symbols[atoms.get_tags() == 1]) == ["Sn"]
    li = next(store.rows(kind="site", adsorbate="Li"))
    assert list(li.toatoms().symbols[li.toatoms().get_tags() == 2]) == ["Li"]


def test_a_batch_of_unlabelled_bare_sites_still_steps() -> None:
    """A mini-batch whose graphs carry no label at all gives a zero loss that backpropagates."""
    from torch_geometric.data import Batch

    from dacscreen.config import ModelConfig
    from dacscreen.data.sites import build_site
    from dacscreen.featurize.graphs import GraphSettings, atoms_to_graph
    from dacscreen.models.ensemble import Scaling
    from dacscreen.models.multitask import MultiTaskGNN
    from dacscreen.models.train import masked_loss

    g = atoms_to_graph(build_site("melon", ["Cu"]), GraphSettings())
    g.y_ads = torch.tensor([float("nan")])
    g.y_dband = torch.full((g.num_nodes,), float("nan"))
    batch = Batch.from_data_list([g, g])
    net = MultiTaskGNN(ModelConfig(arch="schnet", hidden=8, layers=1, n_rbf=8))
    loss = masked_loss(net, batch, Scaling.fit([g]))
    loss.backward()
    assert float(loss) == 0.0


def test_tutorial_energies_walkthrough_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/byod_tutorial.md section 5, with its shipped example files, from the checkout."""
    root = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(root)
    db = str(tmp_path / "energies.db")
    runner = CliRunner()
    res = runner.invoke(
        app, ["--json", "dataset", "import", "--config", "docs/examples/import_energies.yaml", "--db", db]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["written"] == 60 and json.loads(res.stdout)["without_structure"] == 60
    args = ["--config", "docs/examples/train_energies.yaml", "--db", db, "--folds", "3"]
    res = runner.invoke(app, ["--json", "evaluate", *args, "--out", str(tmp_path / "eval")])
    assert res.exit_code == 0, res.output
    md = (tmp_path / "eval" / "evaluation.md").read_text()
    assert "# Evaluation (descriptor baselines only)" in md
    assert "| e_ads:CO | 15 |" in md and "metal identity MAE" in md


def test_a_custom_host_is_refused_by_the_modes_that_rebuild_it(tmp_path: Path) -> None:
    """Imported structures of a host the platform cannot build: as-built says which input
    mode is left instead of crashing in the builder."""
    from dacscreen.data.adsorbates import place_adsorbate
    from dacscreen.data.sites import build_site

    frames = []
    for k, metal in enumerate(["Fe", "Co", "Ni", "Cu"]):
        site = build_site("heptazine", [metal])
        for atoms, state in ((site, "clean"), (place_adsorbate(site, "CO", "top1"), "CO")):
            atoms = atoms.copy()
            atoms.info = {"host": "my-graphene", "m1": metal, "adsorbate": state, "energy": -500.0 - k}
            frames.append(atoms)
    ase.io.write(tmp_path / "mine.extxyz", frames)
    db = tmp_path / "s.db"
    assert (
        run_import(
            Store(db), ImportConfig(source=tmp_path / "mine.extxyz", format="extxyz", method="m")
        ).written
        == 8
    )
    cfg = tmp_path / "t.yaml"
    cfg.write_text(
        yaml.safe_dump({"db": str(db), "method": "m", "targets": ["CO"], "input_mode": "as-built"})
    )
    res = CliRunner().invoke(app, ["train", "--config", str(cfg)])
    assert res.exit_code == 2 and "cannot build host 'my-graphene'" in res.output
    assert "input_mode: relaxed" in res.output
