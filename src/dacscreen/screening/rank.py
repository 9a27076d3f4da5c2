"""Ranking of screened sites (SCIENCE.md §8): hard filters, a score, a Pareto front and an
acquisition value for choosing DFT verification jobs. Energies in eV; lower ΔG_RDS is better."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from dacscreen.config import RankingConfig


def apply_filters(df: pd.DataFrame, cfg: RankingConfig) -> pd.Series:
    """Boolean mask: |Δχ| ≤ max, Li2S2 and Li2S binding inside their windows, E_bind below the
    stability threshold (:func:`stability_threshold`).
    Single-atom sites (|Δχ| = 0) pass the Δχ filter and are ranked beside the pairs."""
    lo2, hi2 = cfg.li2s2_window
    lo1, hi1 = cfg.li2s_window
    return (
        (df["delta_chi"] <= cfg.max_delta_chi)
        & df["e_ads_li2s2"].between(lo2, hi2)
        & df["e_ads_li2s"].between(lo1, hi1)
        & (df["e_bind"] <= stability_threshold(df, cfg))
    )


def stability_threshold(df: pd.DataFrame, cfg: RankingConfig) -> float:
    """``max_e_bind`` if set, else E_bind of the reference pair (Cu–Ni) + ``stability_margin``;
    +inf when neither is available."""
    if cfg.max_e_bind is not None:
        return cfg.max_e_bind
    a, b = cfg.stability_reference
    ref = df[((df.m1 == a) & (df.m2 == b)) | ((df.m1 == b) & (df.m2 == a))]
    return float(ref["e_bind"].iloc[0]) + cfg.stability_margin if len(ref) else float("inf")


def score(df: pd.DataFrame, cfg: RankingConfig) -> pd.Series:
    """Higher is better: −w_dg·ΔG_RDS − w_binding·(distance of E_ads(Li2S) outside its window)
    − w_uncertainty·σ(ΔG_RDS)."""
    lo, hi = cfg.li2s_window
    outside = np.maximum(0.0, lo - df["e_ads_li2s"]) + np.maximum(0.0, df["e_ads_li2s"] - hi)
    return -cfg.w_dg * df["dg_rds"] - cfg.w_binding * outside - cfg.w_uncertainty * df["dg_rds_std"]


def pareto_front(df: pd.DataFrame, cols: tuple[str, str] = ("dg_rds", "e_ads_li2s2")) -> pd.Series:
    """Non-dominated sites when minimising both columns (low ΔG_RDS, strong Li2S2 binding)."""
    vals = df[list(cols)].to_numpy()
    n = len(vals)
    front = np.ones(n, dtype=bool)
    for i in range(n):
        if not np.isfinite(vals[i]).all():
            front[i] = False
            continue
        dominated = np.all(vals <= vals[i], axis=1) & np.any(vals < vals[i], axis=1)
        front[i] = not dominated.any()
    return pd.Series(front, index=df.index)


def acquisition(df: pd.DataFrame, cfg: RankingConfig) -> pd.Series:
    """Value of a DFT verification job: UCB = −μ + κσ of ΔG_RDS, or expected improvement over
    the best predicted ΔG_RDS, or greedy (−μ)."""
    mu, sigma = df["dg_rds"], df["dg_rds_std"].clip(lower=1e-6)
    if cfg.acquisition == "greedy":
        return -mu
    if cfg.acquisition == "ucb":
        return -mu + cfg.kappa * sigma
    best = mu.min()
    z = (best - mu) / sigma
    return (best - mu) * norm.cdf(z) + sigma * norm.pdf(z)


def rank(df: pd.DataFrame, cfg: RankingConfig) -> pd.DataFrame:
    """Add passes_filters, score, pareto, acquisition and rank (1 = best among passing sites)."""
    out = df.copy()
    out["passes_filters"] = apply_filters(out, cfg)
    out["score"] = score(out, cfg)
    out["pareto"] = pareto_front(out)
    out["acquisition"] = acquisition(out, cfg)
    order = out.sort_values(["passes_filters", "score"], ascending=[False, False]).index
    out.loc[order, "rank"] = np.arange(1, len(out) + 1)
    out["rank"] = out["rank"].astype(int)
    return out.sort_values("rank")
