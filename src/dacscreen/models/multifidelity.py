"""Multi-fidelity learning: DFT is the target fidelity, the CHGNet/xTB labels are the abundant one.

Fidelity maps (:mod:`dacscreen.models.correction`): a GNN ensemble learns the low-fidelity
labels of every site, and a Gaussian process learns the map to DFT from the sites that carry
both labels (same site and state; the DFT single points sit on the CHGNet geometries, ML+SP):

* ``nargp``: ŷ_DFT = g(x, f_low(x)), a GP on the site descriptor with the low-fidelity
  prediction appended (nonlinear autoregressive multi-fidelity GP, Perdikaris et al. 2017);
* ``delta``: ŷ_DFT = f_low(x) + Δ(x) (Δ-learning, Ramakrishnan et al. 2015).

Both apply to the graph-level targets (E_ads, E_bind) and the d-band centres alike, with the
low-fidelity σ propagated (eV). A few dozen DFT sites fit a GP where they could never train a
GNN. The same map applied to the CHGNet *label* of the candidate itself (one CHGNet relaxation,
as ``export-dft`` runs before its DFT single points) is Δ-ML in its original sense: the cheap
calculation is run on every new system, and only the correction is learned.

Pretraining and fine-tuning (transfer learning, as in Smith et al., Nat. Commun. 10, 2903
(2019)): each member of the low-fidelity ensemble trains further on the DFT graphs at a fraction
of the learning rate, keeping the low-fidelity target standardisation, so it starts from the
low-fidelity model and moves only as far as the DFT labels ask.

:func:`compare_fidelities` is the leave-metal-out comparison against DFT-only and
CHGNet-only training.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dacscreen.config import TrainConfig
from dacscreen.featurize.samples import Sample
from dacscreen.models.baseline import best_baseline
from dacscreen.models.correction import Correction, label_predictions
from dacscreen.models.crossval import fit_ensemble
from dacscreen.models.dataset import Prepared
from dacscreen.models.ensemble import Ensemble
from dacscreen.models.ensemble_meta import EnsembleMeta
from dacscreen.models.evaluation import baseline_predictions, blind_predictions
from dacscreen.models.metrics import mae_gap
from dacscreen.models.shrinkage import fit_on_validation, metals_of
from dacscreen.models.splits import leave_metal_out, metal_folds
from dacscreen.models.targets import Predictions, accumulate, averaged, score_table
from dacscreen.models.train import train_member

TARGETS = ("e_ads:Li2S2", "e_ads:Li2S", "dg5", "dband")
SCREENING = ("dft-only", "chgnet-only", "gnn + map", "fine-tuned", "baseline (dft)")
"""Models that see only the candidate's structure (what ``screen`` has)."""
RELAXED = ("chgnet label", "label + map")
"""Models that also see the candidate's own CHGNet label (one CHGNet relaxation per state)."""
MODELS = SCREENING + RELAXED
GAPS = {
    "gnn + map": ("dft-only", "chgnet-only"),
    "fine-tuned": ("dft-only", "chgnet-only"),
    "label + map": ("chgnet label", "dft-only", "chgnet-only", "baseline (dft)"),
}
"""The multi-fidelity models and the single-fidelity ones each is compared with, pairwise."""
GAP_TARGETS = ("e_ads:Li2S2", "e_ads:Li2S")
FINE_TUNE_LR = 0.2
"""Learning rate of fine-tuning, as a fraction of the config's ``lr``."""


def fine_tune(
    low: Ensemble, cfg: TrainConfig, high: Prepared, train: list[int], val: list[int], store: Path
) -> Ensemble:
    """The members of the low-fidelity ensemble ``low``, each trained further on the
    high-fidelity graphs ``train`` (early stopping on ``val``) at ``FINE_TUNE_LR`` × the learning
    rate, with ``low``'s target standardisation; σ recalibrated on ``val``. The tuned members go
    to the member store ``store`` (their fingerprint covers the initial weights)."""
    tg, vg = high.training_graphs(train), high.training_graphs(val)
    tuned = cfg.model_copy(update={"lr": cfg.lr * FINE_TUNE_LR})
    results = [
        train_member(tg, vg, tuned, low.scaling, cfg.seed + k, init=m.state_dict(), store=store)
        for k, m in enumerate(low.members)
    ]
    val_loss = float(np.mean([r.best_val for r in results]))
    seen = sorted(set(low.meta.train_metals) | set(metals_of([high.samples[i] for i in train])))
    meta = EnsembleMeta(val_loss=val_loss, orientations=cfg.orientations, train_metals=seen)
    ens = Ensemble([r.model for r in results], low.config, low.settings, low.scaling, meta)
    fit_on_validation(ens, [high.samples[i] for i in val], cfg.input_mode)
    return ens


