"""DFT picks: acquisition interleaved with a stratified share; the site list the labeller reads."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import pandas as pd
import pytest

from dacscreen.config import LabelConfig
from dacscreen.data.labelling import plan
from dacscreen.data.labelling.tasks import read_sites
from dacscreen.elements import METALS_3D
from dacscreen.errors import ConfigError
from dacscreen.site_key import SiteKey
from dacscreen.workflows.dft_picks import is_3d_hetero, pick_dft_sites, with_redo, write_picks


def _candidates() -> pd.DataFrame:
    """Pairs of four 3d and two 5d metals, plus single atoms; the 5d pairs score highest."""
    metals = ["Fe", "Co", "Ni", "Cu", "Pt", "Au"]
    rows = [(a, b, 5.0 if {a, b} & {"Pt", "Au"} else 1.0) for a, b in combinations(metals, 2)]
    rows += [(m, None, 0.5) for m in metals]
    return pd.DataFrame(
        [{"host": "melon", "m1": a, "m2": b, "placement": 0, "acquisition": q} for a, b, q in rows]
    )


def test_half_the_picks_cover_the_3d_hetero_pairs_the_rest_follow_acquisition() -> None:
    done = {SiteKey("melon", "Fe", "Co")}
    picks = pick_dft_sites(_candidates(), done, n=8, stratified_share=0.5)
    assert list(picks["pick"]) == ["acquisition", "stratified"] * 4
    sites = [SiteKey.of_record(r) for r in picks.fillna({"m2": ""}).itertuples()]
    assert not done & set(sites) and len(set(sites)) == 8
    assert all(q == 5.0 for q in picks[picks["pick"] == "acquisition"]["acquisition"])
    stratified = [s for s, p in zip(sites, picks["pick"], strict=True) if p == "stratified"]
    assert all(is_3d_hetero(s) for s in stratified)  # 5 uncovered 3d–3d pairs: 4 taken
    assert all({s.m1, s.m2} <= set(METALS_3D) for s in stratified)


def test_only_acquisition_without_a_stratified_share() -> None:
    picks = pick_dft_sites(_candidates(), set(), n=3, stratified_share=0.0)
    assert set(picks["pick"]) == {"acquisition"} and (picks["acquisition"] == 5.0).all()


def test_a_table_without_acquisition_is_refused() -> None:
    with pytest.raises(ConfigError, match="acquisition"):
        pick_dft_sites(_candidates().drop(columns="acquisition"), set(), n=3)


def test_the_label_plan_follows_the_site_list(tmp_path: Path) -> None:
    done = [SiteKey("melon", "Ni", "Ni")]
    picks = with_redo(pick_dft_sites(_candidates(), done, n=4), done)
    path = tmp_path / "picks.csv"
    write_picks(picks, path)
    sites = read_sites(path, "melon")
    assert sites[0] == SiteKey("melon", "Ni", "Ni") and len(sites) == 5
    cfg = LabelConfig(sites=path, states=["clean", "Li2S"], all_states_sites=0)
    tasks = plan(cfg, "chgnet")
    assert [t.site for t in tasks[::2]] == sites and {t.state for t in tasks} == {"clean", "Li2S"}


def test_a_site_list_without_metal_columns_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "sites.csv"
    bad.write_text("metal,score\nCu,1\n")
    with pytest.raises(ConfigError, match=r"sites\.csv: a site list needs the columns m1 and m2"):
        read_sites(bad, "melon")
    with pytest.raises(ConfigError, match="cannot read the site list"):
        read_sites(tmp_path / "missing.csv", "melon")
