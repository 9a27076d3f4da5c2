"""The labelling job: relax every site and state with the configured labeller and store it.

Work is split into tasks, one per (host, site, placement, state, method); a task relaxes every
orientation of its adsorbate and writes all of them in one transaction, marking the
lowest-energy non-anomalous one ``best``. Finished tasks are skipped, so the job is idempotent
and a killed run resumes where it stopped without duplicates.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
from ase import Atoms
from ase.calculators.calculator import CalculationFailed

from dacscreen.config import LabelConfig
from dacscreen.data import anomalies
from dacscreen.data.adsorbates import orientations, place_adsorbate
from dacscreen.data.calculators import get_calculator, lowest_spin, method_string
from dacscreen.data.dft import SCFConvergenceError
from dacscreen.data.host_adsorption import reference_name, relax_on_bare_host
from dacscreen.data.hosts import default_supercell
from dacscreen.data.references import reference_structures
from dacscreen.data.relax import RelaxResult, relax, relax_cell
from dacscreen.data.sites import build_site, placements_for, site_keys
from dacscreen.data.store import Record, Store, record_to_atoms
from dacscreen.elements import check_metals
from dacscreen.site_key import SiteKey
from dacscreen.thermo import SRR_SPECIES

log = logging.getLogger(__name__)

PRIORITY = (("Cu", "Ni"), ("Cu",), ("Ni",))
"""The reference study's sites come first."""
ALL_STATES = ("clean", *SRR_SPECIES)
EARLY_FULL_SITES = 3
"""Sites that get all seven states before the core states of every other site."""
CLAIM_POLL_S = 2.0
"""Seconds between checks while another process relaxes a clean site this task needs."""


@dataclass(frozen=True)
class TaskInputs:
    """What a task needs from the store, gathered before it runs (possibly on a Dask worker)."""

    clean: Atoms | None = None
    """The relaxed clean site (adsorbate tasks), or the source record (ML+SP)."""
    templates: tuple[tuple[str, Atoms], ...] = ()
    """Relaxed records of the same state on other sites, as (start name, record): the first
    starts (:meth:`Labeller.template_rows`)."""
    tried: frozenset[str] = frozenset()
    """Orientations already relaxed and stored."""
    floor: float | None = None
    """Energy (eV) of the task's stored label, which a new start must undercut to supersede it."""
    resume: tuple[Atoms, ...] = ()
    """Stored starts that hit the step cap, to continue (:attr:`LabelConfig.continue_steps`)."""


@dataclass(frozen=True)
class Task:
    """One unit of labelling work."""

    host: str
    metals: tuple[str, ...]
    placement: int
    state: str
    method: str

    @property
    def site(self) -> SiteKey:
        """The task's site, metals in the task's order."""
        return SiteKey(
            self.host, self.metals[0], self.metals[1] if len(self.metals) > 1 else "", self.placement
        )

    @property
    def site_id(self) -> str:
        """``host|M1|M2|placement`` (M2 empty for a single atom)."""
        return str(self.site)

    @property
    def key(self) -> str:
        """Unique key of the task in the store."""
        return f"{self.site_id}|{self.state}|{self.method}"


def site_order(
    host: str, metals: list[str], singles: bool = True, pairs: bool = True, seed: int = 0
) -> list[SiteKey]:
    """The sites of :func:`dacscreen.data.sites.site_keys` (first placement) in labelling
    priority: Cu–Ni, Cu, Ni, all single atoms, homo pairs, then hetero pairs in a seeded shuffle
    so that a partial dataset spans every metal. The screen enumerates the same keys, so
    ``label --metals Ta Cu`` and ``screen --metals Ta Cu`` name and build the same sites."""
    keys = site_keys(host, metals, singles, pairs, allow_non_transition=True)
    hetero = [k for k in keys if k.m2 and k.m1 != k.m2]
    random.Random(seed).shuffle(hetero)
    sites = [k for k in keys if not k.m2] + [k for k in keys if k.m1 == k.m2] + hetero
    first = [k for p in PRIORITY for k in sites if k.metals == p]
    return first + [k for k in sites if k not in first]


