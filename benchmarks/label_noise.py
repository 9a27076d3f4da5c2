"""How much of a lowest-state label is the placement search, not the metal pair?

A site's E_ads label is the lowest valid state over a handful of relaxation starts (placement
orientations). Where one start finds a basin far below the others, the label depends on which
starts were tried: noise with respect to the pair's chemistry, which no model of the pair (GNN or
descriptor) can predict. For the pair sites of the shipped CHGNet labels this measures, per state:

* valid starts per site (converged, no anomaly; S–S cleaved and Li-detached states included);
* the second-lowest valid start minus the lowest (eV);
* **leave-one-start-out**: the mean change of the label when one start is dropped from the
  search (eV; sites with at least two valid starts), an estimate of how much a different set
  of starts would move it;

next to what the labels leave to a model of the pair: the elemental GP's held-out residual by
5-fold random split over pairs (``random_pair_baselines.md``), its fitted white-noise level, and
the same GP given the label's state class (intact / S–S cleaved / Li detached) as an oracle
input. Writes ``benchmarks/results/label_noise.{json,md}``.

    python benchmarks/label_noise.py [--method chgnet-0.4.2]
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from typing import Any

import numpy as np
import pandas as pd
from results_io import publish
from sklearn.model_selection import KFold
from sklearn.preprocessing import StandardScaler

from dacscreen.data.label_table import label_table
from dacscreen.data.store import default_store
from dacscreen.featurize.descriptors import metal_descriptor
from dacscreen.featurize.samples import collect_samples
from dacscreen.models.reference import fit_reference, reference_value

STATES = ("Li2S2", "Li2S")
ALL_STATES = ("S8", "Li2S8", "Li2S6", "Li2S4", "Li2S2", "Li2S")
DEPTHS = ((1, 1), (2, 3), (4, 5), (6, 99))


def valid_starts(store: Any, method: str, state: str) -> dict[tuple[str, str], list[float]]:
    """Energies of the converged, non-anomalous starts of ``state`` on every pair site (eV)."""
    starts: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in store.rows(kind="site", method=method, adsorbate=state):
        if r.get("m2") and r.get("converged") and not r.get("anomaly"):
            starts[(r.m1, r.m2)].append(float(r.energy))
    return starts


def search_depth(store: Any, method: str, pairs: pd.DataFrame, state: str) -> list[dict[str, Any]]:
    """The label against how many valid starts found it: median E_ads and share not intact."""
    n = valid_starts(store, method, state)
    col, cls = f"e_ads_{state.lower()}", f"class_{state.lower()}"
    d = pairs[pairs[col].notna()]
    k = np.array([len(n.get((a, b), ())) for a, b in zip(d.m1, d.m2, strict=True)])
    rows = []
    for lo, hi in DEPTHS:
        m = (k >= lo) & (k <= hi)
        if m.any():
            rows.append(
                {
                    "starts": f"{lo}" if lo == hi else f"{lo}–{hi}" if hi < 99 else f"≥{lo}",
                    "sites": int(m.sum()),
                    "median": float(d[col][m].median()),
                    "q25": float(d[col][m].quantile(0.25)),
                    "q75": float(d[col][m].quantile(0.75)),
                    "not_intact": float((d[cls][m] != "intact").mean()),
                }
            )
    return rows


def search_spread(
    store: Any, method: str, state: str, labels: dict[tuple[str, str], float]
) -> dict[str, Any]:
    """Statistics of the valid starts of ``state`` on every pair site (eV)."""
    starts = valid_starts(store, method, state)
    n = np.array([len(v) for v in starts.values()])
    gaps, loso = [], []
    for v in (np.sort(v) for v in starts.values() if len(v) > 1):
        gaps.append(v[1] - v[0])
        loso.append(np.mean([np.delete(v, i).min() - v[0] for i in range(len(v))]))
    return {
        "sites": len(starts),
        "labels": len(labels),
        "starts_histogram": np.bincount(n).tolist(),
        "mean_starts": float(n.mean()),
        "sites_with_two": len(gaps),
        "gap_median": float(np.median(gaps)),
        "gap_share_over_0.3": float(np.mean(np.array(gaps) > 0.3)),
        "loso_mean": float(np.mean(loso)),
        "loso_rms": float(np.sqrt(np.mean(np.square(loso)))),
    }


def gp_residuals(pairs: pd.DataFrame, state: str) -> dict[str, Any]:
    """5-fold random-pair GP on the element descriptors, without and with the state class."""
    col = f"e_ads_{state.lower()}"
    d = pairs[pairs[col].notna()].reset_index(drop=True)
    x = np.array([metal_descriptor(a, b) for a, b in zip(d.m1, d.m2, strict=True)])
    y = d[col].to_numpy(float)
    cls = pd.get_dummies(d[f"class_{state.lower()}"]).to_numpy(float)
    plain, oracle, noise = np.zeros(len(y)), np.zeros(len(y)), []
    for tr, te in KFold(5, shuffle=True, random_state=0).split(x):
        xs = StandardScaler().fit(x[tr]).transform(x)
        ref, _ = fit_reference("descriptor-gp", xs[tr], y[tr])
        plain[te] = reference_value(ref, xs[te])
        noise.append(ref["y_std"] * np.sqrt(ref["noise"]))
        xc = np.hstack([xs, 3.0 * cls])  # classes far apart in the kernel's distance
        ref, _ = fit_reference("descriptor-gp", xc[tr], y[tr])
        oracle[te] = reference_value(ref, xc[te])
    res = y - plain
    by_class = pd.Series(res).groupby(d[f"class_{state.lower()}"].to_numpy()).std()
    return {
        "n": len(y),
        "gp_mae": float(np.abs(res).mean()),
        "gp_residual_std": float(res.std()),
        "gp_noise_std": float(np.mean(noise)),
        "gp_with_class_mae": float(np.abs(y - oracle).mean()),
        "residual_std_by_class": {k: float(v) for k, v in by_class.items()},
    }


def _gp_predict(x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    scaler = StandardScaler().fit(x[train])
    ref, _ = fit_reference("descriptor-gp", scaler.transform(x[train]), y[train])
    return reference_value(ref, scaler.transform(x[test]))


def bounded_training(store: Any, method: str, state: str) -> dict[str, Any]:
    """The elemental GP scored on the pair sites whose search was complete (5-fold over them),
    trained on every label (one-start upper bounds included) or on the complete ones only: the
    test behind ``complete_search_only`` of the training config. Bias: mean(prediction − label)."""
    samples = [s for s in collect_samples(store, method) if s.state == state and s.m2]
    x = np.array([metal_descriptor(s.m1, s.m2) for s in samples])
    y = np.array([s.e_ads for s in samples])
    full = np.flatnonzero([s.search_complete for s in samples])
    out: dict[str, Any] = {"labels": len(y), "n_complete": len(full)}
    if len(full) < 10:
        return out
    every, complete = np.zeros(len(y)), np.zeros(len(y))
    for tr, te in KFold(5, shuffle=True, random_state=0).split(full):
        test = full[te]
        every[test] = _gp_predict(x, y, np.setdiff1d(np.arange(len(y)), test), test)
        complete[test] = _gp_predict(x, y, full[tr], test)
    for name, pred in (("every", every), ("complete", complete)):
        err = pred[full] - y[full]
        out[name] = {"mae": float(np.abs(err).mean()), "bias": float(err.mean())}
    return out


def run(method: str) -> dict[str, Any]:
    store = default_store(None)
    table = label_table(store, method)
    pairs = table[table.m2.fillna("") != ""].reset_index(drop=True)
    out: dict[str, Any] = {"method": method, "states": {}}
    for state in STATES:
        col = f"e_ads_{state.lower()}"
        labels = {(a, b): v for a, b, v in zip(pairs.m1, pairs.m2, pairs[col], strict=True) if np.isfinite(v)}
        out["states"][state] = search_spread(store, method, state, labels) | gp_residuals(pairs, state)
    out["depth"] = {state: search_depth(store, method, pairs, state) for state in ALL_STATES}
    out["bounded"] = {state: bounded_training(store, method, state) for state in ALL_STATES}
    out["pair_sites"] = len(pairs)
    return out


def markdown(res: dict[str, Any]) -> str:
    lines = [
        "# Label noise from the placement search",
        "",
        f"`python benchmarks/label_noise.py` on the pair sites of `{res['method']}`. eV. *Leave-one-start-out*: "
        "the mean (and rms) change of a site's label when one of its valid starts is dropped from the "
        "search. *GP*: the elemental GP by 5-fold random split over pairs (held-out residuals), its fitted "
        "white-noise σ, and the same GP told the label's state class (an oracle, for reference).",
        "",
        "| state | pair sites | valid starts per site (histogram from 0) | second − lowest start, median | "
        "share > 0.3 eV | leave-one-start-out mean / rms | GP MAE | GP residual std | GP noise σ | "
        "GP + class MAE | GP residual std within class |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for state, r in res["states"].items():
        within = ", ".join(f"{k} {v:.2f}" for k, v in r["residual_std_by_class"].items())
        lines.append(
            f"| {state} | {r['sites']} | {r['starts_histogram']} | {r['gap_median']:.3f} | "
            f"{r['gap_share_over_0.3']:.2f} | {r['loso_mean']:.3f} / {r['loso_rms']:.3f} | {r['gp_mae']:.3f} | "
            f"{r['gp_residual_std']:.3f} | {r['gp_noise_std']:.3f} | {r['gp_with_class_mae']:.3f} | {within} |"
        )
    lines += [
        "",
        "## The label against the depth of its search, every state",
        "",
        f"Pair sites with a label, by how many valid starts the search had ({res['pair_sites']} pair sites; "
        "the intermediates S8…Li2S4 get one start unless it fails, Li2S2 and Li2S every orientation). "
        "E_ads median [25th, 75th percentile], eV; *not intact*: share whose lowest state is S–S cleaved "
        "or Li detached. A label that falls with every start added is bounded by its search: a "
        "one-start label is an upper bound on the lowest state, not an estimate of it.",
        "",
        "| state | valid starts | sites | E_ads median [IQR] | not intact |",
        "|---|---|---|---|---|",
    ]
    for state, rows in res["depth"].items():
        lines += [
            f"| {state} | {r['starts']} | {r['sites']} | {r['median']:.2f} [{r['q25']:.2f}, {r['q75']:.2f}] | "
            f"{r['not_intact']:.2f} |"
            for r in rows
        ]
    lines += [
        "",
        "## Training on upper bounds",
        "",
        "The elemental GP scored on the pair sites whose search started every offered orientation "
        "(5-fold over them), trained on every label or on the complete ones only "
        "(`complete_search_only` of the training config). MAE / bias (mean of prediction − label), eV.",
        "",
        "| state | pair labels | complete | trained on every label | trained on complete ones only |",
        "|---|---|---|---|---|",
    ]
    for state, r in res["bounded"].items():
        cells = [
            f"{r[k]['mae']:.2f} / {r[k]['bias']:+.2f}" if k in r else "too few" for k in ("every", "complete")
        ]
        lines.append(f"| {state} | {r['labels']} | {r['n_complete']} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="chgnet-0.4.2")
    args = ap.parse_args()
    res = run(args.method)
    publish("label_noise", res, markdown(res))


if __name__ == "__main__":
    main()