def _fold(
    cfg: TrainConfig, high: Prepared, low: Prepared, held: list[str], store: Path
) -> tuple[list[int], dict[str, Predictions], str] | None:
    """Every model's predictions for the high-fidelity test samples of one leave-metal-out
    fold; no sample with a held-out metal reaches any training or validation set. Every GNN
    member (low-fidelity, DFT-only, fine-tuned) goes to the member store ``store``."""
    h_tr, h_va, h_te = leave_metal_out(
        high.samples, held, cfg.split.val_fraction, cfg.split.seed, cfg.split.val_by
    )
    l_tr, l_va, _ = leave_metal_out(
        low.samples, held, cfg.split.val_fraction, cfg.split.seed, cfg.split.val_by
    )
    if not (h_tr and h_te and l_tr):
        return None
    test_s = [high.samples[i] for i in h_te]
    seen = [high.samples[i] for i in h_tr + h_va]
    low_ens = fit_ensemble(cfg, low, l_tr, l_va, store)
    low_pred = blind_predictions(low_ens, test_s, cfg.input_mode)
    dft_ens = fit_ensemble(cfg, high, h_tr, h_va, store)
    base = best_baseline([high.samples[i] for i in h_tr], [high.samples[i] for i in h_va], cfg.split.seed)
    fmap = Correction.build(seen, low.samples, high.references, "auto")
    labels = label_predictions(test_s, low.samples)
    preds = {
        "dft-only": blind_predictions(dft_ens, test_s, cfg.input_mode),
        "chgnet-only": low_pred,
        "gnn + map": fmap.apply(test_s, low_pred),
        "fine-tuned": blind_predictions(
            fine_tune(low_ens, cfg, high, h_tr, h_va, store), test_s, cfg.input_mode
        ),
        "baseline (dft)": baseline_predictions(base, test_s),
        "chgnet label": labels,
        "label + map": fmap.apply(test_s, labels),
    }
    return h_te, preds, fmap.kind


def compare_fidelities(
    cfg: TrainConfig,
    high: Prepared,
    low: Prepared,
    k: int = 5,
    store: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """k-fold leave-metal-out over the metals of the DFT samples, all scored against the DFT
    labels: the models of :data:`SCREENING` (DFT-only GNN, CHGNet-only GNN, the CHGNet GNN with
    the fidelity map, the CHGNet GNN fine-tuned on DFT, the descriptor baseline on DFT labels)
    and of :data:`RELAXED` (the candidate's CHGNet label as is, and mapped: Δ-ML). A pair whose
    metals fall in two folds is averaged over both.

    Returns ``{"folds": [...], target: {model: metrics}}`` with the targets of :data:`TARGETS`.
    Every GNN member is trained into the member store ``store`` (default
    ``cfg.out/multifidelity/members``), so an interrupted run resumes; with the store of
    ``evaluate``, the CHGNet-only members are the ones its folds train (same metals held out,
    same data, same recipe) and are trained once.
    """
    store = store or cfg.out / "multifidelity" / "members"
    n = len(high.samples)
    acc = {m: Predictions.empty(n, 0.0) for m in MODELS}
    count = np.zeros(n)
    folds = []
    for held in metal_folds(high.samples, k, cfg.split.seed):
        result = _fold(cfg, high, low, held, store)
        if result is not None:
            idx, preds, kind = result
            accumulate(acc, count, idx, preds)
            folds.append({"test_metals": held, "n_test": len(idx), "map_kind": kind})
        if progress:
            progress(1)
    tested = [i for i in range(n) if count[i] > 0]
    mean = {m: averaged(p, count) for m, p in acc.items()}
    table = score_table(high.samples, tested, mean, high.references, TARGETS)
    return {"folds": folds, **table, "gaps": gaps(high.samples, tested, mean, cfg.split.seed)}


def gaps(samples: list[Sample], tested: list[int], mean: dict[str, Predictions], seed: int) -> list[dict]:
    """The paired MAE gap (eV, :func:`~dacscreen.models.metrics.mae_gap`) of each multi-fidelity
    model of :data:`GAPS` against each of its single-fidelity comparators, per E_ads target."""
    out = []
    y = np.array([s.e_ads for s in samples])
    for target in GAP_TARGETS:
        i = np.array([k for k in tested if samples[k].state == target.split(":")[1]], dtype=int)
        for model, against in GAPS.items():
            for other in against:
                gap = mae_gap(y[i], mean[model].e_ads[i], mean[other].e_ads[i], seed=seed)
                out.append({"target": target, "model": model, "against": other, **gap})
    return out


def markdown(result: dict[str, Any]) -> str:
    """One row per target and model: its input tier, MAE (eV), Spearman ρ and calibration (the
    fractions of errors inside ±1σ and ±2σ, 0.68 and 0.95 when calibrated, the miscalibration
    area and the mean σ); a model without σ (a label) or a target without one (ΔG5) shows –."""
    lines = [
        "| target | n | tier | model | MAE | ρ | ±1σ | ±2σ | miscalibration area | mean σ (eV) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for t in TARGETS:
        row = result.get(t, {})
        for m in MODELS:
            c = row.get(m, {})
            tier = "structure" if m in SCREENING else "+ CHGNet relaxation"
            lines.append(
                f"| {t} | {c.get('n', 0)} | {tier} | {m} | {c.get('mae', float('nan')):.3f} "
                f"| {c.get('spearman', float('nan')):.2f} | {_calibration(c)} |"
            )
    lines += [
        "",
        "Paired MAE gaps, MAE(other) − MAE(model) in eV (positive: the multi-fidelity model is "
        "better), with 95 % paired-bootstrap intervals over the held-out samples:",
        "",
        "| target | model | against | n | gap | 95 % interval |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {g['target']} | {g['model']} | {g['against']} | {g['n']} | {g['gap']:+.3f} "
        f"| [{g['low']:+.3f}, {g['high']:+.3f}] |"
        for g in result.get("gaps", [])
    ]
    return "\n".join(lines) + "\n"


def _calibration(c: dict[str, Any]) -> str:
    """``±1σ | ±2σ | area | mean σ`` cells of one score, – where there is no σ."""
    if not c.get("mean_std"):
        return "– | – | – | –"
    return (
        f"{c['within_1sigma']:.2f} | {c['within_2sigma']:.2f} | {c['miscalibration_area']:.3f} "
        f"| {c['mean_std']:.3f}"
    )
