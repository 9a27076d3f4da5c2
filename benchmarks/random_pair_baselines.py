"""The bar on seen metals: what the metals' identities and elements alone predict for unseen pairs.

5-fold cross-validation by pair, repeated over ``--seeds`` shuffles, over the pair sites of the
shipped store (each fold holds out pairs whose metals are seen in training, which is what
screening the 406 pairs asks):

* **metal identity**: ridge on symmetric one-hot counts of the two metals (additive per metal);
* **elemental GP**: the ``descriptor-gp`` energy reference the shipped GNN corrects
  (:mod:`dacscreen.models.reference`), a GP on the symmetrised element descriptors;
* **identity + GP**: the GP fitted to the identity model's residuals (interactions beyond the
  additive model);

and, for the elemental GP, the standard deviation of its training residuals next to that of its
held-out residuals: what a network stacked on the reference is trained to correct, and what it
meets on new pairs. MAE and R² in eV over the held-out pairs, mean over folds and seeds.
Writes ``benchmarks/results/random_pair_baselines.{json,md}``.

    python benchmarks/random_pair_baselines.py [--method chgnet-0.4.2] [--seeds 1]
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
from results_io import publish
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold
from sklearn.preprocessing import StandardScaler

from dacscreen.data.label_table import label_table
from dacscreen.data.store import default_store
from dacscreen.elements import DEFAULT_METALS
from dacscreen.featurize.descriptors import metal_descriptor
from dacscreen.models.reference import fit_reference, reference_value

TARGETS = ("e_ads_li2s2", "e_ads_li2s", "dg_5")


def _scores(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    return float(np.abs(p - y).mean()), float(1 - ((p - y) ** 2).sum() / ((y - y.mean()) ** 2).sum())


def _fold(
    x_id: np.ndarray, x_el: np.ndarray, y: np.ndarray, tr: np.ndarray, te: np.ndarray
) -> dict[str, Any]:
    additive = RidgeCV(alphas=np.logspace(-3, 2, 20)).fit(x_id[tr], y[tr])
    scale = StandardScaler().fit(x_el[tr])
    el_tr, el_te = scale.transform(x_el[tr]), scale.transform(x_el[te])
    gp, train_res = fit_reference("descriptor-gp", el_tr, y[tr])
    resid_gp, _ = fit_reference("descriptor-gp", el_tr, y[tr] - additive.predict(x_id[tr]))
    p_gp = reference_value(gp, el_te)
    return {
        "metal identity": _scores(y[te], additive.predict(x_id[te])),
        "elemental GP": _scores(y[te], p_gp),
        "identity + GP": _scores(y[te], additive.predict(x_id[te]) + reference_value(resid_gp, el_te)),
        "residual std": (float(train_res.std()), float((y[te] - p_gp).std())),
    }


def pair_features(pairs: Any) -> tuple[np.ndarray, np.ndarray]:
    """(symmetric one-hot counts of the two metals, element descriptors) of each row of
    ``pairs`` (columns ``m1``, ``m2``)."""
    metals = sorted(DEFAULT_METALS)
    x_id = np.zeros((len(pairs), len(metals)))
    for i, (a, b) in enumerate(zip(pairs.m1, pairs.m2, strict=True)):
        x_id[i, metals.index(a)] += 1
        x_id[i, metals.index(b)] += 1
    x_el = np.array([metal_descriptor(a, b) for a, b in zip(pairs.m1, pairs.m2, strict=True)])
    return x_id, x_el


def run(method: str, seeds: int) -> dict[str, Any]:
    table = label_table(default_store(None), method)
    pairs = table[table.m2.fillna("") != ""].reset_index(drop=True)
    x_id, x_el = pair_features(pairs)
    out: dict[str, Any] = {"method": method, "seeds": seeds, "targets": {}}
    for target in TARGETS:
        y = pairs[target].to_numpy(float)
        ok = np.isfinite(y)
        folds = [
            _fold(x_id[ok], x_el[ok], y[ok], tr, te)
            for seed in range(seeds)
            for tr, te in KFold(5, shuffle=True, random_state=seed).split(y[ok])
        ]
        out["targets"][target] = {"n": int(ok.sum())} | {
            k: np.mean([f[k] for f in folds], axis=0).tolist() for k in folds[0]
        }
    return out


def markdown(res: dict[str, Any]) -> str:
    lines = [
        "# Baselines on seen metals: random split by pair",
        "",
        f"`python benchmarks/random_pair_baselines.py`: {res['seeds']} × 5-fold cross-validation over the "
        f"pair sites of `{res['method']}` (lowest-state labels). MAE / R² in eV over held-out pairs. "
        "*Residual std*: the elemental GP's residuals on its training pairs against those on the held-out "
        "pairs (what a network stacked on the `descriptor-gp` reference is trained on, and what it meets).",
        "",
        "| target | n | metal identity | elemental GP | identity + GP | GP residual std, train / held out |",
        "|---|---|---|---|---|---|",
    ]
    for target, row in res["targets"].items():
        cells = [
            f"{row[k][0]:.3f} / {row[k][1]:.2f}" for k in ("metal identity", "elemental GP", "identity + GP")
        ]
        std = row["residual std"]
        lines.append(f"| {target} | {row['n']} | " + " | ".join(cells) + f" | {std[0]:.3f} / {std[1]:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="chgnet-0.4.2")
    ap.add_argument("--seeds", type=int, default=1)
    args = ap.parse_args()
    res = run(args.method, args.seeds)
    publish("random_pair_baselines", res, markdown(res))


if __name__ == "__main__":
    main()
