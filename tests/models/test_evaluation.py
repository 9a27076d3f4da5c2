"""Metrics, descriptor baselines and the k-fold leave-metal-out evaluation."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dacscreen.cli import app
from dacscreen.data.adsorbates import orientations
from dacscreen.data.store import Store
from dacscreen.featurize.samples import collect_samples
from dacscreen.models.baseline import KINDS, DescriptorBaseline, best_baseline
from dacscreen.models.metrics import regression_metrics, top_k_recall
from dacscreen.models.splits import metal_folds
from dacscreen.models.targets import TARGETS
from tests.conftest import TINY_TRAIN


def test_r2_and_top_k_recall() -> None:
    y = np.arange(30.0)
    assert regression_metrics(y, y)["r2"] == pytest.approx(1.0)
    assert regression_metrics(y, np.full(30, y.mean()))["r2"] == pytest.approx(0.0)
    swapped = y.copy()
    swapped[[0, 29]] = swapped[[29, 0]]  # the best candidate predicted worst
    assert top_k_recall(y, swapped, 20) == pytest.approx(19 / 20)
    assert np.isnan(top_k_recall(y[:20], y[:20], 20))  # all candidates are the top 20: says nothing


def test_metal_folds_partition_the_metals(tiny_store_path: Path) -> None:
    samples = collect_samples(Store(tiny_store_path))
    folds = metal_folds(samples, 2, seed=1)
    flat = [m for f in folds for m in f]
    assert sorted(flat) == sorted({m for s in samples for m in s.metals})
    assert len(flat) == len(set(flat)) and all(folds)


@pytest.mark.parametrize("kind", KINDS)
def test_each_baseline_gives_mean_and_sigma(tiny_store_path: Path, kind: str) -> None:
    samples = collect_samples(Store(tiny_store_path))
    b = DescriptorBaseline(kind).fit(samples)  # type: ignore[arg-type]
    mean, std = b.predict(samples)
    assert mean.shape == std.shape == (len(samples),)
    assert np.all(np.isfinite(mean)) and np.all(std >= 0)
    db, db_std = b.predict_dband(samples)
    assert db.shape == db_std.shape == (len(samples), 2)
    clean = [i for i, s in enumerate(samples) if s.state == "clean"]
    assert np.all(np.isfinite(db[clean]))
    assert best_baseline(samples, samples).kind in KINDS


def test_evaluate_cli_writes_the_k_fold_report(
    tiny_model: Path, tiny_store_path: Path, project_env: Path, tmp_path: Path
) -> None:
    out = tmp_path / "json"
    res = CliRunner().invoke(
        app,
        [
            "-q",
            "evaluate",
            "--model",
            str(tiny_model),
            "--db",
            str(tiny_store_path),
            "--folds",
            "3",
            "--members",
            "1",
            "--out",
            str(tmp_path / "eval"),
            "--json",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    report = json.loads(out.read_text())
    assert report["k"] == 3 and len(report["folds"]) >= 2
    for fold in report["folds"]:
        assert fold["n_test"] > 0 and fold["baseline"]
        assert fold["val_mae"] >= 0 and np.isfinite(fold["val_loss"])  # what variants are chosen by
    for target in TARGETS:
        assert {"gnn", "baseline"} <= set(report[target])
    for target in ("e_ads:Li2S2", "e_ads:Li2S", "dband"):
        g = report[target]["gnn"]
        assert {"mae", "rmse", "r2", "spearman", "within_1sigma"} <= set(g)
        assert g["n"] > 0 and np.isfinite(g["mae"])
    for target in ("e_ads:Li2S2", "e_ads:Li2S"):  # the tiny store's baseline has no d-band fit
        gap, g = report[target]["gap"], report[target]["gnn"]  # MAE(baseline) - MAE(gnn)
        assert gap["n"] == g["n"] and gap["low"] <= gap["gap"] <= gap["high"]
        assert gap["gap"] == pytest.approx(report[target]["baseline"]["mae"] - g["mae"], abs=1e-9)
    assert "top20_recall" in report["dg_rds"]["gnn"]
    assert "e_ads:Li2S" in report["random"]
    assert "test" in report["model"]
    assert (tmp_path / "eval" / "evaluation.md").read_text().count("| e_ads:Li2S2 |") >= 2


def test_blind_predictions_take_the_lowest_orientation_whatever_the_label_start(
    tiny_model: Path, tiny_store_path: Path
) -> None:
    """The GNN is scored as screening predicts: an adsorbate's E_ads is the lowest prediction
    over every offered orientation, so the orientation of the labelled start cannot leak in."""
    from dacscreen.featurize.graphs import atoms_to_graph
    from dacscreen.featurize.samples import input_structure
    from dacscreen.models.ensemble import Ensemble
    from dacscreen.models.pipeline import blind_predictions

    ens = Ensemble.load(tiny_model)
    s = next(x for x in collect_samples(Store(tiny_store_path)) if x.state == "Li2S2" and x.m2)
    modes = orientations(2, "Li2S2")
    per = [
        ens.predict([atoms_to_graph(input_structure(replace(s, orientation=o), "as-built"), ens.settings)])
        for o in modes
    ]
    energies = [float(p["e_ads"][0]) for p in per]
    for start in (modes[0], modes[-1], "template"):
        out = blind_predictions(ens, [replace(s, orientation=start)], "as-built")
        assert out.e_ads[0] == pytest.approx(min(energies), abs=1e-5)
        assert out.e_ads_std[0] == pytest.approx(
            float(per[int(np.argmin(energies))]["e_ads_std"][0]), abs=1e-5
        )


def test_a_model_of_every_orientation_averages_them(tiny_model: Path, tiny_store_path: Path) -> None:
    """``orientations: all`` pools by the mean: σ and E_ads are the averages over the starts."""
    from dacscreen.featurize.graphs import atoms_to_graph
    from dacscreen.featurize.samples import input_structure
    from dacscreen.models.ensemble import Ensemble
    from dacscreen.models.pipeline import blind_predictions

    ens = Ensemble.load(tiny_model)
    ens.meta["orientations"] = "all"
    s = next(x for x in collect_samples(Store(tiny_store_path)) if x.state != "clean" and x.m2)
    graphs = [
        atoms_to_graph(input_structure(replace(s, orientation=o), "as-built"), ens.settings)
        for o in orientations(2, s.state)
    ]
    per = ens.predict(graphs)
    out = blind_predictions(ens, [s], "as-built")
    assert out.e_ads[0] == pytest.approx(float(per["e_ads"].mean()), abs=1e-5)
    assert out.e_ads_std[0] == pytest.approx(float(per["e_ads_std"].mean()), abs=1e-5)
    np.testing.assert_allclose(out.dband[0], per["dband"].mean(0), atol=1e-5)


def test_training_on_every_orientation_adds_the_variants(tiny_store_path: Path) -> None:
    from dacscreen.config import TrainConfig
    from dacscreen.models.pipeline import prepare

    cfg = TrainConfig(db=str(tiny_store_path), orientations="all", split={"kind": "random"})
    p = prepare(cfg)
    n_variants = sum(len(orientations(len(s.metals), s.state)) - 1 for s in p.samples if s.state != "clean")
    assert n_variants > 0
    assert len(p.training_graphs(list(range(len(p.samples))))) == len(p.samples) + n_variants
    labelled = prepare(cfg.model_copy(update={"orientations": "labelled"}))
    assert len(labelled.training_graphs(list(range(len(p.samples))))) == len(p.samples)


def test_the_card_keeps_one_cross_validation_section(tmp_path: Path) -> None:
    from dacscreen.models.crossval import CARD_SECTION, write_card_section

    card = tmp_path / "model_card.md"
    card.write_text("# dacscreen model card\n\n* data: 3 sites\n")
    write_card_section(card, ["### 5-fold", "", "| e_ads:Li2S2 | 0.700 |"])
    write_card_section(card, ["### 5-fold", "", "| e_ads:Li2S2 | 0.650 |"])
    text = card.read_text()
    assert text.startswith("# dacscreen model card\n\n* data: 3 sites\n")
    assert text.count(CARD_SECTION) == 1 and "0.650" in text and "0.700" not in text


def test_a_model_stores_its_training_recipe_for_evaluate(tiny_model: Path) -> None:
    recipe = json.loads((tiny_model / "meta.json").read_text())["train_config"]
    assert recipe["epochs"] == TINY_TRAIN["epochs"] and recipe["targets"] == TINY_TRAIN["targets"]
    assert recipe["split"]["test_metals"] == ["Zn"] and recipe["batch_size"] == 4
    assert not {"db", "out", "device"} & set(recipe)  # where it ran is not part of the recipe
