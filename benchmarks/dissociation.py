"""Does DFT order an adsorbate's intact and changed states as CHGNet does? (SCIENCE.md §3)

For each site with both a valid *intact* and a valid *changed* (S–S cleaved, Li detached or
other) CHGNet relaxation of Li2S2 (then Li2S), GPAW (the DFT tier of ``configs/label_dft.yaml``:
PBE+D3, LCAO dzp, spin-polarised, Γ) evaluates the lowest record of each class as an ML+SP
single point. Both states have the same atoms on the same site, so their total-energy difference
needs no reference: ΔE = E(changed) − E(intact) (negative: the changed state is lower).

``--run`` computes the missing single points (an SCF that has not converged after ``--maxiter``
iterations is skipped for good and listed in ``<db>.scf_failed``) in order (sites with an intact GPAW record first,
spread over metals), writes each as a GPAW record of the store through the labeller's own
single-point recipe (rid ``task|sp|<orientation>``, ``source`` = the CHGNet record), and appends
a shard every ``--shard-every`` points; it resumes where it stopped. ``--report`` writes
``results/dissociation.md`` from what is stored.

    python benchmarks/dissociation.py --run --limit 40
    python benchmarks/dissociation.py --run --states Li2S --limit 8   # a second process
    python benchmarks/dissociation.py --report
"""

from __future__ import annotations

import argparse
import logging
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from dacscreen.config import LabelConfig, Settings
from dacscreen.data.labelling import Labeller, Task, TaskInputs
from dacscreen.data.store import Store, export_shard, open_store, record_to_atoms

ROOT = Path(__file__).resolve().parents[1]
SOURCE = "chgnet-0.4.2"
STATES = ("Li2S2", "Li2S")
log = logging.getLogger("dissociation")


def lowest_by_class(store: Store, state: str) -> dict[tuple, dict[str, Any]]:
    """``{site: {"intact": row, "changed": row}}``: the lowest valid CHGNet record of each group."""
    out: dict[tuple, dict[str, Any]] = defaultdict(dict)
    for r in store.rows(kind="site", method=SOURCE, adsorbate=state, anomaly=""):
        if not r.converged:
            continue
        group = "intact" if r.get("state_class") == "intact" else "changed"
        site = (r.host, r.m1, r.m2, r.placement)
        if group not in out[site] or r.energy < out[site][group].energy:
            out[site][group] = r
    return {s: g for s, g in out.items() if len(g) == 2}


def dft_by_source(store: Store, method: str) -> dict[str, Any]:
    """GPAW single-point rows by the rid of the CHGNet record they evaluate."""
    return {r.source: r for r in store.rows(kind="site", method=method) if r.get("source")}


def order_sites(pairs: dict[tuple, dict], done: dict[str, Any]) -> list[tuple]:
    """Sites whose intact state already has a GPAW point first, then round-robin over metals so
    that a partial run spans as many metals as possible."""
    sites = sorted(pairs, key=lambda s: (pairs[s]["intact"].rid not in done, s))
    ordered, seen = [], set()
    while sites:
        pick = next((s for s in sites if not ({s[1], s[2]} - {""}) <= seen), sites[0])
        ordered.append(pick)
        sites.remove(pick)
        seen |= {s for s in pick[1:3] if s}
        if all(({s[1], s[2]} - {""}) <= seen for s in sites):
            seen = set()
    return ordered


def run(args: argparse.Namespace) -> None:
    raw = _yaml(ROOT / "configs/label_dft.yaml")
    raw["calculator"]["kwargs"]["maxiter"] = args.maxiter
    cfg = LabelConfig.model_validate({**raw, "db": str(args.db), "limit": None})
    failed_file = args.db.with_suffix(".scf_failed")
    failed = set(failed_file.read_text().split()) if failed_file.exists() else set()
    settings = Settings()
    store = open_store(args.db, settings.shards)
    lab = Labeller(cfg, store)
    lab.run_references(cfg.metals)
    n = 0
    for state in args.states:
        pairs = lowest_by_class(store, state)
        sites = order_sites(pairs, dft_by_source(store, lab.method))[: args.limit]
        for site in reversed(sites) if args.reverse else sites:
            for group in ("intact", "changed"):
                row = pairs[site][group]
                if row.rid in dft_by_source(store, lab.method) or row.rid in failed:
                    continue
                metals = tuple(m for m in site[1:3] if m)
                task = Task(site[0], metals, site[3], state, lab.method)
                t0 = time.perf_counter()
                records = lab.compute(task, TaskInputs(record_to_atoms(row)))
                if records:
                    store.write_records(records)
                else:  # the SCF did not converge within --maxiter: skip it from now on
                    failed.add(row.rid)
                    with failed_file.open("a") as fh:
                        fh.write(row.rid + "\n")
                n += 1
                log.info("%s %s %s: %.0f s", state, "-".join(metals), group, time.perf_counter() - t0)
                if n % args.shard_every == 0:
                    export_shard(store, settings.shards)
    export_shard(store, settings.shards)


