"""Speed benchmarks, as ratios against baselines measured in the same run.

* featurisation: structures per second (as-built site + adsorbate → periodic graph);
* screening: graphs per second of the full K-member ensemble, featurisation included;
* speed-up: GNN time per site (the clean site + 6 intermediates in every screened orientation) against CHGNet
  relaxations of the same clean site and of one Li2S2 placement (× 6 for the intermediates);
* labelling: relaxations per hour, serial against a Dask LocalCluster with 2 workers;
* chgnet step: one energy + forces call of the labeller's CHGNet (no strain derivative) against
  CHGNet's own ASE calculator (energy, forces, stress and magmoms) on the Cu–Ni + Li2S2 site;
* scaling: screening wall time for the default space and 4× and 16× that space (linear cost);
* training: training steps per second (forward, backward, optimiser) of the shipped recipe on its
  own training graphs, on the receptive field of what the loss reads (``loss_only``, what
  ``train_member`` runs) against the full graph, with the largest difference of the two losses.

Writes ``benchmarks/results/speed.{json,md}``.

    python benchmarks/speed.py [--model data/models/default] [--parts featurisation screening scaling labelling]

Each part is self-contained (ratios are taken within one part, measured in one run); ``--parts``
re-measures some and keeps the others, each stamped with when it was measured.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from dacscreen.config import LabelConfig, ScreenConfig
from dacscreen.data.adsorbates import orientations, place_adsorbate
from dacscreen.data.calculators import get_calculator
from dacscreen.data.labelling import Labeller, plan
from dacscreen.data.relax import relax
from dacscreen.data.sites import build_site, site_keys
from dacscreen.data.store import Store
from dacscreen.elements import DEFAULT_METALS
from dacscreen.featurize.graphs import atoms_to_graph
from dacscreen.models.ensemble import Ensemble, Scaling
from dacscreen.screening.on_dask import predict_chunks
from dacscreen.site_key import SiteKey
from dacscreen.thermo import SRR_SPECIES

RESULTS = Path(__file__).resolve().parent / "results"


def featurisation(n: int) -> dict:
    sites = [place_adsorbate(build_site("melon", ["Cu", "Ni"]), "Li2S2", "bridge") for _ in range(n)]
    t0 = time.perf_counter()
    for a in sites:
        atoms_to_graph(a)
    dt = time.perf_counter() - t0
    return {"structures": n, "seconds": dt, "structures_per_s": n / dt}


def graphs_per_site(spec: SiteKey) -> int:
    """The clean site plus each SRR intermediate in its screened orientations."""
    return 1 + sum(len(orientations(len(spec.metals), x)) for x in SRR_SPECIES)


def screening(ens: Ensemble, model: Path, repeat: float = 1.0, workers: int = 1) -> dict:
    """Predict the default 434-site space (``repeat`` times over, in streamed chunks)."""
    space = site_keys("melon", DEFAULT_METALS)
    specs = (space * math.ceil(repeat))[: round(len(space) * repeat)]
    cfg = ScreenConfig(model=model, workers=workers)
    t0 = time.perf_counter()
    n = sum(len(rows) for rows in predict_chunks(specs, ens, model, cfg))
    dt = time.perf_counter() - t0
    graphs = sum(graphs_per_site(s) for s in specs)
    return {
        "sites": n,
        "graphs": graphs,
        "members": len(ens.members),
        "orientations": ens.meta.orientations,
        "chunk_size": cfg.chunk_size,
        "workers": workers,
        "seconds": dt,
        "graphs_per_s": graphs / dt,
        "seconds_per_site": dt / n,
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
        "limit": 8,
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
            from dacscreen.data.labelling.on_dask import run_distributed

            run_distributed(lab, tasks)
        else:
            for t in tasks:
                lab.run_task(t)
        dt = time.perf_counter() - t0
    return {"workers": workers, "relaxations": len(tasks), "seconds": dt, "per_hour": 3600 * len(tasks) / dt}


def chgnet_step(calls: int = 10) -> dict:
    """Seconds per force call, the labeller's calculator against ``CHGNetCalculator``; the two
    alternate call by call, so that a busy machine slows both alike."""
    from chgnet.model.dynamics import CHGNetCalculator

    fast = get_calculator("chgnet")
    site = place_adsorbate(build_site("melon", ["Cu", "Ni"]), "Li2S2", "bridge")
    runs = {"full": CHGNetCalculator(model=fast.model), "fast": fast}
    atoms, seconds = {}, dict.fromkeys(runs, 0.0)
    for name, calc in runs.items():
        atoms[name] = site.copy()
        atoms[name].calc = calc
        atoms[name].get_forces()  # warm-up
    for _ in range(calls):
        for name, a in atoms.items():
            a.positions[0, 2] += 1e-3
            t0 = time.perf_counter()
            a.get_forces()
            seconds[name] += time.perf_counter() - t0
    out = {"atoms": len(site), **{f"{k}_seconds": v / calls for k, v in seconds.items()}}
    out["speedup"] = out["full_seconds"] / out["fast_seconds"]
    return out


class FullPass(torch.nn.Module):
    """A model whose every call is the full-graph pass (training before ``loss_only``)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, data, **_):  # type: ignore[no-untyped-def]
        return self.model(data)


