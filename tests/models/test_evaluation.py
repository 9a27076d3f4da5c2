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
    assert {"e_ads:Li2S2", "e_ads:Li2S", "dg5", "dband"} <= set(report["targets"])
    assert {t for t in report["targets"] if not t.startswith("e_ads:")} <= set(TARGETS)
    if "dg_rds" in report["targets"]:  # only where all six SRR states are labelled
        assert "top20_recall" in report["dg_rds"]["gnn"]
    for target in report["targets"]:
        assert {"gnn", "baseline", "metal identity"} <= set(report[target])
    for target in ("e_ads:Li2S2", "e_ads:Li2S", "dband"):
        g = report[target]["gnn"]
        assert {"mae", "rmse", "r2", "spearman", "within_1sigma"} <= set(g)
        assert g["n"] > 0 and np.isfinite(g["mae"])
    for target in ("e_ads:Li2S2", "e_ads:Li2S"):  # the tiny store's baseline has no d-band fit
        gap, g = report[target]["gap"], report[target]["gnn"]  # MAE(baseline) - MAE(gnn)
        assert gap["n"] == g["n"] and gap["low"] <= gap["gap"] <= gap["high"]
        assert gap["gap"] == pytest.approx(report[target]["baseline"]["mae"] - g["mae"], abs=1e-9)
    assert report["dg5"]["gnn"]["n"] > 0 and np.isfinite(report["dg5"]["baseline"]["mae"])
    assert report["random"]["targets"]  # what the random split's test sites carry
    assert all({"gnn", "baseline"} <= set(report["random"][t]) for t in report["random"]["targets"])
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
    from dacscreen.models.evaluation import blind_predictions

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
    """``orientations: all`` pools by the mean: E_ads is the average over the starts, and σ is
    the spread of the members' averages (the uncertainty of the number reported)."""
    from dacscreen.featurize.graphs import atoms_to_graph
    from dacscreen.featurize.samples import input_structure
    from dacscreen.models.ensemble import Ensemble
    from dacscreen.models.evaluation import blind_predictions

    ens = Ensemble.load(tiny_model)
    ens.meta.orientations = "all"
    s = next(x for x in collect_samples(Store(tiny_store_path)) if x.state != "clean" and x.m2)
    graphs = [
        atoms_to_graph(input_structure(replace(s, orientation=o), "as-built"), ens.settings)
        for o in orientations(2, s.state)
    ]
    per = ens.predict(graphs)
    out = blind_predictions(ens, [s], "as-built")
    assert out.e_ads[0] == pytest.approx(float(per["e_ads"].mean()), abs=1e-5)
    assert out.e_ads_std[0] == pytest.approx(float(per["e_ads_members"].mean(1).std()), abs=1e-5)
    assert out.e_ads_std[0] <= float(per["e_ads_std"].mean()) + 1e-6
    np.testing.assert_allclose(out.dband[0], per["dband"].mean(0), atol=1e-5)


def test_training_on_every_orientation_adds_the_variants(tiny_store_path: Path) -> None:
    from dacscreen.config import TrainConfig
    from dacscreen.models.dataset import prepare

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


def _synthetic(states: list[str], metals: list[str], seed: int = 0) -> list:
    """Single-atom samples with an additive metal + state label (eV) and clean-site d-bands."""
    from dacscreen.featurize.samples import Sample

    rng = np.random.default_rng(seed)
    effect = {m: rng.normal() for m in metals}
    out = []
    for k, m in enumerate(metals):
        out.append(Sample("melon", m, "", 0, "clean", "none", np.nan, (-2.0 - 0.1 * k, np.nan)))
        for j, st in enumerate(states):
            out.append(
                Sample("melon", m, "", 0, st, "top1", -j + effect[m] + rng.normal(0, 0.01), (np.nan,) * 2)
            )
    return out


def test_report_targets_follow_the_data() -> None:
    """User states are scored one by one; ΔG5/ΔG_RDS only where their SRR states are there;
    E_bind only where clean sites carry a target."""
    from dacscreen.models.targets import report_targets

    metals = ["Fe", "Co", "Ni", "Cu"]
    assert report_targets(_synthetic(["CO", "COOH"], metals)) == ["e_ads:CO", "e_ads:COOH", "dband"]
    srr = report_targets(_synthetic(["S8", "Li2S8", "Li2S6", "Li2S4", "Li2S2", "Li2S"], metals))
    assert srr[:6] == ["e_ads:S8", "e_ads:Li2S8", "e_ads:Li2S6", "e_ads:Li2S4", "e_ads:Li2S2", "e_ads:Li2S"]
    assert srr[6:] == ["dg5", "dg_rds", "dband"]


def test_score_table_scores_dg_rds_with_top_k_recall() -> None:
    from dacscreen.models.targets import Predictions, score_table

    samples = _synthetic(["S8", "Li2S8", "Li2S6", "Li2S4", "Li2S2", "Li2S"], [f"M{k}" for k in range(25)])
    y = np.array([s.e_ads for s in samples])
    exact = Predictions(y, np.full(len(y), 0.1), np.full((len(y), 2), np.nan), np.full((len(y), 2), np.nan))
    refs = {"Li_bcc": -1.9, **{f"mol_{x}": -10.0 for x in ("S8", "Li2S8", "Li2S6", "Li2S4", "Li2S2", "Li2S")}}
    table = score_table(samples, list(range(len(samples))), {"gnn": exact}, refs)
    assert table["dg_rds"]["gnn"]["n"] == 25 and table["dg_rds"]["gnn"]["mae"] == pytest.approx(0.0)
    assert table["dg_rds"]["gnn"]["top20_recall"] == pytest.approx(1.0)
    assert table["e_ads:Li2S"]["gnn"]["n"] == 25


