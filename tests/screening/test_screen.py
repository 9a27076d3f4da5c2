"""Screening with a trained ensemble: ranking, CSV/Parquet outputs and the HTML report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dacscreen.config import RankingConfig, ScreenConfig
from dacscreen.screening.rank import pareto_front, rank
from dacscreen.screening.runner import run_screen

REQUIRED = [
    "m1",
    "m2",
    "delta_chi",
    "e_ads_li2s2",
    "e_ads_li2s",
    "dg_rds",
    "rds_step",
    "d_band_m1",
    "d_band_m2",
    "e_bind",
    "score",
    "rank",
    "passes_filters",
    "fidelity",
    "d_band_fidelity",
]


def test_screen_outputs(tiny_model: Path, tmp_path: Path) -> None:
    cfg = ScreenConfig(metals=["Cu", "Ni", "Zn"], model=tiny_model, top=5)
    df = run_screen(cfg, tmp_path)
    assert len(df) == 3 + 6  # 3 single atoms + 6 pairs
    csv = pd.read_csv(tmp_path / "candidates.csv", keep_default_na=False)
    for col in REQUIRED:
        assert col in csv.columns
    for col in ("e_ads_li2s2", "e_ads_li2s", "dg_rds", "d_band_m1", "e_bind"):
        assert f"{col}_std" in csv.columns
    assert (csv[csv.m2 == ""].shape[0]) == 3
    assert np.isfinite(df["dg_rds"]).all()
    assert sorted(df["rank"]) == list(range(1, len(df) + 1))
    assert pd.read_parquet(tmp_path / "candidates.parquet").shape[0] == len(df)
    page = (tmp_path / "report.html").read_text()
    assert 'id="heatmap"' in page and 'id="top-table"' in page and "http" not in page
    for png in ("heatmap_dg_rds.png", "volcano_dband.png", "pareto.png"):
        assert (tmp_path / png).stat().st_size > 1000


def test_dask_chunks_equal_serial_and_placements_grow_the_space(tiny_model: Path, tmp_path: Path) -> None:
    """Chunks streamed from two Dask worker processes give the serial result; ``placements:
    all`` screens every symmetry-distinct placement (a larger space, same command)."""
    base = {"metals": ["Cu", "Ni"], "model": tiny_model, "chunk_size": 2}
    serial = run_screen(ScreenConfig(**base), tmp_path / "serial")
    dask = run_screen(ScreenConfig(**base, workers=2), tmp_path / "dask")
    cols = ["m1", "m2", "placement", "e_ads_li2s2", "dg_rds", "dg_rds_std", "rank"]
    pd.testing.assert_frame_equal(serial[cols], dask[cols], atol=1e-5)
    assert pd.read_parquet(tmp_path / "dask" / "predictions.parquet").shape[0] == 5
    every = run_screen(ScreenConfig(**base, placements="all"), tmp_path / "all")
    assert len(every) > len(serial)
    assert set(every.placement) > {0}


def test_cuni_delta_chi(tiny_model: Path, tmp_path: Path) -> None:
    df = run_screen(ScreenConfig(metals=["Cu", "Ni"], model=tiny_model), tmp_path)
    row = df[(df.m1 == "Ni") & (df.m2 == "Cu") | (df.m1 == "Cu") & (df.m2 == "Ni")].iloc[0]
    assert row.delta_chi == pytest.approx(0.01)


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "m1": ["A", "B", "C", "D"],
            "m2": ["X", "", "Y", "Z"],
            "delta_chi": [0.1, 0.0, 0.5, 0.2],
            "e_ads_li2s2": [-2.0, -1.0, -3.0, -0.1],
            "e_ads_li2s": [-1.5, -1.0, -2.0, -0.2],
            "dg_rds": [0.3, 0.5, 0.1, 0.2],
            "dg_rds_std": [0.1, 0.4, 0.1, 0.05],
            "e_bind": [-1.0, -0.5, -2.0, -1.0],
        }
    )


def test_filters_and_rank_by_hand() -> None:
    out = rank(_frame(), RankingConfig())
    passing = out[out.passes_filters]
    # C fails |Δχ| 0.5 > 0.3; D fails the Li2S2 window (−0.1 > −0.5)
    assert set(passing.m1) == {"A", "B"}
    assert out.iloc[0].m1 == "A"  # lowest ΔG_RDS among passing


def test_pareto_by_hand() -> None:
    front = pareto_front(_frame())
    # C (0.1, −3.0) dominates A (0.3, −2.0), B (0.5, −1.0) and D (0.2, −0.1)
    assert list(front) == [False, False, True, False]


def test_acquisition_prefers_uncertain_with_ucb() -> None:
    out = rank(_frame(), RankingConfig(acquisition="ucb", kappa=2.0)).set_index("m1")
    assert out.loc["B", "acquisition"] > out.loc["A", "acquisition"]


def test_a_shipped_correction_adds_dft_columns(tiny_model: Path, tmp_path: Path) -> None:
    """A model whose meta carries a fidelity map screens with ``*_dft`` columns that name their
    fidelity; the plain columns are unchanged."""
    import json
    import shutil

    from tests.models.test_correction import _correction

    model = tmp_path / "corrected"
    shutil.copytree(tiny_model, model)
    meta = json.loads((model / "meta.json").read_text())
    (model / "meta.json").write_text(json.dumps({**meta, "correction": _correction().to_meta()}))
    plain = run_screen(ScreenConfig(metals=["Cu", "Ni"], model=tiny_model), tmp_path / "plain")
    out = run_screen(ScreenConfig(metals=["Cu", "Ni"], model=model), tmp_path / "dft")
    assert out["dft_fidelity"].str.startswith("gpaw (delta map from chgnet").all()
    for col in ("e_ads_li2s2", "e_ads_li2s", "d_band_m1"):
        assert np.isfinite(out[f"{col}_dft"]).all() and (out[f"{col}_dft_std"] >= out[f"{col}_std"]).all()
    assert "e_ads_s8_dft" not in out.columns and np.isfinite(out["dg_5_dft"]).all()
    key = ["m1", "m2", "placement"]
    merged = plain.merge(out, on=key, suffixes=("", "_c"))
    np.testing.assert_allclose(merged["dg_rds"], merged["dg_rds_c"], rtol=1e-6)


def test_a_model_of_every_orientation_screens_with_the_mean(tiny_model: Path, tmp_path: Path) -> None:
    """``orientations: all`` in the meta: each E_ads column is the mean over the offered starts,
    so it lies inside their range, above the lowest one that a ``labelled`` model keeps."""
    import json
    import shutil

    model = tmp_path / "all"
    shutil.copytree(tiny_model, model)
    meta = json.loads((model / "meta.json").read_text())
    (model / "meta.json").write_text(json.dumps({**meta, "orientations": "all"}))
    low = run_screen(ScreenConfig(metals=["Cu", "Ni"], model=tiny_model), tmp_path / "min")
    mean = run_screen(ScreenConfig(metals=["Cu", "Ni"], model=model), tmp_path / "mean")
    merged = low.merge(mean, on=["m1", "m2", "placement"], suffixes=("", "_mean"))
    pair = merged[merged["m2"].astype(str) != ""]
    assert (pair["e_ads_li2s_mean"] > pair["e_ads_li2s"] + 1e-6).all()
    assert (pair["orientation_li2s_mean"] == pair["orientation_li2s"]).all()
    np.testing.assert_allclose(merged["e_bind_mean"], merged["e_bind"], rtol=1e-6)
