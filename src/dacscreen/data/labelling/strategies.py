"""The two ways of labelling behind one small protocol: :class:`Relaxation` (relax each site
and state with the configured calculator) and :class:`SinglePoint` (ML+SP: evaluate another
method's relaxed geometries). A strategy plans tasks, gathers a task's inputs from the store,
computes records with the recipes (no store: it can run on a Dask worker), says whether a
stored task goes on, and lists the references it needs. The runner claims, reads and writes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from ase import Atoms

from dacscreen.config import LabelConfig
from dacscreen.data.calculators import method_string
from dacscreen.data.dft import SCFConvergenceError
from dacscreen.data.host_adsorption import reference_name
from dacscreen.data.labelling import recipes
from dacscreen.data.labelling.calculation import Calculation
from dacscreen.data.labelling.policy import relaxation_retryable, to_continue
from dacscreen.data.labelling.tasks import ALL_STATES, Task, TaskInputs, plan, plan_single_points
from dacscreen.data.references import reference_structures
from dacscreen.data.store import Record, Store, record_to_atoms
from dacscreen.thermo import SRR_SPECIES

log = logging.getLogger(__name__)

Job = tuple[str, Callable[[], Record | None]]
"""A reference to compute: its store key and the computation (None: nothing to store)."""


class Strategy(Protocol):
    """What the runner needs of a way of labelling."""

    cfg: LabelConfig
    method: str
    calculation: Calculation
    failed: list[str]

    def plan(self, store: Store) -> list[Task]: ...

    def inputs(self, store: Store, task: Task, clean_site: Callable[[Task], Atoms]) -> TaskInputs: ...

    def compute(self, task: Task, inputs: TaskInputs) -> list[Record]: ...

    def retryable(self, store: Store, task: Task, rows: list[Any]) -> bool: ...

    def references(self, store: Store, metals: list[str]) -> list[Job]: ...


class Relaxation:
    """Relax every start of a task with the configured calculator (:mod:`recipes`)."""

    def __init__(self, cfg: LabelConfig, method: str, calculation: Calculation) -> None:
        self.cfg, self.method, self.calculation = cfg, method, calculation
        self.failed: list[str] = []

    def plan(self, store: Store) -> list[Task]:
        """:func:`~dacscreen.data.labelling.tasks.plan`, with the metals already covered."""
        return plan(self.cfg, self.method, covered=self.covered_metals(store))

    def covered_metals(self, store: Store) -> set[str]:
        """Metals on a site of ``cfg.host`` with a valid record of all seven states."""
        have: dict[tuple[str, str], set[str]] = {}
        for r in store.site_rows(best=True, host=self.cfg.host, method=self.method):
            have.setdefault((r.m1, r.m2), set()).add(r.adsorbate)
        return {m for site, states in have.items() if set(ALL_STATES) <= states for m in site if m}

    def inputs(self, store: Store, task: Task, clean_site: Callable[[Task], Atoms]) -> TaskInputs:
        """The relaxed clean site, templates, tried starts, label floor and starts to resume."""
        if task.state == "clean":
            return TaskInputs()
        rows = store.site_rows(task=task.key)
        floor = min((float(r.energy) for r in rows if r.get("best")), default=None)
        tried = frozenset(str(r.orientation) for r in rows)
        resume = tuple(record_to_atoms(r) for r in to_continue(self.cfg, rows))
        valid = any(r.get("best") for r in rows)
        templates = tuple(
            (name, record_to_atoms(row)) for name, row in self.template_rows(store, task, valid)
        )
        return TaskInputs(clean_site(task), templates, tried, floor, resume)

    def compute(self, task: Task, inputs: TaskInputs) -> list[Record]:
        """Relax the clean site, or the adsorbate's starts on ``inputs.clean``."""
        if task.state == "clean":
            return [recipes.relax_clean(task, self.calculation, self.cfg, self.method)]
        if inputs.clean is None:
            raise ValueError(f"task {task.key} needs its relaxed clean site")
        return recipes.relax_adsorbate(task, inputs.clean, inputs, self.calculation, self.cfg, self.method)

    def retryable(self, store: Store, task: Task, rows: list[Any]) -> bool:
        """:func:`~dacscreen.data.labelling.policy.relaxation_retryable`."""
        names = lambda: {name for name, _ in self.template_rows(store, task, valid=False)}  # noqa: E731
        return relaxation_retryable(self.cfg, task, rows, names)

    def template_rows(self, store: Store, task: Task, valid: bool = True) -> list[tuple[str, Any]]:
        """Valid relaxed records of ``task.state`` on other sites to start from, as (start name,
        row); none if ``cfg.templates`` is off.

        First ``template``: the first record on a site of the same size (single atom or pair).
        Then, for a state outside ``full_search_states`` (or one of them whose task has no
        ``valid`` record after every offered start), up to ``cfg.template_donors`` records
        of other sites of either size, those sharing more metals with the task first, as
        ``template:M1-M2``: a binding mode that stays intact on one site often does on another
        (``benchmarks/results/template_donors.md``), where starts built from scratch dissociate."""
        if not self.cfg.templates:
            return []
        query = {
            "host": task.host,
            "adsorbate": task.state,
            "placement": task.placement,
            "method": task.method,
        }
        rows = [
            r
            for r in store.site_rows(best=True, **query)
            if not r.anomaly and not task.key.startswith(_site_prefix(r))
        ]
        same = next((r for r in rows if bool(r.m2) == (len(task.metals) > 1)), None)
        out = [("template", same)] if same is not None else []
        if task.state in self.cfg.full_search_states and valid:
            return out
        donors = sorted(
            (r for r in rows if r is not same), key=lambda r: -len(set(task.metals) & {r.m1, r.m2})
        )
        return out + [(f"template:{r.m1}-{r.m2}".rstrip("-"), r) for r in donors[: self.cfg.template_donors]]

    def references(self, store: Store, metals: list[str]) -> list[Job]:
        """Li, molecules, bulk metals and the host, then the host reference of each state."""
        jobs: list[Job] = []
        for name, (atoms, cell) in reference_structures(self.cfg.host, metals, list(SRR_SPECIES)).items():
            key = f"ref|{name}|{self.method}"
            jobs.append((key, lambda k=key, n=name, a=atoms, c=cell: self._reference(k, n, a, c)))
        for state in self.cfg.states:
            if state != "clean":
                name = reference_name(self.cfg.host, state)
                jobs.append((f"ref|{name}|{self.method}", lambda n=name, s=state: self._bare_host(n, s)))
        return jobs

    def _reference(self, key: str, name: str, atoms: Atoms, cell: bool) -> Record:
        return recipes.relax_reference(key, name, atoms, cell, self.calculation, self.cfg, self.method)

    def _bare_host(self, name: str, state: str) -> Record | None:
        key = f"ref|{name}|{self.method}"
        record = recipes.bare_host_reference(key, name, state, self.calculation, self.cfg, self.method)
        if record is None:
            log.warning("%s: no valid relaxation on the bare host", name)
        return record


