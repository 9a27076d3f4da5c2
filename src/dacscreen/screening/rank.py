"""Ranking of screened sites (SCIENCE.md §8). Energies in eV; lower ΔG_RDS is better.

* **Pairs are the candidates; single atoms are the references.** Single-atom rows are kept,
  flagged ``reference_row``, and never ranked. Every pair says whether it beats *both* of its
  single atoms on the columns it is ranked on (:func:`basis`: ΔG and Li2S2 / Li2S binding;
  ``beats_singles_*``).
* **Filters**, each named in ``failed_filters`` when a row fails it: ``delta_chi`` (|Δχ| ≤
  ``max_delta_chi``), ``li2s2_window`` and ``li2s_window`` (E_ads inside the window),
  ``stability`` (E_bind below the threshold of :func:`stability_threshold`).
* **Windows derived from the data** (:func:`window`): with a window left unset (the default), it
  spans the ``window_quantiles`` of the screened pairs' values, widened to hold the reference
  pair (Cu–Ni) with ``window_margin`` on each side.
* **Score** (higher is better): −w_dg·ΔG − w_binding·(distance of E_ads(Li2S) outside its
  window) − w_uncertainty·σ(ΔG), with ΔG = ΔG_RDS at the model's fidelity; when the model
  ships a DFT fidelity map, the score and the windows use the DFT-level columns
  (``dg_5_dft``, ``e_ads_*_dft``) instead; ``score_basis`` names what was used.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy.stats import norm

from dacscreen.config import RankingConfig

log = logging.getLogger(__name__)


def basis(df: pd.DataFrame) -> dict[str, str]:
    """The columns the score, the windows, the Pareto front, the comparison with the single
    atoms and the report's figures use: DFT-level ones where the model's fidelity map supplies
    them for every row, else the training fidelity's."""

    def pick(plain: str, dft: str) -> str:
        return dft if dft in df and np.isfinite(df[dft]).all() else plain

    return {
        "dg": pick("dg_rds", "dg_5_dft"),
        "li2s2": pick("e_ads_li2s2", "e_ads_li2s2_dft"),
        "li2s": pick("e_ads_li2s", "e_ads_li2s_dft"),
    }


def window(
    values: pd.Series, reference: float | None, cfg: RankingConfig, fixed: tuple[float, float] | None
) -> tuple[float, float]:
    """The E_ads window (eV): ``fixed`` when set, else the ``window_quantiles`` of ``values``
    (the screened pairs), widened to hold ``reference`` ± ``window_margin``."""
    if fixed is not None:
        return fixed
    lo, hi = (float(v) for v in np.nanquantile(values, cfg.window_quantiles))
    if reference is not None and np.isfinite(reference):
        lo, hi = min(lo, reference - cfg.window_margin), max(hi, reference + cfg.window_margin)
    return lo, hi


def reference_row(df: pd.DataFrame, cfg: RankingConfig) -> pd.DataFrame:
    """The rows of the reference pair (``stability_reference``, either order)."""
    a, b = cfg.stability_reference
    return df[((df.m1 == a) & (df.m2 == b)) | ((df.m1 == b) & (df.m2 == a))]


def stability_threshold(df: pd.DataFrame, cfg: RankingConfig) -> float:
    """``max_e_bind`` if set, else E_bind of the reference pair (Cu–Ni) + ``stability_margin``;
    +inf (with a warning: the filter is off) when neither is available."""
    if cfg.max_e_bind is not None:
        return cfg.max_e_bind
    ref = reference_row(df, cfg)
    if not len(ref):
        log.warning(
            "stability filter off: the reference pair %s is not screened", "-".join(cfg.stability_reference)
        )
        return float("inf")
    return float(ref["e_bind"].iloc[0]) + cfg.stability_margin


def filter_checks(
    df: pd.DataFrame, cfg: RankingConfig
) -> tuple[pd.DataFrame, dict[str, tuple[float, float]]]:
    """One boolean column per filter (True: passes) and the E_ads windows used."""
    cols = basis(df)
    pairs, ref = df[df["m2"] != ""], reference_row(df, cfg)
    windows = {}
    for name, fixed in (("li2s2", cfg.li2s2_window), ("li2s", cfg.li2s_window)):
        col = cols[name]
        refv = float(ref[col].iloc[0]) if len(ref) else None
        windows[name] = window(pairs[col] if len(pairs) else df[col], refv, cfg, fixed)
    checks = pd.DataFrame(
        {
            "delta_chi": df["delta_chi"] <= cfg.max_delta_chi,
            "li2s2_window": df[cols["li2s2"]].between(*windows["li2s2"]),
            "li2s_window": df[cols["li2s"]].between(*windows["li2s"]),
            "stability": df["e_bind"] <= stability_threshold(df, cfg),
        },
        index=df.index,
    )
    return checks, windows


