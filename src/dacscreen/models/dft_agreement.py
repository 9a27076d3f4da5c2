"""Does the screen's DFT-level answer agree with DFT? Scored inside the k-fold leave-metal-out
cross-validation of ``evaluate``, on the sites that carry labels of the model's fidelity map
(e.g. GPAW single points).

In each fold the GNN was trained without the fold's metals; here the fidelity map is refitted on
the DFT sites without them too, so a held-out DFT site is predicted by a GNN and a map that have
seen neither of its metals, exactly as ``screen`` predicts a pair it has never seen. Its
``*_dft`` numbers (the GNN through the map) are scored against its DFT labels, next to the
GNN's own numbers taken as DFT, and to the fold's descriptor baseline through the same map (the
comparator a reviewer would ask for). A pair whose metals fall in two folds is averaged over both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dacscreen.featurize.samples import Sample
from dacscreen.models.baseline import Baseline
from dacscreen.models.correction import Correction, KindChoice
from dacscreen.models.ensemble import Ensemble
from dacscreen.models.evaluation import baseline_predictions, blind_predictions
from dacscreen.models.metrics import mae_gap, top_k_recall
from dacscreen.models.targets import SITE_TARGETS, Predictions, accumulate, averaged, score_table

TARGETS = ("e_ads:Li2S2", "e_ads:Li2S", "dg5")
MODELS = ("gnn + map", "gnn", "baseline + map")
TOP = 10
"""Top-k recall of the DFT-best sites by ΔG5 (lowest first)."""


class DftAgreement:
    """Out-of-fold DFT-level predictions of the fidelity map's DFT samples, fold by fold."""

    def __init__(self, corr: Correction, low: Sequence[Sample], kind: KindChoice, mode: str) -> None:
        self.corr, self.low, self.kind, self.mode = corr, list(low), kind, mode
        self.total: dict[str, Predictions] = {}
        self.count = np.zeros(len(corr.samples))

    def add(self, held: Sequence[str], ens: Ensemble, baseline: Baseline) -> None:
        """Predict the DFT samples with a metal of ``held`` by one fold's GNN ``ens`` and
        ``baseline`` (both trained without those metals), mapped by a map fitted on the DFT
        samples without them; nothing when fewer than three such samples remain."""
        high = self.corr.samples
        test = [k for k, s in enumerate(high) if set(held) & set(s.metals)]
        seen = [s for s in high if not set(held) & set(s.metals)]
        if not test or len(seen) < 3:
            return
        test_s = [high[k] for k in test]
        fmap = Correction.build(seen, self.low, self.corr.references, self.kind)
        gnn = blind_predictions(ens, test_s, self.mode)
        base = baseline_predictions(baseline, test_s)
        preds = {"gnn": gnn, "gnn + map": fmap.apply(test_s, gnn), "baseline + map": fmap.apply(test_s, base)}
        accumulate(self.total, self.count, test, preds)

    def table(self, seed: int = 0) -> dict[str, Any]:
        """``{"method", "sites", target: {model: metrics}, "gaps": [...]}``: MAE, R², ρ (and
        calibration) per target and model, the top-10 recall of the DFT-best ΔG5 sites, and
        the paired MAE gap of ``gnn + map`` against ``baseline + map`` per E_ads target."""
        high = self.corr.samples
        tested = [k for k in range(len(high)) if self.count[k] > 0]
        if not tested:
            return {}
        mean = {m: averaged(p, self.count) for m, p in self.total.items()}
        refs = self.corr.references
        out: dict[str, Any] = score_table(high, tested, mean, refs, TARGETS)
        y = np.array([s.e_ads for s in high])
        truth = SITE_TARGETS["dg5"](high, tested, y, refs)
        for m, p in mean.items():
            pred = SITE_TARGETS["dg5"](high, tested, p.e_ads, refs)
            sites = sorted(set(truth) & set(pred))
            t, q = np.array([truth[s] for s in sites]), np.array([pred[s] for s in sites])
            out["dg5"][m][f"top{TOP}_recall"] = top_k_recall(t, q, TOP)
        out["gaps"] = []
        for target in TARGETS[:2]:
            i = np.array([k for k in tested if high[k].state == target.split(":")[1]], dtype=int)
            gap = mae_gap(y[i], mean["gnn + map"].e_ads[i], mean["baseline + map"].e_ads[i], seed=seed)
            out["gaps"].append({"target": target, **gap})
        out["method"] = self.corr.method
        out["sites"] = len({high[k].site for k in tested})
        return out


def markdown(table: dict[str, Any]) -> list[str]:
    """The agreement table as Markdown lines (empty without one)."""
    if not table:
        return []
    lines = [
        f"## Agreement with {table['method']} on its {table['sites']} sites (held-out metals)",
        "",
        "The screen's DFT-level columns (`gnn + map`) against the DFT labels, each site predicted by",
        "a GNN and a fidelity map that never saw its metals. MAE in eV; ΔG5 per product at 0 V.",
        "",
        f"| target | model | n | MAE | R² | ρ | ±1σ | top-{TOP} recall |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for target in TARGETS:
        for m in MODELS:
            r = table.get(target, {}).get(m, {})
            cells = [r.get(k, np.nan) for k in ("mae", "r2", "spearman", "within_1sigma")]
            cells.append(r.get(f"top{TOP}_recall", np.nan))
            lines.append(f"| {target} | {m} | {r.get('n', 0)} | " + " | ".join(_fmt(v) for v in cells) + " |")
    lines += ["", "MAE(baseline + map) − MAE(gnn + map), eV, paired-bootstrap 95 % interval:", ""]
    lines += [
        f"* {g['target']}: {g['gap']:+.3f} [{g['low']:+.3f}, {g['high']:+.3f}] (n = {g['n']})"
        for g in table.get("gaps", [])
    ]
    return [*lines, ""]


def _fmt(v: float) -> str:
    return "–" if not np.isfinite(v) else f"{v:.3f}"