def plan(cfg: LabelConfig, method: str, covered: set[str] | None = None) -> list[Task]:
    """The ordered task list for a config.

    Three phases, so that a partial run is as useful as possible: (A) all seven states for the
    first few sites (the reference sites first), (B) the core ``states`` for every site,
    (C) the remaining intermediates for the first ``all_states_sites`` sites, ``fail_first``
    first on each site (:meth:`Labeller.schedule` then defers the sites that cannot finish).
    Given the ``covered`` metals (those already on an all-seven site), phase C takes first the
    sites that bring the others (:func:`uncovered_first`).
    """
    metals = check_metals(cfg.metals, allow_non_transition=cfg.allow_non_transition)
    sc = cfg.supercell or default_supercell(cfg.host)
    sites = site_order(cfg.host, metals, cfg.include_single, cfg.include_pairs)
    if cfg.limit is not None:
        sites = sites[: cfg.limit]
    core = ["clean", *[s for s in cfg.states if s != "clean"]]
    extra = [s for s in [*cfg.fail_first, *ALL_STATES] if s not in core]
    n_full = min(cfg.all_states_sites, EARLY_FULL_SITES)
    wide = sites[: cfg.all_states_sites]
    if covered is not None:
        wide = uncovered_first(wide, covered)
    phases = [(sites[:n_full], core + extra), (sites, core), (wide, extra)]
    tasks: list[Task] = []
    for group, states in phases:
        for site in group:
            n_place = len(placements_for(cfg.host, sc, list(site.metals))) if cfg.placements == "all" else 1
            for p in range(n_place):
                tasks += [Task(cfg.host, site.metals, p, st, method) for st in states]
    return list(dict.fromkeys(tasks))


def plan_single_points(cfg: LabelConfig, method: str, store: Store) -> list[Task]:
    """ML+SP tasks: every site of ``cfg.single_point_of`` that has a best record for each of
    ``cfg.states``, in :func:`site_order` with :func:`spanning_first` (so that a partial run, and
    the first ``cfg.limit`` sites, span every metal that has such a site)."""
    source = cfg.single_point_of
    have: dict[SiteKey, set[str]] = {}
    for row in store.rows(kind="site", best=True, host=cfg.host, method=source, placement=0):
        have.setdefault(SiteKey.of_record(row), set()).add(row.adsorbate)
    metals = check_metals(cfg.metals, allow_non_transition=cfg.allow_non_transition)
    unsupported = unsupported_metals(cfg, metals)
    sites = [
        s
        for s in site_order(cfg.host, metals, cfg.include_single, cfg.include_pairs)
        if set(cfg.states) <= have.get(s, set()) and not unsupported & set(s.metals)
    ]
    sites = spanning_first(sites)
    sites = sites[: cfg.limit] if cfg.limit is not None else sites
    return [Task(cfg.host, site.metals, 0, st, method) for site in sites for st in cfg.states]


def uncovered_first(sites: list[SiteKey], covered: set[str]) -> list[SiteKey]:
    """``sites`` with those holding a metal not in ``covered`` first, one per such metal in
    turn (round k takes each metal's k-th site, a site with one such metal before one with two,
    else in the original order), then the others."""
    seen: Counter[str] = Counter()
    rank: dict[SiteKey, tuple[int, int]] = {}
    for site in sites:
        new = set(site.metals) - covered
        if new:
            rank[site] = (min(seen[m] for m in new), len(new))
            seen.update(new)
    return sorted(rank, key=rank.__getitem__) + [s for s in sites if s not in rank]


def spanning_first(sites: list[SiteKey]) -> list[SiteKey]:
    """``sites`` reordered so that the first few cover every metal in them: in order, the
    reference sites (:data:`PRIORITY`) and each site that brings a metal not yet covered, then
    the others in their original order."""
    covered: set[str] = set()
    first = []
    for site in sites:
        if site.metals in PRIORITY or not set(site.metals) <= covered:
            first.append(site)
            covered |= set(site.metals)
    return first + [s for s in sites if s not in first]


def unsupported_metals(cfg: LabelConfig, metals: list[str]) -> set[str]:
    """Metals the configured calculator cannot treat (GPAW: no PAW dataset or basis, released or
    generated), logged; their sites are left out of the single-point plan."""
    if cfg.calculator.name != "gpaw":
        return set()
    from dacscreen.data.dft import generate_datasets, gpaw_settings, missing_datasets

    settings = gpaw_settings(cfg.calculator.kwargs)
    generate_datasets(metals, settings)
    missing = set(missing_datasets(metals, settings))
    if missing:
        log.warning("GPAW has no PAW dataset or basis for %s: their sites are skipped", sorted(missing))
    return missing


