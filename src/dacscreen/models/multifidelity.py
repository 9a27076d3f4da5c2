"""Multi-fidelity learning: DFT is the target fidelity, the CHGNet/xTB labels are the abundant one.

Fidelity maps (:mod:`dacscreen.models.correction`): a GNN ensemble learns the low-fidelity
labels of every site, and a Gaussian process learns the map to DFT from the sites that carry
both labels (same site and state; the DFT single points sit on the CHGNet geometries, ML+SP):

* ``nargp``: ŷ_DFT = g(x, f_low(x)), a GP on the site descriptor with the low-fidelity
  prediction appended (nonlinear autoregressive multi-fidelity GP, Perdikaris et al. 2017);
* ``delta``: ŷ_DFT = f_low(x) + Δ(x) (Δ-learning, Ramakrishnan et al. 2015).

Both apply to the graph-level targets (E_ads, E_bind) and the d-band centres alike, with the
low-fidelity σ propagated (eV). A few dozen DFT sites fit a GP where they could never train a
GNN.

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
from dacscreen.models.baseline import best_baseline
from dacscreen.models.correction import KINDS, Correction
from dacscreen.models.crossval import accumulate, averaged, fit_ensemble, metal_folds
from dacscreen.models.ensemble import Ensemble
from dacscreen.models.pipeline import Prepared, baseline_predictions, blind_predictions
from dacscreen.models.splits import leave_metal_out
from dacscreen.models.targets import Predictions, score_table
from dacscreen.models.train import train_member

TARGETS = ("e_ads:Li2S2", "e_ads:Li2S", "dg5", "dband")
MODELS = ("dft-only", "chgnet-only", "nargp", "delta", "fine-tuned", "baseline (dft)")
FINE_TUNE_LR = 0.2
"""Learning rate of fine-tuning, as a fraction of the config's ``lr``."""


def fine_tune(
    low: Ensemble, cfg: TrainConfig, high: Prepared, train: list[int], val: list[int], ckpt: Path
) -> Ensemble:
    """The members of the low-fidelity ensemble ``low``, each trained further on the
    high-fidelity graphs ``train`` (early stopping on ``val``) at ``FINE_TUNE_LR`` × the learning
    rate, with ``low``'s target standardisation; σ recalibrated on ``val``."""
    tg, vg = high.training_graphs(train), high.training_graphs(val)
    tuned = cfg.model_copy(update={"lr": cfg.lr * FINE_TUNE_LR})
    results = [
        train_member(tg, vg, tuned, low.scaling, cfg.seed + k, ckpt / f"member-{k}.pt", init=m.state_dict())
        for k, m in enumerate(low.members)
    ]
    val_loss = float(np.mean([r.best_val for r in results]))
    meta = {"val_loss": val_loss, "orientations": cfg.orientations}
    ens = Ensemble([r.model for r in results], low.config, low.settings, low.scaling, meta)
    ens.recalibrate(vg)
    return ens


def _fold(
    cfg: TrainConfig, high: Prepared, low: Prepared, held: list[str], work: Path
) -> tuple[list[int], dict[str, Predictions]] | None:
    """Every model's predictions for the high-fidelity test samples of one leave-metal-out
    fold; no sample with a held-out metal reaches any training or validation set."""
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
    low_ens = fit_ensemble(cfg, low, l_tr, l_va, work / "chgnet-only")
    low_pred = blind_predictions(low_ens, test_s, cfg.input_mode)
    dft_ens = fit_ensemble(cfg, high, h_tr, h_va, work / "dft-only")
    base = best_baseline([high.samples[i] for i in h_tr], [high.samples[i] for i in h_va], cfg.split.seed)
    preds = {
        "dft-only": blind_predictions(dft_ens, test_s, cfg.input_mode),
        "chgnet-only": low_pred,
        **{
            kind: Correction.build(seen, low.samples, high.references, kind).apply(test_s, low_pred)
            for kind in KINDS
        },
        "fine-tuned": blind_predictions(
            fine_tune(low_ens, cfg, high, h_tr, h_va, work / "fine-tuned"), test_s, cfg.input_mode
        ),
        "baseline (dft)": baseline_predictions(base, test_s),
    }
    return h_te, preds


def compare_fidelities(
    cfg: TrainConfig,
    high: Prepared,
    low: Prepared,
    k: int = 5,
    work: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """k-fold leave-metal-out over the metals of the DFT samples: DFT-only GNN, CHGNet-only GNN,
    Δ-learning (CHGNet GNN + GP correction), the CHGNet GNN fine-tuned on DFT and the
    descriptor baseline on DFT labels, all scored against the DFT labels. A pair whose metals
    fall in two folds is averaged over both.

    Returns ``{"folds": [...], target: {model: metrics}}`` with the targets of :data:`TARGETS`.
    """
    work = work or cfg.out / "multifidelity"
    n = len(high.samples)
    acc = {m: Predictions.empty(n, 0.0) for m in MODELS}
    count = np.zeros(n)
    folds = []
    for j, held in enumerate(metal_folds(high.samples, k, cfg.split.seed)):
        result = _fold(cfg, high, low, held, work / f"fold-{j}")
        if result is not None:
            idx, preds = result
            accumulate(acc, count, idx, preds)
            folds.append({"test_metals": held, "n_test": len(idx)})
        if progress:
            progress(1)
    tested = [i for i in range(n) if count[i] > 0]
    mean = {m: averaged(p, count) for m, p in acc.items()}
    return {"folds": folds, **score_table(high.samples, tested, mean, high.references, TARGETS)}


def markdown(result: dict[str, Any]) -> str:
    """MAE (eV) and Spearman ρ of every model per target, then its calibration: the fractions
    of errors inside ±1σ and ±2σ (0.68 and 0.95 when calibrated) and the miscalibration area."""
    lines = [
        "| target | n | "
        + " | ".join(f"{m} MAE" for m in MODELS)
        + " | "
        + " | ".join(f"{m} ρ" for m in MODELS)
        + " |",
        "|---|---|" + "---|" * (2 * len(MODELS)),
    ]
    for t in TARGETS:
        row = result.get(t, {})
        mae = [f"{row.get(m, {}).get('mae', float('nan')):.3f}" for m in MODELS]
        rho = [f"{row.get(m, {}).get('spearman', float('nan')):.2f}" for m in MODELS]
        n = row.get(MODELS[0], {}).get("n", 0)
        lines.append(f"| {t} | {n} | " + " | ".join(mae + rho) + " |")
    lines += [
        "",
        "| target | model | ±1σ | ±2σ | miscalibration area | mean σ (eV) |",
        "|---|---|---|---|---|---|",
    ]
    for t in TARGETS:  # ΔG5 carries no σ here
        for m, c in result.get(t, {}).items():
            if "within_1sigma" in c:
                lines.append(
                    f"| {t} | {m} | {c['within_1sigma']:.2f} | {c['within_2sigma']:.2f} "
                    f"| {c['miscalibration_area']:.3f} | {c['mean_std']:.3f} |"
                )
    return "\n".join(lines) + "\n"
