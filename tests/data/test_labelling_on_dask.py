"""Labelling through a real Dask scheduler with two workers equals the serial run."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dacscreen.data.labelling import Labeller, plan
from dacscreen.data.labelling.on_dask import run_distributed
from dacscreen.data.store import Store
from tests.conftest import tiny_label_config


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _energies(path: Path) -> dict[str, float]:
    return {r.rid: r.energy for r in Store(path).rows(kind="site")}


@pytest.fixture
def dask_cluster(tmp_path: Path):  # type: ignore[no-untyped-def]
    dask = shutil.which("dask", path=str(Path(sys.executable).parent)) or "dask"
    port = _port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            env=env,
            cwd=tmp_path,
        )
    ]
    time.sleep(3)
    for _ in range(2):
        procs.append(
            subprocess.Popen(
                [
                    dask,
                    "worker",
                    address,
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--local-directory",
                    str(tmp_path),
                ],
                env=env,
                cwd=tmp_path,
            )
        )
    time.sleep(5)
    yield address
    for p in procs[::-1]:
        p.terminate()
        p.wait(timeout=30)


def test_dask_equals_serial(tmp_path: Path, dask_cluster: str) -> None:
    extra = {
        "limit": 2,
        "templates": False,
        "dband_calculator": None,
        "references": False,
        "states": ["clean"],
        "all_states_sites": 0,
    }
    serial_db, dask_db = tmp_path / "serial.db", tmp_path / "dask.db"
    serial = Labeller(tiny_label_config(serial_db, **extra), Store(serial_db))
    tasks = plan(serial.cfg, serial.method)
    for t in tasks:
        serial.run_task(t)
    remote = Labeller(tiny_label_config(dask_db, scheduler=dask_cluster, workers=2, **extra), Store(dask_db))
    assert run_distributed(remote, tasks) == len(tasks)
    a, b = _energies(serial_db), _energies(dask_db)
    assert set(a) == set(b)
    assert {rid.rsplit("|", 1)[0] for rid in a} == {t.key for t in tasks}  # a record set per task
    for rid, e in a.items():
        assert abs(e - b[rid]) < 1e-3, rid
    assert run_distributed(remote, tasks) == 0  # nothing left: idempotent


def test_results_are_stored_while_the_schedule_is_walked(
    tmp_path: Path, dask_cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A finished task is written to the store before the schedule has yielded its last task:
    walking the schedule of a full store takes minutes, and a result held in memory meanwhile
    is lost when the run is stopped."""
    from distributed import Client

    extra = {"limit": 2, "templates": False, "dband_calculator": None, "references": False}
    extra |= {"states": ["clean"], "all_states_sites": 0}
    db = tmp_path / "dask.db"
    labeller = Labeller(tiny_label_config(db, scheduler=dask_cluster, workers=2, **extra), Store(db))
    first, second = plan(labeller.cfg, labeller.method)[:2]
    stored_during_walk: list[bool] = []

    def slow_schedule(pending: list) -> object:  # type: ignore[type-arg]
        yield first
        with Client(dask_cluster) as watcher:  # the first task's result reaches the scheduler
            deadline = time.time() + 300
            while not watcher.who_has().get(f"label-{first.key}") and time.time() < deadline:
                time.sleep(0.5)
        time.sleep(2)  # and from it the client's completion queue
        yield second
        stored_during_walk.append(labeller.store.has_task(first.key))

    monkeypatch.setattr(labeller, "schedule", slow_schedule)
    assert run_distributed(labeller, [first, second]) == 2
    assert stored_during_walk == [True]
