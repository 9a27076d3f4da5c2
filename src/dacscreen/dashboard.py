"""``dacscreen dashboard``: the MLflow UI (and optionally optuna-dashboard) on the project's
own tracking store, stopped cleanly on Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from dacscreen.config import Settings
from dacscreen.errors import DacscreenError

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def exposure_warning(host: str) -> str | None:
    """A warning when the dashboard is reachable from other machines (no authentication)."""
    if host in LOOPBACK:
        return None
    return (
        f"the dashboard binds {host} and is reachable from other machines without "
        "authentication; use --host 127.0.0.1 unless that is intended"
    )


def mlflow_command(host: str, port: int, settings: Settings | None = None) -> list[str]:
    """The ``mlflow server`` command line for the project's store."""
    s = settings or Settings()
    uri = s.tracking_uri
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    s.artifact_root.mkdir(parents=True, exist_ok=True)
    return [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        uri,
        "--default-artifact-root",
        s.artifact_root.resolve().as_uri(),
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        "1",
    ]


def optuna_command(storage: str, host: str, port: int) -> list[str]:
    """The optuna-dashboard command line (the package is an optional extra)."""
    exe = shutil.which("optuna-dashboard")
    if exe is None:
        raise DacscreenError("optuna-dashboard is not installed: pip install optuna-dashboard")
    return [exe, storage, "--host", host, "--port", str(port)]


def serve(commands: list[list[str]]) -> int:
    """Start the servers and wait; Ctrl-C (SIGINT) or SIGTERM stops them all.

    Both handlers are installed explicitly: a process started in the background by a shell
    without job control (``nohup dacscreen dashboard &``) inherits an ignored SIGINT. Each server
    runs in its own process group (MLflow's spawns uvicorn and job-runner processes), which is
    sent SIGTERM, then SIGKILL after 10 s, so that nothing is left behind."""
    procs = [subprocess.Popen(cmd, start_new_session=True) for cmd in commands]
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    while not stop and all(p.poll() is None for p in procs):
        time.sleep(0.5)
    for p in procs:
        _signal_group(p, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _signal_group(p, signal.SIGKILL)
            p.wait()
    return 0


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    """Send ``sig`` to the process group that ``proc`` leads (gone already: nothing to do)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
