"""Why ΔG5 on the shipped labels lies below the literature's range: a decomposition.

SCIENCE.md §5 quotes the Li–S literature (N-doped carbon M–N4 and dual-atom sites): ΔG5 between
about +0.2 and +1 eV and E_ads(Li2S2), E_ads(Li2S) between about −1 and −2.5 eV. In the per-product
form, ΔG5 = G*(Li2S) − ½G*(Li2S2) − μ_Li = [E_ads(Li2S) − ½E_ads(Li2S2)] + C with
C = E(Li2S) − ½E(Li2S2) − μ_Li, a constant of the method (gas molecules and bcc Li). This script
splits the labels' ΔG5 into the binding term and C, per method, and asks where the binding comes
from:

* the label definition (SCIENCE.md §3: the lowest valid state, often S–S cleaved or Li detached)
  against the sites whose lowest Li2S2 and Li2S states are both intact;
* the host: the same species on the metal-free melon host (reference ``bare_melon_<X>``);
* the metals' N coordination in the relaxed clean site (``cn_m1``, ``cn_m2``; M–N4 sites of the
  literature have 4);
* the reference pair Cu–Ni and its single atoms.

No model is involved: every number is a stored label of one method (eV; ΔG at 0 V vs Li/Li+,
ΔG ≈ ΔE). Writes ``benchmarks/results/srr_magnitudes.{json,md}``.

    python benchmarks/srr_magnitudes.py [--db PATH]
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import pandas as pd
from results_io import publish

from dacscreen.data.host_adsorption import reference_name
from dacscreen.data.label_table import label_table
from dacscreen.data.references import reference_value
from dacscreen.data.store import Store, default_store
from dacscreen.site_key import SiteKey

METHODS = ("chgnet-0.4.2", "gpaw-lcao-pbe-d3")
HOST = "melon"
LITERATURE_DG5 = (0.2, 1.0)
REFERENCE_SITES = (("Cu", "Ni"), ("Cu", ""), ("Ni", ""))
MM_BINS = (0.0, 2.8, 3.2, 10.0)
MM_LABELS = ("bonded dimer (< 2.8 Å)", "2.8–3.2 Å", "support-coupled (≥ 3.2 Å; reference 3.4 Å)")


def constant(refs: dict[str, float]) -> float:
    """C = E(Li2S) − ½E(Li2S2) − μ_Li (eV): ΔG5 of a site that binds neither species."""
    return refs["mol_Li2S"] - 0.5 * refs["mol_Li2S2"] - refs["Li_bcc"]


def bare_host(refs: dict[str, float]) -> dict[str, float]:
    """E_ads of Li2S2 and Li2S on the metal-free host and the ΔG5 they give (eV)."""
    e = {
        x: refs[reference_name(HOST, x)] - refs[f"host_{HOST}"] - refs[f"mol_{x}"] for x in ("Li2S2", "Li2S")
    }
    return {
        "e_ads_li2s2": e["Li2S2"],
        "e_ads_li2s": e["Li2S"],
        "dg_5": e["Li2S"] - 0.5 * e["Li2S2"] + constant(refs),
    }


def coordination(store: Store, method: str) -> pd.DataFrame:
    """Lowest N coordination of the site's metals and the M–M distance, from the clean labels."""
    rows = []
    for r in store.rows(kind="site", method=method, adsorbate="clean"):
        if r.get("best"):
            cn = [r.get("cn_m1")] + ([r.get("cn_m2")] if r.m2 else [])
            site = SiteKey.of_record(r)
            mm = r.get("mm_dist") if r.m2 else None
            rows.append(
                {"m1": site.m1, "m2": site.m2, "placement": site.placement, "min_cn": min(cn), "mm": mm}
            )
    return pd.DataFrame(rows)


def summary(values: pd.Series) -> dict[str, float]:
    """n, median and interquartile range."""
    v = values.dropna()
    q = np.percentile(v, [25, 50, 75]) if len(v) else [np.nan] * 3
    return {"n": len(v), "median": float(q[1]), "q25": float(q[0]), "q75": float(q[2])}


def decompose(table: pd.DataFrame, c: float, suffix: str = "") -> dict[str, dict[str, float]]:
    """Summaries of the two E_ads, the binding term and ΔG5 from the ``e_ads_*{suffix}`` columns."""
    li2s2, li2s = table[f"e_ads_li2s2{suffix}"], table[f"e_ads_li2s{suffix}"]
    binding = li2s - 0.5 * li2s2
    dg5 = binding + c
    lo, hi = LITERATURE_DG5
    return {
        "e_ads_li2s2": summary(li2s2),
        "e_ads_li2s": summary(li2s),
        "binding_term": summary(binding),
        "dg_5": summary(dg5),
        "share_in_literature_range": {
            "n": int(dg5.notna().sum()),
            "median": float(dg5.between(lo, hi).mean()),
        },
    }


def _group(g: pd.DataFrame, c: float) -> dict[str, float]:
    """ΔG5 summary of a group of sites, with its median E_ads(Li2S)."""
    return decompose(g, c)["dg_5"] | {"e_ads_li2s": summary(g.e_ads_li2s)["median"]}


