"""A tiny Optuna study on the tiny store: trials are stored and the study resumes."""

from __future__ import annotations

from pathlib import Path

import yaml

from dacscreen.config import TrainConfig, TuneConfig
from dacscreen.models.tune import run_study
from tests.conftest import TINY_TRAIN


def test_study_runs_and_resumes(tiny_store_path: Path, project_env: Path) -> None:
    train = TrainConfig.model_validate(
        {**TINY_TRAIN, "db": str(tiny_store_path), "epochs": 2, "out": str(project_env / "m")}
    )
    cfg = TuneConfig(train=train, n_trials=2, storage=f"sqlite:///{project_env}/optuna.db")
    first = run_study(cfg)
    assert first["trials"] == 2
    again = run_study(cfg.model_copy(update={"n_trials": 3}))
    assert again["trials"] == 3
    assert "lr" in again["best_params"]
    best = TrainConfig.model_validate(yaml.safe_load(Path(again["best_config"]).read_text()))
    assert best.lr == again["best_params"]["lr"]
