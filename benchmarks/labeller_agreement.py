"""How far to trust each labelling tier: CHGNet (E_ads) and GFN1-xTB (ε_d) against GPAW PBE+D3.

On every site of the shipped store that has GPAW single points (ML+SP on the CHGNet geometry),
compare the fast tier's label with the DFT label of the same site and state:

* E_ads(Li2S2), E_ads(Li2S): CHGNet relaxation energies against the GPAW single points;
* ε_d of each metal of the clean site: GFN1-xTB against GPAW (both from the d-projected DOS with
  the window of SCIENCE.md §6).

Reports n, MAE, mean signed error (fast − DFT), Spearman ρ and the least-squares slope of DFT
on the fast label (1 when the two spread alike; below 1 when the fast tier exaggerates the
differences between sites, which a constant Δ-correction cannot fix). Writes
``benchmarks/results/labeller_agreement.{json,md}``.

    python benchmarks/labeller_agreement.py [--db PATH] [--fast chgnet-0.4.2] [--dft gpaw-lcao-pbe-d3]
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
from pymatgen.core.periodic_table import Element
from results_io import publish
from scipy.stats import spearmanr

from dacscreen.config import Settings
from dacscreen.data.store import open_store
from dacscreen.featurize.samples import Sample, collect_samples

STATES = ("Li2S2", "Li2S")


def _by_key(samples: list[Sample]) -> dict[tuple, Sample]:
    return {(s.host, s.m1, s.m2, s.placement, s.state): s for s in samples}


def agreement(fast: np.ndarray, dft: np.ndarray) -> dict[str, float]:
    """n, MAE, mean signed error (fast − DFT), Spearman ρ and slope of DFT on fast over the
    finite pairs (eV)."""
    ok = np.isfinite(fast) & np.isfinite(dft)
    f, d = fast[ok], dft[ok]
    rho = float(spearmanr(f, d).statistic) if len(f) > 2 else float("nan")
    return {
        "n": int(ok.sum()),
        "mae": float(np.abs(f - d).mean()) if len(f) else float("nan"),
        "mean_signed_error": float((f - d).mean()) if len(f) else float("nan"),
        "spearman": rho,
        "slope": float(np.polyfit(f, d, 1)[0]) if len(f) > 2 else float("nan"),
    }


def compare(store_url: str | None, fast: str, dft: str) -> dict:
    """The agreement table for every site that both methods labelled."""
    s = Settings()
    store = open_store(store_url or s.db, s.shards)
    lo, hi = _by_key(collect_samples(store, fast)), _by_key(collect_samples(store, dft))
    shared = sorted(set(lo) & set(hi))
    out: dict = {"fast": fast, "dft": dft, "sites": sorted({"-".join(filter(None, k[1:3])) for k in shared})}
    for state in STATES:
        keys = [k for k in shared if k[4] == state]
        out[f"e_ads:{state}"] = agreement(
            np.array([lo[k].e_ads for k in keys]), np.array([hi[k].e_ads for k in keys])
        )
    clean = [k for k in shared if k[4] == "clean"]
    out["dband"] = agreement(
        np.array([v for k in clean for v in lo[k].dband[: len(lo[k].metals)]]),
        np.array([v for k in clean for v in hi[k].dband[: len(hi[k].metals)]]),
    )
    return out


GROUP_METHODS = {
    "GFN1-xTB (tblite single points)": ("tblite-GFN1-xTB", ("dband_m1", "dband_full_m1")),
    "GFN1-xTB (stored with CHGNet)": ("chgnet-0.4.2", ("dband_m1", "dband_full_m1")),
    "GPAW PDOS": ("gpaw-lcao-pbe-d3", ("dband_m1", "dband_full_m1")),
}
"""Where each labeller's single-atom d-band centres are stored (occupied, full band)."""


def group_trend(store: Any) -> list[dict[str, Any]]:
    """SCIENCE.md §6's sanity check: Spearman ρ of the single atoms' ε_d against −(group number)
    within each transition row (3d, 4d, 5d), per labeller and window; 1 when ε_d falls steadily
    with the group, as every DFT data set shows for the full band."""
    out = []
    for name, (method, keys) in GROUP_METHODS.items():
        rows = [r for r in store.rows(kind="site", adsorbate="clean", method=method, m2="") if r.get("best")]
        for key in keys:
            for period in (4, 5, 6):
                pts = [
                    (Element(r.m1).group, float(r.get(key, np.nan)))
                    for r in rows
                    if Element(r.m1).row == period and np.isfinite(float(r.get(key, np.nan)))
                ]
                rho = (
                    spearmanr([-g for g, _ in pts], [e for _, e in pts]).statistic if len(pts) > 2 else np.nan
                )
                out.append(
                    {"labeller": name, "window": key, "row": f"{period - 1}d", "n": len(pts), "spearman": rho}
                )
    return out


def markdown(r: dict) -> str:
    """The table as markdown."""
    lines = [
        "# Labeller agreement with DFT",
        "",
        f"Fast tier `{r['fast']}` (E_ads: CHGNet; ε_d: GFN1-xTB) against `{r['dft']}` (GPAW PBE+D3 "
        f"single points on the CHGNet geometries), on {len(r['sites'])} sites: {', '.join(r['sites']) or 'none'}.",
        "",
        "| quantity | n | MAE (eV) | mean signed error, fast − DFT (eV) | Spearman ρ | slope DFT/fast |",
        "|---|---|---|---|---|---|",
    ]
    for name in [*(f"e_ads:{x}" for x in STATES), "dband"]:
        m = r[name]
        lines.append(
            f"| {name} | {m['n']} | {m['mae']:.3f} | {m['mean_signed_error']:+.3f} | {m['spearman']:.2f} "
            f"| {m['slope']:.2f} |"
        )
    lines += [
        "",
        "Labels on the session-17 definition: the lowest valid state of each site, and a GPAW",
        "single point only where its source is that CHGNet label (`docs/science.md` §3).",
        "",
        "## Single-atom ε_d against the group number (SCIENCE.md §6)",
        "",
        "Spearman ρ of ε_d against −(group number) within each transition row (+1: ε_d falls",
        "with the group, as DFT data sets show for the full band). `dband_m1`: occupied band",
        "[E_F − 10, E_F]; `dband_full_m1`: full band E_F ± 10 eV. n = 0: the labeller stores no",
        "such value (GFN1-xTB has no d basis on Zn and Cd).",
        "",
        "| labeller | window | row | n | ρ |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {g['labeller']} | {g['window']} | {g['row']} | {g['n']} | {g['spearman']:.2f} |"
        for g in r.get("group_trend", [])
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None)
    ap.add_argument("--fast", default="chgnet-0.4.2")
    ap.add_argument("--dft", default="gpaw-lcao-pbe-d3")
    args = ap.parse_args()
    res = compare(args.db, args.fast, args.dft)
    s = Settings()
    res["group_trend"] = group_trend(open_store(args.db or s.db, s.shards))
    publish("labeller_agreement", res, markdown(res))


if __name__ == "__main__":
    main()