def table(store: Store, method: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Per site and state: CHGNet and GPAW ΔE(changed − intact) and the classes."""
    done = dft_by_source(store, method)
    rows = []
    for state in STATES:
        for site, g in sorted(lowest_by_class(store, state).items()):
            i, c = g["intact"], g["changed"]
            if i.rid in done and c.rid in done:
                rows.append(
                    {
                        "state": state,
                        "site": "-".join(m for m in site[1:3] if m),
                        "class": c.get("state_class"),
                        "chgnet": c.energy - i.energy,
                        "gpaw": done[c.rid].energy - done[i.rid].energy,
                    }
                )
    return rows, sorted({m for r in rows for m in r["site"].split("-")})


def report(args: argparse.Namespace) -> None:
    store = open_store(args.db, Settings().shards)
    method = Labeller(
        LabelConfig.model_validate({**_yaml(ROOT / "configs/label_dft.yaml"), "db": str(args.db)}), store
    ).method
    rows, metals = table(store, method)
    failed_file = args.db.with_suffix(".scf_failed")
    skipped = len(failed_file.read_text().split()) if failed_file.exists() else 0
    lines = [
        "# Intact against changed adsorbate states: GPAW against CHGNet",
        "",
        "`python benchmarks/dissociation.py --report` (SCIENCE.md §3). For each site with a valid intact",
        "and a valid changed (S–S cleaved / Li detached) CHGNet relaxation, the lowest record of each",
        f"class was evaluated with GPAW ({method}: PBE+D3, LCAO dzp, spin-polarised, Γ) as an ML+SP",
        "single point. ΔE = E(changed) − E(intact) in eV on the same site and atoms (negative: the",
        "changed state is lower). *Agree* means both methods put the same state lower.",
        "",
        f"GPAW states whose SCF did not converge within `--maxiter` iterations (120) were skipped: {skipped}.",
        "",
    ]
    for state in STATES:
        sub = [r for r in rows if r["state"] == state]
        if not sub:
            lines += [f"## {state}", "", "No site has both single points yet.", ""]
            continue
        ch, dft = np.array([r["chgnet"] for r in sub]), np.array([r["gpaw"] for r in sub])
        agree = np.sign(ch) == np.sign(dft)
        sub_metals = sorted({m for r in sub for m in r["site"].split("-")})
        rho = spearmanr(ch, dft).statistic if len(sub) > 2 else float("nan")
        lines += [
            f"## {state}",
            "",
            f"- sites: **{len(sub)}** over {len(sub_metals)} metals",
            f"- same order in both methods: **{agree.sum()} of {len(sub)}** ({agree.mean():.0%})",
            f"- changed state lower: CHGNet {int((ch < 0).sum())}, GPAW {int((dft < 0).sum())}",
            f"- ΔE median (min … max): CHGNet {np.median(ch):+.2f} ({ch.min():+.2f} … {ch.max():+.2f}) eV,"
            f" GPAW {np.median(dft):+.2f} ({dft.min():+.2f} … {dft.max():+.2f}) eV",
            f"- Spearman ρ of ΔE, CHGNet against GPAW: {rho:.2f}",
            "",
            "| site | class of the changed state | ΔE CHGNet (eV) | ΔE GPAW (eV) | agree |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['site']} | {r['class']} | {r['chgnet']:+.2f} | {r['gpaw']:+.2f} | {'yes' if a else 'no'} |"
            for r, a in zip(sub, agree, strict=True)
        ]
        lines.append("")
    out = ROOT / "benchmarks/results/dissociation.md"
    tmp = out.with_suffix(".tmp")
    tmp.write_text("\n".join(lines))
    tmp.replace(out)
    print("\n".join(lines[:40]))
    print(f"{len(rows)} comparisons over {len(metals)} metals -> {out}")


def _yaml(path: Path) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(path.read_text())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", action="store_true", help="compute missing GPAW single points")
    p.add_argument("--report", action="store_true", help="write results/dissociation.md")
    p.add_argument("--limit", type=int, default=40, help="sites per state")
    p.add_argument(
        "--states", nargs="+", choices=STATES, default=list(STATES), help="states to run, in order"
    )
    p.add_argument("--shard-every", type=int, default=4)
    p.add_argument(
        "--maxiter",
        type=int,
        default=120,
        help="SCF iterations before a state is skipped (listed in <db>.scf_failed)",
    )
    p.add_argument("--reverse", action="store_true", help="take the sites last first (a second process)")
    p.add_argument("--db", type=Path, default=Settings().db)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.run:
        run(args)
    if args.report or not args.run:
        report(args)


if __name__ == "__main__":
    main()
