"""Data-parallel training behind one flag (``train --devices N``).

``torchrun`` starts N processes (one per GPU; on a CPU machine N gloo processes, so the path is
testable without GPUs). Each process holds a replica of the member being trained and sees its
own shard of every epoch (``DistributedSampler``); ``DistributedDataParallel`` averages the
gradients, so the replicas stay identical. Validation runs on the full validation split in
every process, so early stopping agrees everywhere. Rank 0 alone writes checkpoints, logs to
MLflow, evaluates and saves the ensemble.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import torch
import torch.distributed as dist


def is_worker() -> bool:
    """Whether this process was started by torchrun."""
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def launch(n_devices: int, argv: list[str]) -> int:
    """Re-run this ``dacscreen`` command under torchrun with ``n_devices`` processes on this
    machine; returns torchrun's exit code."""
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={n_devices}",
        "-m",
        "dacscreen.cli",
        *argv,
    ]
    return subprocess.run(cmd, check=False).returncode


def setup() -> torch.device:
    """Join the process group (NCCL on CUDA, gloo on CPU); returns this process's device."""
    local = int(os.environ["LOCAL_RANK"])
    if torch.cuda.is_available():
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    else:
        device = torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def teardown() -> None:
    """Leave the process group."""
    if dist.is_initialized():
        dist.destroy_process_group()


def rank() -> int:
    """This process's rank (0 when not distributed)."""
    return dist.get_rank() if dist.is_initialized() else 0


def world_size() -> int:
    """Number of processes (1 when not distributed)."""
    return dist.get_world_size() if dist.is_initialized() else 1


def barrier() -> None:
    """Wait for every process (no-op when not distributed)."""
    if dist.is_initialized():
        dist.barrier()


def summed(*values: float) -> tuple[float, ...]:
    """``values`` summed over every process (unchanged when not distributed)."""
    if not dist.is_initialized():
        return values
    t = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(t)
    return tuple(float(x) for x in t)


def wrap(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``model`` in DistributedDataParallel when distributed, else unchanged. A batch without
    d-band targets leaves the d-band head unused, hence ``find_unused_parameters``."""
    if not dist.is_initialized():
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)


def sampler(dataset: Any, shuffle: bool, seed: int) -> Any:
    """A DistributedSampler over ``dataset`` when distributed, else None."""
    if not dist.is_initialized():
        return None
    from torch.utils.data.distributed import DistributedSampler

    return DistributedSampler(dataset, shuffle=shuffle, seed=seed)
