"""Speed benchmarks, as ratios against baselines measured in the same run.

* featurisation: structures per second (as-built site + adsorbate → periodic graph);
* screening: graphs per second of the full K-member ensemble, featurisation included;
* speed-up: GNN time per site (13 graphs: clean + 6 intermediates × 2 orientations) against one
  CHGNet relaxation of the same clean site and of one Li2S2 placement;
* labelling: relaxations per hour, serial against a Dask LocalCluster with 2 workers;
* scaling: screening wall time for a base space and 4× and 16× that space (linear cost).

Writes ``benchmarks/results/speed.{json,md}``.

    python benchmarks/speed.py --model data/models/default [--base-sites 14]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from dacscreen.config import LabelConfig
from dacscreen.data.adsorbates import place_adsorbate
from dacscreen.data.calculators import get_calculator
from dacscreen.data.labelling import Labeller, plan
from dacscreen.data.relax import relax
from dacscreen.data.sites import build_site
from dacscreen.data.store import Store
from dacscreen.elements import DEFAULT_METALS
from dacscreen.featurize.graphs import atoms_to_graph
from dacscreen.models.ensemble import Ensemble
from dacscreen.screening.predict import predict_sites
from dacscreen.screening.space import site_space

RESULTS = Path(__file__).resolve().parent / "results"


def featurisation(n: int) -> dict:
    sites = [place_adsorbate(build_site("melon", ["Cu", "Ni"]), "Li2S2", "bridge") for _ in range(n)]
    t0 = time.perf_counter()
    for a in sites:
        atoms_to_graph(a)
    dt = time.perf_counter() - t0
    return {"structures": n, "seconds": dt, "structures_per_s": n / dt}


def screening(ens: Ensemble, n_sites: int) -> dict:
    specs = list(site_space("melon", DEFAULT_METALS))[:n_sites]
    t0 = time.perf_counter()
    predict_sites(specs, ens)
    dt = time.perf_counter() - t0
    graphs = n_sites * 13
    return {
        "sites": n_sites,
        "graphs": graphs,
        "members": len(ens.members),
        "seconds": dt,
        "graphs_per_s": graphs / dt,
        "seconds_per_site": dt / n_sites,
    }


def relaxation_cost() -> dict:
    calc = get_calculator("chgnet")
    site = build_site("melon", ["Cu", "Ni"])
    t0 = time.perf_counter()
    clean = relax(site, calc)
    t_clean = time.perf_counter() - t0
    t0 = time.perf_counter()
    ads = relax(place_adsorbate(clean.final, "Li2S2", "bridge"), calc)
    t_ads = time.perf_counter() - t0
    return {
        "clean_seconds": t_clean,
        "clean_steps": clean.nsteps,
        "li2s2_seconds": t_ads,
        "li2s2_steps": ads.nsteps,
    }


def labelling(workers: int) -> dict:
    extra = {
        "metals": ["Cu", "Ni", "Co"],
        "limit": 4,
        "states": ["clean"],
        "all_states_sites": 0,
        "dband_calculator": None,
        "references": False,
        "templates": False,
        "workers": workers,
    }
    with tempfile.TemporaryDirectory() as tmp:
        cfg = LabelConfig.model_validate({**extra, "db": f"{tmp}/b.db"})
        lab = Labeller(cfg, Store(cfg.db))
        tasks = plan(cfg, lab.method)
        t0 = time.perf_counter()
        if workers > 1:
            from dacscreen.data.distributed import run_distributed

            run_distributed(lab, tasks)
        else:
            for t in tasks:
                lab.run_task(t)
        dt = time.perf_counter() - t0
    return {"workers": workers, "relaxations": len(tasks), "seconds": dt, "per_hour": 3600 * len(tasks) / dt}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=Path("data/models/default"))
    ap.add_argument("--base-sites", type=int, default=14)
    ap.add_argument("--skip-labelling", action="store_true")
    args = ap.parse_args()
    ens = Ensemble.load(args.model)
    torch.set_num_threads(os.cpu_count() or 1)
    res: dict = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, CPU only",
        "torch_threads": torch.get_num_threads(),
    }
    res["featurisation"] = featurisation(50)
    res["screening"] = screening(ens, args.base_sites)
    res["relaxation"] = relaxation_cost()
    per_site_relax = res["relaxation"]["clean_seconds"] + 6 * res["relaxation"]["li2s2_seconds"]
    res["speedup"] = {
        "gnn_seconds_per_site": res["screening"]["seconds_per_site"],
        "chgnet_clean_relaxation_seconds": res["relaxation"]["clean_seconds"],
        "ratio_vs_one_clean_relaxation": res["relaxation"]["clean_seconds"]
        / res["screening"]["seconds_per_site"],
        "ratio_vs_site_with_six_intermediates": per_site_relax / res["screening"]["seconds_per_site"],
    }
    res["scaling"] = [screening(ens, args.base_sites * k) | {"factor": k} for k in (1, 4, 16)]
    if not args.skip_labelling:
        res["labelling"] = [labelling(1), labelling(2)]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "speed.json").write_text(json.dumps(res, indent=2))
    (RESULTS / "speed.md").write_text(markdown(res))
    print(markdown(res))


def markdown(r: dict) -> str:
    s, sp = r["screening"], r["speedup"]
    lines = [
        "# Speed benchmarks",
        "",
        f"Machine: {r['machine']}.",
        "",
        f"* featurisation: {r['featurisation']['structures_per_s']:.1f} structures/s",
        f"* screening ({s['members']}-member ensemble, featurisation included): {s['graphs_per_s']:.1f} graphs/s, "
        f"{s['seconds_per_site']:.2f} s per site (13 graphs)",
        f"* CHGNet relaxation of the Cu–Ni clean site: {r['relaxation']['clean_seconds']:.1f} s "
        f"({r['relaxation']['clean_steps']} steps); of one Li2S2 placement: {r['relaxation']['li2s2_seconds']:.1f} s",
        f"* **speed-up** of the GNN per site: ×{sp['ratio_vs_one_clean_relaxation']:.0f} against one clean "
        f"relaxation, ×{sp['ratio_vs_site_with_six_intermediates']:.0f} against a site with six intermediates",
        "",
        "| space (sites) | factor | wall time (s) | s per site |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {x['sites']} | {x['factor']}× | {x['seconds']:.1f} | {x['seconds_per_site']:.3f} |"
        for x in r["scaling"]
    ]
    if "labelling" in r:
        lines += ["", "| labelling | relaxations/hour |", "|---|---|"]
        lines += [f"| {x['workers']} worker(s) | {x['per_hour']:.0f} |" for x in r["labelling"]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
