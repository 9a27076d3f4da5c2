"""Training of one ensemble member and of the whole ensemble, with checkpoints and AMP.

The loss is the masked mean squared error of standardised targets: E_ads on adsorbate graphs
plus the d-band centre on metal nodes of clean graphs. Each member checkpoints every epoch
(model, optimiser, epoch, best state); a killed run resumes from the last checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

from dacscreen.allocator import tune_allocator
from dacscreen.config import TrainConfig
from dacscreen.featurize.graphs import FEATURIZER_VERSION
from dacscreen.models import ddp
from dacscreen.models.ensemble import Scaling
from dacscreen.models.multitask import MultiTaskGNN

log = logging.getLogger(__name__)


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when present, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def masked_loss(
    model: torch.nn.Module, batch: Data, scaling: Scaling, displacement_weight: float = 0.0
) -> torch.Tensor:
    """MSE of E_ads (per graph, standardised per state) + d-band centre (per metal node),
    NaN-masked, plus ``displacement_weight`` × the MSE (Å²) of the relaxation displacement of
    the site and adsorbate atoms where the model has that head and the batch that target."""
    e, d, disp = model(batch, loss_only=True)  # the full pass's loss and gradients, on fewer edges
    mean, std = scaling.ads_stats(batch)
    ya = (batch.y_ads - mean) / std
    yd = (batch.y_dband - scaling.db_mean) / scaling.db_std
    ma, md = torch.isfinite(ya), torch.isfinite(yd)
    loss = 0.0 * e.float().sum()  # attached to the graph, so a batch without labels still steps
    if ma.any():
        loss = loss + ((e.float()[ma] - ya[ma]) ** 2).mean()
    if md.any():
        loss = loss + ((d.float()[md] - yd[md]) ** 2).mean()
    y_disp = getattr(batch, "y_disp", None)
    if displacement_weight > 0 and disp is not None and y_disp is not None:
        mp = torch.isfinite(y_disp).all(dim=-1) & (batch.tags > 0)
        if mp.any():
            loss = loss + displacement_weight * ((disp.float()[mp] - y_disp[mp]) ** 2).sum(-1).mean()
    return loss


@dataclass
class MemberResult:
    """Outcome of training one member."""

    model: MultiTaskGNN
    best_val: float
    epochs: int
    seconds: float
    history: list[tuple[int, float, float]]


def _autocast(device: torch.device, amp: bool):  # type: ignore[no-untyped-def]
    if amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def _loader(
    graphs: list[Data], cfg: TrainConfig, shuffle: bool, device: torch.device, sampler: Any = None
) -> DataLoader:
    return DataLoader(
        graphs,
        batch_size=cfg.batch_size,
        shuffle=shuffle and sampler is None,
        sampler=sampler,
        num_workers=cfg.num_workers,
        pin_memory=device.type == "cuda",
        persistent_workers=cfg.num_workers > 0,
    )


def evaluate_loss(
    model: MultiTaskGNN, graphs: list[Data], scaling: Scaling, cfg: TrainConfig, device: torch.device
) -> float:
    """Mean loss of the energy and d-band targets over ``graphs`` (no gradients); the auxiliary
    displacement term is left out, so early stopping watches the targets themselves."""
    model.eval()
    total, n = 0.0, 0
    with torch.no_grad():
        for batch in _loader(graphs, cfg, False, device):
            batch = batch.to(device, non_blocking=True)
            with _autocast(device, cfg.amp):
                total += float(masked_loss(model, batch, scaling)) * batch.num_graphs
            n += batch.num_graphs
    return total / max(n, 1)


def train_member(
    train: list[Data],
    val: list[Data],
    cfg: TrainConfig,
    scaling: Scaling,
    seed: int,
    checkpoint: Path | None = None,
    on_epoch: Callable[[int, float, float], None] | None = None,
    init: dict[str, torch.Tensor] | None = None,
    store: Path | None = None,
) -> MemberResult:
    """Train one member with AdamW and early stopping on the validation loss (data-parallel
    across processes when started by torchrun; see :mod:`dacscreen.models.ddp`).
    ``init`` starts from those weights instead of a random initialisation (fine-tuning).

    ``store`` (instead of ``checkpoint``) is a content-addressed directory of members: the
    checkpoint is ``store/<run fingerprint>.pt``, so every run that trains the same member on
    the same data (the folds of ``evaluate`` and of the multi-fidelity benchmark, a resumed or a
    later session's run) trains it once. A finished member (stopped early or at the epoch budget)
    is kept without its optimiser state (:func:`_finished`), a quarter of the size; an
    interrupted one keeps it and resumes."""
    tune_allocator()
    device = ddp.setup() if ddp.is_worker() else pick_device(cfg.device)
    torch.manual_seed(seed)
    model = MultiTaskGNN(cfg.model).to(device)
    if init is not None:
        model.load_state_dict(init)
    fingerprint = run_fingerprint(train, cfg, seed, scaling, init, val)
    if store is not None:
        checkpoint = store / f"{fingerprint}.pt"
    ck = _matching_checkpoint(checkpoint, fingerprint, device)
    if ck is not None and "opt" not in ck:
        done = _finished(ck, model, cfg, checkpoint)
        if done is not None:
            return done
        ck = None
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=max(2, cfg.patience // 3))
    start, best, best_state, stale, history = 0, float("inf"), None, 0, []
    if ck is not None:
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        torch.set_rng_state(ck["rng"].cpu())
        start, best, best_state, stale, history = (
            ck["epoch"],
            ck["best"],
            ck["best_state"],
            ck["stale"],
            ck["history"],
        )
        log.info("resumed member %d from epoch %d of %s", seed, start, checkpoint)
    net = ddp.wrap(model, device)  # the same parameters; DDP averages their gradients
    shard = ddp.sampler(train, shuffle=True, seed=seed)
    t0 = time.perf_counter() - (ck or {}).get("seconds", 0.0)  # training time includes resumed runs
    epoch = start
    for epoch in range(start, cfg.epochs):
        if stale >= cfg.patience:
            break
        net.train()
        if shard is not None:
            shard.set_epoch(epoch)
        total, n = 0.0, 0
        for batch in _loader(train, cfg, True, device, shard):
            batch = batch.to(device, non_blocking=True)
            opt.zero_grad(set_to_none=True)
            with _autocast(device, cfg.amp):
                loss = masked_loss(net, batch, scaling, cfg.model.displacement_weight)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            total += float(loss.detach()) * batch.num_graphs
            n += batch.num_graphs
        total, n = ddp.summed(total, n)  # the epoch's loss over every process's shard
        val_loss = evaluate_loss(model, val, scaling, cfg, device) if val else total / max(n, 1)
        sched.step(val_loss)
        history.append((epoch, total / max(n, 1), val_loss))
        if val_loss < best - 1e-5:
            best, stale = val_loss, 0
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
        if on_epoch:
            on_epoch(epoch, total / max(n, 1), val_loss)
        if checkpoint is not None and ddp.rank() == 0:
            _save_checkpoint(
                checkpoint,
                {
                    "fingerprint": fingerprint,
                    "model": model.state_dict(),
                    "opt": opt.state_dict(),
                    "sched": sched.state_dict(),
                    "rng": torch.get_rng_state(),
                    "epoch": epoch + 1,
                    "best": best,
                    "best_state": best_state,
                    "stale": stale,
                    "history": history,
                    "seconds": time.perf_counter() - t0,
                },
            )
    seconds = time.perf_counter() - t0
    if checkpoint is not None and ddp.rank() == 0:
        _save_checkpoint(
            checkpoint,
            {
                "fingerprint": fingerprint,
                "patience": cfg.patience,
                "epoch": len(history),
                "best": best,
                "best_state": best_state,
                "stale": stale,
                "history": history,
                "seconds": seconds,
            },
        )
    if best_state is not None:
        model.load_state_dict(best_state)
    model.cpu()
    return MemberResult(model, best, epoch + 1, seconds, history)


def _finished(
    ck: dict[str, Any], model: MultiTaskGNN, cfg: TrainConfig, path: Path | None
) -> MemberResult | None:
    """The member of a finished checkpoint (stopped early or at its epoch budget, saved without
    optimiser state), or None when this run would have stopped elsewhere: another patience, a
    budget below the epoch it stopped at, or, for a member that ran out of epochs, another budget.
    Without the optimiser it cannot go on: it trains afresh."""
    early = ck["stale"] >= ck["patience"]
    same_stop = cfg.epochs >= ck["epoch"] if early else cfg.epochs == ck["epoch"]
    if ck["patience"] != cfg.patience or not same_stop:
        log.warning(
            "%s: stopped at epoch %d, patience %s; this run: %d epochs, patience %d; training afresh",
            path,
            ck["epoch"],
            ck["patience"],
            cfg.epochs,
            cfg.patience,
        )
        return None
    if ck["best_state"] is not None:
        model.load_state_dict(ck["best_state"])
    model.cpu()
    return MemberResult(model, ck["best"], ck["epoch"], ck["seconds"], ck["history"])


def run_fingerprint(
    train: list[Data],
    cfg: TrainConfig,
    seed: int,
    scaling: Scaling | None = None,
    init: dict[str, torch.Tensor] | None = None,
    val: list[Data] | None = None,
) -> str:
    """What a checkpoint must match to be resumed: the architecture (not the ensemble's size: a
    member is the same in an ensemble of 2 or of 5), the optimiser settings, the seed, the
    featuriser version, the target standardisation, the training and validation graphs (their
    positions and targets) and the initial weights of a fine-tuning run. (The epoch budget may
    change: a resumed run can train longer.)"""
    arrays = [_graph_bytes(train), _graph_bytes(val or [])]
    if init:
        arrays.append(torch.cat([v.flatten().float() for v in init.values()]).numpy().round(6).tobytes())
    payload = json.dumps(
        [
            cfg.model.model_dump(mode="json", exclude=_unhashed(cfg.model)),
            cfg.lr,
            cfg.batch_size,
            cfg.weight_decay,
            seed,
            len(train),
            len(val or []),
            FEATURIZER_VERSION,
            _scaling_summary(scaling),
        ]
    ).encode()
    return hashlib.sha1(payload + b"".join(arrays)).hexdigest()[:16]


def _unhashed(model: Any) -> set[str]:
    """Model fields a member's fingerprint leaves out: the ensemble's size, the correction
    weight (fitted after training), and
    ``reference_folds`` at its default (0), so members trained before the field existed match."""
    return {"ensemble", "correction_weight"} | (set() if model.reference_folds else {"reference_folds"})


def _scaling_summary(scaling: Scaling | None) -> dict[str, Any] | None:
    """The target standardisation as the fingerprint sees it: its numbers to 1 meV and the kind
    of its per-state references. The references' fitted numbers are left out: they follow from
    the training graphs and ``energy_reference`` (both hashed), and a Gaussian-process reference
    refitted with another BLAS thread count differs in the last bits, which would otherwise
    make the same member look new."""
    if scaling is None:
        return None
    d = asdict(scaling)
    refs = {k: v["kind"] if isinstance(v, dict) else "ridge" for k, v in d.pop("reference").items()}
    d.pop("joint", None)
    return {**json.loads(json.dumps(d), parse_float=lambda x: round(float(x), 3)), "reference": refs}


def _graph_bytes(graphs: list[Data]) -> bytes:
    """The targets (E_ads, d-band centres) and atom positions of ``graphs``, rounded, as bytes
    to hash."""
    if not graphs:
        return b""
    targets = torch.cat([t for g in graphs for t in (g.y_ads, g.y_dband.flatten())]).nan_to_num(1e9)
    pos = torch.cat([g.pos.flatten() for g in graphs])
    return targets.numpy().round(6).tobytes() + pos.numpy().round(4).tobytes()


def _matching_checkpoint(path: Path | None, fingerprint: str, device: torch.device) -> dict | None:
    """The checkpoint at ``path`` when it belongs to this run; a stale one (another config or
    data set, left in the output directory by an earlier run) is ignored with a warning."""
    if path is None or not path.is_file():
        return None
    ck = torch.load(path, weights_only=True, map_location=device)
    if ck.get("fingerprint") != fingerprint:
        log.warning("%s: checkpoint of a different run (config or data changed); training afresh", path)
        return None
    return ck


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)
