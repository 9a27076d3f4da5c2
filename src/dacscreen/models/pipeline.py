"""Runners for ``train`` and ``evaluate``: data → split → graphs → ensemble → metrics.

Accuracy is reported leave-metal-out by default, side by side with the random-forest
descriptor baseline, with calibration next to the errors. The test split is used only for the
final report, never for early stopping or tuning.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dacscreen.config import Settings, TrainConfig
from dacscreen.data.store import Store, open_store
from dacscreen.errors import DacscreenError
from dacscreen.featurize.graphs import GraphSettings
from dacscreen.featurize.samples import (
    Sample,
    build_graphs,
    cache_key,
    collect_samples,
    orientation_variants,
    reference_table,
)
from dacscreen.models import distributed
from dacscreen.models.baseline import Baseline, best_baseline
from dacscreen.models.correction import Correction
from dacscreen.models.ensemble import Ensemble, Scaling
from dacscreen.models.metrics import calibration_metrics, regression_metrics
from dacscreen.models.predictor import predict_states
from dacscreen.models.registry import register
from dacscreen.models.splits import leave_metal_out, pick_test_metals, random_split
from dacscreen.models.targets import Predictions, target_table
from dacscreen.models.train import train_member

log = logging.getLogger(__name__)
MIN_SAMPLES = 4


@dataclass
class Prepared:
    """Samples, graphs and split indices for one config."""

    samples: list[Sample]
    graphs: list[Any]
    train: list[int]
    val: list[int]
    test: list[int]
    test_metals: list[str]
    settings: GraphSettings
    references: dict[str, float]
    correction: Correction | None = None
    dband_method: str = ""
    variants: list[list[Any]] = field(default_factory=list)
    """Per sample, the graphs of its other orientations (``orientations: all``), else empty."""

    def training_graphs(self, idx: list[int]) -> list[Any]:
        """The graphs of samples ``idx`` with their orientation variants."""
        return [g for i in idx for g in [self.graphs[i], *(self.variants[i] if self.variants else [])]]


def prepare_once(cfg: TrainConfig) -> Prepared:
    """:func:`prepare` in rank 0 first, so that data-parallel processes read its graph cache
    instead of racing to write it."""
    p = prepare(cfg) if distributed.rank() == 0 else None
    distributed.barrier()
    return p or prepare(cfg)


def prepare(cfg: TrainConfig, settings: Settings | None = None, graphs: bool = True) -> Prepared:
    """Load samples of one method from the store, split them and featurise them (cached;
    ``graphs=False`` for the descriptor baselines alone)."""
    s = settings or Settings()
    store = open_store(cfg.db or s.db, s.shards)
    samples = [
        x
        for x in collect_samples(store, cfg.method, cfg.host, cfg.target_definitions, cfg.clean_target)
        if x.state == "clean" or x.state in cfg.targets
    ]
    if len(samples) < MIN_SAMPLES:
        raise DacscreenError(f"{store.url}: only {len(samples)} labelled samples; label more data first")
    if cfg.split.kind == "leave-metal-out":
        held = cfg.split.test_metals or pick_test_metals(samples, cfg.split.n_test_metals, cfg.split.seed)
        tr, va, te = leave_metal_out(samples, held, cfg.split.val_fraction, cfg.split.seed, cfg.split.val_by)
    else:
        held = []
        tr, va, te = random_split(samples, (cfg.split.val_fraction, cfg.split.val_fraction), cfg.split.seed)
    gs = GraphSettings(cutoff=cfg.model.cutoff)
    method = samples[0].method if isinstance(cfg.method, list) or cfg.method is None else cfg.method
    refs = reference_table(store, method)
    if not graphs:
        return Prepared(samples, [], tr, va, te, held, gs, refs, None, dband_method(store, method))
    check_structures(samples, cfg.input_mode, store.url)
    built = build_graphs(samples, cfg.input_mode, gs, s.cache_dir / "graphs")
    corr = _correction(store, cfg, samples)
    variants = variant_graphs(samples, cfg, gs, s.cache_dir / "graphs")
    return Prepared(samples, built, tr, va, te, held, gs, refs, corr, dband_method(store, method), variants)


def check_structures(samples: list[Sample], mode: str, where: str) -> None:
    """Refuse GNN training on samples without a structure the model can be given: records of an
    energies-only import that the platform could not build, or (``input_mode: relaxed``)
    platform-built records that were never relaxed."""
    from dacscreen.data.hosts import HOSTS

    usable = ("relaxed",) if mode == "relaxed" else ("relaxed", "built")
    bad = [s for s in samples if s.structure not in usable]
    if bad:
        first = bad[0]
        raise DacscreenError(
            f"{where}: {len(bad)} of {len(samples)} samples have no structure for a GNN in input mode "
            f"{mode} (e.g. {first.host}|{first.m1}|{first.m2}|{first.state}: {first.structure}); "
            "`dacscreen evaluate --config ...` without --model scores the descriptor baselines on them"
        )
    rebuilds = {"as-built": lambda s: True, "relaxed-site": lambda s: s.relaxed_clean is None}
    rebuilt = [s for s in samples if s.host not in HOSTS and rebuilds.get(mode, lambda s: False)(s)]
    if rebuilt:
        raise DacscreenError(
            f"{where}: input mode {mode} rebuilds sites from the host name, and the platform cannot "
            f"build host '{rebuilt[0].host}'; use input_mode: relaxed (your structures as they are)"
            + (" or relaxed-site (your relaxed bare sites)" if mode == "as-built" else "")
        )


def variant_graphs(
    samples: list[Sample], cfg: TrainConfig, gs: GraphSettings, cache: Path
) -> list[list[Any]]:
    """Per sample, the graphs of its :func:`orientation_variants` (cached) when ``cfg`` trains on
    every orientation; else no lists."""
    if cfg.orientations != "all" or cfg.input_mode == "relaxed":
        return []
    per = [orientation_variants(s) for s in samples]
    flat = build_graphs([v for vs in per for v in vs], cfg.input_mode, gs, cache)
    out, k = [], 0
    for vs in per:
        out.append(flat[k : k + len(vs)])
        k += len(vs)
    return out


def dband_method(store: Store, method: str) -> str:
    """The method(s) of the d-band centres on the clean sites of ``method`` (often another
    calculator than the energies, e.g. GFN1-xTB on CHGNet geometries)."""
    rows = store.rows(kind="site", method=method, adsorbate="clean")
    return ", ".join(sorted({str(r.get("dband_method")) for r in rows if r.get("dband_method")}))


def _correction(store: Store, cfg: TrainConfig, low: list[Sample]) -> Correction | None:
    """The fidelity map of ``cfg.correction_method`` from the training samples ``low``."""
    if not cfg.correction_method:
        return None
    high = collect_samples(store, cfg.correction_method, cfg.host, cfg.target_definitions, cfg.clean_target)
    try:
        return Correction.build(high, low, reference_table(store, cfg.correction_method), cfg.correction_kind)
    except (ValueError, IndexError) as exc:
        raise DacscreenError(f"{store.url}: correction_method {cfg.correction_method!r}: {exc}") from exc


# TrainConfig keys that say where and on what a run happens, not how the model is trained; they
# are left out of the recipe stored with a model (``meta["train_config"]``).
MACHINE_KEYS = {"db", "out", "device", "devices", "num_workers", "registered_model"}


def train_ensemble(
    cfg: TrainConfig, prepared: Prepared | None = None, progress=None
) -> tuple[Ensemble, dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Train ``cfg.model.ensemble`` members, save the ensemble to ``cfg.out``, log to MLflow.

    Under torchrun (``train --devices N``) every process calls this; ranks other than 0 only
    train (their ensemble is None) and rank 0 logs, evaluates and saves."""
    import mlflow

    from dacscreen import tracking

    p = prepared or prepare(cfg)
    train_g, val_g = p.training_graphs(p.train), p.training_graphs(p.val)
    scaling = Scaling.fit(train_g, cfg.model.energy_reference)
    if distributed.rank() != 0:  # a data-parallel helper: it trains the same members; rank 0 reports
        for k in range(cfg.model.ensemble):
            train_member(
                train_g, val_g, cfg, scaling, cfg.seed + k, cfg.out / "checkpoints" / f"member-{k}.pt"
            )
        return None, {"rank": distributed.rank()}
    members, seconds = [], 0.0
    params = {
        "devices": distributed.world_size(),
        **cfg.model.model_dump(),
        "input_mode": cfg.input_mode,
        "orientations": cfg.orientations,
        "epochs": cfg.epochs,
        "lr": cfg.lr,
        "batch_size": cfg.batch_size,
        "n_train": len(p.train),
        "n_val": len(p.val),
        "n_test": len(p.test),
        "test_metals": ",".join(p.test_metals),
        "dataset_hash": cache_key(p.samples, cfg.input_mode, p.settings),
        "targets": ",".join(cfg.targets),
    }
    with tracking.run(cfg.experiment, f"train-{cfg.model.arch}-{cfg.input_mode}", params) as active:
        for k in range(cfg.model.ensemble):
            ck = cfg.out / "checkpoints" / f"member-{k}.pt"

            def log_epoch(epoch: int, tl: float, vl: float, k: int = k) -> None:
                mlflow.log_metrics({f"m{k}_train_loss": tl, f"m{k}_val_loss": vl}, step=epoch)

            res = train_member(train_g, val_g, cfg, scaling, cfg.seed + k, ck, log_epoch)
            members.append(res.model)
            seconds += res.seconds
            if progress:
                progress(1)
        ens = Ensemble(
            members,
            cfg.model,
            p.settings,
            scaling,
            {
                "input_mode": cfg.input_mode,
                "orientations": cfg.orientations,
                "method": p.samples[0].method,
                "dband_method": p.dband_method,
                "targets": cfg.targets,
                "test_metals": p.test_metals,
                "trained": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "mlflow_run": active.info.run_id,
                "references": p.references,
                "train_config": cfg.model_dump(mode="json", exclude=MACHINE_KEYS),
                **({"correction": p.correction.to_meta()} if p.correction else {}),
            },
        )
        ens.recalibrate(val_g)
        ens.save(cfg.out)
        report = evaluate(ens, p, cfg.out)
        report["train_seconds"] = seconds
        report["std_scale"] = ens.std_scale
        write_model_card(cfg, p, report)
        mlflow.log_metrics(
            {k: v for k, v in flatten(report).items() if isinstance(v, float | int) and np.isfinite(v)}
        )
        for f in cfg.out.glob("*.png"):
            mlflow.log_artifact(str(f))
        mlflow.log_artifact(str(cfg.out / "metrics.json"))
        mlflow.log_dict(cfg.model_dump(mode="json"), "config.json")
        for name in ("meta.json", "weights.pt", "model_card.md"):
            mlflow.log_artifact(str(cfg.out / name), artifact_path="model")
        if cfg.registered_model:
            report["registered"] = f"models:/{cfg.registered_model}/{register(cfg.out, cfg.registered_model)}"
    return ens, report


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

    gnn = blind_predictions(ens, p.samples, ens.meta.get("input_mode", "as-built"))
    t0 = time.perf_counter()
    baseline = fit_baseline(p)
    baseline_seconds = time.perf_counter() - t0
    base = baseline_predictions(baseline, p.samples)
    y_ads = np.array([s.e_ads for s in p.samples])
    report: dict[str, Any] = {
        "test_metals": p.test_metals,
        "input_mode": ens.meta.get("input_mode"),
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
