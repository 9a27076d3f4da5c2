"""Error and uncertainty-calibration metrics (eV for energies)."""

from __future__ import annotations

import numpy as np
from scipy.stats import norm, spearmanr
from sklearn.metrics import r2_score


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """MAE, RMSE, R² and Spearman ρ on finite entries (R² and ρ need three or more)."""
    ok = np.isfinite(y) & np.isfinite(pred)
    y, pred = y[ok], pred[ok]
    if len(y) == 0:
        return {
            "n": 0,
            "mae": float("nan"),
            "rmse": float("nan"),
            "r2": float("nan"),
            "spearman": float("nan"),
        }
    few = len(y) < 3
    return {
        "n": len(y),
        "mae": float(np.mean(np.abs(y - pred))),
        "rmse": float(np.sqrt(np.mean((y - pred) ** 2))),
        "r2": float("nan") if few else float(r2_score(y, pred)),
        "spearman": float("nan") if few else float(spearmanr(y, pred).statistic),
    }


def top_k_recall(y: np.ndarray, pred: np.ndarray, k: int = 20) -> float:
    """Fraction of the ``k`` lowest true values (the best candidates, e.g. lowest ΔG_RDS) that
    are also among the ``k`` lowest predictions; NaN unless more than ``k`` finite entries
    exist (with fewer, every candidate is in the top k and the recall says nothing)."""
    ok = np.isfinite(y) & np.isfinite(pred)
    y, pred = y[ok], pred[ok]
    if len(y) <= k:
        return float("nan")
    return len(set(np.argsort(y)[:k]) & set(np.argsort(pred)[:k])) / k


def calibration_metrics(y: np.ndarray, mean: np.ndarray, std: np.ndarray) -> dict[str, float]:
    """Fraction of errors inside ±1σ and ±2σ, and the miscalibration area.

    The miscalibration area is the mean |observed − expected| coverage of central Gaussian
    intervals over expected coverages 0.01..0.99 (0 is perfect calibration).
    """
    ok = np.isfinite(y) & np.isfinite(mean) & np.isfinite(std)
    y, mean, std = y[ok], mean[ok], np.maximum(std[ok], 1e-8)
    if len(y) == 0:
        return {
            "within_1sigma": float("nan"),
            "within_2sigma": float("nan"),
            "miscalibration_area": float("nan"),
        }
    z = np.abs(y - mean) / std
    expected = np.linspace(0.01, 0.99, 99)
    observed = np.array([np.mean(z <= norm.ppf(0.5 + p / 2.0)) for p in expected])
    return {
        "within_1sigma": float(np.mean(z <= 1.0)),
        "within_2sigma": float(np.mean(z <= 2.0)),
        "miscalibration_area": float(np.mean(np.abs(observed - expected))),
        "mean_std": float(np.mean(std)),
    }


def mae_gap(
    y: np.ndarray, a: np.ndarray, b: np.ndarray, n_boot: int = 2000, seed: int = 0
) -> dict[str, float]:
    """MAE(b) − MAE(a) (eV; positive when ``a`` is the better model) over the entries finite in
    all three arrays, with the 2.5 and 97.5 percentiles of a paired bootstrap over those entries
    (both models resampled together, so the interval reflects their difference, not each
    model's own spread)."""
    ok = np.isfinite(y) & np.isfinite(a) & np.isfinite(b)
    d = np.abs(y[ok] - b[ok]) - np.abs(y[ok] - a[ok])
    if len(d) == 0:
        return {"n": 0, "gap": float("nan"), "low": float("nan"), "high": float("nan")}
    boots = np.random.default_rng(seed).choice(d, (n_boot, len(d))).mean(1)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return {"n": len(d), "gap": float(d.mean()), "low": float(lo), "high": float(hi)}
