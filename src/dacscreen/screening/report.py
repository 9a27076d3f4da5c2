"""Screening figures (PNG) and a self-contained, offline ``report.html``."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from dacscreen.screening.trends import pair_trends

TABLE_COLS = [
    "rank",
    "m1",
    "m2",
    "delta_chi",
    "dg_rds",
    "dg_rds_std",
    "rds_step",
    "e_ads_li2s2",
    "e_ads_li2s",
    "d_band_m1",
    "d_band_m2",
    "e_bind",
    "acquisition",
    "beats_singles_dg_rds",
    "beats_singles_li2s2",
    "beats_singles_li2s",
    "passes_filters",
    "failed_filters",
]
SINGLE_COLS = [
    "m1",
    "dg_rds",
    "dg_rds_std",
    "rds_step",
    "dg_5",
    "e_ads_li2s2",
    "e_ads_li2s",
    "d_band_m1",
    "e_bind",
]


def heatmap(df: pd.DataFrame, metals: list[str], path: Path) -> Path:
    """Metal × metal map of ΔG_RDS (eV); the diagonal holds homo pairs, single atoms omitted."""
    idx = {m: k for k, m in enumerate(metals)}
    grid = np.full((len(metals), len(metals)), np.nan)
    for _, r in df[df["m2"] != ""].iterrows():
        if r.m1 in idx and r.m2 in idx:
            grid[idx[r.m1], idx[r.m2]] = grid[idx[r.m2], idx[r.m1]] = r.dg_rds
    fig, ax = plt.subplots(figsize=(9, 8))
    im = ax.imshow(grid, cmap="viridis_r")
    ax.set_xticks(range(len(metals)), metals, rotation=90, fontsize=7)
    ax.set_yticks(range(len(metals)), metals, fontsize=7)
    fig.colorbar(im, ax=ax, label="ΔG_RDS (eV, 0 V vs Li/Li+)")
    ax.set_title("ΔG of the rate-determining SRR step")
    return _save(fig, path)


def volcano(df: pd.DataFrame, path: Path) -> Path:
    """ΔG_RDS against the mean d-band centre of the site (eV vs E_F), with error bars."""
    fig, ax = plt.subplots(figsize=(6, 4.5))
    eps = (df["d_band_m1"] + df["d_band_m2"]) / 2.0
    single = df["m2"] == ""
    for mask, label, marker in ((~single, "pairs", "o"), (single, "single atoms", "s")):
        ax.errorbar(
            eps[mask],
            df["dg_rds"][mask],
            yerr=df["dg_rds_std"][mask],
            fmt=marker,
            ms=4,
            alpha=0.6,
            label=label,
        )
    ax.set_xlabel("mean d-band centre ε_d (eV vs E_F)")
    ax.set_ylabel("ΔG_RDS (eV)")
    ax.legend()
    return _save(fig, path)


def pareto_plot(df: pd.DataFrame, path: Path) -> Path:
    """E_ads(Li2S2) against ΔG_RDS; the Pareto front highlighted."""
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.scatter(df["e_ads_li2s2"], df["dg_rds"], s=10, alpha=0.4, label="all sites")
    front = df[df["pareto"]].sort_values("e_ads_li2s2")
    ax.plot(front["e_ads_li2s2"], front["dg_rds"], "r-o", ms=5, label="Pareto front")
    for _, r in front.iterrows():
        ax.annotate(f"{r.m1}{r.m2}", (r.e_ads_li2s2, r.dg_rds), fontsize=7)
    ax.set_xlabel("E_ads(Li2S2) (eV)")
    ax.set_ylabel("ΔG_RDS (eV)")
    ax.legend()
    return _save(fig, path)


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _img(path: Path, ident: str, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    alt = html.escape(alt)
    img = f'<img alt="{alt}" src="data:image/png;base64,{data}">'
    return f'<figure id="{ident}">{img}<figcaption>{alt}</figcaption></figure>'


def _table(df: pd.DataFrame, cols: list[str], ident: str) -> str:
    return df[[c for c in cols if c in df.columns]].to_html(
        index=False, float_format=lambda v: f"{v:.3f}", table_id=ident, border=0, na_rep=""
    )


def _trends(df: pd.DataFrame) -> str:
    """The Cu1Ni1 against Cu1 / Ni1 claims (:mod:`dacscreen.screening.trends`) as HTML tables,
    at the model's fidelity and, where the model ships a fidelity map, at the DFT level."""
    out = []
    for suffix, title in (("", "training fidelity"), ("_dft", "DFT level (fidelity map)")):
        rows = pair_trends(df, suffix=suffix)
        if suffix and not any(r["holds"] is not None for r in rows[:3]):
            continue
        if rows:
            frame = pd.DataFrame(rows).replace({"holds": {True: "yes", False: "no", None: "n/a"}})
            out.append(
                f"<h3>{title}</h3>"
                + frame.to_html(index=False, float_format=lambda v: f"{v:+.2f}", border=0, na_rep="")
            )
    return "".join(out) or "<p>The reference pair or its single atoms are not in this screen.</p>"


def write_report(df: pd.DataFrame, metals: list[str], out: Path, top: int, meta: dict[str, str]) -> Path:
    """Write the PNGs and ``report.html`` (images inlined, no external resources)."""
    figs = {
        "heatmap": heatmap(df, metals, out / "heatmap_dg_rds.png"),
        "volcano": volcano(df, out / "volcano_dband.png"),
        "pareto": pareto_plot(df, out / "pareto.png"),
    }
    pairs, singles = df[~df["reference_row"]], df[df["reference_row"]]
    table = _table(pairs.head(top), TABLE_COLS, "top-table")
    single_table = _table(singles, SINGLE_COLS, "single-table")
    trends = _trends(df)
    notes = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(str(v))}</li>" for k, v in meta.items())
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>dacscreen screening report</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse;font-size:12px}}
td,th{{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}}img{{max-width:100%}}</style></head>
<body><h1>Dual-atom catalysts on PCN for Li–S sulfur reduction</h1>
<ul>{notes}</ul>
<h2>Top {top} candidates (pairs)</h2>
<p>{int(pairs["passes_filters"].sum())} of {len(pairs)} pairs pass the filters; <code>failed_filters</code>
names what a row fails. <code>beats_singles_*</code>: lower than both of the pair's single atoms.</p>{table}
<h2>Reference study's trends</h2>{trends}
<h2>Single atoms (reference rows, not ranked)</h2>{single_table}
<h2>ΔG_RDS heat map</h2>{_img(figs["heatmap"], "heatmap", "metal × metal heat map of ΔG_RDS")}
<h2>Volcano</h2>{_img(figs["volcano"], "volcano", "ΔG_RDS against the d-band centre")}
<h2>Pareto front</h2>{_img(figs["pareto"], "pareto", "Pareto front of ΔG_RDS and Li2S2 binding")}
</body></html>"""
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
