"""The reference study's trends (SCIENCE.md §1): does the pair beat its two single atoms?

Cu1Ni1–PCN is reported to bind Li2S2 and Li2S more strongly than Cu1 and Ni1, to have a lower
ΔG of the Li2S2 → Li2S step, and d-band centres closer to the Fermi level. :func:`pair_trends`
checks each of these on any table with one row per site (columns ``m1``, ``m2`` (empty for a
single atom), ``e_ads_li2s2``, ``e_ads_li2s``, ``dg_5``, ``d_band_m1``, ``d_band_m2``): the
screening predictions, or labels of one method. It reports what holds; nothing is tuned to it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

REFERENCE_PAIR = ("Cu", "Ni")
LOWER_IS_CLAIMED = {
    "e_ads_li2s2": "binds Li2S2 more strongly (E_ads lower)",
    "e_ads_li2s": "binds Li2S more strongly (E_ads lower)",
    "dg_5": "lower ΔG5 (Li2S2 → Li2S)",
}


def _row(df: pd.DataFrame, m1: str, m2: str) -> pd.Series | None:
    hit = df[((df.m1 == m1) & (df.m2 == m2)) | ((df.m1 == m2) & (df.m2 == m1))]
    return hit.iloc[0] if len(hit) else None


def _dband_of(row: pd.Series, metal: str) -> float:
    """ε_d (eV vs E_F) of ``metal`` on a site row (m1 or m2 column)."""
    col = "d_band_m1" if row["m1"] == metal else "d_band_m2"
    return float(row.get(col, np.nan))


def pair_trends(
    df: pd.DataFrame, pair: tuple[str, str] = REFERENCE_PAIR, suffix: str = ""
) -> list[dict[str, Any]]:
    """One dict per claim: ``claim``, the pair's and the two single atoms' values, and
    ``holds`` (True / False; None when a value is missing). ``suffix`` picks other columns of
    the same quantities (e.g. ``_dft``)."""
    a, b = pair
    p, s1, s2 = _row(df, a, b), _row(df, a, ""), _row(df, b, "")
    if p is None or s1 is None or s2 is None:
        return []
    out = []
    for col, claim in LOWER_IS_CLAIMED.items():
        c = f"{col}{suffix}"
        vals = [float(r.get(c, np.nan)) for r in (p, s1, s2)]
        ok = None if not np.isfinite(vals).all() else bool(vals[0] < min(vals[1:]))
        out.append({"claim": claim, "pair": vals[0], a: vals[1], b: vals[2], "holds": ok})
    for metal, single in ((a, s1), (b, s2)):
        vals = [_dband_of(p, metal), _dband_of(single, metal)]
        ok = None if not np.isfinite(vals).all() else bool(abs(vals[0]) < abs(vals[1]))
        row = {"claim": f"ε_d of {metal} closer to E_F in the pair", "pair": vals[0], a: np.nan, b: np.nan}
        row[metal] = vals[1]
        out.append({**row, "holds": ok})
    return out


def markdown(trends: list[dict[str, Any]], pair: tuple[str, str] = REFERENCE_PAIR) -> list[str]:
    """A Markdown table of :func:`pair_trends` (eV)."""
    a, b = pair
    lines = [f"| claim | {a}{b} | {a}1 | {b}1 | holds |", "|---|---|---|---|---|"]
    for t in trends:
        cells = [f"{t[k]:+.2f}" if np.isfinite(t[k]) else "" for k in ("pair", a, b)]
        holds = {True: "yes", False: "no", None: "n/a"}[t["holds"]]
        lines.append(f"| {t['claim']} | " + " | ".join(cells) + f" | {holds} |")
    return lines
