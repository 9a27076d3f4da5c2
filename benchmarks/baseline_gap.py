"""Why the GNN does not beat the descriptor baseline: how much of the baseline's error any model
could still learn from what the models see, and how complete and clean the labels are.

1. **Residual learnability.** In each leave-metal-out fold (the metal groups of
   ``dacscreen evaluate``), a Gaussian process on the site descriptor (the baseline) is fitted to
   the training sites. Its out-of-fold residuals on those sites (an inner leave-metal-out) are the
   target of a second model: a random forest or a ridge regression on the descriptor alone, or on
   the descriptor plus the geometry of the relaxed clean site (M–M distance, N coordination,
   shortest and mean M–N distance, height above the N plane). A GP on descriptor + geometry is
   scored too. If a second model lowers the test MAE, the baseline leaves structure in the inputs
   that a GNN could learn; if none does, what it misses is not in the inputs.
2. **Label coverage.** Per adsorbate state, from the store: the sites relaxed, those with a valid
   (converged, non-anomalous) record, the anomalies of the rest, and the starting orientation of
   the valid records.

MAE in eV; a pair whose metals fall in two folds is averaged over both, as in ``evaluate``.
Writes ``benchmarks/results/baseline_gap.{json,md}``.

    python benchmarks/baseline_gap.py [--config configs/train.yaml] [--folds 5]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import RidgeCV

from dacscreen.config import Settings, TrainConfig, load_config
from dacscreen.data.anomalies import metal_coordination, metal_pair_distance
from dacscreen.data.store import open_store
from dacscreen.featurize.samples import Sample
from dacscreen.models.baseline import DescriptorBaseline, Regressor
from dacscreen.models.dataset import prepare
from dacscreen.models.splits import leave_metal_out, metal_folds

RESULTS = Path(__file__).resolve().parent / "results"
STATES = ("Li2S2", "Li2S", "clean")
MODELS = (
    "GP",
    "GP + RF(residual)",
    "GP + RF(residual, geometry)",
    "GP + ridge(residual, geometry)",
    "GP(geometry)",
)


def geometry(s: Sample) -> np.ndarray:
    """Symmetrised geometry of the relaxed clean site: per metal the N coordination, shortest and
    mean M–N distance (Å) and height above its N neighbours (Å), as sum and |difference| over
    the two metals, then the M–M distance (0 for a single atom)."""
    a = s.relaxed_clean
    if a is None:
        return np.full(9, np.nan)
    n_idx = [i for i, x in enumerate(a.get_chemical_symbols()) if x == "N"]
    rows = []
    for m in np.where(a.get_tags() == 1)[0]:
        d = a.get_distances(int(m), n_idx, mic=True)
        near = [n_idx[k] for k in np.where(d < 2.6)[0]]
        height = a.positions[m, 2] - (a.positions[near, 2].mean() if near else a.positions[m, 2])
        rows.append([metal_coordination(a, int(m)), d.min(), d[d < 2.6].mean() if near else d.min(), height])
    f = np.array(rows if len(rows) == 2 else rows * 2)
    return np.concatenate([f.sum(0), np.abs(f[0] - f[1]), [metal_pair_distance(a)]])


def _gp(x: np.ndarray, y: np.ndarray, train: list[int], test: list[int]) -> np.ndarray:
    ok = [i for i in train if np.isfinite(y[i])]
    return Regressor("gp", 0).fit(x[ok], y[ok]).predict(x[test])[0]


def _oof(samples: list[Sample], x: np.ndarray, y: np.ndarray, train: list[int], k: int) -> np.ndarray:
    """Out-of-fold GP predictions for the ``train`` samples by an inner leave-metal-out."""
    out, count = np.zeros(len(samples)), np.zeros(len(samples))
    sub = [samples[i] for i in train]
    for held in metal_folds(sub, k, 1):
        itr, iva, ite = leave_metal_out(sub, held, 0.0, 0)
        inner_train, inner_test = [train[i] for i in itr + iva], [train[i] for i in ite]
        if inner_train and inner_test:
            out[inner_test] += _gp(x, y, inner_train, inner_test)
            count[inner_test] += 1
    return np.where(count > 0, out / np.maximum(count, 1), np.nan)


def _fold(
    samples: list[Sample], geo: np.ndarray, y: np.ndarray, held: list[str], k: int
) -> tuple[list[int], dict]:
    """Every model's test predictions for one outer fold."""
    tr, va, te = leave_metal_out(samples, held, 0.0, 0)
    tr = tr + va
    vocab = DescriptorBaseline("gp")
    vocab.states, vocab.hosts = sorted({samples[i].state for i in tr}), sorted({samples[i].host for i in tr})
    x = vocab.matrix(samples)
    xg = np.hstack([x, geo])
    base = _gp(x, y, tr, te)
    resid = y - _oof(samples, x, y, tr, k)
    ok = [i for i in tr if np.isfinite(resid[i])]

    def forest(features: np.ndarray) -> np.ndarray:
        rf = RandomForestRegressor(300, min_samples_leaf=5, random_state=0, n_jobs=1)
        return rf.fit(features[ok], resid[ok]).predict(features[te])

    ridge = RidgeCV(alphas=np.logspace(-2, 4, 13)).fit(xg[ok], resid[ok]).predict(xg[te])
    preds = {
        MODELS[0]: base,
        MODELS[1]: base + forest(x),
        MODELS[2]: base + forest(xg),
        MODELS[3]: base + ridge,
        MODELS[4]: _gp(xg, y, tr, te),
    }
    return te, preds


