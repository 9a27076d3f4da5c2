"""Screening in chunks: in this process, or on Dask workers (a LocalCluster or a scheduler).

Each chunk of sites is featurised and predicted where it runs; only the result rows travel back.
Workers load the ensemble from ``model_dir`` once per process, so on a cluster that directory must
be on a shared file system.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from dacscreen.config import ScreenConfig
from dacscreen.models.ensemble import Ensemble
from dacscreen.screening.predict import predict_sites
from dacscreen.site_key import SiteKey


@lru_cache(maxsize=2)
def _worker_ensemble(model_dir: str) -> Ensemble:
    return Ensemble.load(Path(model_dir))


def predict_remote(
    model_dir: str, specs: list[SiteKey], threads: int, normalisation: str
) -> list[dict[str, Any]]:
    """Worker side: predict one chunk with a per-process cached ensemble on ``threads`` threads."""
    import torch

    torch.set_num_threads(threads)
    return predict_sites(specs, _worker_ensemble(model_dir), normalisation=normalisation)  # type: ignore[arg-type]


def predict_chunks(
    specs: list[SiteKey], ens: Ensemble, model_dir: Path, cfg: ScreenConfig
) -> Iterator[list[dict[str, Any]]]:
    """Rows of predictions, one list per chunk of ``cfg.chunk_size`` sites, as chunks finish."""
    chunks = [specs[i : i + cfg.chunk_size] for i in range(0, len(specs), cfg.chunk_size)]
    if cfg.workers == 1 and not cfg.scheduler:
        for chunk in chunks:
            yield predict_sites(chunk, ens, normalisation=cfg.normalisation)
        return
    from dask.distributed import as_completed

    from dacscreen.dask_cluster import close_client, dask_client, threads_per_worker

    client = dask_client(cfg.workers, cfg.scheduler)
    try:
        threads = threads_per_worker(client, cfg.workers)
        futures = [
            client.submit(predict_remote, str(model_dir), c, threads, cfg.normalisation, pure=False)
            for c in chunks
        ]
        for fut in as_completed(futures):
            yield fut.result()
    finally:
        close_client(client)
