"""The labelling runner: runs a strategy's tasks against a store. It claims tasks (so that
several processes share one database without repeating work), reads each task's inputs, has
the strategy compute its records, and writes them in one transaction; Dask execution plugs in
from outside (:mod:`dacscreen.data.labelling.on_dask`), with workers that never touch the store."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from ase import Atoms

from dacscreen.config import LabelConfig
from dacscreen.data.labelling.policy import Outcome, Schedule
from dacscreen.data.labelling.strategies import Strategy, strategy_for
from dacscreen.data.labelling.tasks import Task, TaskInputs
from dacscreen.data.store import Record, Store, record_to_atoms

CLAIM_POLL_S = 2.0
"""Seconds between checks while another process relaxes a clean site this task needs."""


class Labeller:
    """Runs the tasks of ``cfg`` (its :class:`Strategy`) and writes them to ``store``."""

    def __init__(self, cfg: LabelConfig, store: Store) -> None:
        self.cfg = cfg
        self.store = store
        self.strategy: Strategy = strategy_for(cfg)
        self.method = self.strategy.method
        self.policy = Schedule(cfg, self.rows, self.retryable)
        self.ran = 0
        """Tasks this labeller computed and wrote (references excluded)."""

    @property
    def calc(self) -> Any:
        """The strategy's ASE calculator, created on first use."""
        return self.strategy.calculation.calc

    @property
    def failed(self) -> list[str]:
        """Tasks whose single point did not converge (not stored; retried on the next run)."""
        return self.strategy.failed

    def rows(self, key: str) -> list[Any]:
        """The stored site records of the task ``key`` (:meth:`Store.site_rows`)."""
        return self.store.site_rows(task=key)

    def plan(self) -> list[Task]:
        """The strategy's task list."""
        return self.strategy.plan(self.store)

    def pending(self, tasks: list[Task]) -> list[Task]:
        """Tasks not yet in the store, and stored ones that :meth:`retryable` allows."""
        return [t for t in tasks if not self.rows(t.key) or self.retryable(t)]

    def schedule(self, todo: list[Task]) -> Iterator[Task]:
        """``todo`` in the policy's order (:meth:`Schedule.order`)."""
        return self.policy.order(todo)

    def outcome(self, task: Task) -> Outcome:
        """``valid``, ``exhausted`` or ``open`` (:meth:`Schedule.outcome`)."""
        return self.policy.outcome(task)

    def retryable(self, task: Task) -> bool:
        """Whether a stored task goes on (the strategy's rule)."""
        return self.strategy.retryable(self.store, task, self.rows(task.key))

    def tried(self, task: Task) -> set[str]:
        """Orientations of ``task`` already relaxed and stored."""
        return {str(r.orientation) for r in self.rows(task.key)}

    def run_references(self, metals: list[str]) -> None:
        """Compute and store the references the strategy needs that are missing, each under
        its own claim (done, or another process is on it: skipped)."""
        for key, job in self.strategy.references(self.store, metals):
            if not self.store.claim(key):
                continue
            try:
                record = job()
                if record is not None:
                    self.store.write_records([record])
            finally:
                self.store.release(key)

    def run_task(self, task: Task) -> list[Record]:
        """Compute one task and write its records (one transaction). Returns the records."""
        records = self.compute(task, self.inputs(task))
        if records:
            self.store.write_records(records)
            self.ran += 1
        return records

    def run_claimed(self, task: Task) -> bool:
        """Run ``task`` under a claim in the store; False if it is done or another process
        holds it. A stored task is re-run under its own claim while it stays :meth:`retryable`."""
        retry = self.store.has_task(task.key)
        key = f"{task.key}|retry" if retry else task.key
        if not self.store.claim(key):
            return False
        try:
            if retry and not self.retryable(task):  # another process finished it
                return False
            self.run_task(task)
        finally:
            self.store.release(key)
        return True

    def inputs(self, task: Task) -> TaskInputs:
        """What ``task`` needs from the store (:class:`TaskInputs`)."""
        return self.strategy.inputs(self.store, task, self.clean_site)

    def compute(self, task: Task, inputs: TaskInputs | None = None) -> list[Record]:
        """The strategy's records of ``task``, without touching the store."""
        return self.strategy.compute(task, inputs or TaskInputs())

    def clean_site(self, task: Task) -> Atoms:
        """The relaxed clean site for ``task`` (labelled first if missing)."""
        clean = Task(task.host, task.metals, task.placement, "clean", task.method)
        while not self.rows(clean.key):
            if not self.run_claimed(clean):  # another process is relaxing it
                time.sleep(CLAIM_POLL_S)
        atoms = record_to_atoms(self.rows(clean.key)[0])
        atoms.info = {"host": task.host}
        return atoms
