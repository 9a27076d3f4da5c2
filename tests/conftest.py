"""Shared fixtures: a tiny but real labelled store (CHGNet relaxations, capped steps)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")

TINY_LABEL = {
    "host": "melon",
    "metals": ["Cu", "Ni", "Zn"],
    "limit": 4,
    "states": ["clean", "Li2S2", "Li2S"],
    "all_states_sites": 1,
    "steps": 4,
    "fmax": 0.05,
    "max_orientations": 1,
}


def tiny_label_config(db: Path, **extra: object):  # type: ignore[no-untyped-def]
    """A LabelConfig that labels four sites with a few CHGNet steps each."""
    from dacscreen.config import LabelConfig

    return LabelConfig.model_validate({**TINY_LABEL, "db": str(db), **extra})


@pytest.fixture(scope="session")
def tiny_store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store labelled once per session: Cu–Ni (all states), Cu, Ni, Zn on melon."""
    from dacscreen.data.labelling import Labeller, plan
    from dacscreen.data.store import Store

    path = tmp_path_factory.mktemp("store") / "tiny.db"
    cfg = tiny_label_config(path)
    lab = Labeller(cfg, Store(path))
    lab.run_references(cfg.metals)
    for task in lab.pending(plan(cfg, lab.method)):
        lab.run_task(task)
    return path


@pytest.fixture
def tiny_store(tiny_store_path: Path, tmp_path: Path) -> Path:
    """A private copy of the session store that a test may modify."""
    dst = tmp_path / "store.db"
    shutil.copy(tiny_store_path, dst)
    return dst