class SinglePoint:
    """ML+SP: single points on the best records of ``cfg.single_point_of`` (:mod:`recipes`);
    a single point whose SCF does not converge gives no record (logged in :attr:`failed`, and
    retried on the next run)."""

    def __init__(self, cfg: LabelConfig, method: str, calculation: Calculation) -> None:
        self.cfg, self.method, self.calculation = cfg, method, calculation
        self.failed: list[str] = []

    def plan(self, store: Store) -> list[Task]:
        """:func:`~dacscreen.data.labelling.tasks.plan_single_points`."""
        return plan_single_points(self.cfg, self.method, store)

    def inputs(self, store: Store, task: Task, clean_site: Callable[[Task], Atoms]) -> TaskInputs:
        """The source record to evaluate; none, with a warning, when the source method has no
        best record (e.g. every relaxation was anomalous)."""
        row = self.source_row(store, task)
        if row is None:
            log.warning("%s: no best %s record to evaluate; skipped", task.key, self.cfg.single_point_of)
            return TaskInputs()
        return TaskInputs(record_to_atoms(row))

    def compute(self, task: Task, inputs: TaskInputs) -> list[Record]:
        """The single point of ``inputs.clean`` (the source record), if any."""
        if inputs.clean is None:
            return []
        try:
            return [recipes.single_point(task, inputs.clean, self.calculation, self.cfg, self.method)]
        except SCFConvergenceError as exc:
            log.warning("%s: %s", task.key, exc)
            self.failed.append(task.key)
            return []

    def retryable(self, store: Store, task: Task, rows: list[Any]) -> bool:
        """A stored single point goes on when its source is no longer the best record."""
        if task.state == "clean" or not rows:
            return False
        src = self.source_row(store, task)
        return src is not None and all(r.get("source") != src.rid for r in rows)

    def source_row(self, store: Store, task: Task) -> Any:
        """The best ``single_point_of`` row of the task's site and state, or None."""
        m2 = task.metals[1] if len(task.metals) > 1 else ""
        query = {"host": task.host, "m1": task.metals[0], "m2": m2, "placement": task.placement}
        rows = store.rows(
            kind="site", best=True, adsorbate=task.state, method=self.cfg.single_point_of, **query
        )
        return next(rows, None)

    def references(self, store: Store, metals: list[str]) -> list[Job]:
        """Single points on the source method's relaxed references (bulk metals left out when
        ``single_point_references`` is ``adsorption``)."""
        jobs: list[Job] = []
        for row in store.rows(kind="reference", method=self.cfg.single_point_of):
            if self.cfg.single_point_references == "adsorption" and row.ref.startswith("bulk_"):
                continue
            key = f"ref|{row.ref}|{self.method}"
            jobs.append((key, lambda k=key, r=row: self._reference(k, r)))
        return jobs

    def _reference(self, key: str, row: Any) -> Record | None:
        try:
            return recipes.single_point_reference(
                key, row.ref, record_to_atoms(row), self.calculation, self.method
            )
        except SCFConvergenceError as exc:
            log.warning("reference %s: %s", row.ref, exc)
            return None


def strategy_for(cfg: LabelConfig) -> Strategy:
    """The strategy of ``cfg``: single points when ``single_point_of`` is set, else relaxation;
    its method is ``method_label``, else the calculator's own string."""
    method = cfg.method_label or method_string(cfg.calculator.name, cfg.calculator.kwargs)
    calculation = Calculation(cfg.calculator, dband=cfg.dband_calculator is not None)
    kind = SinglePoint if cfg.single_point_of else Relaxation
    return kind(cfg, method, calculation)


def _site_prefix(row: Any) -> str:
    """``host|M1|M2|placement|`` of a stored site record: the start of its task keys."""
    return f"{row.host}|{row.m1}|{row.m2 or ''}|{row.placement}|"
