"""Seconds per GPAW single point, the shipped settings against cheaper SCF settings.

The DFT tier spends nearly all of its time in GPAW's SCF. This times one single point per
structure and setting on the same CHGNet geometries the DFT tier evaluates (a clean pair site,
and Li2S2 and Li2S on it), single-threaded (one GPAW process per core, as the labelling runs),
and reports the SCF iterations and the energy change against the shipped settings, so that a
cheaper setting is adopted only where it costs no accuracy (|ΔE| well below the 0.1 eV of
AdsorbML's success threshold, and the same on every structure).

Settings (``configs/label_dft.yaml`` plus):

* ``shipped``: GPAW's default SCF (density 1e-4 electrons/valence electron, energy 5e-4 eV/e);
* ``density-5e-4``: the density criterion loosened 5×;
* ``pulay-0.1``: Pulay density mixing with β = 0.1, history 5, weight 50 (GPAW's default
  mixer is MSR1 on the full spin density).

    OMP_NUM_THREADS=1 python benchmarks/gpaw_speed.py --db /tmp/gpaw/dacscreen.db --pair Cu Ni
    OMP_NUM_THREADS=1 python benchmarks/gpaw_speed.py --db /tmp/gpaw/dacscreen.db --pair Fe Co

(one process per core; each writes ``results/gpaw_speed-<pair>.json``, then the table of all)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import yaml

from dacscreen.data.dft import gpaw_settings, single_point
from dacscreen.data.store import default_store, record_to_atoms

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SETTINGS: dict[str, dict[str, Any]] = {
    "shipped": {},
    "density-5e-4": {"convergence": {"density": 5e-4}},
    "pulay-0.1": {"mixer": {"backend": "pulay", "beta": 0.1, "nmaxold": 5, "weight": 50.0}},
}
STATES = ("clean", "Li2S2", "Li2S")


def structures(db: str | None, pair: tuple[str, str]) -> dict[str, Any]:
    """The CHGNet labels (best records) of ``pair``'s clean site, Li2S2 and Li2S on melon."""
    store = default_store(db)
    out = {}
    for state in STATES:
        rows = store.rows(
            kind="site", best=True, method="chgnet-0.4.2", m1=pair[0], m2=pair[1], adsorbate=state
        )
        row = next(rows, None)
        if row is not None:
            out[state] = record_to_atoms(row)
    return out


def time_one(atoms: Any, extra: dict[str, Any]) -> dict[str, Any]:
    """Wall time (s), SCF iterations and energy (eV) of one single point."""
    raw = yaml.safe_load((ROOT / "configs" / "label_dft.yaml").read_text())["calculator"]["kwargs"]
    settings = gpaw_settings({**raw, "extra": extra})
    t0 = time.perf_counter()
    sp = single_point(atoms, settings)
    return {
        "seconds": time.perf_counter() - t0,
        "iterations": int(sp.dft.get_number_of_iterations()),
        "energy": sp.energy,
    }


def markdown(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    """The table of every measured structure (``results``: structure → setting → timing)."""
    lines = [
        "# GPAW single points: seconds per point, shipped SCF settings against cheaper ones",
        "",
        "`OMP_NUM_THREADS=1 python benchmarks/gpaw_speed.py --pair M1 M2 --states ...` on the CHGNet labels",
        "of each pair on melon (LCAO dzp, PBE+D3, spin-polarised, Γ), two such processes side by side on",
        "the two cores, as the DFT tier runs. ΔE against the shipped settings on the same structure.",
        "",
        "| structure | setting | s | SCF iterations | ΔE (meV) | speed-up |",
        "|---|---|---|---|---|---|",
    ]
    for state, by in results.items():
        base = by["shipped"]
        for name, r in by.items():
            de = 1000 * (r["energy"] - base["energy"])
            lines.append(
                f"| {state} | {name} | {r['seconds']:.0f} | {r['iterations']} | {de:+.2f} | "
                f"{base['seconds'] / r['seconds']:.2f}× |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", default=None)
    p.add_argument("--pair", nargs=2, default=["Cu", "Ni"])
    p.add_argument("--states", nargs="+", default=list(STATES))
    args = p.parse_args()
    pair = (args.pair[0], args.pair[1])
    atoms = structures(args.db, pair)
    out = RESULTS / f"gpaw_speed-{pair[0]}{pair[1]}.json"  # one file per pair: processes never share one
    results = json.loads(out.read_text()) if out.is_file() else {}
    for state in args.states:
        key = f"{pair[0]}{pair[1]} {state}"
        for name, extra in SETTINGS.items():
            if name in results.get(key, {}):
                continue
            results.setdefault(key, {})[name] = time_one(atoms[state], extra)
            print(key, name, results[key][name], flush=True)
            out.write_text(json.dumps(results, indent=2))  # resumable, one point at a time
    files = sorted(RESULTS.glob("gpaw_speed-*.json"))
    merged = {k: v for f in files for k, v in json.loads(f.read_text()).items()}
    (RESULTS / "gpaw_speed.md").write_text(markdown(merged))


if __name__ == "__main__":
    main()
