"""A tiny Optuna study on the tiny store: trials are stored and the study resumes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
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


def test_killed_study_resumes_to_the_same_trial_count(tiny_store_path: Path, tmp_path: Path) -> None:
    """SIGKILL part-way through a trial, re-run: the dead trial is marked failed (its heartbeat
    stopped), and the study ends with the asked-for number of finished trials."""
    import optuna

    train = {
        **TINY_TRAIN,
        "db": str(tiny_store_path),
        "epochs": 30,
        "patience": 100,
        "out": str(tmp_path / "m"),
    }
    storage = f"sqlite:///{tmp_path}/optuna.db"
    path = tmp_path / "tune.yaml"
    path.write_text(yaml.safe_dump({"train": train, "n_trials": 2, "storage": storage, "heartbeat_s": 1}))
    env = {
        **os.environ,
        "DACSCREEN_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db",
        "DACSCREEN_ARTIFACT_ROOT": str(tmp_path / "art"),
        "DACSCREEN_CACHE_DIR": str(tmp_path / "cache"),
        "OMP_NUM_THREADS": "1",
    }
    cmd = [sys.executable, "-m", "dacscreen.cli", "-q", "tune", "--config", str(path)]
    proc = subprocess.Popen(cmd, env=env)
    deadline = time.time() + 300
    running = optuna.trial.TrialState.RUNNING
    while time.time() < deadline and proc.poll() is None:
        try:
            trials = optuna.load_study(study_name="dacscreen", storage=storage).trials
        except KeyError:  # study not created yet
            trials = []
        if any(t.state == running and t.intermediate_values for t in trials):
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.2)
    assert proc.wait() == -signal.SIGKILL, "the study finished before it could be killed"
    time.sleep(3)  # two missed heartbeats
    assert subprocess.run(cmd, env=env, check=False).returncode == 0
    study = optuna.load_study(study_name="dacscreen", storage=storage)
    states = [t.state for t in study.trials]
    finished = [s for s in states if s in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)]
    assert len(finished) == 2
    assert running not in states
    assert optuna.trial.TrialState.FAIL in states  # the killed trial, not silently lost
