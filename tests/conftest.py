"""Shared fixtures: a tiny but real labelled store (CHGNet relaxations, capped steps)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")

TINY_LABEL = {
    "host": "melon",
    "metals": ["Cu", "Ni", "Zn"],
    "limit": 4,
    "states": ["clean", "Li2S2", "Li2S"],
    "all_states_sites": 1,
    "steps": 15,
    "fmax": 0.3,
    "max_orientations": 1,
    "fallback_orientations": 2,
}


@pytest.fixture(autouse=True)
def _no_shipped_shards(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests build their own stores; the shipped shards are not loaded into them, and the
    default store, MLflow store and caches are fresh ones per test (never the checkout's)."""
    monkeypatch.setenv("DACSCREEN_SHARDS", str(tmp_path / "no-shards"))
    monkeypatch.setenv("DACSCREEN_DB", str(tmp_path / "default-store.db"))
    monkeypatch.setenv("DACSCREEN_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.setenv("DACSCREEN_ARTIFACT_ROOT", str(tmp_path / "mlartifacts"))
    monkeypatch.setenv("DACSCREEN_CACHE_DIR", str(tmp_path / "cache"))


def tiny_label_config(db: Path, **extra: object):  # type: ignore[no-untyped-def]
    """A LabelConfig that labels four sites with a few CHGNet steps each."""
    from dacscreen.config import LabelConfig

    return LabelConfig.model_validate({**TINY_LABEL, "db": str(db), **extra})


@pytest.fixture(scope="session")
def tiny_store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store labelled once per session: Cu–Ni (all states), Cu, Ni, Zn on melon."""
    from dacscreen.data.labelling import Labeller, plan
    from dacscreen.data.store import Store

    path = tmp_path_factory.mktemp("store") / "tiny.db"
    cfg = tiny_label_config(path)
    lab = Labeller(cfg, Store(path))
    lab.run_references(cfg.metals)
    for task in lab.pending(plan(cfg, lab.method)):
        lab.run_task(task)
    return path


@pytest.fixture
def tiny_store(tiny_store_path: Path, tmp_path: Path) -> Path:
    """A private copy of the session store that a test may modify."""
    dst = tmp_path / "store.db"
    shutil.copy(tiny_store_path, dst)
    return dst


@pytest.fixture
def project_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the tracking store, caches and shards at a temporary directory."""
    monkeypatch.setenv("DACSCREEN_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.setenv("DACSCREEN_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    monkeypatch.setenv("DACSCREEN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DACSCREEN_SHARDS", str(tmp_path / "no-shards"))
    return tmp_path


TINY_TRAIN = {
    "targets": ["S8", "Li2S8", "Li2S6", "Li2S4", "Li2S2", "Li2S"],
    "model": {"arch": "painn", "hidden": 16, "layers": 2, "n_rbf": 8, "ensemble": 2},
    "split": {"kind": "leave-metal-out", "test_metals": ["Zn"], "val_fraction": 0.3},
    "epochs": 3,
    "batch_size": 4,
}


@pytest.fixture(scope="session")
def tiny_model(tiny_store_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-member ensemble trained for a few epochs on the tiny store."""
    from dacscreen.config import TrainConfig
    from dacscreen.models.fit import train_ensemble

    root = tmp_path_factory.mktemp("model")
    mp = pytest.MonkeyPatch()
    mp.setenv("DACSCREEN_TRACKING_URI", f"sqlite:///{root}/mlflow.db")
    mp.setenv("DACSCREEN_ARTIFACT_ROOT", str(root / "artifacts"))
    mp.setenv("DACSCREEN_CACHE_DIR", str(root / "cache"))
    mp.setenv("DACSCREEN_SHARDS", str(root / "no-shards"))
    cfg = TrainConfig.model_validate({**TINY_TRAIN, "db": str(tiny_store_path), "out": str(root / "ens")})
    train_ensemble(cfg)
    mp.undo()
    return root / "ens"
