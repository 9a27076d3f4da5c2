"""The MLflow model registry: a trained ensemble is registered, and loads back by URI."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from dacscreen import tracking
from dacscreen.errors import ModelError
from dacscreen.models.ensemble import Ensemble
from dacscreen.screening.predict import predict_sites
from dacscreen.site_key import SiteKey


@pytest.fixture
def tiny_registry(tiny_model: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Point the tracking store at the one the tiny model was trained into."""
    monkeypatch.setenv("DACSCREEN_TRACKING_URI", f"sqlite:///{tiny_model.parent}/mlflow.db")
    monkeypatch.setenv("DACSCREEN_CACHE_DIR", str(tmp_path / "cache"))
    tracking.configure()
    return "models:/dacscreen/1"


def test_registered_version_equals_the_saved_model(tiny_model: Path, tiny_registry: str) -> None:
    versions = mlflow.MlflowClient().search_model_versions("name='dacscreen'")
    assert [str(v.version) for v in versions] == ["1"]
    spec = [SiteKey("melon", "Cu", "Ni")]
    local = predict_sites(spec, Ensemble.load(tiny_model))[0]
    registered = predict_sites(spec, Ensemble.load(tiny_registry))[0]
    assert registered["e_ads_li2s2"] == pytest.approx(local["e_ads_li2s2"], abs=1e-6)


def test_pyfunc_predicts_sites_from_a_frame(tiny_model: Path, tiny_registry: str) -> None:
    model = mlflow.pyfunc.load_model(tiny_registry)
    out = model.predict(pd.DataFrame({"m1": ["Cu", "Ni"], "m2": ["Ni", ""]}))
    local = predict_sites(
        [SiteKey("melon", "Cu", "Ni"), SiteKey("melon", "Ni", "")], Ensemble.load(tiny_model)
    )
    assert len(out) == 2
    assert np.allclose(out["e_ads_li2s"], [r["e_ads_li2s"] for r in local], atol=1e-6)


def test_unknown_registered_model_is_a_clear_error(tiny_registry: str) -> None:
    with pytest.raises(ModelError, match="models:/nope/3"):
        Ensemble.load("models:/nope/3")
