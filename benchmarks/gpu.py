"""GPU check and throughput: training, inference and the CHGNet labeller on CUDA against the CPU.

Run on a machine with a CUDA GPU (the numbers are ratios within one run on one machine):

    python benchmarks/gpu.py --config configs/train.yaml --epochs 15

- **training**: one ensemble member of the shipped recipe for a fixed number of epochs (early
  stopping off) on CUDA with bf16 autocast, on CUDA in fp32, and on the CPU. A forward hook on
  the first linear layer records the dtype it computed in, so the check shows that autocast really
  ran the matrix products in bf16;
- **inference**: graphs per second of the trained ensemble's prediction on CUDA and on the CPU;
- **chgnet**: seconds per CHGNet force call (the labeller's calculator) on the Cu–Ni Li2S2 site.

Writes ``results/gpu.json`` and ``results/gpu.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch
from results_io import publish

from dacscreen.config import TrainConfig, load_config
from dacscreen.data.adsorbates import place_adsorbate
from dacscreen.data.calculators import get_calculator
from dacscreen.data.sites import build_site
from dacscreen.models.dataset import prepare
from dacscreen.models.ensemble import Ensemble, Scaling
from dacscreen.models.train import train_member

MODES = (("cuda", True), ("cuda", False), ("cpu", False))
"""(device, bf16 autocast) of the training runs."""


def first_linear_dtype(model: torch.nn.Module, run: Any) -> str:
    """The dtype of the first ``nn.Linear`` output while ``run()`` executes."""
    seen: list[torch.dtype] = []
    lin = next(m for m in model.modules() if isinstance(m, torch.nn.Linear))
    handle = lin.register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))
    try:
        run()
    finally:
        handle.remove()
    return str(seen[0]) if seen else "none"


def training(cfg: TrainConfig, epochs: int) -> tuple[dict[str, Any], list[Any]]:
    """Seconds per epoch of one member per mode, with the dtype autocast computed in; and every
    prepared graph (for the inference timing)."""
    t0 = time.perf_counter()
    p = prepare(cfg)
    prep = time.perf_counter() - t0
    train_g, val_g = p.training_graphs(p.train), p.training_graphs(p.val)
    scaling = Scaling.fit(train_g, cfg.model.energy_reference)
    out: dict[str, Any] = {
        "prepare_seconds": prep,
        "train_graphs": len(train_g),
        "epochs": epochs,
        "runs": {},
    }
    for device, amp in MODES:
        if device == "cuda" and not torch.cuda.is_available():
            continue
        c = cfg.model_copy(update={"device": device, "amp": amp, "epochs": epochs, "patience": epochs + 1})
        res = train_member(train_g, val_g, c, scaling, cfg.seed)
        out["runs"][f"{device}-{'bf16' if amp else 'fp32'}"] = {
            "seconds": res.seconds,
            "seconds_per_epoch": res.seconds / res.epochs,
            "best_val_loss": res.best_val,
            "autocast_dtype": autocast_dtype(res.model, train_g, c, scaling),
        }
    return out, p.training_graphs(p.train + p.val + p.test)


def autocast_dtype(model: torch.nn.Module, graphs: list[Any], cfg: TrainConfig, scaling: Scaling) -> str:
    """The dtype the model's first linear layer computes in under the training autocast."""
    from torch_geometric.loader import DataLoader

    from dacscreen.models.train import _autocast, masked_loss, pick_device

    device = pick_device(cfg.device)
    model.to(device)
    batch = next(iter(DataLoader(graphs[:16], batch_size=16))).to(device)

    def run() -> None:
        with _autocast(device, cfg.amp):
            masked_loss(model, batch, scaling, cfg.model.displacement_weight)

    dtype = first_linear_dtype(model, run)
    model.cpu()
    return dtype


def inference(ens: Ensemble, graphs: list[Any], repeat: int = 5) -> dict[str, Any]:
    """Graphs per second of ``ens.predict`` per device (collation included)."""
    data = graphs * repeat
    out = {}
    for device in ("cuda", "cpu"):
        if device == "cuda" and not torch.cuda.is_available():
            continue
        ens.predict(data[:256], batch_size=256, device=device)  # warm-up
        t0 = time.perf_counter()
        ens.predict(data, batch_size=256, device=device)
        out[device] = len(data) / (time.perf_counter() - t0)
    return {"graphs": len(data), "graphs_per_s": out}


def chgnet(calls: int = 20) -> dict[str, Any]:
    """Seconds per force call of the labeller's CHGNet per device."""
    site = place_adsorbate(build_site("melon", ["Cu", "Ni"]), "Li2S2", "bridge")
    out = {"atoms": len(site)}
    for device in ("cuda", "cpu"):
        if device == "cuda" and not torch.cuda.is_available():
            continue
        atoms = site.copy()
        atoms.calc = get_calculator("chgnet", use_device=device)
        atoms.get_forces()
        t0 = time.perf_counter()
        for _ in range(calls):
            atoms.positions[0, 2] += 1e-3
            atoms.get_forces()
        out[f"{device}_seconds"] = (time.perf_counter() - t0) / calls
    return out


def markdown(r: dict[str, Any]) -> str:
    runs = r["training"]["runs"]
    cpu = runs["cpu-fp32"]["seconds_per_epoch"]
    lines = [
        "# GPU check",
        "",
        f"Machine: {r['machine']}; torch {r['torch']}. Measured {r['measured']}.",
        "",
        f"Training: one member of `{r['config']}`, {r['training']['epochs']} epochs, early stopping off, "
        f"{r['training']['train_graphs']} training graphs.",
        "",
        "| run | s/epoch | vs CPU | first linear layer computes in | best val loss |",
        "|---|---|---|---|---|",
    ]
    for name, x in runs.items():
        lines.append(
            f"| {name} | {x['seconds_per_epoch']:.3f} | ×{cpu / x['seconds_per_epoch']:.1f} | "
            f"{x['autocast_dtype']} | {x['best_val_loss']:.4f} |"
        )
    inf, ch = r["inference"]["graphs_per_s"], r["chgnet"]
    lines += [
        "",
        f"Inference ({r['inference']['graphs']} graphs, the trained ensemble): "
        + ", ".join(f"{k} {v:.0f} graphs/s" for k, v in inf.items()),
        "",
        f"CHGNet force call ({ch['atoms']} atoms): "
        + ", ".join(f"{k.split('_')[0]} {v * 1000:.1f} ms" for k, v in ch.items() if k.endswith("_seconds")),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", type=Path, default=Path("configs/train.yaml"))
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--model", type=Path, default=Path("data/models/default"))
    args = ap.parse_args()
    cfg = load_config(TrainConfig, args.config, {})
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    res: dict[str, Any] = {
        "machine": f"{gpu}, {os.cpu_count()} CPU cores ({platform.machine()})",
        "torch": torch.__version__,
        "config": str(args.config),
        "measured": time.strftime("%Y-%m-%d"),
        "chgnet": chgnet(),
    }
    res["training"], graphs = training(cfg, args.epochs)
    res["inference"] = inference(Ensemble.load(args.model), graphs)
    publish("gpu", res, markdown(res))


if __name__ == "__main__":
    main()