def learnability(samples: list[Sample], k: int) -> dict[str, dict[str, float]]:
    """Test MAE (eV) per model and state over the k outer folds."""
    y = np.array([s.e_ads for s in samples])
    geo = np.array([geometry(s) for s in samples])
    keep = ~np.isnan(geo).any(1)
    samples, y, geo = [s for s, kp in zip(samples, keep, strict=True) if kp], y[keep], geo[keep]
    total = {m: np.zeros(len(samples)) for m in MODELS}
    count = np.zeros(len(samples))
    for held in metal_folds(samples, k, 0):
        te, preds = _fold(samples, geo, y, held, k)
        for m in MODELS:
            total[m][te] += preds[m]
        count[te] += 1
    out: dict[str, dict[str, float]] = {}
    for state in STATES:
        sel = np.array([s.state == state for s in samples]) & (count > 0) & np.isfinite(y)
        out[state] = {"n": int(sel.sum())}
        for m in MODELS:
            out[state][m] = float(np.mean(np.abs(total[m][sel] / count[sel] - y[sel])))
    return out


def coverage(cfg: TrainConfig, method: str) -> dict[str, dict[str, Any]]:
    """Per adsorbate state: sites relaxed, sites with a valid record, anomalies of the rest and
    the starting orientations of the valid records."""
    settings = Settings()
    store = open_store(cfg.db or settings.db, settings.shards)
    out = {}
    for state in STATES[:2]:
        rows = defaultdict(list)
        for r in store.rows(kind="site", adsorbate=state, method=method):
            rows[(r.host, r.m1, r.m2, r.placement)].append(r)
        valid = {
            k: next(r for r in v if r.get("best")) for k, v in rows.items() if any(r.get("best") for r in v)
        }
        failed = [r.anomaly or "not converged" for k, v in rows.items() if k not in valid for r in v]
        out[state] = {
            "sites": len(rows),
            "valid": len(valid),
            "starts_per_site": round(sum(len(v) for v in rows.values()) / max(len(rows), 1), 2),
            "anomalies_of_sites_without_valid": dict(Counter(_kind(a) for a in failed).most_common()),
            "orientation_of_valid": dict(Counter(r.orientation for r in valid.values()).most_common()),
        }
    return out


def _kind(anomaly: str) -> str:
    """An anomaly without its numbers (``pair separated (5.6 Å)`` → ``pair separated``)."""
    return anomaly.split(" (", maxsplit=1)[0]


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Why the GNN does not beat the descriptor baseline",
        "",
        f"{result['folds']}-fold leave-metal-out on {result['n_samples']} samples ({result['method']}); "
        "residual models trained on inner leave-metal-out residuals of the GP. Test MAE in eV.",
        "",
        "| model | " + " | ".join(f"{s} (n={result['learnability'][s]['n']})" for s in STATES) + " |",
        "|---|" + "---|" * len(STATES),
    ]
    for m in MODELS:
        lines.append(f"| {m} | " + " | ".join(f"{result['learnability'][s][m]:.3f}" for s in STATES) + " |")
    lines += [
        "",
        "## Label coverage",
        "",
        "| state | sites relaxed | valid | starts per site | "
        "why the rest have none | orientation of the valid |",
        "|---|---|---|---|---|---|",
    ]
    for state, c in result["coverage"].items():
        why = ", ".join(f"{k} {v}" for k, v in c["anomalies_of_sites_without_valid"].items())
        ori = ", ".join(f"{k} {v}" for k, v in c["orientation_of_valid"].items())
        lines.append(f"| {state} | {c['sites']} | {c['valid']} | {c['starts_per_site']} | {why} | {ori} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=Path("configs/train.yaml"))
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args()
    cfg = load_config(TrainConfig, args.config, {}).model_copy(update={"input_mode": "relaxed-site"})
    p = prepare(cfg)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = {
            "folds": args.folds,
            "method": p.samples[0].method,
            "n_samples": len(p.samples),
            "learnability": learnability(p.samples, args.folds),
            "coverage": coverage(cfg, p.samples[0].method),
        }
    result["seconds"] = round(time.perf_counter() - t0, 1)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "baseline_gap.json").write_text(json.dumps(result, indent=2))
    text = markdown(result)
    (RESULTS / "baseline_gap.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