class Labeller:
    """Runs tasks with one ASE calculator and writes them to a :class:`Store`."""

    def __init__(self, cfg: LabelConfig, store: Store) -> None:
        self.cfg = cfg
        self.store = store
        self.method = cfg.method_label or method_string(cfg.calculator.name, cfg.calculator.kwargs)
        self._calc: Any = None
        self.ran = 0
        """Tasks this labeller computed and wrote (references excluded)."""
        self.failed: list[str] = []
        """Tasks whose single point did not converge (not stored; retried on the next run)."""

    @property
    def calc(self) -> Any:
        """The labeller's ASE calculator, created on first use."""
        if self._calc is None:
            self._calc = get_calculator(self.cfg.calculator.name, **self.cfg.calculator.kwargs)
        return self._calc

    def plan(self) -> list[Task]:
        """The task list: relaxations (:func:`plan`) or ML+SP single points."""
        if self.cfg.single_point_of:
            return plan_single_points(self.cfg, self.method, self.store)
        return plan(self.cfg, self.method, covered=self.covered_metals())

    def covered_metals(self) -> set[str]:
        """Metals on a site of ``cfg.host`` with a valid record of all seven states (this
        labeller's method)."""
        have: dict[tuple[str, str], set[str]] = {}
        for r in self.store.rows(kind="site", best=True, host=self.cfg.host, method=self.method):
            have.setdefault((r.m1, r.m2), set()).add(r.adsorbate)
        return {m for site, states in have.items() if set(ALL_STATES) <= states for m in site if m}

    def pending(self, tasks: list[Task]) -> list[Task]:
        """Tasks not yet in the store, and stored ones that :meth:`retryable` allows."""
        return [t for t in tasks if not self.store.has_task(t.key) or self.retryable(t)]

    def schedule(self, todo: list[Task]) -> Iterator[Task]:
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

    def incomplete(self, task: Task) -> bool:
        """Whether ``task`` is a further intermediate (not a core state) of a site on which some
        state is exhausted (:meth:`outcome`)."""
        if self._core(task):
            return False
        states = (st for st in ALL_STATES if st != task.state)
        return any(self.outcome(replace(task, state=st)) == "exhausted" for st in states)

    def undecided(self, task: Task) -> bool:
        """Whether a ``fail_first`` state before ``task``'s on its site is still open."""
        if self._core(task):
            return False
        order = self.cfg.fail_first
        before = order[: order.index(task.state)] if task.state in order else order
        return any(self.outcome(replace(task, state=st)) == "open" for st in before)

    def outcome(self, task: Task) -> Literal["valid", "exhausted", "open"]:
        """``valid``: the task has a ``best`` record; ``exhausted``: it is stored without one and
        has no start left; ``open``: not stored yet, or starts remain."""
        rows = list(self.store.rows(kind="site", task=task.key))
        if any(r.get("best") for r in rows):
            return "valid"
        return "exhausted" if rows and not self.retryable(task) else "open"

    def _core(self, task: Task) -> bool:
        return task.state == "clean" or task.state in self.cfg.states

    def tried(self, task: Task) -> set[str]:
        """Orientations of ``task`` already relaxed and stored."""
        return {str(r.orientation) for r in self.store.rows(kind="site", task=task.key)}

    def retryable(self, task: Task) -> bool:
        """Whether a stored task goes on, adding records and never rewriting any:

        * an adsorbate relaxation without a valid record (every start anomalous or
          unconverged) while an offered orientation or template is still untried, up to
          ``max_starts``;
        * one of ``full_search_states`` with an untried orientation (a lower valid minimum
          supersedes its label);
        * an ML+SP single point whose source is no longer the best record of its method;
        * a start to continue (:meth:`to_continue`).
        """
        if task.state == "clean":
            return False
        rows = list(self.store.rows(kind="site", task=task.key))
        if not rows:
            return False
        if self.cfg.single_point_of:
            src = self._source_row(task)
            return src is not None and all(r.get("source") != src.rid for r in rows)
        if self.to_continue(rows):
            return True
        tried = {str(r.orientation) for r in rows}
        untried = set(orientations(len(task.metals), task.state)) - tried
        valid = any(r.get("best") for r in rows)
        if task.state in self.cfg.full_search_states and (untried or valid):
            return bool(untried)
        if valid:
            return False
        untried |= {name for name, _ in self.template_rows(task, valid=False)} - tried
        cap = self.cfg.max_starts
        return bool(untried) and (cap is None or len(rows) < cap)

    def to_continue(self, rows: list[Any]) -> list[Any]:
        """Stored rows of one task that hit the step cap without an anomaly and have no
        continuation yet (none unless ``continue_steps`` is set)."""
        if not self.cfg.continue_steps or self.cfg.single_point_of:
            return []
        continued = {r.get("continues") for r in rows}
        return [
            r
            for r in rows
            if not r.converged and not r.anomaly and not r.get("continues") and r.rid not in continued
        ]

    def run_references(self, metals: list[str]) -> None:
        """Relax the references (Li, molecules, bulk metals, host) that are missing; in ML+SP
        mode, run single points on the source method's relaxed references instead."""
        if self.cfg.single_point_of:
            self._sp_references()
            return
        for name, (atoms, cell) in reference_structures(self.cfg.host, metals, list(SRR_SPECIES)).items():
            key = f"ref|{name}|{self.method}"
            if not self.store.claim(key):  # done, or another process is on it
                continue
            try:
                self._reference(key, name, atoms, cell)
            finally:
                self.store.release(key)
        for state in self.cfg.states:
            if state != "clean":
                self._bare_host(state)

    def _bare_host(self, state: str) -> None:
        """The host reference of ``state`` (:mod:`dacscreen.data.host_adsorption`): its lowest
        valid relaxation on the metal-free host, stored as the reference ``bare_<host>_<X>``."""
        name = reference_name(self.cfg.host, state)
        key = f"ref|{name}|{self.method}"
        if not self.store.claim(key):
            return
        try:
            found = relax_on_bare_host(
                self.cfg.host, state, self.calc, self.cfg.fmax, self.cfg.steps, self.cfg.optimizer
            )
            if found is None:
                log.warning("%s: no valid relaxation on the bare host", name)
                return
            mode, res = found
            keys = {"rid": key, "task": key, "kind": "reference", "ref": name, "method": self.method}
            keys |= {"adsorbate": state, "orientation": mode, "converged": True, "nsteps": res.nsteps}
            keys |= {"fmax_final": res.fmax, "state_class": anomalies.state_class(res.initial, res.final)}
            self.store.write_records([Record(res.final, res.energy, keys, res.initial)])
        finally:
            self.store.release(key)

    def _reference(self, key: str, name: str, atoms: Atoms, cell: bool) -> None:
        """Relax one reference (Li, a molecule, a bulk metal or the host) and store it."""
        fn = relax_cell if cell else relax
        kwargs = {} if cell else {"fix_radius": None}
        res = fn(atoms, self.calc, fmax=self.cfg.fmax, steps=self.cfg.steps, **kwargs)
        keys = {
            "rid": key,
            "task": key,
            "kind": "reference",
            "ref": name,
            "method": self.method,
            "converged": res.converged,
            "nsteps": res.nsteps,
            "fmax_final": res.fmax,
        }
        self.store.write_records([Record(res.final, res.energy, keys, res.initial)])

    def _sp_references(self) -> None:
        for row in self.store.rows(kind="reference", method=self.cfg.single_point_of):
            if self.cfg.single_point_references == "adsorption" and row.ref.startswith("bulk_"):
                continue
            key = f"ref|{row.ref}|{self.method}"
            if not self.store.claim(key):
                continue
            try:
                atoms = record_to_atoms(row)
                energy, extra = self.single_point_energy(atoms, dband=False)
                keys = {"rid": key, "task": key, "kind": "reference", "ref": row.ref, "method": self.method}
                keys |= {"converged": True, "nsteps": 0, "source": row.rid, **extra}
                self.store.write_records([Record(atoms, energy, keys)])
            except SCFConvergenceError as exc:
                log.warning("reference %s: %s", row.ref, exc)
            finally:
                self.store.release(key)

    def run_task(self, task: Task) -> list[Record]:
        """Relax one task and write its records (one transaction). Returns the records."""
        records = self.compute(task, self.inputs(task))
        if records:
            self.store.write_records(records)
            self.ran += 1
        return records

    def run_claimed(self, task: Task) -> bool:
        """Run ``task`` under a claim in the store; False if it is done or another process
        holds it, so that several processes can share one database without repeating work. A
        stored task is re-run under its own claim while it stays :meth:`retryable`."""
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
        """What a task needs from the store (see :class:`TaskInputs`)."""
        if self.cfg.single_point_of:
            return TaskInputs(self.source(task))
        if task.state == "clean":
            return TaskInputs()
        rows = list(self.store.rows(kind="site", task=task.key))
        floor = min((float(r.energy) for r in rows if r.get("best")), default=None)
        tried = frozenset(str(r.orientation) for r in rows)
        resume = tuple(record_to_atoms(r) for r in self.to_continue(rows))
        valid = any(r.get("best") for r in rows)
        templates = tuple((name, record_to_atoms(row)) for name, row in self.template_rows(task, valid))
        return TaskInputs(self.clean_site(task), templates, tried, floor, resume)

    def compute(self, task: Task, inputs: TaskInputs | None = None) -> list[Record]:
        """Relax one task without touching the store (so that it can run on a Dask worker).

        In ML+SP mode ``inputs.clean`` is the source record to evaluate; a single point whose
        SCF does not converge gives no record (logged, and retried on the next run).
        Orientations in ``inputs.tried`` are not relaxed again.
        """
        inputs = inputs or TaskInputs()
        clean = inputs.clean
        if self.cfg.single_point_of:
            try:
                return [self._single_point(task, clean)] if clean is not None else []
            except SCFConvergenceError as exc:
                log.warning("%s: %s", task.key, exc)
                self.failed.append(task.key)
                return []
        if task.state == "clean":
            return [self._clean(task)]
        if clean is None:
            raise ValueError(f"task {task.key} needs its relaxed clean site")
        return self._adsorbate(task, clean, inputs)

    def _keys(self, task: Task, res: Any, anomaly: str, orientation: str) -> dict[str, Any]:
        final = res.final
        metal_idx = [i for i, a in enumerate(final) if a.tag == 1]
        cn = [anomalies.metal_coordination(final, i) for i in metal_idx]
        return {
            "rid": f"{task.key}|{orientation}",
            "task": task.key,
            "kind": "site",
            "host": task.host,
            "m1": task.metals[0],
            "m2": task.metals[1] if len(task.metals) > 1 else "",
            "placement": task.placement,
            "adsorbate": task.state,
            "orientation": orientation,
            "method": self.method,
            "optimizer": self.cfg.optimizer,
            "converged": res.converged,
            "nsteps": res.nsteps,
            "fmax_final": res.fmax,
            "anomaly": anomaly,
            "state_class": anomalies.state_class(res.initial, final),
            "mm_dist": anomalies.metal_pair_distance(final),
            "cn_m1": cn[0],
            "cn_m2": cn[1] if len(cn) > 1 else 0,
        }

    def _clean(self, task: Task) -> Record:
        site = build_site(task.host, list(task.metals), task.placement, self.cfg.supercell)
        res = relax(site, self.calc, self.cfg.fmax, self.cfg.steps, self.cfg.fix_radius, self.cfg.optimizer)
        keys = self._keys(task, res, anomalies.check(res.final), "none")
        if self.cfg.dband_calculator is not None:
            keys.update(self._dband(res.final))
        return Record(res.final, res.energy, keys, res.initial)

    def source(self, task: Task) -> Atoms | None:
        """The best ``single_point_of`` record of the task's site and state (ML+SP input); None,
        with a warning, when that method has none (e.g. every relaxation was anomalous)."""
        row = self._source_row(task)
        if row is None:
            log.warning("%s: no best %s record to evaluate; skipped", task.key, self.cfg.single_point_of)
            return None
        return record_to_atoms(row)

    def _source_row(self, task: Task) -> Any:
        """The store row of :meth:`source`, or None."""
        rows = self.store.rows(
            kind="site",
            best=True,
            host=task.host,
            m1=task.metals[0],
            m2=task.metals[1] if len(task.metals) > 1 else "",
            placement=task.placement,
            adsorbate=task.state,
            method=self.cfg.single_point_of,
        )
        return next(rows, None)

    def single_point_energy(self, atoms: Atoms, dband: bool) -> tuple[float, dict[str, Any]]:
        """Energy (eV) of ``atoms`` as given, and extra keys (GPAW: moment, d-band centres)."""
        if self.cfg.calculator.name == "gpaw":
            from dacscreen.data.dft import gpaw_energy, gpaw_settings

            return gpaw_energy(atoms, gpaw_settings(self.cfg.calculator.kwargs), dband)
        a = self._with_calculator(atoms)
        extra = self._dband(atoms) if dband and self.cfg.dband_calculator is not None else {}
        try:
            return float(a.get_potential_energy()), extra
        except CalculationFailed as exc:  # e.g. a GFN1-xTB SCF that does not converge
            raise SCFConvergenceError(f"{a.get_chemical_formula()}: {exc}") from exc

    def _with_calculator(self, atoms: Atoms) -> Atoms:
        """A bare copy of ``atoms`` with the labeller's calculator attached and the initial
        moments it needs (GPAW: Hund's rule on the metals; GFN1-xTB: the lowest spin)."""
        a = _bare(atoms, atoms.positions)
        if self.cfg.calculator.name == "gpaw":
            from dacscreen.data.dft import gpaw_calculator, gpaw_settings, with_moments

            a = with_moments(a)
            a.calc = gpaw_calculator(a, gpaw_settings(self.cfg.calculator.kwargs))
            return a
        if self.cfg.calculator.name == "tblite":
            a.set_initial_magnetic_moments(lowest_spin(a))
        a.calc = self.calc
        return a

    def _single_point(self, task: Task, src: Atoms) -> Record:
        """ML+SP: the energy of ``src``, the source method's relaxed geometry; with
        ``single_point_steps``, ML+RX: that many relaxation steps first (orientation ``rx``,
        ``nsteps`` and ``fmax_final`` from that short relaxation; the anomaly checks compare
        with ``src``), then a single point on the result."""
        anomaly, mode = str(src.info.get("anomaly", "")), "sp"
        geometry, nsteps, fmax = src, 0, None
        if self.cfg.single_point_steps:
            a = self._with_calculator(src)
            rx = relax(
                a, a.calc, self.cfg.fmax, self.cfg.single_point_steps, self.cfg.fix_radius, self.cfg.optimizer
            )
            geometry, nsteps, fmax, mode = rx.final, rx.nsteps, rx.fmax, "rx"
            anomaly = anomaly or anomalies.check(geometry)
        energy, extra = self.single_point_energy(geometry, dband=task.state == "clean")
        keys = self._keys(task, RelaxResult(src, geometry, energy, True, nsteps, fmax or 0.0), anomaly, mode)
        keys["rid"] = f"{task.key}|{mode}|{src.info['rid'].rsplit('|', 1)[-1]}"  # one per source record
        del keys["optimizer"]
        if fmax is None:
            del keys["fmax_final"]
        keys |= {"state_class": src.info.get("state_class", "unknown"), "source": src.info["rid"], **extra}
        return Record(_bare(geometry, geometry.positions), energy, keys)

    def _dband(self, atoms: Atoms) -> dict[str, Any]:
        """Both d-band centres of the metals (:func:`dacscreen.data.dband.d_band_both`)."""
        from dacscreen.data.dband import d_band_both

        try:
            return d_band_both(atoms)
        except Exception as exc:  # a failed SCF must not lose the relaxation
            log.warning("d-band calculation failed: %s", exc)
            return {}

    def clean_site(self, task: Task) -> Atoms:
        """The relaxed clean site for ``task`` (labelled first if missing)."""
        clean = Task(task.host, task.metals, task.placement, "clean", task.method)
        while not self.store.has_task(clean.key):
            if not self.run_claimed(clean):  # another process is relaxing it
                time.sleep(CLAIM_POLL_S)
        row = next(self.store.rows(task=clean.key, kind="site"))
        atoms = record_to_atoms(row)
        atoms.info = {"host": task.host}
        return atoms

    def template_rows(self, task: Task, valid: bool = True) -> list[tuple[str, Any]]:
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
        rows = [
            r
            for r in self.store.rows(
                kind="site",
                host=task.host,
                adsorbate=task.state,
                best=True,
                placement=task.placement,
                method=task.method,
            )
            if not r.anomaly and not task.key.startswith(_site_prefix(r))
        ]
        same = next((r for r in rows if bool(r.m2) == (len(task.metals) > 1)), None)
        out = [("template", same)] if same is not None else []
        if task.state in self.cfg.full_search_states and valid:
            return out
        donors = sorted(
            (r for r in rows if r is not same),
            key=lambda r: -len(set(task.metals) & {r.m1, r.m2}),
        )
        return out + [(f"template:{r.m1}-{r.m2}".rstrip("-"), r) for r in donors[: self.cfg.template_donors]]

    def _adsorbate(self, task: Task, site: Atoms, inputs: TaskInputs) -> list[Record]:
        """Relax ``max_orientations`` starts (the templates first, then the offered orientations;
        none in ``inputs.tried``); while none of them is valid (converged, no anomaly), go on with
        the remaining orientations, up to ``max_starts`` starts in all. A state of
        ``full_search_states`` relaxes every start (AdsorbML: enough placements to find the
        minimum); a task of another state that has a valid label only continues
        ``inputs.resume``. The store then makes the lowest valid record of the task its label
        (:mod:`dacscreen.data.label_rules`)."""
        starts: list[tuple[str, Callable[[], Atoms]]] = []
        for name, template in inputs.templates:
            starts.append((name, lambda template=template: transplant(site, template)))
        for mode in orientations(len(task.metals), task.state):
            starts.append((mode, lambda mode=mode: place_adsorbate(site, task.state, mode)))
        records: list[Record] = []
        full = task.state in self.cfg.full_search_states
        cap = None if full else self.cfg.max_starts
        todo = [(m, b) for m, b in starts if m not in inputs.tried]
        if not full and inputs.floor is not None:  # a valid label stands: only continuations
            todo = []
        for mode, build in todo if cap is None else todo[: max(0, cap - len(inputs.tried))]:
            if not full and len(records) >= self.cfg.max_orientations and any(_valid(r) for r in records):
                break
            res = relax(
                build(), self.calc, self.cfg.fmax, self.cfg.steps, self.cfg.fix_radius, self.cfg.optimizer
            )
            keys = self._keys(task, res, anomalies.check(res.final), mode)
            records.append(Record(res.final, res.energy, keys, res.initial))
        return records + [self._continue(task, stored) for stored in inputs.resume]

    def _continue(self, task: Task, stored: Atoms) -> Record:
        """Resume ``stored`` (a start that hit the step cap) from its final geometry for
        ``continue_steps`` more steps; the anomaly checks compare with its original start, and
        ``nsteps`` counts both legs."""
        final = _bare(stored, stored.positions)
        start = _bare(stored, stored.arrays.get("initial_positions", stored.positions))
        res = relax(
            final, self.calc, self.cfg.fmax, self.cfg.continue_steps, self.cfg.fix_radius, self.cfg.optimizer
        )
        res = replace(res, initial=start, nsteps=int(stored.info["nsteps"]) + res.nsteps)
        keys = self._keys(task, res, anomalies.check(res.final), f"{stored.info['orientation']}+")
        keys["continues"] = stored.info["rid"]
        return Record(res.final, res.energy, keys, start)


