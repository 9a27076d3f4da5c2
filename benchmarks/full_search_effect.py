"""Does trying every Li2S2 start make the label more learnable? Before and after, same sites.

A pair site's Li2S2 label is its lowest valid relaxation over the starts tried. Most shards
written before ``--since`` stopped at the first valid start (one or two per site); since then
(``full_search_states: [Li2S2, Li2S]`` in ``configs/label.yaml``) the labeller tries all four
orientations on every site. On every pair site with a valid label before ``--since`` (the label
rule of :mod:`dacscreen.data.label_rules` applied to the records shipped until then), this
compares that label with the label now:

* how many sites have every orientation stored now, and how many were given new starts;
* how far the labels of those moved (old − new, eV; never negative: the search only adds
  starts);
* whether the sites that moved are those whose old label the elemental GP found too high (its
  held-out residual against the move, Spearman), and that residual before and now;
* how well the metal-identity ridge and the elemental GP predict each label set, by the same
  5-fold random split over the same sites (MAE, R², held-out residual std; mean over
  ``--seeds``).

If the search, not the pair, set the old labels, the new ones are the more predictable. Run while
the relabelling goes on, the "now" column mixes searched and not yet searched sites: the
labeller walks the metals in plan order, so the searched ones are not a random sample.
Writes ``benchmarks/results/full_search_effect.{json,md}``.

    python benchmarks/full_search_effect.py [--method chgnet-0.4.2] [--since labels-20261207T06]
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from typing import Any

import numpy as np
import pandas as pd
from random_pair_baselines import _fold, pair_features
from results_io import publish
from scipy.stats import spearmanr
from sklearn.model_selection import KFold
from sklearn.preprocessing import StandardScaler

from dacscreen.config import Settings
from dacscreen.data import label_rules
from dacscreen.data.adsorbates import orientations
from dacscreen.data.label_table import label_table
from dacscreen.data.store import Store, default_store, shipped_rids
from dacscreen.models.reference import fit_reference, reference_value

STATE = "Li2S2"


def old_minus_new(store: Store, method: str, old: set[str]) -> pd.DataFrame:
    """Per pair site with a valid label among its ``old`` records: that label's energy minus the
    label now (eV), whether every orientation is stored, and whether it has new records."""
    rows: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for r in store.site_rows(method=method, adsorbate=STATE):
        if r.get("m2"):
            rows[(r.m1, r.m2)].append(r)
    out = []
    for (m1, m2), rs in rows.items():
        before = [label_rules.candidate(r.rid, r.key_value_pairs, r.energy) for r in rs if r.rid in old]
        label, _ = label_rules.choose(before)
        now = next((r for r in rs if r.get("best")), None)
        if label is None or now is None:
            continue
        out.append(
            {
                "m1": m1,
                "m2": m2,
                "moved": float(next(r.energy for r in rs if r.rid == label) - now.energy),
                "full": set(orientations(2, STATE)) <= {str(r.orientation) for r in rs},
                "new_starts": any(r.rid not in old for r in rs),
            }
        )
    return pd.DataFrame(out)


def gp_out_of_fold(pairs: pd.DataFrame, y: np.ndarray) -> np.ndarray:
    """Held-out elemental-GP predictions of ``y`` (5-fold random split, seed 0)."""
    _, x = pair_features(pairs)
    out = np.zeros(len(y))
    for tr, te in KFold(5, shuffle=True, random_state=0).split(y):
        scale = StandardScaler().fit(x[tr])
        gp, _ = fit_reference("descriptor-gp", scale.transform(x[tr]), y[tr])
        out[te] = reference_value(gp, scale.transform(x[te]))
    return out


def learnability(pairs: pd.DataFrame, y: np.ndarray, seeds: int) -> dict[str, Any]:
    """Metal-identity ridge and elemental GP on labels ``y`` of ``pairs`` (5-fold random split)."""
    x_id, x_el = pair_features(pairs)
    folds = [
        _fold(x_id, x_el, y, tr, te)
        for seed in range(seeds)
        for tr, te in KFold(5, shuffle=True, random_state=seed).split(y)
    ]
    return {k: np.mean([f[k] for f in folds], axis=0).tolist() for k in folds[0]}


def run(method: str, since: str, seeds: int) -> dict[str, Any]:
    store = default_store(None)
    moved = old_minus_new(store, method, shipped_rids(Settings().shards, before=since))
    pairs = label_table(store, method).merge(moved, on=["m1", "m2"])
    pairs = pairs[np.isfinite(pairs.e_ads_li2s2)].reset_index(drop=True)
    new = pairs.e_ads_li2s2.to_numpy(float)
    searched = pairs.moved[pairs.new_starts].to_numpy(float)
    old = new + pairs.moved.to_numpy(float)
    res_old = (old - gp_out_of_fold(pairs, old))[pairs.new_starts]
    res_new = (new - gp_out_of_fold(pairs, new))[pairs.new_starts]
    return {
        "method": method,
        "since": since,
        "seeds": seeds,
        "sites": len(pairs),
        "fully_searched": int(pairs.full.sum()),
        "complete_before": int((pairs.full & ~pairs.new_starts).sum()),
        "given_new_starts": len(searched),
        "moved_share_over_0.1": float(np.mean(searched > 0.1)),
        "moved_mean": float(searched.mean()),
        "moved_max": float(searched.max()),
        "searched_gp_abs_residual": [float(np.abs(res_old).mean()), float(np.abs(res_new).mean())],
        "move_vs_old_residual_spearman": float(spearmanr(res_old, searched).statistic),
        "before": learnability(pairs, old, seeds),
        "now": learnability(pairs, new, seeds),
    }


def markdown(res: dict[str, Any]) -> str:
    lines = [
        "# The Li2S2 label before and after the full placement search",
        "",
        f"`python benchmarks/full_search_effect.py` on `{res['method']}`: the {res['sites']} pair sites with a "
        f"valid Li2S2 label in the shards before `{res['since']}`, that label against the label now. Models by "
        f"5-fold random split over these sites, {res['seeds']} shuffle(s), same folds for both labels. eV.",
        "",
        f"Now {res['fully_searched']} of the {res['sites']} sites have every orientation stored "
        f"({res['complete_before']} of them already had before); "
        f"{res['given_new_starts']} were given new starts since `{res['since']}`. Their labels moved down by "
        f"{res['moved_mean']:.3f} on average (max {res['moved_max']:.2f}); {res['moved_share_over_0.1']:.0%} "
        "of them by more than 0.1. On these sites the elemental GP's mean absolute held-out residual went "
        f"from {res['searched_gp_abs_residual'][0]:.3f} to {res['searched_gp_abs_residual'][1]:.3f}; the Spearman "
        f"correlation of how far a label moved with its old residual (label above the GP: positive) is "
        f"{res['move_vs_old_residual_spearman']:.2f} (positive: the search lowers the labels the GP found too high).",
        "",
        "| label | identity ridge MAE / R² | elemental GP MAE / R² | identity + GP MAE / R² | "
        "GP held-out residual std |",
        "|---|---|---|---|---|",
    ]
    for which in ("before", "now"):
        r = res[which]
        lines.append(
            f"| {which} | {r['metal identity'][0]:.3f} / {r['metal identity'][1]:.2f} | "
            f"{r['elemental GP'][0]:.3f} / {r['elemental GP'][1]:.2f} | "
            f"{r['identity + GP'][0]:.3f} / {r['identity + GP'][1]:.2f} | {r['residual std'][1]:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="chgnet-0.4.2")
    ap.add_argument("--since", default="labels-20261207T06", help="first shard name of the full search")
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    res = run(args.method, args.since, args.seeds)
    publish("full_search_effect", res, markdown(res))


if __name__ == "__main__":
    main()
