"""k-fold leave-metal-out cross-validation of the GNN ensemble against the descriptor baseline.

The metals are split into k seeded groups. For fold j, every sample with a metal of group j is
a test sample; training and early stopping see only samples with neither metal in the group
(validation is a seeded subset of those training sites). A pair whose two metals fall in
different groups is a test sample of both folds; its out-of-fold prediction is the mean of the
two. The best baseline of each fold is chosen on that fold's validation split, never on its
test split. A random split by site is reported next to it for reference. Where the model has
a fidelity map, the folds also score the screen's DFT-level numbers against the DFT labels
(:mod:`dacscreen.models.dft_agreement`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dacscreen.config import TrainConfig
from dacscreen.models.baseline import NAMES, SingleAtomMean, choose_baseline, fit_baselines
from dacscreen.models.dataset import Prepared
from dacscreen.models.dft_agreement import DftAgreement
from dacscreen.models.dft_agreement import markdown as dft_markdown
from dacscreen.models.ensemble import Ensemble, Scaling
from dacscreen.models.ensemble_meta import EnsembleMeta
from dacscreen.models.evaluation import baseline_predictions, blind_predictions
from dacscreen.models.shrinkage import fit_on_validation, metals_of
from dacscreen.models.splits import leave_metal_out, metal_folds, random_split
from dacscreen.models.targets import Predictions, accumulate, averaged, markdown, report_targets, score_table
from dacscreen.models.train import train_member


def fit_ensemble(cfg: TrainConfig, p: Prepared, train: list[int], val: list[int], store: Path) -> Ensemble:
    """Train ``cfg.model.ensemble`` members on ``train``, each checkpointed in the member store
    ``store`` (:func:`~dacscreen.models.train.train_member`), so an interrupted cross-validation
    resumes where it stopped and a member already trained on the same data is not trained again."""
    vg = p.training_graphs(val)
    scaling, tg = Scaling.for_training(
        p.training_graphs(train), cfg.model.energy_reference, cfg.model.reference_folds, vg
    )
    results = [
        train_member(tg, vg, cfg, scaling, cfg.seed + k, store=store) for k in range(cfg.model.ensemble)
    ]
    val_loss = float(np.mean([r.best_val for r in results]))
    meta = EnsembleMeta(
        val_loss=val_loss,
        orientations=cfg.orientations,
        train_metals=metals_of([p.samples[i] for i in train]),
    )
    ens = Ensemble([r.model for r in results], cfg.model, p.settings, scaling, meta)
    fit_on_validation(ens, [p.samples[i] for i in val], cfg.input_mode)
    return ens


def _split_predictions(
    cfg: TrainConfig,
    p: Prepared,
    split: tuple[list[int], list[int], list[int]],
    store: Path | None,
    dft: DftAgreement | None = None,
    held: list[str] | None = None,
) -> tuple[dict[str, Predictions], dict[str, Any]]:
    """Predictions for the test samples of one split, by model: ``gnn`` (unless ``store`` is
    None: descriptor baselines only), ``baseline`` (the kind chosen on the validation split)
    and every baseline kind by its name, for reference; and what was fitted (the chosen
    baseline's name, the ensemble's correction weights and σ-scaling, its members' mean best
    validation loss and its graph-level validation MAE in eV, all from the validation split).
    With ``dft``, the fold's GNN and baseline also predict its DFT sites with a metal of
    ``held``."""
    train, val, test = split
    kinds = fit_baselines([p.samples[i] for i in train], cfg.split.seed)
    baseline = choose_baseline(kinds, [p.samples[i] for i in val])
    test_s = [p.samples[i] for i in test]
    preds = {"baseline": baseline_predictions(baseline, test_s)}
    preds |= {b.name: baseline_predictions(b, test_s) for b in kinds}
    fitted: dict[str, Any] = {"baseline": baseline.name}
    if store is not None:
        ens = fit_ensemble(cfg, p, train, val, store)
        preds["gnn"] = blind_predictions(ens, test_s, cfg.input_mode)
        fitted |= {
            "std_scale": ens.std_scale,
            "correction_weight": ens.meta.correction_weight,
            "val_loss": ens.meta.val_loss,
            "val_mae": _graph_mae(ens, p.training_graphs(val)),
        }
        if dft is not None and held:
            dft.add(held, ens, baseline)
    return preds, fitted


def _graph_mae(ens: Ensemble, graphs: list[Any]) -> float:
    """The ensemble's graph-level MAE (eV) over the labelled ``graphs`` (NaN if none): a
    validation score comparable across target standardisations, unlike the loss."""
    if not graphs:
        return float("nan")
    y = np.concatenate([g.y_ads.numpy() for g in graphs])
    ok = np.isfinite(y)
    return float(np.mean(np.abs(ens.predict(graphs)["e_ads"][ok] - y[ok]))) if ok.any() else float("nan")


def cross_validate(
    cfg: TrainConfig,
    p: Prepared,
    k: int = 5,
    store: Path | None = None,
    progress: Callable[[int], None] | None = None,
    gnn: bool = True,
) -> dict[str, Any]:
    """Leave-metal-out k-fold report, plus one random split for reference (``gnn=False``:
    the descriptor baselines only).

    Returns ``{"leave-metal-out": {"folds": [...], "targets": [...], target: {"gnn": ..,
    "baseline": ..}}, "random": {...}}``; targets as in
    :func:`dacscreen.models.targets.report_targets`. The folds' GNN members are trained into
    the member store ``store`` (default ``cfg.out/members``): an interrupted run resumes, and a
    member trained before on the same data is reused.
    """
    store = (store or cfg.out / "members") if gnn else None
    n = len(p.samples)
    acc: dict[str, Predictions] = {}
    count = np.zeros(n)
    folds: list[dict[str, Any]] = []
    dft = (
        DftAgreement(p.correction, p.samples, cfg.correction_kind, cfg.input_mode)
        if gnn and p.correction
        else None
    )
    for held in metal_folds(p.samples, k, cfg.split.seed) if k > 0 else []:
        split = leave_metal_out(p.samples, held, cfg.split.val_fraction, cfg.split.seed, cfg.split.val_by)
        if split[0] and split[2]:
            preds, fitted = _split_predictions(cfg, p, split, store, dft, held)
            accumulate(acc, count, split[2], preds)
            folds.append({"test_metals": held, "n_train": len(split[0]), "n_test": len(split[2]), **fitted})
        if progress:
            progress(1)
    tested = [i for i in range(n) if count[i] > 0]
    mean = {key: averaged(total, count) for key, total in acc.items()}
    targets = report_targets([p.samples[i] for i in tested])
    report: dict[str, Any] = {
        "leave-metal-out": {
            "k": k,
            "folds": folds,
            "targets": targets,
            **score_table(p.samples, tested, mean, p.references, targets),
            "dft": dft.table(cfg.split.seed) if dft is not None else {},
        }
    }
    split = random_split(p.samples, (cfg.split.val_fraction, cfg.split.val_fraction), cfg.split.seed)
    if split[0] and split[2]:
        preds, fitted = _split_predictions(cfg, p, split, store)
        full = {key: Predictions.empty(n) for key in preds}
        for key, pred in preds.items():
            full[key].fill(split[2], pred)
        random_targets = report_targets([p.samples[i] for i in split[2]])
        report["random"] = {
            "baseline": fitted["baseline"],
            "targets": random_targets,
            **score_table(p.samples, split[2], full, p.references, random_targets),
        }
    if progress:
        progress(1)
    return report


def evaluation_report(
    ens: Ensemble | None,
    cfg: TrainConfig,
    p: Prepared,
    folds: int,
    out: Path,
    progress: Callable[[int], None] | None = None,
    card: Path | None = None,
) -> dict[str, Any]:
    """The full evaluation of a trained model, logged to MLflow and written to ``out`` (and its
    cross-validation tables to the model card ``card``, when given); the folds' members are
    kept in the member store ``out/members``.

    * ``model``: the trained ensemble itself on its own held-out metals;
    * top level (the spec of ``evaluate --json``): k-fold leave-metal-out, per target
      ``{"gnn": {...}, "baseline": {...}}`` (the baseline chosen on each fold's validation
      split) and every baseline kind by name, retraining the model's architecture in every fold;
    * ``random``: a random split by site, for reference.

    Without a model (``ens`` None) only the descriptor baselines are cross-validated: data
    whose sites the platform cannot build (an energies-only import) has no GNN input.
    """
    import json

    import mlflow

    from dacscreen import tracking
    from dacscreen.models.evaluation import evaluate, flatten

    if ens is not None:
        cfg = cfg.model_copy(
            update={
                "model": ens.config,
                "input_mode": ens.meta.input_mode or cfg.input_mode,
                "orientations": ens.meta.orientations,
            }
        )
    models = "gnn" if ens is not None else "baselines"
    name = f"evaluate-{cfg.model.arch}-{cfg.input_mode}" if ens is not None else "evaluate-baselines"
    params = {"model": ens.meta.mlflow_run if ens else "", "folds": folds, "models": models}
    with tracking.run(cfg.experiment, name, params):
        report: dict[str, Any] = {
            "split": "leave-metal-out",
            "input_mode": cfg.input_mode,
            "models": models,
            "members": cfg.model.ensemble if ens is not None else 0,
        }
        if folds > 0 or ens is None:  # without a model, at least the random split
            cv = cross_validate(cfg, p, folds, out / "members", progress, gnn=ens is not None)
            report.update(cv["leave-metal-out"])
            report["random"] = cv.get("random", {})
        own = evaluate(ens, p, out) if ens is not None else {}
        report["model"] = own
        out.mkdir(parents=True, exist_ok=True)
        (out / "evaluation.json").write_text(json.dumps(report, indent=2, default=float))
        cv_lines = cv_markdown(report) if "folds" in report else []
        title = f"{cfg.model.arch}, {cfg.input_mode}" if ens is not None else "descriptor baselines only"
        lines = [f"# Evaluation ({title})", "", *cv_lines]
        if "test" in own:
            lines += [f"## The model on its own held-out metals ({', '.join(own['test_metals'])})", ""]
            lines += [*markdown(own["test"]["targets"]), ""]
        (out / "evaluation.md").write_text("\n".join(lines))
        if card is not None and cv_lines and card.is_file():
            write_card_section(card, [ln.replace("## ", "### ", 1) for ln in cv_lines])
        metrics = flatten(
            {k: v for k, v in report.items() if k in report.get("targets", []) or k == "random"}
        )
        mlflow.log_metrics({k.replace(":", "_"): v for k, v in metrics.items() if _finite(v)})
        for fname in ("evaluation.json", "evaluation.md", "parity_e_ads.png"):
            if (out / fname).is_file():
                mlflow.log_artifact(str(out / fname))
    return report


def cv_markdown(report: dict[str, Any]) -> list[str]:
    """Markdown of the k-fold leave-metal-out and random-split tables of an evaluation report
    (GNN against the chosen baseline, or every baseline kind when no GNN was evaluated)."""
    table = baseline_markdown if report.get("models") == "baselines" else markdown
    lines = []
    if report["folds"]:
        names = sorted({f["baseline"] for f in report["folds"]})
        per_fold = f"{report['members']} GNN members per fold, " if report.get("members") else ""
        lines += [f"## {report['k']}-fold leave-metal-out ({per_fold}baseline per fold: {', '.join(names)})"]
        lines += [""]
        lines += [*table({t: report[t] for t in report["targets"]}), ""]
    lines += dft_markdown(report.get("dft", {}))
    if report.get("random"):
        rnd = report["random"]
        lines += ["## Random split by site (reference)", ""]
        lines += [*table({t: rnd[t] for t in rnd["targets"]}), ""]
    return lines


def baseline_markdown(table: dict[str, dict[str, Any]]) -> list[str]:
    """Rows of a Markdown table of every descriptor baseline per target: the one chosen on
    validation (MAE, R², ρ, ±1σ) and each kind's MAE."""
    kinds = [k for k in [*NAMES.values(), SingleAtomMean.name] if any(k in row for row in table.values())]
    lines = [
        "| target | n | chosen MAE | chosen R² | chosen ρ | chosen ±1σ | "
        + " | ".join(f"{k} MAE" for k in kinds)
        + " |",
        "|---|---|---|---|---|---|" + "---|" * len(kinds),
    ]
    for target, row in table.items():
        b = row.get("baseline", {})
        cells = [b.get(m, np.nan) for m in ("mae", "r2", "spearman", "within_1sigma")]
        cells += [row.get(k, {}).get("mae", np.nan) for k in kinds]
        lines.append(f"| {target} | {b.get('n', 0)} | " + " | ".join(f"{v:.3f}" for v in cells) + " |")
    return lines


CARD_SECTION = "## Leave-metal-out cross-validation (`dacscreen evaluate`)"


def write_card_section(card: Path, lines: list[str]) -> None:
    """Replace the cross-validation section at the end of a model card (or add it), so the card
    carries the latest evaluation of the model next to its own held-out metrics."""
    head = card.read_text().split(CARD_SECTION)[0].rstrip()
    card.write_text("\n".join([head, "", CARD_SECTION, "", *lines]).rstrip() + "\n")


def _finite(v: Any) -> bool:
    return isinstance(v, float | int) and bool(np.isfinite(v))
