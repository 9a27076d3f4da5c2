"""The labelling policy on plain rows: no store, no calculator (issue: Labeller split)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dacscreen.config import LabelConfig
from dacscreen.data.labelling.policy import Schedule, relaxation_retryable, to_continue
from dacscreen.data.labelling.tasks import Task


class Row(dict):
    """A store row as the policy reads it: attributes and ``get``."""

    __getattr__ = dict.__getitem__


def row(orientation: str, best: bool = False, converged: bool = True, anomaly: str = "", **extra: Any) -> Row:
    return Row(
        rid=f"r|{orientation}",
        orientation=orientation,
        best=best,
        converged=converged,
        anomaly=anomaly,
        **extra,
    )


CFG = LabelConfig(fallback_orientations=1, max_orientations=2)
TASK = Task("melon", ("Cu", "Ni"), 0, "Li2S2", "m")
NO_TEMPLATES = set


def test_a_valid_label_stands_and_an_invalid_task_retries_up_to_the_cap() -> None:
    assert not relaxation_retryable(CFG, TASK, [row("bridge", best=True)], NO_TEMPLATES)
    assert relaxation_retryable(CFG, TASK, [row("bridge", anomaly="desorbed")], NO_TEMPLATES)
    three = [row(o, anomaly="desorbed") for o in ("bridge", "top1", "top2")]  # max_starts = 3
    assert not relaxation_retryable(CFG, TASK, three, NO_TEMPLATES)
    assert not relaxation_retryable(CFG, replace(TASK, state="clean"), [row("none")], NO_TEMPLATES)


def test_an_untried_template_counts_as_a_start_left() -> None:
    every = [row(o, anomaly="desorbed") for o in ("bridge", "top1", "top2", "li_n")]
    uncapped = CFG.model_copy(update={"fallback_orientations": None})
    assert not relaxation_retryable(uncapped, TASK, every, NO_TEMPLATES)
    assert relaxation_retryable(uncapped, TASK, every, lambda: {"template:Ni"})


def test_a_full_search_state_goes_on_while_an_orientation_is_untried() -> None:
    full = CFG.model_copy(update={"full_search_states": ["Li2S2"]})
    assert relaxation_retryable(full, TASK, [row("bridge", best=True)], NO_TEMPLATES)
    tried = [row(o, best=o == "top1") for o in ("bridge", "top1", "top2", "li_n")]
    assert not relaxation_retryable(full, TASK, tried, NO_TEMPLATES)


def test_a_capped_start_is_continued_once() -> None:
    cfg = CFG.model_copy(update={"continue_steps": 50})
    capped = row("bridge", converged=False)
    assert to_continue(cfg, [capped]) == [capped]
    assert to_continue(cfg, [capped, row("bridge+", continues="r|bridge")]) == []
    assert to_continue(CFG, [capped]) == []  # continue_steps 0: off


def test_schedule_runs_the_intermediates_of_an_exhausted_site_last() -> None:
    cfg = LabelConfig(states=["clean", "Li2S2"], fallback_orientations=0, max_orientations=1)
    stored = {replace(TASK, state="Li2S2").key: [row("bridge", anomaly="desorbed")]}
    schedule = Schedule(cfg, lambda key: stored.get(key, []), lambda t: False)
    other = Task("melon", ("Fe",), 0, "S8", "m")
    todo = [replace(TASK, state="S8"), other, replace(TASK, state="Li2S2")]
    assert schedule.outcome(replace(TASK, state="Li2S2")) == "exhausted"
    assert list(schedule.order(todo)) == [other, replace(TASK, state="Li2S2"), replace(TASK, state="S8")]
