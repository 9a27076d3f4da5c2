"""Leave-metal-out accuracy of the GNN ensemble against the descriptor baseline, per input mode.

For each input mode (``as-built``: the builder's site, what screening has without any
relaxation; ``relaxed-site``: the relaxed clean site with the adsorbate placed on it) this runs
the k-fold leave-metal-out cross-validation of ``dacscreen evaluate`` (every fold retrains the
ensemble and picks its baseline on that fold's validation split, never the test split) and
tabulates MAE and calibration side by side. ``--learning-curve`` adds the same cross-validation
on growing random subsets of the training sites (the test folds stay whole), which shows
whether the gap to the baseline is a matter of data. ``--displacement-weights`` repeats each
mode with the auxiliary relaxation loss of :class:`dacscreen.models.multitask.DisplacementHead`
at each weight; the column "val loss" (the members' best energy and d-band loss on the
validation split, averaged over folds) is what a weight is chosen by, never the test MAE.
Writes ``benchmarks/results/accuracy.{json,md}``.

    python benchmarks/accuracy.py [--config configs/train.yaml] [--modes as-built relaxed-site]
        [--folds 5] [--members 2] [--learning-curve 0.5 0.75] [--displacement-weights 0 1]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from dacscreen.config import TrainConfig, load_config
from dacscreen.models.crossval import cross_validate
from dacscreen.models.pipeline import Prepared, prepare

RESULTS = Path(__file__).resolve().parent / "results"
TARGETS = ("e_ads:Li2S2", "e_ads:Li2S", "dband")


def _subset(p: Prepared, fraction: float, seed: int) -> Prepared:
    """``p`` restricted to a seeded random ``fraction`` of its sites (all states of a kept site)."""
    sites = sorted({(s.host, s.m1, s.m2, s.placement) for s in p.samples})
    keep = set(random.Random(seed).sample(sites, max(2, round(fraction * len(sites)))))
    idx = [i for i, s in enumerate(p.samples) if (s.host, s.m1, s.m2, s.placement) in keep]
    return Prepared(
        [p.samples[i] for i in idx], [p.graphs[i] for i in idx], [], [], [], [], p.settings, p.references
    )


def _row(label: str, report: dict[str, Any]) -> dict[str, Any]:
    lmo = report["leave-metal-out"]
    row: dict[str, Any] = {
        "run": label,
        "baselines": sorted({f["baseline"] for f in lmo["folds"]}),
        "val_loss": sum(f["val_loss"] for f in lmo["folds"]) / max(len(lmo["folds"]), 1),
    }
    for t in TARGETS:
        row[t] = {side: lmo.get(t, {}).get(side, {}) for side in ("gnn", "baseline")}
    return row


def run(
    cfg: TrainConfig, modes: list[str], folds: int, fractions: list[float], weights: list[float]
) -> dict[str, Any]:
    """Cross-validate every mode at every displacement weight (and, for the first mode and
    weight, every subset fraction)."""
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for mode in modes:
            p = prepare(cfg.model_copy(update={"input_mode": mode}))
            for w in weights:
                model = cfg.model.model_copy(update={"displacement_weight": w})
                mcfg = cfg.model_copy(update={"input_mode": mode, "model": model})
                label = mode + (f", displacement weight {w:g}" if w or len(weights) > 1 else "")
                t0 = time.perf_counter()
                rows.append(_row(label, cross_validate(mcfg, p, folds, Path(work) / f"{mode}-{w}")))
                rows[-1].update(n_samples=len(p.samples), seconds=round(time.perf_counter() - t0, 1))
            for f in fractions if mode == modes[0] else []:
                mcfg = cfg.model_copy(update={"input_mode": mode})
                sub = _subset(p, f, cfg.split.seed)
                rows.append(
                    _row(f"{mode}, {f:.0%} of sites", cross_validate(mcfg, sub, folds, Path(work) / f"{f}"))
                )
                rows[-1].update(n_samples=len(sub.samples))
    return {"folds": folds, "members": cfg.model.ensemble, "method": cfg.method, "rows": rows}


def markdown(result: dict[str, Any]) -> str:
    """The rows as one table: MAE (eV) and ±1σ coverage of GNN and baseline per target."""
    head = "| run | samples | val loss | " + " | ".join(
        f"{t} GNN MAE | {t} baseline MAE | {t} GNN ±1σ" for t in TARGETS
    )
    lines = [
        "# Leave-metal-out accuracy by input mode",
        "",
        f"{result['folds']}-fold leave-metal-out cross-validation, {result['members']} members per fold, "
        "σ-scaling and baseline choice on each fold's validation split. MAE in eV.",
        "",
        head + " |",
        "|" + "---|" * (3 + 3 * len(TARGETS)),
    ]
    for r in result["rows"]:
        cells = []
        for t in TARGETS:
            g, b = r[t]["gnn"], r[t]["baseline"]
            cells += [
                f"{g.get('mae', float('nan')):.3f}",
                f"{b.get('mae', float('nan')):.3f}",
                f"{g.get('within_1sigma', float('nan')):.2f}",
            ]
        lines.append(f"| {r['run']} | {r['n_samples']} | {r['val_loss']:.3f} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=Path("configs/train.yaml"))
    ap.add_argument("--modes", nargs="+", default=["as-built", "relaxed-site"])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--members", type=int, default=2)
    ap.add_argument("--learning-curve", nargs="*", type=float, default=[])
    ap.add_argument("--displacement-weights", nargs="+", type=float, default=[0.0])
    ap.add_argument("--tag", default="", help="suffix of the result files, e.g. a variant name")
    args = ap.parse_args()
    cfg = load_config(TrainConfig, args.config, {})
    cfg.model = cfg.model.model_copy(update={"ensemble": args.members})
    result = run(cfg, args.modes, args.folds, args.learning_curve, args.displacement_weights)
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / f"accuracy{'-' + args.tag if args.tag else ''}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2, default=float))
    stem.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