def training(config: Path, steps: int = 30) -> dict:
    """Training steps of the recipe ``config`` on its first training graphs, both ways, in turn."""
    from torch_geometric.loader import DataLoader

    from dacscreen.config import TrainConfig, load_config
    from dacscreen.models.dataset import prepare
    from dacscreen.models.multitask import MultiTaskGNN
    from dacscreen.models.train import masked_loss

    cfg = load_config(TrainConfig, config, {})
    p = prepare(cfg)
    graphs = p.training_graphs(p.train)
    scaling = Scaling.fit(graphs, cfg.model.energy_reference)
    batches = list(DataLoader(graphs[: steps * cfg.batch_size], batch_size=cfg.batch_size))
    torch.manual_seed(0)
    model = MultiTaskGNN(cfg.model)
    opt = torch.optim.AdamW(model.parameters(), lr=0.0)  # lr 0: both ways see the same weights
    out: dict = {"batch_size": cfg.batch_size, "steps": len(batches), "config": str(config)}
    losses = {}
    for name, net in (("full", FullPass(model)), ("field", model)):
        t0, losses[name] = time.perf_counter(), []
        for batch in batches:
            opt.zero_grad(set_to_none=True)
            loss = masked_loss(net, batch, scaling, cfg.model.displacement_weight)
            loss.backward()
            opt.step()
            losses[name].append(float(loss.detach()))
        out[f"{name}_graphs_per_s"] = len(graphs[: steps * cfg.batch_size]) / (time.perf_counter() - t0)
    out["speedup"] = out["field_graphs_per_s"] / out["full_graphs_per_s"]
    out["max_loss_difference"] = max(abs(a - b) for a, b in zip(losses["full"], losses["field"], strict=True))
    return out


PARTS = ("featurisation", "screening", "scaling", "labelling", "chgnet_step", "training")
"""Independent parts; "screening" includes the CHGNet relaxations of its speed-up ratio."""


def measure(part: str, ens: Ensemble, model: Path, config: Path) -> dict:
    """The results of one part, stamped with the time of measurement."""
    if part == "featurisation":
        out = {"featurisation": featurisation(50)}
    elif part == "screening":
        out = {
            "screening": screening(ens, model),
            "screening_dask": screening(ens, model, workers=2),
            "relaxation": relaxation_cost(),
        }
        relax_s, gnn_s = out["relaxation"], out["screening"]["seconds_per_site"]
        out["speedup"] = {
            "gnn_seconds_per_site": gnn_s,
            "chgnet_clean_relaxation_seconds": relax_s["clean_seconds"],
            "ratio_vs_one_clean_relaxation": relax_s["clean_seconds"] / gnn_s,
            "ratio_vs_site_with_six_intermediates": (
                relax_s["clean_seconds"] + len(SRR_SPECIES) * relax_s["li2s2_seconds"]
            )
            / gnn_s,
        }
    elif part == "scaling":
        out = {"scaling": [screening(ens, model, repeat=k) | {"factor": k} for k in FACTORS]}
    elif part == "chgnet_step":
        out = {"chgnet_step": chgnet_step()}
    elif part == "training":
        out = {"training": training(config)}
    else:
        out = {"labelling": [labelling(1), labelling(2)]}
    out["measured"] = {part: time.strftime("%Y-%m-%dT%H:%M:%S")}
    return out


