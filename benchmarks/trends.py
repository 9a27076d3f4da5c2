"""The answer as a researcher reads it: the reference study's trends and the ΔG distributions.

From the labels of each method (:func:`dacscreen.data.label_table.label_table`) and from a
screen's predictions (``candidates.csv``): does Cu1Ni1 bind Li2S2 and Li2S more strongly than
Cu1 and Ni1, have a lower ΔG5, and d-band centres closer to E_F? Then the distribution of ΔG5
and ΔG_RDS (per-product form) over the pairs, the additive metal-identity R² of the labels
(ridge on symmetric one-hot counts, 5-fold random split) and the state classes of the labels.
Writes ``results/trends.md``.

    python benchmarks/trends.py --candidates out/screen/candidates.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold, cross_val_predict

from dacscreen.config import Settings
from dacscreen.data.label_table import label_table
from dacscreen.data.store import open_store
from dacscreen.screening.trends import markdown, pair_trends

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("chgnet-0.4.2", "gpaw-lcao-pbe-d3")


def additive_r2(df: pd.DataFrame, col: str, seed: int = 0) -> tuple[float, float, int]:
    """R² and Spearman ρ of a ridge on the metals' symmetric one-hot counts (5-fold random)."""
    d = df[np.isfinite(df[col])]
    metals = sorted(set(d.m1) | (set(d.m2) - {""}))
    x = np.zeros((len(d), len(metals) + 1))
    for i, (a, b) in enumerate(zip(d.m1, d.m2, strict=True)):
        x[i, metals.index(a)] += 1
        x[i, metals.index(b) if b else -1] += 1
    pred = cross_val_predict(
        RidgeCV(alphas=np.logspace(-3, 2, 20)), x, d[col], cv=KFold(5, shuffle=True, random_state=seed)
    )
    return r2_score(d[col], pred), spearmanr(d[col], pred).statistic, len(d)


def distribution(values: pd.Series) -> str:
    v = values[np.isfinite(values)]
    if not len(v):
        return "no values"
    q = np.quantile(v, [0.1, 0.5, 0.9])
    return (
        f"n = {len(v)}; median {q[1]:+.2f} eV (10–90 %: {q[0]:+.2f} … {q[2]:+.2f}; min {v.min():+.2f}, max "
        f"{v.max():+.2f}); in [+0.2, +1.0] eV: {int(v.between(0.2, 1.0).sum())}"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--candidates", type=Path, default=ROOT / "out/screen/candidates.csv")
    args = p.parse_args()
    settings = Settings()
    store = open_store(settings.db, settings.shards)
    lines = [
        "# The reference study's trends and the ΔG distributions",
        "",
        f"`python benchmarks/trends.py` ({__doc__.splitlines()[0]})",
        "",
    ]
    tables = {m: label_table(store, m) for m in METHODS}
    if args.candidates.exists():
        tables["screen (predictions)"] = pd.read_csv(args.candidates, keep_default_na=False, na_values=[""])
        tables["screen (predictions)"]["m2"] = tables["screen (predictions)"]["m2"].fillna("")
    lines += ["## Cu1Ni1 against Cu1 and Ni1", ""]
    for name, df in tables.items():
        trends = pair_trends(df)
        lines += (
            [f"### {name}", ""] + (markdown(trends) if trends else ["Cu–Ni, Cu or Ni is missing."]) + [""]
        )
        if name.startswith("screen") and "e_ads_li2s2_dft" in df:
            lines += ["DFT level (fidelity map):", "", *markdown(pair_trends(df, suffix="_dft")), ""]
    lines += ["## ΔG over the 406 pairs (per product, 0 V vs Li/Li+)", ""]
    for name, df in tables.items():
        pairs = df[df.m2 != ""]
        lines += [f"- **{name}** ΔG5: {distribution(pairs['dg_5'])}"]
        lines += [f"  ΔG_RDS (sites with all six intermediates): {distribution(pairs['dg_rds'])}"]
        if "rds_step" in pairs and len(pairs):
            counts = pairs.loc[pairs["rds_step"] > 0, "rds_step"].value_counts().sort_index()
            lines += ["  RDS step counts: " + ", ".join(f"step {int(k)}: {v}" for k, v in counts.items())]
    lines += ["", "## How learnable are the labels? Additive metal-identity ridge (5-fold random split)", ""]
    lines += ["| method | target | n | R² | ρ |", "|---|---|---|---|---|"]
    for m in METHODS:
        for col in ("e_ads_li2s2", "e_ads_li2s", "e_ads_li2s2_intact", "e_ads_li2s_intact", "dg_5"):
            if col in tables[m] and np.isfinite(tables[m][col]).sum() > 20:
                r2, rho, n = additive_r2(tables[m], col)
                lines.append(f"| {m} | {col} | {n} | {r2:.2f} | {rho:.2f} |")
    lines += ["", "## State classes of the labels (CHGNet)", ""]
    df = tables[METHODS[0]]
    for x in ("s8", "li2s8", "li2s6", "li2s4", "li2s2", "li2s"):
        if f"class_{x}" in df:
            lines.append(
                f"- {x}: " + ", ".join(f"{k} {v}" for k, v in df[f"class_{x}"].value_counts().items())
            )
    out = ROOT / "benchmarks/results/trends.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
