"""``train --devices 2``: torchrun starts two gloo processes on the CPU; DDP trains, rank 0 saves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import yaml

from dacscreen.config import TrainConfig
from dacscreen.models.dataset import prepare
from dacscreen.models.ensemble import Ensemble
from tests.conftest import TINY_TRAIN


def test_two_process_data_parallel_training(tiny_store_path: Path, project_env: Path) -> None:
    cfg = project_env / "train.yaml"
    cfg.write_text(
        yaml.safe_dump({**TINY_TRAIN, "db": str(tiny_store_path), "out": str(project_env / "ddp")})
    )
    cmd = [sys.executable, "-m", "dacscreen.cli", "--json", "train", "--config", str(cfg), "--devices", "2"]
    res = subprocess.run(cmd, env=dict(os.environ), capture_output=True, text=True, timeout=600, check=False)
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads(res.stdout)  # rank 0 alone reports
    assert report["model"] == str(project_env / "ddp")
    ens = Ensemble.load(project_env / "ddp")
    assert len(ens.members) == 2
    pred = ens.predict(prepare(TrainConfig.model_validate({**TINY_TRAIN, "db": str(tiny_store_path)})).graphs)
    assert np.all(np.isfinite(pred["e_ads"]))
    mlflow.set_tracking_uri(os.environ["DACSCREEN_TRACKING_URI"])
    runs = mlflow.search_runs(experiment_names=["dacscreen"])
    assert list(runs["params.devices"]) == ["2"]  # one run, logged by rank 0 of a 2-process group
