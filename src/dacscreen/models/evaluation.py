"""Evaluation for ``train`` and ``evaluate``: the ensemble's blind predictions (as ``screen``
makes them) side by side with the best descriptor baseline, with calibration next to the errors,
per split and per target; and the model card that carries them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from dacscreen.config import TrainConfig
from dacscreen.featurize.samples import Sample
from dacscreen.models.baseline import Baseline, best_baseline
from dacscreen.models.correction import Correction
from dacscreen.models.dataset import Prepared
from dacscreen.models.ensemble import Ensemble
from dacscreen.models.metrics import calibration_metrics, regression_metrics
from dacscreen.models.predictor import predict_states
from dacscreen.models.targets import Predictions, target_table


def blind_predictions(ens: Ensemble, samples: list[Sample], mode: str) -> Predictions:
    """The ensemble's predictions as ``screen`` makes them (:func:`predict_states`), without the
    orientation of the relaxed start that gave each label: an adsorbate is placed in every
    offered orientation and the predictions are pooled by the model's ``orientations`` rule;
    clean sites as they are. The label is the lowest valid relaxed start, so this is the honest
    comparison."""
    return predict_states(ens, samples, mode).predictions


def baseline_predictions(baseline: Baseline, samples: list[Sample]) -> Predictions:
    """A fitted baseline's mean and σ for ``samples``."""
    mean, std = baseline.predict(samples)
    db, db_std = baseline.predict_dband(samples)
    return Predictions(mean, std, db, db_std)


def fit_baseline(p: Prepared) -> Baseline:
    """The best descriptor baseline of ``p``'s training split, chosen on its validation split."""
    return best_baseline([p.samples[i] for i in p.train], [p.samples[i] for i in p.val])


def evaluate(ens: Ensemble, p: Prepared, out: Path | None = None) -> dict[str, Any]:
    """Metrics of the ensemble and the best descriptor baseline on the val and test splits."""
    from dacscreen.plots import parity_plot

    gnn = blind_predictions(ens, p.samples, ens.meta.input_mode or "as-built")
    t0 = time.perf_counter()
    baseline = fit_baseline(p)
    baseline_seconds = time.perf_counter() - t0
    base = baseline_predictions(baseline, p.samples)
    y_ads = np.array([s.e_ads for s in p.samples])
    report: dict[str, Any] = {
        "test_metals": p.test_metals,
        "input_mode": ens.meta.input_mode,
        "baseline": baseline.name,
        "baseline_fit_seconds": baseline_seconds,
    }
    is_clean = np.array([s.state == "clean" for s in p.samples])
    for split, idx in (("val", p.val), ("test", p.test)):
        if not idx:
            continue
        block: dict[str, Any] = {}
        for target, mask in (("e_ads", ~is_clean), ("e_bind", is_clean)):
            i = np.array([k for k in idx if mask[k]], dtype=int)
            if len(i) == 0:
                continue
            for name, pr in (("gnn", gnn), ("baseline", base)):
                block[f"{name}_{target}"] = {
                    **regression_metrics(y_ads[i], pr.e_ads[i]),
                    **calibration_metrics(y_ads[i], pr.e_ads[i], pr.e_ads_std[i]),
                }
        for state in sorted({p.samples[k].state for k in idx} - {"clean"}):
            i = np.array([k for k in idx if p.samples[k].state == state], dtype=int)
            block[f"gnn_e_ads:{state}"] = regression_metrics(y_ads[i], gnn.e_ads[i])
            block[f"baseline_e_ads:{state}"] = regression_metrics(y_ads[i], base.e_ads[i])
        block["targets"] = target_table(p.samples, idx, gnn, base, p.references)
        report[split] = block
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(report, indent=2, default=float))
        i = np.array([k for k in (p.test or p.val) if not is_clean[k]], dtype=int)
        if len(i):
            parity_plot(
                {
                    "GNN": (y_ads[i], gnn.e_ads[i], gnn.e_ads_std[i]),
                    f"{baseline.name} baseline": (y_ads[i], base.e_ads[i], base.e_ads_std[i]),
                },
                out / "parity_e_ads.png",
                "E_ads, held-out metals",
            )
    return report


def target_summary(report: dict[str, Any]) -> dict[str, Any]:
    """Per target of the held-out split of an :func:`evaluate` report (test, else val): n, MAE,
    R² and ρ of the GNN and of the baseline, never pooled over targets."""
    block = report.get("test") or report.get("val") or {}
    keys = ("n", "mae", "r2", "spearman")
    return {
        t: {m: {k: row[m].get(k) for k in keys} for m in ("gnn", "baseline") if m in row}
        for t, row in block.get("targets", {}).items()
    }


def write_model_card(cfg: TrainConfig, p: Prepared, report: dict[str, Any]) -> None:
    """``model_card.md`` beside the weights: data, split, inputs and held-out metrics."""
    methods = sorted({s.method for s in p.samples})
    sites = {s.site for s in p.samples}
    lines = [
        "# dacscreen model card",
        "",
        f"* architecture: {cfg.model.arch}, hidden {cfg.model.hidden}, {cfg.model.layers} layers, "
        f"cutoff {cfg.model.cutoff} Å, {cfg.model.ensemble}-member deep ensemble",
        f"* input mode: {cfg.input_mode}; targets: {', '.join(cfg.targets)} (E_ads, eV) + clean-site "
        f"{cfg.clean_target} + metal d-band centres (eV vs E_F)",
        f"* data: {len(p.samples)} samples from {len(sites)} sites; method(s): {', '.join(methods)}",
        f"* split: {cfg.split.kind}; held-out metals: {', '.join(p.test_metals) or '—'}; "
        f"train/val/test samples {len(p.train)}/{len(p.val)}/{len(p.test)}",
        f"* auxiliary relaxation-displacement loss weight: {cfg.model.displacement_weight:g}",
        f"* energy reference the network corrects: {cfg.model.energy_reference}",
        f"* Fidelity map shipped for `screen`'s *_dft columns: {_correction_note(p.correction)}",
        f"* training time: {report.get('train_seconds', 0.0):.0f} s",
        f"* σ-scaling fitted on the validation split (× members' spread): "
        f"{json.dumps(report.get('std_scale') or {})}",
        "",
        "| split | quantity | model | n | MAE | RMSE | Spearman | ±1σ | ±2σ | miscal. area |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for split in ("val", "test"):
        for key, m in report.get(split, {}).items():
            if key == "targets":  # the per-target table, in evaluation.md
                continue
            model, _, qty = key.partition("_")
            lines.append(
                f"| {split} | {qty} | {model} | {m.get('n', 0)} | {m.get('mae', float('nan')):.3f} | "
                f"{m.get('rmse', float('nan')):.3f} | {m.get('spearman', float('nan')):.2f} | "
                f"{m.get('within_1sigma', float('nan')):.2f} | {m.get('within_2sigma', float('nan')):.2f} | "
                f"{m.get('miscalibration_area', float('nan')):.3f} |"
            )
    (cfg.out / "model_card.md").write_text("\n".join(lines) + "\n")


def _correction_note(corr: Correction | None) -> str:
    return f"{corr.label()}, states {', '.join(sorted(corr.states))}" if corr else "none"


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out
