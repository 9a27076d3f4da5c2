"""Run from any folder: the shipped data and model are found (the checkout's, or DACSCREEN_HOME)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dacscreen.config import Settings

CHECKOUT = Path(__file__).resolve().parents[1]


def test_settings_point_at_the_checkout_from_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for key in ("DACSCREEN_SHARDS", "DACSCREEN_DB"):
        monkeypatch.delenv(key, raising=False)
    s = Settings()
    assert s.shards == CHECKOUT / "data" / "labels" and s.model == CHECKOUT / "data" / "models" / "default"
    assert Path(s.db).parent == CHECKOUT / "data" / "cache"
    monkeypatch.setenv("DACSCREEN_DB", "mine.db")  # a value the user sets is taken as given
    assert Settings().db == "mine.db"


def _outside(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DACSCREEN_")}
    env["DACSCREEN_DB"] = str(tmp_path / "store.db")  # built from the checkout's shards
    cli = [sys.executable, "-c", "from dacscreen.cli import app; app()", "--json", *args]
    return subprocess.run(
        cli, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def test_info_and_screen_from_another_folder(tmp_path: Path) -> None:
    info = _outside(tmp_path, "dataset", "info")
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["sites"] >= 434
    screen = _outside(tmp_path, "screen", "--metals", "Cu", "Ni", "--out", "out")
    assert screen.returncode == 0, screen.stderr
    assert (tmp_path / "out" / "candidates.csv").is_file()
