"""Labelling tasks and their plan: which sites and states to label, in which order.

A task is one (host, site, placement, state, method); the plan orders tasks so that a partial
run is as useful as possible (the reference sites first, every metal early)."""

from __future__ import annotations

import csv
import logging
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ase import Atoms

from dacscreen.config import LabelConfig
from dacscreen.data.hosts import default_supercell
from dacscreen.data.sites import placements_for, site_keys
from dacscreen.data.store import Store
from dacscreen.elements import check_metals
from dacscreen.errors import ConfigError
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
    starts (:meth:`Relaxation.template_rows`)."""
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


def read_sites(path: Path, host: str) -> list[SiteKey]:
    """The sites of a site-list CSV (:attr:`LabelConfig.sites`) on ``host``, in file order,
    metals in canonical order, each once."""
    try:
        with Path(path).open(newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the site list ({exc.strerror})") from exc
    if rows and not {"m1", "m2"} <= set(rows[0]):
        raise ConfigError(f"{path}: a site list needs the columns m1 and m2")
    keys = [
        SiteKey.of(host, [m for m in (r["m1"], r["m2"]) if m], int(r.get("placement") or 0))
        for r in rows
        if (r.get("host") or host) == host
    ]
    return list(dict.fromkeys(keys))


def planned_sites(cfg: LabelConfig, metals: list[str]) -> list[SiteKey]:
    """The sites a config labels, in order: its site list, or every site in :func:`site_order`."""
    if cfg.sites is not None:
        return read_sites(cfg.sites, cfg.host)
    return site_order(cfg.host, metals, cfg.include_single, cfg.include_pairs)


def plan(cfg: LabelConfig, method: str, covered: set[str] | None = None) -> list[Task]:
    """The ordered task list for a config.

    Three phases, so that a partial run is as useful as possible: (A) all seven states for the
    first few sites (the reference sites first), (B) the core ``states`` for every site,
    (C) the remaining intermediates for the first ``all_states_sites`` sites, ``fail_first``
    first on each site (the policy's :meth:`~dacscreen.data.labelling.policy.Schedule.order`
    then defers the sites that cannot finish).
    Given the ``covered`` metals (those already on an all-seven site), phase C takes first the
    sites that bring the others (:func:`uncovered_first`).
    """
    metals = check_metals(cfg.metals, allow_non_transition=cfg.allow_non_transition)
    sc = cfg.supercell or default_supercell(cfg.host)
    sites = planned_sites(cfg, metals)
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
    the first ``cfg.limit`` sites, span every metal that has such a site), or in the order of
    the config's site list."""
    source = cfg.single_point_of
    have: dict[SiteKey, set[str]] = {}
    for row in store.rows(kind="site", best=True, host=cfg.host, method=source, placement=0):
        have.setdefault(SiteKey.of_record(row), set()).add(row.adsorbate)
    metals = check_metals(cfg.metals, allow_non_transition=cfg.allow_non_transition)
    unsupported = unsupported_metals(cfg, metals)
    sites = [
        s
        for s in planned_sites(cfg, metals)
        if set(cfg.states) <= have.get(s, set()) and not unsupported & set(s.metals)
    ]
    sites = sites if cfg.sites is not None else spanning_first(sites)
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
