"""The share of the network's correction to its energy reference that a prediction keeps.

With a descriptor reference (``energy_reference: descriptor-gp``) the GNN predicts, per site
and state, reference + correction (eV): the reference a Gaussian process on the elemental site
descriptor, the correction the network's output. On pairs of metals it was trained on the
correction helps (E_bind on a random split: GNN 0.150 eV MAE against 0.248 for the best
baseline); on a metal it never saw, the learned metal embeddings carry no information and the
correction can add error that the reference alone would not make (E_bind under leave-metal-out:
0.420 against 0.371). :func:`fit_correction_weights` picks, per state, the weight w on the grid
0, 0.1, …, 1 that minimises the site-level MAE of reference + w × correction on the validation
split (never the test split): held-out metals for a leave-metal-out model, held-out pairs for a
random split. Only the ensemble's mean correction is scaled; each member keeps its deviation
from the mean, so the ensemble's σ (and its σ-scaling, fitted afterwards) is unchanged.
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
"""Labelled validation samples a state needs for a weight of its own (else 1: the full
correction)."""


def fit_correction_weights(ens: Ensemble, samples: Sequence[Sample], mode: str) -> dict[str, float]:
    """Fit and store ``ens``'s per-state correction weights (``meta.correction_weight``) on the
    labelled ``samples``, predicted with inputs built in ``mode``; none with
    ``correction_weight: full`` or without samples. The pooled prediction is linear in w for
    ``orientations: all`` (a mean over orientations); with ``labelled`` (the lowest
    orientation) the orientation chosen at w = 1 is kept."""
    ens.meta.correction_weight = {}
    if not samples or ens.config.correction_weight == "full":
        return {}
    full = predict_states(ens, samples, mode).predictions.e_ads
    states = np.array([s.state for s in samples])
    ens.meta.correction_weight = dict.fromkeys(sorted(set(states)), 0.0)
    reference = predict_states(ens, samples, mode).predictions.e_ads
    y = np.array([s.e_ads for s in samples], dtype=float)
    weights = {}
    for state in sorted(set(states)):
        i = (states == state) & np.isfinite(y) & np.isfinite(full)
        if i.sum() >= MIN_PER_STATE:
            mae = [np.mean(np.abs(reference[i] + w * (full[i] - reference[i]) - y[i])) for w in GRID]
            weights[str(state)] = float(GRID[int(np.argmin(mae))])
    ens.meta.correction_weight = weights
    return weights


def fit_on_validation(ens: Ensemble, samples: Sequence[Sample], mode: str) -> None:
    """Everything fitted on the validation split after training, in order: the correction
    weights, then the σ-scaling of the predictions they give
    (:func:`~dacscreen.models.calibration.recalibrate`)."""
    fit_correction_weights(ens, samples, mode)
    recalibrate(ens, samples, mode)
