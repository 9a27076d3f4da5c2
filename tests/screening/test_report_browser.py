"""The screening report in a real headless Chromium: renders offline, no console errors."""

from __future__ import annotations

import html
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
    assert re.search(r'<figure id="heatmap"><div[^>]*>', dom.stdout) and "plotly" in dom.stdout
    assert re.search(r'id="heatmap-plot"[^>]*class="[^"]*js-plotly-plot', dom.stdout)  # drawn by plotly.js
    assert dom.stdout.count("<tr") >= 6  # header + the pairs
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


PROBE = """<!DOCTYPE html><html><body><pre id="result">pending</pre>
<iframe id="r" src="REPORT" width="1200" height="1600"></iframe>
<script>
// Drive the report as a reader would: hover a heat-map cell, sort the table by a column.
document.getElementById("r").addEventListener("load", function () {
  var w = this.contentWindow, d = w.document, out = {};
  setTimeout(function () {
    var heat = d.getElementById("heatmap-plot");
    w.Plotly.Fx.hover(heat, {xval: 0, yval: 1});  // the cell of column Cu, row Ni
    var label = d.querySelector("#heatmap-plot .hovertext");
    out.hover = label ? label.textContent : null;
    var table = d.getElementById("top-table"), heads = Array.from(table.tHead.rows[0].cells);
    var col = heads.findIndex(function (h) { return h.textContent === "e_ads_li2s2"; });
    heads[col].click();
    function column() {
      return Array.from(table.tBodies[0].rows).map(function (r) { return r.cells[col].textContent; });
    }
    out.sorted_up = column();
    heads[col].click();
    out.sorted_down = column();
    var f = d.getElementById("filter");
    f.value = "Zn"; f.dispatchEvent(new w.Event("input"));
    out.shown = Array.from(table.tBodies[0].rows).filter(function (r) { return r.style.display !== "none"; })
      .map(function (r) { return r.textContent; });
    document.getElementById("result").textContent = JSON.stringify(out);
  }, 500);
});
</script></body></html>"""


def test_report_hover_sort_and_filter(tiny_model: Path, tmp_path: Path) -> None:
    """In Chromium: hovering a heat-map cell shows the pair and its ΔG_RDS; clicking a header
    sorts the candidate table (up, then down); the filter box keeps only matching rows."""
    import json

    exe = _chromium()
    df = run_screen(ScreenConfig(metals=["Cu", "Ni", "Zn"], model=tiny_model, top=5), tmp_path)
    probe = tmp_path / "probe.html"
    probe.write_text(PROBE.replace("REPORT", (tmp_path / "report.html").resolve().as_uri()))
    dom = subprocess.run(
        [
            exe,
            *FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--allow-file-access-from-files",
            "--virtual-time-budget=20000",
            "--dump-dom",
            probe.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    found = re.search(r'<pre id="result">(.*?)</pre>', dom.stdout, re.S)
    assert found and found.group(1) != "pending", dom.stdout[-2000:]
    out = json.loads(html.unescape(found.group(1)))
    # cell [1, 0]: row Ni, column Cu, the pair stored in canonical order
    pair = df[df.m1.isin(["Cu", "Ni"]) & df.m2.isin(["Cu", "Ni"]) & (df.m1 != df.m2)].iloc[0]
    assert f"{pair.m1}–{pair.m2}" in out["hover"] and f"{pair.dg_rds:+.2f}" in out["hover"], out["hover"]
    up = [float(v) for v in out["sorted_up"]]
    assert up == sorted(up) and [float(v) for v in out["sorted_down"]] == sorted(up, reverse=True)
    assert out["shown"] and all("Zn" in row for row in out["shown"])
    assert len(out["shown"]) == int(((df.m1 == "Zn") | (df.m2 == "Zn")).sum() - 1)  # pairs with Zn