FACTORS = (1, 2, 4)
"""Scaling: the default space × these factors."""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=Path("data/models/default"))
    ap.add_argument("--config", type=Path, default=Path("configs/train.yaml"), help="training recipe")
    ap.add_argument(
        "--parts",
        nargs="+",
        choices=PARTS,
        default=list(PARTS),
        help="measure only these parts and keep the others from results/speed.json",
    )
    args = ap.parse_args()
    ens = Ensemble.load(args.model)
    torch.set_num_threads(os.cpu_count() or 1)
    old = RESULTS / "speed.json"
    res: dict = json.loads(old.read_text()) if set(args.parts) != set(PARTS) and old.is_file() else {}
    res |= {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, CPU only",
        "torch_threads": torch.get_num_threads(),
    }
    for part in args.parts:
        new = measure(part, ens, args.model, args.config)
        res |= {**new, "measured": {**res.get("measured", {}), **new["measured"]}}
    RESULTS.mkdir(parents=True, exist_ok=True)
    old.write_text(json.dumps(res, indent=2))
    (RESULTS / "speed.md").write_text(markdown(res))
    print(markdown(res))


def markdown(r: dict) -> str:
    s, sp = r["screening"], r["speedup"]
    lines = [
        "# Speed benchmarks",
        "",
        f"Machine: {r['machine']}. Measured: "
        + ", ".join(f"{k} {v}" for k, v in sorted(r.get("measured", {}).items()))
        + ".",
        "",
        f"* featurisation: {r['featurisation']['structures_per_s']:.1f} structures/s",
        f"* screening all {s['sites']} default sites with the shipped model and config "
        f"({s['members']}-member ensemble, orientations: {s.get('orientations', '?')}, every orientation "
        f"of every intermediate evaluated, chunks of {s.get('chunk_size', '?')} sites, featurisation "
        f"included, in this process): {s['graphs_per_s']:.1f} graphs/s, {s['seconds']:.1f} s, "
        f"{s['seconds_per_site']:.3f} s per site ({s['graphs'] / s['sites']:.1f} graphs)",
        f"* the same on a Dask LocalCluster of 2 single-threaded workers (cluster start included): "
        f"{r['screening_dask']['graphs_per_s']:.1f} graphs/s, {r['screening_dask']['seconds']:.1f} s",
        f"* CHGNet relaxation (labeller, same run) of the Cu–Ni clean site: {r['relaxation']['clean_seconds']:.1f} s "
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
    if "chgnet_step" in r:
        c = r["chgnet_step"]
        lines += [
            "",
            f"* CHGNet force call on the {c['atoms']}-atom Cu–Ni + Li2S2 site: {c['fast_seconds']:.3f} s "
            f"(labeller, energy + forces) against {c['full_seconds']:.3f} s (CHGNetCalculator with "
            f"stress and magmoms): ×{c['speedup']:.2f}",
        ]
    if "training" in r:
        t = r["training"]
        lines += [
            "",
            f"* training steps of `{t['config']}` (batches of {t['batch_size']}, {t['steps']} steps, "
            f"forward, backward and optimiser): {t['field_graphs_per_s']:.1f} graphs/s on the receptive "
            f"field of what the loss reads against {t['full_graphs_per_s']:.1f} graphs/s on the full "
            f"graph, ×{t['speedup']:.2f}; largest loss difference {t['max_loss_difference']:.1e}",
        ]
    if "labelling" in r:
        lines += ["", "| labelling | relaxations/hour |", "|---|---|"]
        lines += [f"| {x['workers']} worker(s) | {x['per_hour']:.0f} |" for x in r["labelling"]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
