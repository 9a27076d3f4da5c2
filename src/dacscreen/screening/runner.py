"""The ``screen`` runner: space → predictions → ranking → files (CSV, Parquet, report)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dacscreen.atomic import staged
from dacscreen.config import ScreenConfig, default_model
from dacscreen.errors import ModelError
from dacscreen.models.ensemble import Ensemble
from dacscreen.screening.on_dask import predict_chunks
from dacscreen.screening.rank import rank
from dacscreen.screening.report import write_report
from dacscreen.screening.space import space_from_config
from dacscreen.site_key import SiteKey


def run_screen(cfg: ScreenConfig, out: Path, progress=None) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """Screen every site of ``cfg`` with the ensemble and write the outputs into ``out``.

    Predictions are streamed chunk by chunk into ``predictions.parquet`` (memory stays bounded
    by the chunk size, whatever the size of the space), then ranked into ``candidates.*``. All
    files are written in a staging folder and replace those in ``out`` only when all are done
    (:func:`dacscreen.atomic.staged`): an interrupted screen leaves the previous outputs intact.
    """
    model_dir = default_model(cfg.model)
    ens = Ensemble.load(model_dir)
    check_domain(ens, cfg.host, model_dir)
    specs = list(space_from_config(cfg))
    with staged(out) as stage:
        return _screen_into(stage, cfg, ens, model_dir, specs, progress)


def check_domain(ens: Ensemble, host: str, model_dir: Path) -> None:
    """Refuse a host the model was not trained on: its adsorption energies would be those of
    the training host's references and sites, passed off as the other host's (ModelError)."""
    refs = ens.meta.references
    trained = {k.removeprefix("host_") for k in refs if k.startswith("host_") and not k.endswith("_nH")}
    if host not in trained:
        raise ModelError(
            f"{model_dir}: trained on host(s) {sorted(h for h in trained if h)}, not {host}; "
            f"train a model on {host} labels to screen it"
        )


def _screen_into(  # type: ignore[no-untyped-def]
    out: Path, cfg: ScreenConfig, ens: Ensemble, model_dir: Path, specs: list, progress
) -> pd.DataFrame:
    """The screen's files, written into ``out`` (the staging folder)."""
    raw = out / "predictions.parquet"
    writer = None
    try:
        for rows in predict_chunks(specs, ens, model_dir, cfg):
            table = pa.Table.from_pylist(rows, schema=writer.schema if writer else None)
            writer = writer or pq.ParquetWriter(raw, table.schema)
            writer.write_table(table)
            if progress:
                progress(len(rows))
    finally:
        if writer:
            writer.close()
    order = {s: k for k, s in enumerate(specs)}
    df = pd.read_parquet(raw)
    df["_k"] = [order[SiteKey.of_record(r)] for r in df[["host", "m1", "m2", "placement"]].itertuples()]
    df = rank(df.sort_values("_k").drop(columns="_k").reset_index(drop=True), cfg.ranking)
    df.to_csv(out / "candidates.csv", index=False)
    df.to_parquet(out / "candidates.parquet", index=False)
    meta = {
        "model": str(model_dir),
        "method": ens.meta.method or "?",
        "host": cfg.host,
        "sites": len(df),
        "free energies": f"ΔG ≈ ΔE (ZPE − TS = 0), {cfg.normalisation} SRR steps, 0 V vs Li/Li+",
        "anode": f"Li–In offset {cfg.mu_li_offset_v} V (potentials reported vs Li/Li+)",
        "acquisition": f"{cfg.ranking.acquisition} (κ = {cfg.ranking.kappa})",
    }
    write_report(df, cfg.metals, out, cfg.top, meta)
    return df


def log_screen(df: pd.DataFrame, cfg: ScreenConfig, out: Path) -> str:
    """Log a finished screen as an MLflow run of experiment ``screening`` (parameters, counts,
    the candidate table and the report); returns the run id."""
    import mlflow

    from dacscreen import tracking

    pairs = df[~df["reference_row"]]
    params = {
        "model": str(default_model(cfg.model)),
        "host": cfg.host,
        "metals": ",".join(cfg.metals),
        "normalisation": cfg.normalisation,
        "acquisition": cfg.ranking.acquisition,
        "out": str(out),
    }
    with tracking.run("screening", out.name, params) as active:
        mlflow.log_metrics(
            {
                "sites": len(df),
                "pairs": len(pairs),
                "passing": int(pairs["passes_filters"].sum()),
                "best_dg_rds": float(pairs["dg_rds"].min()),
            }
        )
        for name in ("candidates.csv", "report.html"):
            mlflow.log_artifact(str(out / name))
        return str(active.info.run_id)
