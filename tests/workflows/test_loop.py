"""Two rounds of the active-learning loop end to end, CHGNet standing in for DFT."""

from __future__ import annotations

from pathlib import Path

from dacscreen.config import LoopConfig
from dacscreen.data.store import Store
from dacscreen.workflows.loop import run_loop
from tests.conftest import TINY_LABEL, TINY_TRAIN


def test_two_rounds(tiny_store: Path, project_env: Path) -> None:
    cfg = LoopConfig.model_validate(
        {
            "rounds": 2,
            "batch": 1,
            "base_method": next(Store(tiny_store).rows(kind="site")).method,
            "train": TINY_TRAIN,
            "screen": {"metals": ["Cu", "Ni", "Zn"], "top": 3},
            "verify": {
                **{k: v for k, v in TINY_LABEL.items() if k not in {"limit", "all_states_sites"}},
                "method_label": "chgnet-verify",
                "states": ["clean"],
                "dband_calculator": None,
            },
            "out": str(project_env / "loop"),
        }
    )
    history = run_loop(cfg, str(tiny_store))
    assert [h["round"] for h in history] == [0, 1]
    assert history[0]["verified_tasks"] == 1 and history[1]["verified_tasks"] == 1
    assert history[0]["picked"] != history[1]["picked"]  # a verified site is not picked again
    assert history[1]["verified_sites_total"] == 2
    store = Store(tiny_store)
    assert store.count(method="chgnet-verify", kind="reference") > 0
    assert (project_env / "loop" / "round-1" / "jobs" / "manifest.json").is_file()
    assert (project_env / "loop" / "round-1" / "model" / "meta.json").is_file()
