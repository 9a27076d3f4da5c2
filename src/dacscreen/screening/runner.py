"""The ``screen`` runner: space → predictions → ranking → files (CSV, Parquet, report)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from dacscreen.config import ScreenConfig, Settings
from dacscreen.models.ensemble import Ensemble
from dacscreen.screening.predict import predict_sites
from dacscreen.screening.rank import rank
from dacscreen.screening.report import write_report
from dacscreen.screening.space import site_space


def run_screen(cfg: ScreenConfig, out: Path, progress=None) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """Screen every site of ``cfg`` with the ensemble and write the outputs into ``out``."""
    model_dir = cfg.model or Settings().model
    ens = Ensemble.load(model_dir)
    specs = list(site_space(cfg.host, cfg.metals, cfg.include_single, cfg.allow_non_transition))
    rows: list[dict[str, Any]] = []
    for start in range(0, len(specs), cfg.chunk_size):
        rows += predict_sites(specs[start : start + cfg.chunk_size], ens, on_site=progress)
    df = rank(pd.DataFrame(rows), cfg.ranking)
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / "candidates.csv", index=False)
    df.to_parquet(out / "candidates.parquet", index=False)
    meta = {
        "model": str(model_dir),
        "method": ens.meta.get("method", "?"),
        "host": cfg.host,
        "sites": len(df),
        "free energies": "ΔG ≈ ΔE (ZPE − TS = 0), two-electron steps, 0 V vs Li/Li+",
        "anode": f"Li–In offset {cfg.mu_li_offset_v} V (potentials reported vs Li/Li+)",
        "acquisition": f"{cfg.ranking.acquisition} (κ = {cfg.ranking.kappa})",
    }
    write_report(df, cfg.metals, out, cfg.top, meta)
    return df
