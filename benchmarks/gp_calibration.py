"""Is the elemental GP's own predictive σ calibrated where the ensemble's spread is not?

The shipped GNN corrects a per-state GP on the symmetrised element descriptors
(``model.energy_reference: descriptor-gp``); its members share that reference, so the ensemble's
spread is only that of their small residuals and needs a σ-scale of 25–350 (the k-fold folds of
``data/models/default/evaluation``). A GP also gives a predictive σ of its own (noise included),
which grows away from the training metals. This study fits the same GP (constant × anisotropic
RBF + white noise, marginal likelihood, normalised y) on the pair sites of the shipped store and
reports, on held-out pairs (5-fold by pair) and on held-out metals (5-fold leave-metal-out: a
site is held out when either metal is), its MAE, the fraction of labels within ±1σ and ±2σ,
and the mean σ (eV). No network is involved: it measures the candidate σ a future calibration
could add to the members' spread. Writes ``benchmarks/results/gp_calibration.{json,md}``.

    python benchmarks/gp_calibration.py [--method chgnet-0.4.2]
"""

from __future__ import annotations

import argparse
import random
from typing import Any

import numpy as np
from results_io import publish
from sklearn.model_selection import KFold
from sklearn.preprocessing import StandardScaler

from dacscreen.data.label_table import label_table
from dacscreen.data.store import default_store
from dacscreen.featurize.descriptors import metal_descriptor
from dacscreen.models.reference import gp_regressor

TARGETS = ("e_ads_li2s2", "e_ads_li2s")
FOLDS = 5


def _splits(m1: list[str], m2: list[str], kind: str) -> list[tuple[np.ndarray, np.ndarray]]:
    n = len(m1)
    if kind == "random pair":
        return list(KFold(FOLDS, shuffle=True, random_state=0).split(np.zeros(n)))
    metals = sorted(set(m1) | set(m2))
    random.Random(0).shuffle(metals)
    out = []
    for j in range(FOLDS):
        held = set(metals[j::FOLDS])
        test = np.array([a in held or b in held for a, b in zip(m1, m2, strict=True)])
        out.append((np.flatnonzero(~test), np.flatnonzero(test)))
    return out


def _scores(y: np.ndarray, mu: np.ndarray, sd: np.ndarray) -> dict[str, float]:
    z = np.abs(y - mu) / sd
    return {
        "n": len(y),
        "mae": float(np.abs(y - mu).mean()),
        "within_1sigma": float((z <= 1).mean()),
        "within_2sigma": float((z <= 2).mean()),
        "mean_sigma": float(sd.mean()),
    }


def run(method: str) -> dict[str, Any]:
    table = label_table(default_store(None), method)
    pairs = table[table.m2.fillna("") != ""].reset_index(drop=True)
    out: dict[str, Any] = {"method": method, "folds": FOLDS, "targets": {}}
    for target in TARGETS:
        ok = pairs[target].notna().to_numpy()
        sub = pairs[ok].reset_index(drop=True)
        y = sub[target].to_numpy(float)
        x = np.array([metal_descriptor(a, b) for a, b in zip(sub.m1, sub.m2, strict=True)])
        out["targets"][target] = {}
        for kind in ("random pair", "leave-metal-out"):
            mu, sd = np.full(len(y), np.nan), np.full(len(y), np.nan)
            for tr, te in _splits(list(sub.m1), list(sub.m2), kind):
                scale = StandardScaler().fit(x[tr])
                mu[te], sd[te] = gp_regressor(scale.transform(x[tr]), y[tr]).predict(
                    scale.transform(x[te]), return_std=True
                )
            done = np.isfinite(mu)
            out["targets"][target][kind] = _scores(y[done], mu[done], sd[done])
    return out


def markdown(res: dict[str, Any]) -> str:
    lines = [
        "# The elemental GP's own predictive σ",
        "",
        f"`python benchmarks/gp_calibration.py`: the `descriptor-gp` reference's GP on the pair sites of "
        f"`{res['method']}`, {res['folds']}-fold by pair and {res['folds']}-fold leave-metal-out. "
        "σ is the GP's predictive standard deviation, white noise included. MAE and σ in eV.",
        "",
        "| target | split | n | MAE | ±1σ | ±2σ | mean σ |",
        "|---|---|---|---|---|---|---|",
    ]
    for target, splits in res["targets"].items():
        for kind, r in splits.items():
            lines.append(
                f"| {target} | {kind} | {r['n']} | {r['mae']:.3f} | {r['within_1sigma']:.2f} | "
                f"{r['within_2sigma']:.2f} | {r['mean_sigma']:.3f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="chgnet-0.4.2")
    args = ap.parse_args()
    res = run(args.method)
    publish("gp_calibration", res, markdown(res))


if __name__ == "__main__":
    main()
