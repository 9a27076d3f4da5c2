"""Leave-metal-out accuracy of the GNN ensemble against the descriptor baseline, per input mode.

For each input mode (``as-built``: the builder's site, what screening has without any
relaxation; ``relaxed-site``: the relaxed clean site with the adsorbate placed on it) this runs
the k-fold leave-metal-out cross-validation of ``dacscreen evaluate`` (every fold retrains the
ensemble and picks its baseline on that fold's validation split, never the test split) and
tabulates MAE and calibration side by side. ``--learning-curve`` adds the same cross-validation
on growing random subsets of the training sites (the test folds stay whole), which shows
whether the gap to the baseline is a matter of data. ``--displacement-weights`` repeats each
mode with the auxiliary relaxation loss of :class:`dacscreen.models.multitask.DisplacementHead`
at each weight, ``--energy-references`` with each ``energy_reference`` (the per-state mean,
or a ridge regression on the site descriptor that the GNN corrects), and ``--orientations`` with
each ``orientations`` rule (train on the labelled start and keep the lowest prediction, or on
every orientation with the site's label and average), and ``--val-by`` with each way of drawing
the validation sites (random sites, or the sites of held-out validation metals). A variant is chosen by
the validation columns, averaged over folds, never by the test MAE: "val loss" (the members'
best standardised energy and d-band loss; comparable between weights) and "val MAE" (the
ensemble's graph-level MAE in eV; comparable between energy references too).
Writes ``benchmarks/results/accuracy.{json,md}``.

    python benchmarks/accuracy.py [--config configs/train.yaml] [--modes as-built relaxed-site]
        [--folds 5] [--members 2] [--learning-curve 0.5 0.75] [--displacement-weights 0 1]
        [--energy-references state-mean descriptor-ridge] [--orientations labelled all]
        [--val-by site metal]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from dacscreen.config import TrainConfig, load_config
from dacscreen.models.baseline import NAMES
from dacscreen.models.crossval import cross_validate
from dacscreen.models.dataset import Prepared, prepare

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
        "val_loss": _fold_mean(lmo["folds"], "val_loss"),
        "val_mae": _fold_mean(lmo["folds"], "val_mae"),
    }
    for t in TARGETS:
        row[t] = dict(lmo.get(t, {}))
    return row


def _fold_mean(folds: list[dict[str, Any]], key: str) -> float:
    values = [f[key] for f in folds if key in f]
    return sum(values) / len(values) if values else float("nan")


def run(
    cfg: TrainConfig,
    modes: list[str],
    folds: int,
    fractions: list[float],
    variants: dict[str, list[Any]],
) -> dict[str, Any]:
    """Cross-validate every mode with every combination of ``variants`` (``orientations``,
    ``displacement_weight``, ``energy_reference``, ``val_by``; and, for the first mode and variant, every
    subset fraction)."""
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for mode in modes:
            rules = variants["orientations"]
            p_all = prepare(cfg.model_copy(update={"input_mode": mode, "orientations": rules[-1]}))
            for rule, w, ref, val_by in itertools.product(*variants.values()):
                p = p_all if rule == rules[-1] else replace(p_all, variants=[])
                model = cfg.model.model_copy(update={"displacement_weight": w, "energy_reference": ref})
                split = cfg.split.model_copy(update={"val_by": val_by})
                mcfg = cfg.model_copy(
                    update={"input_mode": mode, "model": model, "orientations": rule, "split": split}
                )
                label = ", ".join(
                    [mode]
                    + [f"orientations {rule}"] * (len(rules) > 1)
                    + [f"displacement weight {w:g}"] * (len(variants["displacement_weight"]) > 1)
                    + [ref] * (len(variants["energy_reference"]) > 1)
                    + [f"validation by {val_by}"] * (len(variants["val_by"]) > 1)
                )
                t0 = time.perf_counter()
                tag = f"{mode}-{rule}-{w}-{ref}-{val_by}"
                rows.append(_row(label, cross_validate(mcfg, p, folds, Path(work) / tag)))
                rows[-1].update(n_samples=len(p.samples), seconds=round(time.perf_counter() - t0, 1))
            for f in fractions if mode == modes[0] else []:
                mcfg = cfg.model_copy(update={"input_mode": mode})
                sub = _subset(replace(p_all, variants=[]), f, cfg.split.seed)
                rows.append(
                    _row(f"{mode}, {f:.0%} of sites", cross_validate(mcfg, sub, folds, Path(work) / f"{f}"))
                )
                rows[-1].update(n_samples=len(sub.samples))
    return {"folds": folds, "members": cfg.model.ensemble, "method": cfg.method, "rows": rows}


def markdown(result: dict[str, Any]) -> str:
    """The rows as one table: MAE (eV) and ±1σ coverage of GNN and baseline per target."""
    head = "| run | samples | val loss | val MAE | " + " | ".join(
        f"{t} GNN MAE | {t} baseline MAE | {t} GNN ±1σ" for t in TARGETS
    )
    lines = [
        "# Leave-metal-out accuracy by input mode",
        "",
        f"{result['folds']}-fold leave-metal-out cross-validation, {result['members']} members per fold, "
        "σ-scaling and baseline choice on each fold's validation split. MAE in eV.",
        "",
        head + " |",
        "|" + "---|" * (4 + 3 * len(TARGETS)),
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
        vals = f"{r['val_loss']:.3f} | {r.get('val_mae', float('nan')):.3f}"
        lines.append(f"| {r['run']} | {r['n_samples']} | {vals} | " + " | ".join(cells) + " |")
    return "\n".join(lines + _kinds_table(result["rows"])) + "\n"


def _kinds_table(rows: list[dict[str, Any]]) -> list[str]:
    """Test MAE (eV) of every baseline kind kept fixed over the folds, for reference: the
    "baseline" columns above are the kind chosen on each fold's validation split."""
    kinds = [k for k in NAMES.values() if any(k in r[t] for r in rows for t in TARGETS)]
    if not kinds:
        return []
    lines = [
        "",
        "Each baseline kind kept fixed over the folds (test MAE, eV; for reference: choosing a "
        "kind by these would be choosing on the test split):",
        "",
        "| run | " + " | ".join(f"{t} {k}" for t in TARGETS for k in kinds) + " |",
        "|---|" + "---|" * (len(TARGETS) * len(kinds)),
    ]
    for r in rows:
        cells = [f"{r[t].get(k, {}).get('mae', float('nan')):.3f}" for t in TARGETS for k in kinds]
        lines.append(f"| {r['run']} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=Path("configs/train.yaml"))
    ap.add_argument("--modes", nargs="+", default=["as-built", "relaxed-site"])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--members", type=int, default=2)
    ap.add_argument("--learning-curve", nargs="*", type=float, default=[])
    ap.add_argument("--orientations", nargs="+", choices=["labelled", "all"], default=None)
    ap.add_argument("--val-by", nargs="+", choices=["site", "metal"], default=None)
    ap.add_argument("--displacement-weights", nargs="+", type=float, default=None)
    ap.add_argument("--energy-references", nargs="+", default=None)
    ap.add_argument("--tag", default="", help="suffix of the result files, e.g. a variant name")
    args = ap.parse_args()
    cfg = load_config(TrainConfig, args.config, {})
    cfg.model = cfg.model.model_copy(update={"ensemble": args.members})
    variants = {
        "orientations": args.orientations or [cfg.orientations],
        "displacement_weight": args.displacement_weights or [cfg.model.displacement_weight],
        "energy_reference": args.energy_references or [cfg.model.energy_reference],
        "val_by": args.val_by or [cfg.split.val_by],
    }
    result = run(cfg, args.modes, args.folds, args.learning_curve, variants)
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / f"accuracy{'-' + args.tag if args.tag else ''}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2, default=float))
    stem.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
