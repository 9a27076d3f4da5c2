"""Do other sites' relaxed geometries rescue a task whose every start dissociated?

Li2S8 dissociates (an S–S bond breaks, SCIENCE.md §3) from every offered start on most sites,
and on every single-atom site, which keeps them from the all-seven set. On a seeded sample of
such tasks (every offered orientation and the same-size template tried, none valid), this
relaxes each donor template that ``template_donors`` offers (:meth:`Relaxation.template_rows`:
valid records of the same state on other sites, those sharing a metal first) from the stored
relaxed clean site, with the labeller and settings of ``configs/label.yaml``, and runs the
anomaly checks on each. Nothing is written to the store.

Reports the tasks rescued (at least one valid donor start), the fraction of donor starts that
are valid, and the mean optimiser steps of donor starts against the stored offered starts.
Writes ``benchmarks/results/template_donors.{json,md}``.

    python benchmarks/template_donors.py [--state Li2S8] [--tasks 6] [--donors 3] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
from results_io import publish
from rich.progress import Progress

from dacscreen.config import LabelConfig, Settings, load_config
from dacscreen.data import anomalies
from dacscreen.data.adsorbates import orientations
from dacscreen.data.labelling import Labeller, Task, transplant
from dacscreen.data.relax import relax
from dacscreen.data.store import open_store, record_to_atoms


def failed_tasks(lab: Labeller, state: str, n: int, seed: int) -> list[Task]:
    """A seeded sample of ``n`` tasks of ``state`` whose offered starts were all relaxed and
    none is valid, on sites with a valid clean record."""
    rows: dict[tuple[str, ...], list[Any]] = {}
    for r in lab.store.rows(kind="site", host=lab.cfg.host, adsorbate=state, method=lab.method, placement=0):
        rows.setdefault((r.m1, r.m2) if r.m2 else (r.m1,), []).append(r)
    failed = sorted(
        metals
        for metals, rs in rows.items()
        if not any(r.get("best") for r in rs)
        and set(orientations(len(metals), state)) <= {str(r.orientation) for r in rs}
    )
    picked = random.Random(seed).sample(failed, min(n, len(failed)))
    return [Task(lab.cfg.host, metals, 0, state, lab.method) for metals in sorted(picked)]


def try_donors(lab: Labeller, task: Task) -> list[dict[str, Any]]:
    """Relax every donor start of ``task`` that it has not tried; one row per start."""
    tried = lab.tried(task)
    site = lab.clean_site(task)
    out = []
    for name, row in lab.strategy.template_rows(lab.store, task):
        if name in tried:
            continue
        t0 = time.perf_counter()
        res = relax(
            transplant(site, record_to_atoms(row)),
            lab.calc,
            lab.cfg.fmax,
            lab.cfg.steps,
            lab.cfg.fix_radius,
            lab.cfg.optimizer,
        )
        anomaly = anomalies.check(res.final)
        out.append(
            {
                "site": "-".join(task.metals),
                "donor": name,
                "valid": bool(res.converged and not anomaly),
                "anomaly": anomaly,
                "nsteps": res.nsteps,
                "energy": res.energy,
                "seconds": round(time.perf_counter() - t0, 1),
            }
        )
    return out


def offered_steps(lab: Labeller, tasks: list[Task]) -> float:
    """Mean optimiser steps of the stored (offered and template) starts of ``tasks``."""
    return float(np.mean([r.nsteps for t in tasks for r in lab.store.rows(kind="site", task=t.key)]))


def markdown(result: dict[str, Any]) -> str:
    """The summary and one row per donor start."""
    lines = [
        f"# Donor templates for {result['state']} tasks whose every start dissociated",
        "",
        f"Labeller `{result['method']}`, {result['n_tasks']} tasks ({', '.join(result['sites'])}), "
        f"{len(result['rows'])} donor starts in {result['seconds']:.0f} s.",
        "",
        "| tasks rescued | donor starts valid | mean steps, donor starts | mean steps, stored starts |",
        "|---|---|---|---|",
        f"| {result['rescued']} / {result['n_tasks']} | {result['valid_starts']} / {len(result['rows'])} "
        f"| {result['donor_steps']:.0f} | {result['stored_steps']:.0f} |",
        "",
        "| site | donor | valid | anomaly | steps | energy (eV) |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['site']} | {r['donor']} | {r['valid']} | {r['anomaly'] or '–'} | {r['nsteps']} "
            f"| {r['energy']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=Path("configs/label.yaml"))
    ap.add_argument("--state", default="Li2S8")
    ap.add_argument("--tasks", type=int, default=6)
    ap.add_argument("--donors", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    cfg = load_config(LabelConfig, args.config, {}).model_copy(update={"template_donors": args.donors})
    s = Settings()
    lab = Labeller(cfg, open_store(cfg.db or s.db, s.shards))
    tasks = failed_tasks(lab, args.state, args.tasks, args.seed)
    t0 = time.perf_counter()
    rows: list[dict[str, Any]] = []
    with Progress() as bar:
        job = bar.add_task("donor starts", total=len(tasks))
        for task in tasks:
            rows += try_donors(lab, task)
            bar.advance(job)
    result = {
        "method": lab.method,
        "state": args.state,
        "n_tasks": len(tasks),
        "sites": ["-".join(t.metals) for t in tasks],
        "rescued": len({r["site"] for r in rows if r["valid"]}),
        "valid_starts": sum(r["valid"] for r in rows),
        "donor_steps": float(np.mean([r["nsteps"] for r in rows])) if rows else float("nan"),
        "stored_steps": offered_steps(lab, tasks),
        "seconds": round(time.perf_counter() - t0, 1),
        "rows": rows,
    }
    publish("template_donors", result, markdown(result))


if __name__ == "__main__":
    main()
