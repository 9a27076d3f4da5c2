"""The share of the network's correction to its energy reference that a prediction keeps.

With a descriptor reference (``energy_reference: descriptor-gp``) the GNN predicts, per site
and state, reference + correction (eV): the reference a Gaussian process on the elemental site
descriptor, the correction the network's output. On pairs of metals it was trained on the
correction helps (E_bind on a random split: GNN 0.150 eV MAE against 0.248 for the best
baseline); on a metal it never saw, the learned metal embedding was never trained, so the
correction carries little and can add error the reference alone would not make (on the
held-out metals of the model trained with per-state GP references it moved each state's MAE by
at most 0.02 eV, either way: ``benchmarks/results/correction_weight.md``). So the weight
applies to new-metal queries only, those with a metal the
members were not trained on (``meta.train_metals``); a query of trained metals keeps the whole
correction. :func:`fit_correction_weights` picks, per state, the weight w on the grid 0, 0.1,
…, 1 that minimises the site-level MAE of reference + w × correction over the new-metal
samples of the validation split (never the test split): a leave-metal-out model validates on
held-out metals, so it gets weights; a model validated on held-out pairs of its own metals has
no new-metal validation samples and keeps every correction. Only the ensemble's mean
correction is scaled; each member keeps its deviation from the mean, so the ensemble's σ (and
its σ-scaling, fitted afterwards) is unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dacscreen.featurize.samples import Sample
from dacscreen.models.calibration import recalibrate
from dacscreen.models.ensemble import Ensemble
from dacscreen.models.predictor import predict_states

GRID = np.round(np.linspace(0.0, 1.0, 11), 2)
"""Candidate weights."""
MIN_PER_STATE = 10
"""Labelled validation samples a state needs for a weight of its own. The states with fewer
(the intermediates, labelled on a fraction of the sites) share one weight fitted on their
samples together, when those are as many; else they keep the full correction (w = 1)."""


def metals_of(samples: Sequence[Sample]) -> list[str]:
    """The metals of ``samples``, sorted (an ensemble's ``train_metals``)."""
    return sorted({m for s in samples for m in s.metals})


def fit_correction_weights(ens: Ensemble, samples: Sequence[Sample], mode: str) -> dict[str, float]:
    """Fit and store ``ens``'s per-state correction weights (``meta.correction_weight``) on the
    labelled new-metal ``samples`` (a metal outside ``meta.train_metals``), predicted with
    inputs built in ``mode``; none with ``correction_weight: full`` or without such samples.
    The pooled prediction is linear in w for ``orientations: all`` (a mean over
    orientations); with ``labelled`` (the lowest orientation) the orientation chosen at w = 1
    is kept."""
    ens.meta.correction_weight = {}
    seen = set(ens.meta.train_metals)
    samples = [s for s in samples if set(s.metals) - seen]
    if not samples or ens.config.correction_weight == "full":
        return {}
    full = predict_states(ens, samples, mode).predictions.e_ads
    states = np.array([s.state for s in samples])
    ens.meta.correction_weight = dict.fromkeys(sorted(set(states)), 0.0)
    reference = predict_states(ens, samples, mode).predictions.e_ads
    y = np.array([s.e_ads for s in samples], dtype=float)
    ok = np.isfinite(y) & np.isfinite(full)
    weights: dict[str, float] = {}
    rest = np.zeros(len(samples), dtype=bool)
    for state in sorted(set(states)):
        i = (states == state) & ok
        if i.sum() >= MIN_PER_STATE:
            weights[str(state)] = _best_weight(reference[i], full[i], y[i])
        else:
            rest |= i
    if rest.sum() >= MIN_PER_STATE:  # states too sparse for a weight of their own share one
        weights |= dict.fromkeys(
            map(str, sorted(set(states[rest]))), _best_weight(*(a[rest] for a in (reference, full, y)))
        )
    ens.meta.correction_weight = weights
    return weights


def _best_weight(reference: np.ndarray, full: np.ndarray, y: np.ndarray) -> float:
    """The grid weight w whose reference + w × (full − reference) has the lowest MAE against
    ``y`` (eV)."""
    mae = [np.mean(np.abs(reference + w * (full - reference) - y)) for w in GRID]
    return float(GRID[int(np.argmin(mae))])


def fit_on_validation(ens: Ensemble, samples: Sequence[Sample], mode: str) -> None:
    """Everything fitted on the validation split after training, in order: the correction
    weights, then the σ-scaling of the predictions they give
    (:func:`~dacscreen.models.calibration.recalibrate`)."""
    fit_correction_weights(ens, samples, mode)
    recalibrate(ens, samples, mode)
