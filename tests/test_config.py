"""Config loading: unknown keys and wrong types are errors naming the key and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from dacscreen.config import LabelConfig, ScreenConfig, load_config
from dacscreen.errors import ConfigError


def test_unknown_key_names_key_and_file(tmp_path: Path) -> None:
    cfg = tmp_path / "label.yaml"
    cfg.write_text("fmax: 0.1\nfmaxx: 0.2\n")
    with pytest.raises(ConfigError, match=r"label\.yaml: unknown key 'fmaxx'"):
        load_config(LabelConfig, cfg)


def test_wrong_type_names_key(tmp_path: Path) -> None:
    cfg = tmp_path / "screen.yaml"
    cfg.write_text("ranking:\n  max_delta_chi: lots\n")
    with pytest.raises(ConfigError, match=r"ranking\.max_delta_chi"):
        load_config(ScreenConfig, cfg)


def test_overrides_win(tmp_path: Path) -> None:
    cfg = tmp_path / "label.yaml"
    cfg.write_text("fmax: 0.1\nsteps: 10\n")
    out = load_config(LabelConfig, cfg, {"steps": 5, "fmax": None})
    assert out.steps == 5
    assert out.fmax == 0.1


def test_shipped_configs_validate() -> None:
    root = Path(__file__).parents[1] / "configs"
    assert load_config(LabelConfig, root / "label.yaml").host == "melon"


def test_missing_and_malformed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(LabelConfig, tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="malformed YAML"):
        load_config(LabelConfig, bad)


def test_configuration_reference_is_current() -> None:
    from dacscreen.config import reference_markdown

    doc = (Path(__file__).parents[1] / "docs" / "configuration.md").read_text()
    assert doc.strip() == reference_markdown().strip(), "regenerate docs/configuration.md"
