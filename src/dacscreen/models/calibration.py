"""σ-scaling of a deep ensemble on the predictions it reports.

A deep ensemble of a few members trained on little data is overconfident: its spread
underestimates the error. :func:`recalibrate` fits one factor per quantity, s = median(|y − μ| /
σ) / 0.6745 over held-out labelled samples (the validation split, never the test split), so that
the scaled z-scores have the median of a unit normal and ±0.67σ holds half of the errors
(σ-scaling, Levi et al. 2022, "Evaluating and calibrating uncertainty prediction in regression
tasks", with the median instead of the mean of z²: with two or three members one nearly-zero σ
would otherwise dominate the factor).

The factor is fitted on the site-level predictions that ``screen`` and ``evaluate`` report
(:func:`dacscreen.models.predictor.predict_states`: orientations pooled member by member), not on
single orientation graphs: pooling over the orientations averages part of each graph's error
away, so a factor fitted per graph leaves the reported σ too wide. With a ``descriptor-gp``
energy reference the σ it scales already includes the reference's predictive σ
(:meth:`dacscreen.models.ensemble.Scaling.reference_std`), so the one factor scales both.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dacscreen.featurize.samples import Sample
from dacscreen.models.ensemble import Ensemble
from dacscreen.models.predictor import predict_states

HALF_NORMAL_MEDIAN = 0.6745
"""Median of |z| for a unit normal."""


MIN_PER_STATE = 10
"""Labelled validation samples a state needs for a σ-scale of its own."""


def recalibrate(ens: Ensemble, samples: Sequence[Sample], mode: str) -> dict[str, float]:
    """Fit and store ``ens``'s σ-scaling on the labelled ``samples``, predicted with inputs
    built in ``mode``: ``{"e_ads": s, "dband": s}`` over all of them, and ``e_ads:<state>`` for
    each state with at least :data:`MIN_PER_STATE` labels (E_bind of clean sites and E_ads of
    each adsorbate: the states' errors differ, and one factor left clean sites overconfident
    and adsorbates underconfident); a state without its own factor takes the overall one.
    :meth:`Ensemble.predict` then scales each member's deviation from the mean by s, so σ and
    everything derived per member (ΔG) widen together. Without samples the factors are 1."""
    ens.meta.std_scale = {}
    if not samples:
        return {}
    pred = predict_states(ens, samples, mode).predictions
    y_e = np.array([s.e_ads for s in samples], dtype=float)
    y_d = np.array([s.dband for s in samples], dtype=float).reshape(-1, 2)
    scale = {
        "e_ads": z_scale(y_e, pred.e_ads, pred.e_ads_std),
        "dband": z_scale(y_d, pred.dband, pred.dband_std),
    }
    states = np.array([s.state for s in samples])
    for state in sorted(set(states)):
        i = (states == state) & np.isfinite(y_e)
        if i.sum() >= MIN_PER_STATE:
            scale[f"e_ads:{state}"] = z_scale(y_e[i], pred.e_ads[i], pred.e_ads_std[i])
    ens.meta.std_scale = scale
    return scale


def z_scale(y: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> float:
    """median(|z|) / 0.6745 over the finite z-scores (1.0 when there are fewer than three)."""
    ok = np.isfinite(y) & np.isfinite(mu) & (sigma > 0)
    if ok.sum() < 3:
        return 1.0
    return float(np.median(np.abs((y[ok] - mu[ok]) / sigma[ok])) / HALF_NORMAL_MEDIAN)
