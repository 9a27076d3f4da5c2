"""Dask clusters for the jobs that fan out (labelling, screening): a LocalCluster sized to the
machine by default, or an existing cluster by scheduler address (``tcp://HOST:PORT``, e.g. one
started by dask-jobqueue on SLURM/PBS, see ``configs/dask-jobqueue.yaml``)."""

from __future__ import annotations

import logging
import os
from typing import Any

from dacscreen.errors import DacscreenError

SCHEDULER_TIMEOUT = "10s"
"""How long to try to reach a Dask scheduler given by address before giving up."""


def dask_client(workers: int, scheduler: str | None = None) -> Any:
    """A client of the cluster at ``scheduler``, else of a new LocalCluster of ``workers``
    single-threaded processes (``workers`` ≤ 0: one per CPU core)."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout=SCHEDULER_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as exc:
            raise DacscreenError(f"--scheduler {scheduler}: no Dask scheduler reachable ({exc})") from exc
    n = workers if workers > 0 else os.cpu_count() or 1
    cluster = LocalCluster(
        n_workers=n,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.WARNING,
    )
    client = Client(cluster)
    client.wait_for_workers(n)
    return client


def close_client(client: Any) -> None:
    """Close ``client`` and the LocalCluster that :func:`dask_client` started for it, if any."""
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


def threads_per_worker(client: Any, fallback: int) -> int:
    """CPU threads each worker's torch may use: the machine's cores shared among its workers."""
    n_workers = len(client.nthreads()) or max(1, fallback)
    return max(1, (os.cpu_count() or 1) // n_workers)