def _valid(record: Record) -> bool:
    """Converged and without an anomaly of the site: a candidate label
    (:mod:`dacscreen.data.label_rules`; the store sets the ``best`` flag)."""
    return bool(record.keys["converged"]) and not record.keys["anomaly"]


def _site_prefix(row: Any) -> str:
    """``host|M1|M2|placement|`` of a stored site record: the start of its task keys."""
    return f"{row.host}|{row.m1}|{row.m2 or ''}|{row.placement}|"


def _bare(atoms: Atoms, positions: np.ndarray) -> Atoms:
    """``atoms``' species, cell and tags at ``positions``, without stored keys or arrays."""
    return Atoms(atoms.numbers, positions=positions, cell=atoms.cell, pbc=atoms.pbc, tags=atoms.get_tags())


def transplant(site: Atoms, template: Atoms) -> Atoms:
    """Put the adsorbate of ``template`` (tag 2) on ``site``, keeping its position relative to
    the metal centroid, so that a new site starts from an already relaxed binding mode."""
    t_tags = template.get_tags()
    shift = site.positions[site.get_tags() == 1].mean(axis=0) - template.positions[t_tags == 1].mean(axis=0)
    ads = template[t_tags == 2]
    ads.positions += shift
    out = site.copy()
    out += ads
    out.info.update({"orientation": "template"})
    return out
