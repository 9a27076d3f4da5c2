"""Screening with a trained ensemble: ranking, CSV/Parquet outputs and the HTML report."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dacscreen.config import RankingConfig, ScreenConfig
from dacscreen.screening.rank import against_singles, basis, pareto_front, rank
from dacscreen.screening.runner import run_screen
from dacscreen.screening.space import space_from_config
from dacscreen.site_key import SiteKey

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
    "failed_filters",
    "reference_row",
    "normalisation",
    "beats_singles_dg",
    "beats_singles_li2s2",
    "beats_singles_li2s",
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
    pairs = df[~df.reference_row]
    assert sorted(pairs["rank"]) == list(range(1, 7)) and df[df.reference_row]["rank"].isna().all()
    assert (df.m2 == "").equals(df.reference_row) and list(df.reference_row) == [False] * 6 + [True] * 3
    assert (df.normalisation == "per-product").all()
    # the tiny store carries the bare-host references: the metals' share is reported
    share = df["e_ads_li2s2"] - df["e_ads_li2s2_host"]
    np.testing.assert_allclose(df["metal_share_li2s2"], share)
    assert 'id="single-table"' in (tmp_path / "report.html").read_text()
    assert pd.read_parquet(tmp_path / "candidates.parquet").shape[0] == len(df)
    page = (tmp_path / "report.html").read_text()
    assert 'id="heatmap"' in page and 'id="top-table"' in page and 'id="heatmap-plot"' in page
    # offline: plotly.js is inlined, and nothing is loaded from the network
    assert not re.search(r"<(?:script|link|img|iframe)[^>]+(?:src|href)=[\"']https?:", page)
    pair = df[~df.reference_row].iloc[0]
    assert f"{pair.m1}–{pair.m2}" in page  # hover text of a pair
    for png in ("heatmap_dg.png", "volcano_dband.png", "pareto.png"):
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
    out = rank(_frame(), RankingConfig(li2s2_window=(-4.0, -0.5), li2s_window=(-4.0, -0.5))).set_index("m1")
    # C fails |Δχ| 0.5 > 0.3; D fails both windows (−0.1, −0.2 > −0.5); B is a single atom
    assert set(out[out.passes_filters & ~out.reference_row].index) == {"A"}
    assert out.loc["C", "failed_filters"] == "delta_chi"
    assert out.loc["D", "failed_filters"] == "li2s2_window;li2s_window"
    assert out.loc["A", "failed_filters"] == ""
    # the passing pair, then by score (C: −0.1; D: −0.2 − 0.2·0.3 = −0.26); the single atom last
    assert list(out.index) == ["A", "C", "D", "B"]
    assert out.loc["A", "rank"] == 1 and pd.isna(out.loc["B", "rank"]) and out.loc["B", "reference_row"]


def test_windows_derived_from_the_pairs_and_the_reference() -> None:
    """An unset window spans the pairs' quantiles, widened to hold the reference pair ± margin."""
    df = pd.DataFrame(
        {
            "m1": ["Cu", "Ni", "Cu", "Fe", "Co"] + [f"M{k}" for k in range(10)],
            "m2": ["", "", "Ni", "Fe", "Co"] + ["X"] * 10,
            "delta_chi": 0.0,
            "e_ads_li2s2": [-2.0, -2.1, -2.5, -9.0, -1.0, *np.linspace(-4.0, -1.5, 10)],
            "e_ads_li2s": -2.0,
            "dg_rds": [0.6, 0.7, 0.4, 0.9, 0.8, *np.linspace(0.2, 1.0, 10)],
            "dg_rds_std": 0.1,
            "e_bind": 0.0,
        }
    )
    cfg = RankingConfig(window_quantiles=(0.1, 0.9), window_margin=0.3)
    out = rank(df, cfg).set_index(["m1", "m2"])
    pairs = df[df.m2 != ""]["e_ads_li2s2"]
    lo, hi = np.quantile(pairs, [0.1, 0.9])
    assert out.loc[("Cu", "Ni"), "li2s2_window"] == f"{lo:.2f},{hi:.2f}"
    assert "li2s2_window" in out.loc[("Fe", "Fe"), "failed_filters"]  # the strongest tenth
    # Cu–Ni (−2.5) binds Li2S2 more strongly and has a lower ΔG than both Cu (−2.0) and Ni (−2.1)
    assert out.loc[("Cu", "Ni"), "beats_singles_li2s2"] and out.loc[("Cu", "Ni"), "beats_singles_dg"]
    assert pd.isna(out.loc[("M0", "X"), "beats_singles_li2s2"])  # no single atoms screened
    narrow = rank(df, RankingConfig(window_quantiles=(0.45, 0.55), window_margin=1.0)).set_index(["m1", "m2"])
    w = [float(x) for x in narrow.loc[("Cu", "Ni"), "li2s2_window"].split(",")]
    assert w[0] <= -3.5 and w[1] >= -1.5  # widened to the reference −2.5 ± 1