def score(df: pd.DataFrame, cfg: RankingConfig, li2s_window: tuple[float, float]) -> pd.Series:
    """Higher is better: −w_dg·ΔG − w_binding·(distance of E_ads(Li2S) outside its window)
    − w_uncertainty·σ(ΔG), on the columns of :func:`basis`."""
    cols = basis(df)
    lo, hi = li2s_window
    outside = np.maximum(0.0, lo - df[cols["li2s"]]) + np.maximum(0.0, df[cols["li2s"]] - hi)
    return -cfg.w_dg * df[cols["dg"]] - cfg.w_binding * outside - cfg.w_uncertainty * df[f"{cols['dg']}_std"]


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
    """Value of a DFT verification job: UCB = −μ + κσ of ΔG, or expected improvement over
    the best predicted ΔG, or greedy (−μ); ΔG on the column of :func:`basis`."""
    col = basis(df)["dg"]
    mu, sigma = df[col], df[f"{col}_std"].clip(lower=1e-6)
    if cfg.acquisition == "greedy":
        return -mu
    if cfg.acquisition == "ucb":
        return -mu + cfg.kappa * sigma
    best = mu.min()
    z = (best - mu) / sigma
    return (best - mu) * norm.cdf(z) + sigma * norm.pdf(z)


def against_singles(df: pd.DataFrame) -> pd.DataFrame:
    """``beats_singles_<name>`` for each pair: its value of the :func:`basis` column ``name``
    (``dg``, ``li2s2``, ``li2s``) lower than that of both of its single atoms (stronger binding,
    lower ΔG); NA for single atoms and pairs whose single atoms are not screened. On the ranked
    columns, so that a pair's rank and its comparison with its single atoms say the same thing."""
    singles = df[df["m2"] == ""].set_index("m1")
    out = pd.DataFrame(index=df.index)
    for name, col in basis(df).items():
        ref = singles[col].to_dict()
        vals = []
        for m1, m2, v in zip(df["m1"], df["m2"], df[col], strict=True):
            ok = m2 and m1 in ref and m2 in ref
            vals.append(bool(v < min(ref[m1], ref[m2])) if ok else pd.NA)
        out[f"beats_singles_{name}"] = pd.array(vals, dtype="boolean")
    return out


def rank(df: pd.DataFrame, cfg: RankingConfig) -> pd.DataFrame:
    """Add the filter columns, score, Pareto flag, acquisition and ``rank`` (1 = best passing
    pair; single atoms are ``reference_row`` and have no rank). Pairs come first, in rank order,
    then the single atoms."""
    out = df.copy()
    checks, windows = filter_checks(out, cfg)
    out["passes_filters"] = checks.all(axis=1)
    out["failed_filters"] = [
        ";".join(c for c in checks.columns if not row[c]) for _, row in checks.iterrows()
    ]
    out["li2s2_window"] = "{:.2f},{:.2f}".format(*windows["li2s2"])
    out["li2s_window"] = "{:.2f},{:.2f}".format(*windows["li2s"])
    out["score_basis"] = ",".join(dict.fromkeys(basis(out).values()))
    out["score"] = score(out, cfg, windows["li2s"])
    cols = basis(out)
    out["pareto"] = pareto_front(out, (cols["dg"], cols["li2s2"]))
    out["acquisition"] = acquisition(out, cfg)
    out = out.join(against_singles(out))
    out["reference_row"] = out["m2"] == ""
    pairs = out[~out["reference_row"]].sort_values(["passes_filters", "score"], ascending=[False, False])
    singles = out[out["reference_row"]].sort_values("score", ascending=False)
    pairs = pairs.assign(rank=pd.array(np.arange(1, len(pairs) + 1), dtype="Int64"))
    singles = singles.assign(rank=pd.array([pd.NA] * len(singles), dtype="Int64"))
    return pd.concat([pairs, singles]).reset_index(drop=True)
