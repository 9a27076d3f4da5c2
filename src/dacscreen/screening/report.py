"""Screening figures (PNG) and a self-contained, offline, interactive ``report.html``.

The report's figures are plotly charts (plotly.js inlined once, so the page needs no network):
hovering a heat-map cell or a point shows the site and its numbers. The candidate table sorts
by any column (click its header) and filters by text. The PNGs are written beside it for papers.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from dacscreen.screening.rank import basis
from dacscreen.screening.trends import pair_trends

TABLE_COLS = [
    "rank",
    "m1",
    "m2",
    "delta_chi",
    "dg_5_dft",
    "dg_rds",
    "dg_rds_std",
    "rds_step",
    "e_ads_li2s2",
    "e_ads_li2s",
    "d_band_m1",
    "d_band_m2",
    "e_bind",
    "acquisition",
    "beats_singles_dg",
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
    "dg_5_dft",
    "e_ads_li2s2",
    "e_ads_li2s",
    "d_band_m1",
    "e_bind",
]


DG_NAMES = {"dg_rds": "ΔG_RDS", "dg_5_dft": "ΔG5 (DFT level)"}


def ranked_dg(df: pd.DataFrame) -> tuple[str, str]:
    """The ΔG column the sites are ranked on (:func:`~dacscreen.screening.rank.basis`) and its
    name: the figures show what the rank uses, so that a chart and the table agree."""
    col = basis(df)["dg"]
    return col, DG_NAMES.get(col, col)


def heatmap(df: pd.DataFrame, metals: list[str], path: Path) -> Path:
    """Metal × metal map of the ranked ΔG (eV); the diagonal holds homo pairs, single atoms omitted."""
    col, name = ranked_dg(df)
    idx = {m: k for k, m in enumerate(metals)}
    grid = np.full((len(metals), len(metals)), np.nan)
    for m1, m2, v in zip(df["m1"], df["m2"], df[col], strict=True):
        if m2 and m1 in idx and m2 in idx:
            grid[idx[m1], idx[m2]] = grid[idx[m2], idx[m1]] = v
    fig, ax = plt.subplots(figsize=(9, 8))
    im = ax.imshow(grid, cmap="viridis_r")
    ax.set_xticks(range(len(metals)), metals, rotation=90, fontsize=7)
    ax.set_yticks(range(len(metals)), metals, fontsize=7)
    fig.colorbar(im, ax=ax, label=f"{name} (eV, 0 V vs Li/Li+)")
    ax.set_title(f"{name}: the ΔG the pairs are ranked on")
    return _save(fig, path)


def volcano(df: pd.DataFrame, path: Path) -> Path:
    """The ranked ΔG against the mean d-band centre of the site (eV vs E_F), with error bars."""
    col, name = ranked_dg(df)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    eps = (df["d_band_m1"] + df["d_band_m2"]) / 2.0
    single = df["m2"] == ""
    for mask, label, marker in ((~single, "pairs", "o"), (single, "single atoms", "s")):
        ax.errorbar(
            eps[mask],
            df[col][mask],
            yerr=df[f"{col}_std"][mask],
            fmt=marker,
            ms=4,
            alpha=0.6,
            label=label,
        )
    ax.set_xlabel("mean d-band centre ε_d (eV vs E_F)")
    ax.set_ylabel(f"{name} (eV)")
    ax.legend()
    return _save(fig, path)


def pareto_plot(df: pd.DataFrame, path: Path) -> Path:
    """E_ads(Li2S2) against the ranked ΔG, both on the ranked columns; the Pareto front highlighted."""
    (col, name), x = ranked_dg(df), basis(df)["li2s2"]
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.scatter(df[x], df[col], s=10, alpha=0.4, label="all sites")
    front = df[df["pareto"]].sort_values(x)
    ax.plot(front[x], front[col], "r-o", ms=5, label="Pareto front")
    for m1, m2, xv, yv in zip(front["m1"], front["m2"], front[x], front[col], strict=True):
        ax.annotate(f"{m1}{m2}", (xv, yv), fontsize=7)
    ax.set_xlabel(f"{x} (eV)")
    ax.set_ylabel(f"{name} (eV)")
    ax.legend()
    return _save(fig, path)


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _hover(df: pd.DataFrame, dg: tuple[str, str]) -> list[str]:
    """Hover text of each site: its name and the numbers a reader compares (the ranked ΔG
    ``dg``, column and name, first where it is not ΔG_RDS)."""
    col, name = dg
    ranked = (
        [""] * len(df)
        if col == "dg_rds"
        else [f"{name} {v:+.2f} ± {e:.2f} eV<br>" for v, e in zip(df[col], df[f"{col}_std"], strict=True)]
    )
    return [
        f"<b>{r.m1}{('–' + r.m2) if r.m2 else ' (single atom)'}</b><br>{first}"
        f"ΔG_RDS {r.dg_rds:+.2f} ± {r.dg_rds_std:.2f} eV (step {r.rds_step})<br>"
        f"E_ads Li2S2 {r.e_ads_li2s2:+.2f} eV, Li2S {r.e_ads_li2s:+.2f} eV<br>"
        f"|Δχ| {r.delta_chi:.2f}, rank {'—' if pd.isna(r['rank']) else int(r['rank'])}"
        for first, (_, r) in zip(ranked, df.iterrows(), strict=True)
    ]


def interactive_figures(df: pd.DataFrame, metals: list[str]) -> dict[str, Any]:
    """Plotly figures of the heat map, the volcano and the Pareto front of the ranked ΔG, with
    hover text."""
    import plotly.graph_objects as go

    dg, x = ranked_dg(df), basis(df)["li2s2"]
    col, name = dg
    eps = (df["d_band_m1"] + df["d_band_m2"]) / 2.0
    single = df["m2"] == ""
    volcano_fig = go.Figure(
        [
            _points(
                df[mask], eps[mask], label, dg, error_y={"array": df[f"{col}_std"][mask], "thickness": 0.5}
            )
            for mask, label in ((~single, "pairs"), (single, "single atoms"))
        ]
    )
    volcano_fig.update_layout(xaxis_title="mean d-band centre ε_d (eV vs E_F)", yaxis_title=f"{name} (eV)")
    front = df[df["pareto"]].sort_values(x)
    pareto_fig = go.Figure(
        [
            _points(df, df[x], "all sites", dg, opacity=0.5),
            _points(front, front[x], "Pareto front", dg, mode="lines+markers"),
        ]
    )
    pareto_fig.update_layout(xaxis_title=f"{x} (eV)", yaxis_title=f"{name} (eV)")
    return {"heatmap": _heatmap_figure(df, metals, dg), "volcano": volcano_fig, "pareto": pareto_fig}


def _points(
    df: pd.DataFrame, x: pd.Series, label: str, dg: tuple[str, str], mode: str = "markers", **kw: Any
) -> Any:
    """A scatter trace of the ranked ΔG (``dg``: column, name) against ``x``, each point
    hovering its site."""
    import plotly.graph_objects as go

    return go.Scatter(x=x, y=df[dg[0]], mode=mode, name=label, text=_hover(df, dg), hoverinfo="text", **kw)


def _heatmap_figure(df: pd.DataFrame, metals: list[str], dg: tuple[str, str]) -> Any:
    """Metal × metal ranked ΔG (``dg``: column, name), each cell hovering its pair."""
    import plotly.graph_objects as go

    col, name = dg
    pairs = df[df["m2"] != ""]
    idx = {m: k for k, m in enumerate(metals)}
    grid = np.full((len(metals), len(metals)), np.nan)
    text = np.full((len(metals), len(metals)), "", dtype=object)
    for m1, m2, v, hover in zip(pairs["m1"], pairs["m2"], pairs[col], _hover(pairs, dg), strict=True):
        if m1 in idx and m2 in idx:
            for i, j in ((idx[m1], idx[m2]), (idx[m2], idx[m1])):
                grid[i, j], text[i, j] = v, hover
    heat = go.Figure(
        go.Heatmap(
            z=grid,
            x=metals,
            y=metals,
            text=text,
            hoverinfo="text",
            colorscale="Viridis_r",
            colorbar={"title": f"{name} (eV)"},
        )
    )
    heat.update_layout(title=f"{name}, the ΔG the pairs are ranked on (0 V vs Li/Li+)", height=700)
    return heat


def _figure(fig: Any, ident: str, caption: str, png: Path, first: bool) -> str:
    """One interactive figure (plotly.js inlined with the first one) and a link to its PNG."""
    div = fig.to_html(
        full_html=False, include_plotlyjs=first, div_id=f"{ident}-plot", config={"responsive": True}
    )
    link = f'<a href="{html.escape(png.name)}">PNG</a>'
    return f'<figure id="{ident}">{div}<figcaption>{html.escape(caption)} ({link})</figcaption></figure>'


def _table(df: pd.DataFrame, cols: list[str], ident: str) -> str:
    return df[[c for c in cols if c in df.columns]].to_html(
        index=False,
        float_format=lambda v: f"{v:.3f}",
        table_id=ident,
        border=0,
        na_rep="",
        classes="sortable",
    )


TABLE_SCRIPT = """<script>
// Sort a table.sortable by the clicked header (numbers numerically, blanks last; click again to
// reverse), and filter #top-table's rows by the text in #filter.
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("thead th").forEach(function (th, col) {
    th.style.cursor = "pointer";
    th.title = "sort";
    th.addEventListener("click", function () {
      var body = table.tBodies[0], rows = Array.from(body.rows);
      var up = th.dataset.order !== "asc";
      table.querySelectorAll("thead th").forEach(function (h) { delete h.dataset.order; });
      th.dataset.order = up ? "asc" : "desc";
      function key(r) { var t = r.cells[col].textContent.trim(), v = parseFloat(t);
        return t === "" ? null : (isNaN(v) ? t : v); }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === null) return 1; if (y === null) return -1;
        var c = (typeof x === "number" && typeof y === "number") ? x - y : String(x).localeCompare(String(y));
        return up ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
document.getElementById("filter").addEventListener("input", function (e) {
  var q = e.target.value.toLowerCase();
  Array.from(document.getElementById("top-table").tBodies[0].rows).forEach(function (r) {
    r.style.display = r.textContent.toLowerCase().indexOf(q) >= 0 ? "" : "none";
  });
});
</script>"""


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
    """Write the PNGs and ``report.html`` (interactive, everything inlined, no network needed).
    The candidate table holds every pair (ranked; sortable and filterable), the top ``top`` first."""
    pngs = {
        "heatmap": heatmap(df, metals, out / "heatmap_dg.png"),
        "volcano": volcano(df, out / "volcano_dband.png"),
        "pareto": pareto_plot(df, out / "pareto.png"),
    }
    figs = interactive_figures(df, metals)
    name = ranked_dg(df)[1]
    captions = {
        "heatmap": f"metal × metal heat map of {name} (hover a cell for the pair)",
        "volcano": f"{name} against the d-band centre",
        "pareto": f"Pareto front of {name} and Li2S2 binding",
    }
    charts = {k: _figure(figs[k], k, captions[k], pngs[k], first=k == "heatmap") for k in figs}
    pairs, singles = df[~df["reference_row"]], df[df["reference_row"]]
    table = _table(pairs, TABLE_COLS, "top-table")
    single_table = _table(singles, SINGLE_COLS, "single-table")
    trends = _trends(df)
    notes = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(str(v))}</li>" for k, v in meta.items())
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>dacscreen screening report</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse;font-size:12px}}
td,th{{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}}img{{max-width:100%}}</style></head>
<body><h1>Dual-atom catalysts on PCN for Li–S sulfur reduction</h1>
<ul>{notes}</ul>
<h2>Candidates (pairs, by rank; the top {top} first)</h2>
<p>{int(pairs["passes_filters"].sum())} of {len(pairs)} pairs pass the filters; <code>failed_filters</code>
names what a row fails. <code>beats_singles_*</code>: lower than both of the pair's single atoms on the
columns of <code>score_basis</code>.
Click a column header to sort; type to filter: <input id="filter" placeholder="e.g. Ni or True"></p>
<div style="max-height:480px;overflow:auto">{table}</div>
<h2>Reference study's trends</h2>{trends}
<h2>Single atoms (reference rows, not ranked)</h2>{single_table}
<h2>Heat map of the ranked ΔG</h2>{charts["heatmap"]}
<h2>Volcano</h2>{charts["volcano"]}
<h2>Pareto front</h2>{charts["pareto"]}
{TABLE_SCRIPT}
</body></html>"""
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
