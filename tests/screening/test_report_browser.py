"""The screening report in a real headless Chromium: renders offline, no console errors."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from dacscreen.config import ScreenConfig
from dacscreen.screening.runner import run_screen

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "out" / "test-artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
]


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("chromium is not installed (.ci/run installs Debian's chromium)")
    return exe


def test_report_renders(tiny_model: Path, tmp_path: Path) -> None:
    exe = _chromium()
    run_screen(ScreenConfig(metals=["Cu", "Ni", "Zn"], model=tiny_model, top=5), tmp_path)
    url = (tmp_path / "report.html").resolve().as_uri()
    profile = tmp_path / "profile"
    dom = subprocess.run(
        [exe, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert re.search(r'<figure id="heatmap"><img[^>]+src="data:image/png;base64,', dom.stdout)
    assert dom.stdout.count("<tr") >= 6  # header + 5 rows of the top-K table
    assert 'id="top-table"' in dom.stdout
    console_errors = [ln for ln in dom.stderr.splitlines() if "CONSOLE" in ln and "ERROR" in ln.upper()]
    assert not console_errors, console_errors
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report.png"
    subprocess.run(
        [exe, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}", "--window-size=1200,1600", url],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.stat().st_size > 10_000