def test_pairs_meet_their_single_atoms_on_the_ranked_columns() -> None:
    """With DFT-level columns for every row, the comparison with the single atoms uses them (as
    the score does), not the training fidelity's ΔG_RDS."""
    df = pd.DataFrame(
        {
            "m1": ["Cu", "Ni", "Cu"],
            "m2": ["", "", "Ni"],
            "dg_rds": [-1.5, -1.3, 0.8],  # the pair loses on ΔG_RDS ...
            "dg_5_dft": [-2.2, -2.4, -2.8],  # ... and wins on the ranked ΔG5 (DFT level)
            "e_ads_li2s2": [-2.8, -3.4, -3.5],
            "e_ads_li2s2_dft": [-3.3, -3.8, -3.5],
            "e_ads_li2s": [-4.6, -4.8, -4.8],
            "e_ads_li2s_dft": [-4.8, -5.2, -5.5],
        }
    )
    pair = against_singles(df).iloc[2]
    assert basis(df)["dg"] == "dg_5_dft"
    assert pair["beats_singles_dg"] and pair["beats_singles_li2s"]
    assert not pair["beats_singles_li2s2"]  # −3.5 is not below Ni's −3.8
    plain = against_singles(df.drop(columns=["dg_5_dft", "e_ads_li2s2_dft", "e_ads_li2s_dft"])).iloc[2]
    assert not plain["beats_singles_dg"] and plain["beats_singles_li2s2"]


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


def test_reference_study_trends_by_hand() -> None:
    """Each claim of the reference study is checked on a table, and reported as it comes out."""
    from dacscreen.screening.trends import markdown, pair_trends

    df = pd.DataFrame(
        {
            "m1": ["Cu", "Cu", "Ni"],
            "m2": ["Ni", "", ""],
            "e_ads_li2s2": [-3.4, -2.7, -3.1],
            "e_ads_li2s": [-4.0, -4.1, -4.3],
            "dg_5": [-0.5, -0.3, -0.4],
            "d_band_m1": [-1.4, -1.6, -0.9],
            "d_band_m2": [-0.8, -1.6, -0.9],
        }
    )
    trends = {t["claim"]: t["holds"] for t in pair_trends(df)}
    assert trends["binds Li2S2 more strongly (E_ads lower)"] is True
    assert trends["binds Li2S more strongly (E_ads lower)"] is False  # −4.0 is above Ni's −4.3
    assert trends["lower ΔG5 (Li2S2 → Li2S)"] is True
    assert trends["ε_d of Cu closer to E_F in the pair"] is True  # |−1.4| < |−1.6|
    assert trends["ε_d of Ni closer to E_F in the pair"] is True  # |−0.8| < |−0.9|
    assert pair_trends(df[df.m2 != ""]) == []  # no single atoms: nothing to compare
    assert markdown(pair_trends(df))[2].endswith("| yes |")


@pytest.mark.parametrize(("metals", "pair"), [(["Ta", "Cu"], ("Cu", "Ta")), (["Ni", "Cu"], ("Cu", "Ni"))])
def test_screen_and_label_name_and_build_the_same_sites(metals: list[str], pair: tuple[str, str]) -> None:
    """``--metals Ta Cu``: the screen names (Cu, Ta), as the labeller does (issue: two
    enumerators disagreed, and build_site puts the first metal on the first anchor). The
    reference pair keeps the study's and the shipped labels' order, Cu1Ni1, from ``Ni Cu`` too."""
    from dacscreen.config import LabelConfig
    from dacscreen.data.labelling import plan

    screened = space_from_config(ScreenConfig(metals=metals))
    cfg = LabelConfig.model_validate({"metals": metals, "states": ["clean"], "all_states_sites": 0})
    labelled = [t.site for t in plan(cfg, "m")]
    assert set(screened) == set(labelled) and len(screened) == len(labelled) == 5
    assert SiteKey("melon", *pair) in screened


def test_interrupted_screen_keeps_the_previous_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outputs are staged and renamed: a screen stopped before the end (Ctrl-C here) leaves
    the previous candidates, predictions and report as they were, and no staging folder."""
    from dacscreen.screening import runner

    cfg = ScreenConfig(metals=["Cu", "Ni"], top=3)  # the shipped model
    run_screen(cfg, tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert {"candidates.csv", "predictions.parquet", "report.html"} <= {p.name for p in before}

    def stop(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "write_report", stop)
    with pytest.raises(KeyboardInterrupt):
        run_screen(ScreenConfig(metals=["Cu", "Ni", "Co"], top=3), tmp_path)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    assert not list(tmp_path.glob(".staging-*"))
