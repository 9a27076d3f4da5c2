"""The dashboard serves the project's MLflow store: a just-trained run is visible over REST."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def test_dashboard_shows_training_run(tiny_model: Path) -> None:
    """The UI serves the training run; Ctrl-C stops it and its MLflow processes, even when the
    dashboard was started with SIGINT ignored (a background job of a non-interactive shell)."""
    root = tiny_model.parent
    port = _free_port()
    env = {
        **os.environ,
        "DACSCREEN_TRACKING_URI": f"sqlite:///{root}/mlflow.db",
        "DACSCREEN_ARTIFACT_ROOT": str(root / "artifacts"),
    }
    proc = subprocess.Popen(
        # SIGINT ignored and inherited through exec, as for `nohup dacscreen dashboard &`
        ["sh", "-c", f"trap '' INT; exec {sys.executable} -m dacscreen.cli dashboard --port {port}"],
        env=env,
    )
    base = f"http://127.0.0.1:{port}/api/2.0/mlflow"
    try:
        deadline = time.time() + 90
        exps = None
        while time.time() < deadline:
            try:
                exps = _get(f"{base}/experiments/search", {"max_results": 10})
                break
            except OSError:
                time.sleep(1)
        assert exps is not None, "MLflow server did not come up"
        ids = [e["experiment_id"] for e in exps["experiments"] if e["name"] == "dacscreen"]
        runs = _get(f"{base}/runs/search", {"experiment_ids": ids})["runs"]
        assert runs
        run = runs[0]
        metrics = {m["key"] for m in run["data"]["metrics"]}
        assert any(k.startswith("test.gnn_e_ads") for k in metrics)
        arts = _get(f"{base}/artifacts/list?run_id={run['info']['run_id']}")
        assert "parity_e_ads.png" in {f["path"] for f in arts.get("files", [])}
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    with pytest.raises(OSError):  # the server went with it
        _get(f"{base}/experiments/search", {"max_results": 10})


def test_after_the_demo_the_dashboard_lists_a_run_and_the_registered_model(tmp_path: Path) -> None:
    """`make demo`'s steps (register the shipped model, screen) leave an MLflow run and a
    registered model that the dashboard serves over REST; the README's models:/ example works."""
    import mlflow
    import pandas as pd
    from typer.testing import CliRunner

    from dacscreen.cli import app

    runner = CliRunner()
    first = runner.invoke(app, ["--json", "register"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, ["--json", "register"])
    assert json.loads(again.stdout)["version"] == json.loads(first.stdout)["version"]
    assert not json.loads(again.stdout)["new"]  # the same weights are registered once
    screen = runner.invoke(app, ["--json", "screen", "--metals", "Cu", "Ni", "--out", str(tmp_path / "out")])
    assert screen.exit_code == 0, screen.output
    run_id = json.loads(screen.stdout)["mlflow_run"]

    mlflow.set_tracking_uri(os.environ["DACSCREEN_TRACKING_URI"])
    rows = mlflow.pyfunc.load_model("models:/dacscreen@shipped").predict(
        pd.DataFrame({"m1": ["Cu"], "m2": ["Ni"]})
    )
    assert len(rows) == 1 and "e_ads_li2s2" in rows.columns

    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "dacscreen.cli", "dashboard", "--port", str(port)])
    base = f"http://127.0.0.1:{port}/api/2.0/mlflow"
    try:
        deadline, exps = time.time() + 90, None
        while time.time() < deadline and exps is None:
            try:
                exps = _get(f"{base}/experiments/search", {"max_results": 10})
            except OSError:
                time.sleep(1)
        assert exps is not None, "MLflow server did not come up"
        ids = [e["experiment_id"] for e in exps["experiments"] if e["name"] == "screening"]
        runs = _get(f"{base}/runs/search", {"experiment_ids": ids})["runs"]
        assert [r["info"]["run_id"] for r in runs] == [run_id]
        models = _get(f"{base}/registered-models/search")["registered_models"]
        shipped = next(m for m in models if m["name"] == "dacscreen")
        assert any(a["alias"] == "shipped" for a in shipped.get("aliases", []))
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