def method_report(store: Store, method: str) -> dict[str, Any]:
    """Everything the markdown shows for one method."""
    refs = {
        r.ref: reference_value(r.ref, r.energy, r.natoms) for r in store.rows(kind="reference", method=method)
    }
    c = constant(refs)
    table = label_table(store, method).dropna(subset=["e_ads_li2s2", "e_ads_li2s"])
    table = table.merge(coordination(store, method), on=["m1", "m2", "placement"], how="left")
    intact = table[(table.class_li2s2 == "intact") & (table.class_li2s == "intact")]
    by_cn = {str(int(k)): _group(g, c) for k, g in table.groupby("min_cn")}
    mm_class = pd.cut(table.mm.astype(float), MM_BINS, right=False, labels=MM_LABELS)
    by_mm = {str(k): _group(g, c) for k, g in table.groupby(mm_class, observed=True)}
    refs_rows = {
        f"{m1}-{m2}" if m2 else f"{m1}1": table[(table.m1 == m1) & (table.m2 == m2)][
            ["e_ads_li2s2", "e_ads_li2s", "dg_5"]
        ]
        .mean()
        .to_dict()
        for m1, m2 in REFERENCE_SITES
    }
    return {
        "constant_C": c,
        "all_sites": decompose(table, c),
        "both_intact_classes": decompose(intact, c),
        "intact_states_where_both_exist": decompose(table, c, "_intact"),
        "bare_host": bare_host(refs),
        "by_min_cn": by_cn,
        "by_mm_distance": by_mm,
        "reference_sites": refs_rows,
    }


def _cell(s: dict[str, float]) -> str:
    return f"{s['median']:+.2f} [{s['q25']:+.2f}, {s['q75']:+.2f}] (n={s['n']})"


def markdown(report: dict[str, Any]) -> str:
    """The results page."""
    lo, hi = LITERATURE_DG5
    out = [
        "# ΔG5 and E_ads against the literature's range: where the binding comes from",
        "",
        "`python benchmarks/srr_magnitudes.py`: stored labels only, no model. ΔG5 per product at 0 V",
        "vs Li/Li+ = [E_ads(Li2S) − ½E_ads(Li2S2)] (the *binding term*) + C, with",
        "C = E(Li2S) − ½E(Li2S2) − μ_Li of the method. Cells: median [25th, 75th percentile] (n), eV.",
        f"The literature (SCIENCE.md §5, M–N4 and dual-atom sites on N-doped carbon): ΔG5 ≈ {lo:+.1f} … {hi:+.1f} eV,",
        "E_ads ≈ −1 … −2.5 eV.",
        "",
    ]
    for method, r in report.items():
        out += [f"## {method}", "", f"C = {r['constant_C']:+.2f} eV.", ""]
        out += [
            "| sites | E_ads(Li2S2) | E_ads(Li2S) | binding term | ΔG5 | share in the literature's ΔG5 range |",
            "|---|---|---|---|---|---|",
        ]
        for name, label in (
            ("all_sites", "all, lowest state (the label)"),
            ("both_intact_classes", "lowest states both intact"),
            ("intact_states_where_both_exist", "lowest intact states, where both exist"),
        ):
            d = r[name]
            share = d["share_in_literature_range"]
            out.append(
                f"| {label} | {_cell(d['e_ads_li2s2'])} | {_cell(d['e_ads_li2s'])} | {_cell(d['binding_term'])} "
                f"| {_cell(d['dg_5'])} | {share['median']:.0%} of {share['n']} |"
            )
        h = r["bare_host"]
        out += [
            f"| metal-free melon host | {h['e_ads_li2s2']:+.2f} | {h['e_ads_li2s']:+.2f} | "
            f"{h['e_ads_li2s'] - 0.5 * h['e_ads_li2s2']:+.2f} | {h['dg_5']:+.2f} | – |",
            "",
            "By the lowest N coordination of the site's metals (relaxed clean site):",
            "",
            "| min N neighbours | sites | median E_ads(Li2S) | ΔG5 |",
            "|---|---|---|---|",
        ]
        out += [
            f"| {cn} | {d['n']} | {d['e_ads_li2s']:+.2f} | {_cell(d)} |" for cn, d in r["by_min_cn"].items()
        ]
        out += ["", "Pairs by the relaxed M–M distance of the clean site:", ""]
        out += ["| M–M | sites | median E_ads(Li2S) | ΔG5 |", "|---|---|---|---|"]
        out += [
            f"| {k} | {d['n']} | {d['e_ads_li2s']:+.2f} | {_cell(d)} |"
            for k, d in r["by_mm_distance"].items()
        ]
        out += ["", "| reference site | E_ads(Li2S2) | E_ads(Li2S) | ΔG5 |", "|---|---|---|---|"]
        out += [
            f"| {k} | {v['e_ads_li2s2']:+.2f} | {v['e_ads_li2s']:+.2f} | {v['dg_5']:+.2f} |"
            for k, v in r["reference_sites"].items()
        ]
        out.append("")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default=None, help="store (default: the shipped shards)")
    args = ap.parse_args()
    store = default_store(args.db)
    report = {m: method_report(store, m) for m in METHODS}
    publish("srr_magnitudes", report, markdown(report))


if __name__ == "__main__":
    main()
