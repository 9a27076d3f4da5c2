"""Labelling policy on plain store rows: when a stored relaxation task goes on, which starts to
continue, and in which order tasks run. Nothing here computes or writes; rows are anything with
the store's row attributes and ``get`` (tests use plain objects)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any, Literal

from dacscreen.config import LabelConfig
from dacscreen.data.adsorbates import orientations
from dacscreen.data.labelling.tasks import ALL_STATES, Task

Outcome = Literal["valid", "exhausted", "open"]


def to_continue(cfg: LabelConfig, rows: list[Any]) -> list[Any]:
    """Stored rows of one task that hit the step cap without an anomaly and have no
    continuation yet (none unless ``continue_steps`` is set)."""
    if not cfg.continue_steps or cfg.single_point_of:
        return []
    continued = {r.get("continues") for r in rows}
    return [
        r
        for r in rows
        if not r.converged and not r.anomaly and not r.get("continues") and r.rid not in continued
    ]


def relaxation_retryable(
    cfg: LabelConfig, task: Task, rows: list[Any], templates: Callable[[], set[str]]
) -> bool:
    """Whether a stored relaxation task (its ``rows``) goes on, adding records and never
    rewriting any:

    * one without a valid record (every start anomalous or unconverged) while an offered
      orientation or template (``templates()``, the start names offered without a valid label)
      is still untried, up to ``max_starts``;
    * one of ``full_search_states`` with an untried orientation (a lower valid minimum
      supersedes its label);
    * one with a start to continue (:func:`to_continue`).
    """
    if task.state == "clean" or not rows:
        return False
    if to_continue(cfg, rows):
        return True
    tried = {str(r.orientation) for r in rows}
    untried = set(orientations(len(task.metals), task.state)) - tried
    valid = any(r.get("best") for r in rows)
    if task.state in cfg.full_search_states and (untried or valid):
        return bool(untried)
    if valid:
        return False
    untried |= templates() - tried
    return bool(untried) and (cfg.max_starts is None or len(rows) < cfg.max_starts)


class Schedule:
    """Task order given the stored ``rows`` of a task key and whether a task is ``retryable``."""

    def __init__(
        self, cfg: LabelConfig, rows: Callable[[str], list[Any]], retryable: Callable[[Task], bool]
    ) -> None:
        self.cfg = cfg
        self.rows = rows
        self.retryable = retryable

    def order(self, todo: list[Task]) -> Iterator[Task]:
        """``todo`` in order, each task checked when its turn comes (``defer_incomplete``):

        * a further intermediate of a site that cannot get all seven states (:meth:`incomplete`)
          runs after every other task;
        * one whose site has an earlier ``fail_first`` state still open (:meth:`undecided`:
          another process is relaxing it) waits and runs once that state is decided, so that
          parallel labellers spread over sites instead of running ahead on one whose SRR profile
          may not complete. With nothing else left, a waiting task runs anyway.
        """
        if not self.cfg.defer_incomplete:
            yield from todo
            return
        queue, waiting, last = deque(todo), [], []
        while queue or waiting:
            ready = next((t for t in waiting if not self.undecided(t)), None)
            if ready is None and queue:
                task = queue.popleft()
                if self.undecided(task):
                    waiting.append(task)
                    continue
            else:
                task = ready or waiting[0]
                waiting.remove(task)
            if self.incomplete(task):
                last.append(task)
            else:
                yield task
        yield from last

    def outcome(self, task: Task) -> Outcome:
        """``valid``: the task has a ``best`` record; ``exhausted``: it is stored without one and
        has no start left; ``open``: not stored yet, or starts remain."""
        rows = self.rows(task.key)
        if any(r.get("best") for r in rows):
            return "valid"
        return "exhausted" if rows and not self.retryable(task) else "open"

    def incomplete(self, task: Task) -> bool:
        """Whether ``task`` is a further intermediate (not a core state) of a site on which some
        state is exhausted (:meth:`outcome`)."""
        if self.core(task):
            return False
        states = (st for st in ALL_STATES if st != task.state)
        return any(self.outcome(replace(task, state=st)) == "exhausted" for st in states)

    def undecided(self, task: Task) -> bool:
        """Whether a ``fail_first`` state before ``task``'s on its site is still open."""
        if self.core(task):
            return False
        order = self.cfg.fail_first
        before = order[: order.index(task.state)] if task.state in order else order
        return any(self.outcome(replace(task, state=st)) == "open" for st in before)

    def core(self, task: Task) -> bool:
        """Whether ``task`` is of a core state (the clean site or one of ``cfg.states``)."""
        return task.state == "clean" or task.state in self.cfg.states
