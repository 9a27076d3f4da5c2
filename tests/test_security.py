"""Security basics: data is not code, YAML is safe, the dashboard stays local, no shells."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dacscreen.config import LabelConfig, load_config
from dacscreen.dashboard import exposure_warning, mlflow_command
from dacscreen.errors import ConfigError

SRC = Path(__file__).resolve().parents[1] / "src" / "dacscreen"


def test_yaml_with_python_tags_is_rejected(tmp_path: Path) -> None:
    evil = tmp_path / "evil.yaml"
    evil.write_text("fmax: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="malformed YAML"):
        load_config(LabelConfig, evil)


def test_dashboard_defaults_to_loopback_and_warns_when_exposed() -> None:
    cmd = mlflow_command("127.0.0.1", 5000)
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"
    assert exposure_warning("127.0.0.1") is None
    assert "reachable from other machines" in (exposure_warning("0.0.0.0") or "")


def test_no_shell_anywhere() -> None:
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"shell\s*=\s*True|os\.system\(|os\.popen\(", text), path


def test_import_path_calculators_documented_as_running_code() -> None:
    doc = (SRC / "data" / "calculators.py").read_text()
    assert "runs that module's code" in doc
