"""Give the stored GPAW clean-site single points both d-band windows (SCIENCE.md §6).

The first GPAW clean-site single points stored the metals' ε_d over the occupied window only.
This re-evaluates each of them on the same geometry (its ``source``, the CHGNet clean site) with
the labeller's own single-point recipe, which now stores the occupied *and* the full-band centre
of both metals, and writes the result as a new record of the same task whose ``replaces`` key
names the old one (rid ``<old rid>|redo``). The old record stays in the store and its shard; the
label rule no longer counts it (:mod:`dacscreen.data.label_rules`). Nothing else changes: the
geometry, the settings and hence the energy are the same.

Single atoms go first (the labeller-agreement table compares their full band with the group
number), then the Cu–Ni reference and its homonuclear pairs, then the rest. It resumes where it
stopped and appends a shard every ``--shard-every`` points; ``--reverse`` takes the list from
its end (a second process on a second core); ``--limit N`` keeps the first N of the list.

    OMP_NUM_THREADS=1 python benchmarks/gpaw_full_band.py --db /tmp/gpaw/dacscreen.db
    OMP_NUM_THREADS=1 python benchmarks/gpaw_full_band.py --db /tmp/gpaw/dacscreen.db --limit 27 --reverse
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

from dacscreen.config import LabelConfig, Settings
from dacscreen.data.labelling import Labeller, Task, TaskInputs
from dacscreen.data.store import Store, export_shard, open_store, record_to_atoms

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = (("Cu", "Ni"), ("Cu", "Cu"), ("Ni", "Ni"))
log = logging.getLogger("gpaw_full_band")


def pending(store: Store, method: str) -> list[Any]:
    """GPAW clean-site records without a full-band centre that nothing replaces yet, in order."""
    rows = list(store.rows(kind="site", method=method, adsorbate="clean"))
    replaced = {r.get("replaces") for r in rows}
    todo = [
        r for r in rows if r.get("dband_full_m1") is None and r.rid not in replaced and not r.get("replaces")
    ]

    def order(r: Any) -> tuple:
        pair = (r.m1, r.m2)
        return (bool(r.m2), pair not in REFERENCE, r.m1, r.m2)

    return sorted(todo, key=order)


def run(args: argparse.Namespace) -> None:
    raw = yaml_config(ROOT / "configs/label_dft.yaml")
    cfg = LabelConfig.model_validate({**raw, "db": str(args.db), "limit": None})
    settings = Settings()
    store = open_store(args.db, settings.shards)
    lab = Labeller(cfg, store)
    rows = pending(store, lab.method)[: args.limit]
    log.info("%d clean-site single points to re-evaluate", len(rows))
    for n, row in enumerate(reversed(rows) if args.reverse else rows, 1):
        if store.count(replaces=row.rid):  # the other process took it
            continue
        src = next(iter(store.rows(rid=row.source)), None)
        if src is None:
            log.warning("%s: source %s is not stored; skipped", row.rid, row.source)
            continue
        metals = tuple(m for m in (row.m1, row.m2) if m)
        t0 = time.perf_counter()
        records = lab.compute(
            Task(row.host, metals, row.placement, "clean", lab.method), TaskInputs(record_to_atoms(src))
        )
        for rec in records:
            rec.keys |= {"rid": f"{row.rid}|redo", "replaces": row.rid}
        store.write_records(records)
        log.info(
            "[%d/%d] %s: %.0f s, dE %.2e eV",
            n,
            len(rows),
            "-".join(metals),
            time.perf_counter() - t0,
            (records[0].energy - row.energy) if records else float("nan"),
        )
        if n % args.shard_every == 0:
            export_shard(store, settings.shards)
    export_shard(store, settings.shards)


def yaml_config(path: Path) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(path.read_text())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shard-every", type=int, default=4)
    p.add_argument("--limit", type=int, default=None, help="only the first N of the list")
    p.add_argument("--reverse", action="store_true", help="take the list last first (a second process)")
    p.add_argument("--db", type=Path, default=Settings().db)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    run(args)


if __name__ == "__main__":
    main()