def test_metal_identity_baseline_is_additive_in_the_metals() -> None:
    """On a label that is a state offset plus a per-metal effect, the metal-identity ridge
    recovers held-out pairs of seen metals, and says nothing about an unseen metal beyond the
    state's mean."""
    from dacscreen.featurize.samples import Sample

    rng = np.random.default_rng(1)
    metals = ["Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn"]
    effect = {m: rng.normal() for m in metals}
    pairs = [(a, b) for i, a in enumerate(metals) for b in metals[i:]]
    samples = [
        Sample("melon", a, b, 0, st, "bridge", off + effect[a] + effect[b], (np.nan, np.nan))
        for a, b in pairs
        for st, off in (("Li2S2", -3.0), ("Li2S", -2.0))
    ]
    train, test = samples[: len(samples) * 3 // 4], samples[len(samples) * 3 // 4 :]
    b = DescriptorBaseline("metals").fit(train)
    mean, std = b.predict(test)
    assert np.max(np.abs(mean - np.array([s.e_ads for s in test]))) < 0.15 and np.all(std > 0)
    unseen = Sample("melon", "Au", "Au", 0, "Li2S", "bridge", np.nan, (np.nan, np.nan))
    assert b.predict([unseen])[0][0] == pytest.approx(np.mean([s.e_ads for s in train if s.state == "Li2S"]))


def test_single_atom_mean_baseline_and_partial_coverage() -> None:
    """A pair predicted as the mean of its metals' single atoms: exact where the label is that
    mean, NaN where a single atom is unseen, and never chosen on a validation split it cannot
    cover."""
    from dacscreen.featurize.samples import Sample
    from dacscreen.models.baseline import SingleAtomMean, choose_baseline, fit_baselines

    rng = np.random.default_rng(2)
    metals = ["Sc", "Ti", "V", "Cr", "Mn", "Fe"]
    y = {m: rng.normal(-3.0, 1.0) for m in metals}
    nan2 = (np.nan, np.nan)
    singles = [Sample("melon", m, "", 0, "Li2S", "top1", y[m], nan2) for m in metals]
    pairs = [
        Sample("melon", a, b, 0, "Li2S", "bridge", (y[a] + y[b]) / 2, nan2)
        for i, a in enumerate(metals)
        for b in metals[i + 1 :]
    ]
    b = SingleAtomMean().fit(singles + pairs[:8])
    mean, std = b.predict(pairs[8:])
    np.testing.assert_allclose(mean, [s.e_ads for s in pairs[8:]], atol=1e-12)
    assert np.all(std == pytest.approx(0.0, abs=1e-12))
    unseen = Sample("melon", "Sc", "Au", 0, "Li2S", "bridge", -3.0, nan2)
    assert np.isnan(b.predict([unseen])[0][0])
    fitted = fit_baselines(singles + pairs[:8])
    assert choose_baseline(fitted, pairs[8:]).name == "single-atom mean"
    assert choose_baseline(fitted, [*pairs[8:], unseen]).name != "single-atom mean"


def test_evaluation_and_screening_predict_a_site_alike(tiny_model: Path, tiny_store_path: Path) -> None:
    """One road from a site to a prediction: the evaluation's score of a labelled Cu–Ni sample
    and the screen's row of the same site are the same numbers, E_ads and ε_d alike."""
    from dacscreen.models.ensemble import Ensemble
    from dacscreen.models.evaluation import blind_predictions
    from dacscreen.screening.predict import predict_sites

    ens = Ensemble.load(tiny_model)
    samples = [x for x in collect_samples(Store(tiny_store_path)) if x.m1 == "Cu" and x.m2 == "Ni"]
    row = predict_sites([samples[0].site], ens)[0]
    scored = blind_predictions(ens, samples, "as-built")
    for k, s in enumerate(samples):
        col = "e_bind" if s.state == "clean" else f"e_ads_{s.state.lower()}"
        assert scored.e_ads[k] == pytest.approx(row[col], abs=1e-5), s.state
        assert scored.e_ads_std[k] == pytest.approx(row[f"{col}_std"], abs=1e-5), s.state
    clean = next(k for k, s in enumerate(samples) if s.state == "clean")
    assert scored.dband[clean] == pytest.approx([row["d_band_m1"], row["d_band_m2"]], abs=1e-5)


def test_cv_markdown_states_members_per_fold() -> None:
    from dacscreen.models.crossval import cv_markdown

    report = {"folds": [{"baseline": "Gaussian process"}], "k": 5, "targets": [], "models": "gnn"}
    assert "3 GNN members per fold" in cv_markdown({**report, "members": 3})[0]
    assert "members per fold" not in cv_markdown(report)[0]
