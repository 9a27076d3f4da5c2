"""Training samples from the dataset store, and their on-disk graph cache.

A sample is one site × state. For an adsorbate state the graph-level target is
E_ads(X) = E(X*) − E(*) − E(X) (eV, same method throughout); for the clean state it is the
binding of the metals to the host, E_bind = E(*) − E(host) − Σ μ_M, and the node-level targets
are the d-band centres of the metals (eV vs E_F). The field ``e_ads`` holds the graph-level
target in both cases. The model input is either

* ``as-built``: the builder's unrelaxed site with the adsorbate placed in the orientation of
  the best relaxed record (what screening has), or
* ``relaxed-site``: the relaxed clean site with the adsorbate placed on it.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import astuple, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ase import Atoms
from ase.geometry import find_mic
from torch_geometric.data import Data

from dacscreen.config import TargetSpec, srr_target
from dacscreen.data.adsorbates import orientations, place_adsorbate
from dacscreen.data.label_rules import search_complete
from dacscreen.data.references import reference_value
from dacscreen.data.sites import build_site
from dacscreen.data.store import Store, record_to_atoms
from dacscreen.featurize.graphs import GraphSettings, atoms_to_graph
from dacscreen.site_key import SiteKey
from dacscreen.thermo import binding_energy

log = logging.getLogger(__name__)


@dataclass
class Sample:
    """One site × state with its targets (NaN where not labelled)."""

    host: str
    m1: str
    m2: str
    placement: int
    state: str
    orientation: str
    e_ads: float
    dband: tuple[float, float]
    relaxed_clean: Atoms | None = None
    method: str = ""
    relaxed: Atoms | None = None
    structure: str = "relaxed"
    """Where the record's atoms come from: ``relaxed`` (a calculation), ``built`` (the
    platform's unrelaxed build of an energies-only row) or ``none`` (no atoms: only the
    descriptor baselines can learn it)."""
    search_complete: bool = True
    """Whether the label's placement search started every offered orientation
    (:func:`~dacscreen.data.label_rules.search_complete`); else the label is an upper bound."""

    @property
    def metals(self) -> list[str]:
        """[m1] or [m1, m2]."""
        return [self.m1, self.m2] if self.m2 else [self.m1]

    @property
    def site(self) -> SiteKey:
        """The sample's site."""
        return SiteKey.of_record(self)


def input_structure(s: Sample, mode: str) -> Atoms:
    """The model input for a sample in ``mode`` (as-built, relaxed-site or relaxed)."""
    if mode == "relaxed" and s.relaxed is not None:
        return s.relaxed
    return on_site(input_site(s, mode), s.state, input_orientation(s))


def input_site(s: Sample, mode: str) -> Atoms:
    """The clean site under ``s``'s model input: its relaxed clean site in the modes that use it
    (when there is one), else the platform's build of the site."""
    if mode in ("relaxed-site", "relaxed") and s.relaxed_clean is not None:
        site = s.relaxed_clean.copy()
        site.info = {"host": s.host}
        return site
    return build_site(s.host, s.metals, s.placement)


def on_site(site: Atoms, state: str, orientation: str) -> Atoms:
    """``state`` placed on the clean ``site`` in ``orientation`` (the site itself when clean)."""
    return site if state == "clean" else place_adsorbate(site, state, orientation)


def input_orientation(s: Sample) -> str:
    """The placement orientation of ``s``'s model input: its record's orientation, or the first
    offered one for a record relaxed from a template (``none`` for a clean site)."""
    if s.state == "clean":
        return "none"
    modes = orientations(len(s.metals), s.state)
    return s.orientation if s.orientation in modes else modes[0]


def orientation_variants(s: Sample) -> list[Sample]:
    """``s`` placed in every other offered orientation, with the same label and no relaxed
    structure (so no displacement target): the site's E_ads is the lowest over its relaxed
    starts, a property of the site and not of the start a model is shown. Empty for a clean
    site."""
    if s.state == "clean":
        return []
    own = input_orientation(s)
    return [replace(s, orientation=o, relaxed=None) for o in orientations(len(s.metals), s.state) if o != own]


def collect_samples(
    store: Store,
    method: str | list[str] | None = None,
    host: str | None = None,
    definitions: dict[str, TargetSpec] | None = None,
    clean_target: str = "e_bind",
) -> list[Sample]:
    """Best, non-anomalous records turned into samples.

    ``method`` is one method, or a fidelity list (highest first): each site then takes all its
    records from the highest-fidelity method that has its clean state (else from the highest
    that has any), so energies of different methods never meet in one difference. A site
    without a bare-site record still gives the samples of targets that do not use it.
    ``definitions`` maps a state to its target (default: the SRR preset). Clean sites get
    E_bind (``clean_target="e_bind"``) or no graph-level target, and their d-band centres.
    """
    best = list(store.best_sites(None, host))
    if not best:
        return []
    found = sorted({r.method for r in best})
    order = [method] if isinstance(method, str) else list(method or found[:1])
    grouped: dict[SiteKey, dict[str, dict[str, Any]]] = {}
    for r in best:
        if r.method in order:
            grouped.setdefault(SiteKey.of_record(r), {}).setdefault(r.method, {})[r.adsorbate] = r
    refs = {m: reference_table(store, m) for m in order}
    tried: dict[str, set[str]] = {}
    for r in store.site_rows():
        tried.setdefault(str(r.task), set()).add(str(r.orientation))
    out: list[Sample] = []
    for key, by_method in grouped.items():
        chosen = next((m for m in order if "clean" in by_method.get(m, {})), None)
        chosen = chosen or next((m for m in order if m in by_method), None)
        if chosen is not None:
            samples = _site_samples(key, by_method[chosen], refs[chosen], chosen, definitions, clean_target)
            out += [_with_search(x, by_method[chosen], tried) for x in samples]
    return out


def _with_search(s: Sample, states: dict[str, Any], tried: dict[str, set[str]]) -> Sample:
    """``s`` with ``search_complete`` set from the orientations its task has started."""
    if s.state == "clean":
        return s
    task = str(states[s.state].get("task", ""))
    return replace(s, search_complete=search_complete(s.state, len(s.metals), tried.get(task, ())))


def _site_samples(
    key: SiteKey,
    states: dict[str, Any],
    refs: dict[str, float],
    method: str,
    definitions: dict[str, TargetSpec] | None,
    clean_target: str,
) -> list[Sample]:
    nan = float("nan")
    c = states.get("clean")
    relaxed = _relaxed(c)
    out = []
    if c is not None:
        db = (_dband(c, "dband_m1"), _dband(c, "dband_m2"))
        e_bind = site_binding(c, refs) if clean_target == "e_bind" else nan
        out.append(Sample(*astuple(key), "clean", "none", e_bind, db, relaxed, method, relaxed, _kind(c)))
    for state, r in states.items():
        if state == "clean":
            continue
        spec = (definitions or {}).get(state) if definitions is not None else srr_target(state)
        value = evaluate_target(spec, states, refs) if spec is not None else nan
        if np.isfinite(value):
            out.append(
                Sample(
                    *astuple(key),
                    state,
                    r.orientation,
                    value,
                    (nan, nan),
                    relaxed,
                    method,
                    _relaxed(r),
                    _kind(r),
                )
            )
    return out


def _kind(row: Any) -> str:
    return str(row.get("structure", "relaxed"))


def _relaxed(row: Any) -> Atoms | None:
    """The relaxed atoms of a record; None without a record or for one whose atoms are not a
    relaxation (an energies-only row)."""
    return record_to_atoms(row) if row is not None and _kind(row) == "relaxed" else None


def _dband(row: Any, key: str) -> float:
    """A stored d-band centre if it lies inside its finite window (eV vs E_F), else NaN. Early
    records made with a full-band fall-back carry window (−inf, inf) and are not used."""
    value = float(row.get(key, float("nan")))
    try:
        lo, hi = (float(x) for x in str(row.get("dband_window", "-10,0")).split(","))
    except ValueError:
        return float("nan")
    if not (np.isfinite(lo) and np.isfinite(hi)) or not lo - 1.0 <= value <= hi + 1.0:
        return float("nan")
    return value


def evaluate_target(spec: TargetSpec, states: dict[str, Any], refs: dict[str, float]) -> float:
    """Σ coeff × E(term) + constant over a site's records and the references; NaN if a term is
    missing."""
    total = spec.constant
    for term, coeff in spec.terms.items():
        if term.startswith("ref:"):
            value = refs.get(term[4:])
        else:
            row = states.get(term)
            value = row.energy if row is not None else None
        if value is None:
            return float("nan")
        total += coeff * value
    return total


def reference_table(store: Store, method: str) -> dict[str, float]:
    """Reference energies of one method (eV; per atom for bulk and Li), plus ``host_<h>_nH``,
    the number of H atoms in each bare host."""
    refs: dict[str, float] = {}
    for r in store.rows(kind="reference", method=method):
        refs[r.ref] = reference_value(r.ref, r.energy, r.natoms)
        if r.ref.startswith("host_"):
            refs[f"{r.ref}_nH"] = float((r.numbers == 1).sum())
    return refs


def site_binding(row: Any, refs: dict[str, float]) -> float:
    """E_bind of a clean-site row (eV, see :func:`dacscreen.thermo.binding_energy`); NaN
    without the references of its method."""
    needed = [f"host_{row.host}", f"bulk_{row.m1}", "mol_H2"] + ([f"bulk_{row.m2}"] if row.m2 else [])
    if not all(k in refs for k in needed):
        return float("nan")
    n_h = int(refs.get(f"host_{row.host}_nH", 0)) - int((row.numbers == 1).sum())
    mu2 = refs[f"bulk_{row.m2}"] if row.m2 else None
    return binding_energy(
        row.energy, refs[f"host_{row.host}"], refs[f"bulk_{row.m1}"], mu2, n_h, refs["mol_H2"] / 2
    )


TARGETS_VERSION = 2
"""Bump when the targets attached to training graphs change (part of the cache key).
2: ``y_disp``, the relaxation displacement of every atom."""


def relaxation_displacement(atoms: Atoms, relaxed: Atoms | None) -> np.ndarray:
    """(n_atoms, 3) minimum-image displacement (Å) from ``atoms`` to the same atoms in
    ``relaxed``; NaN when there is no relaxed structure or its atoms differ."""
    same = relaxed is not None and np.array_equal(atoms.numbers, relaxed.numbers)
    if not same:
        return np.full((len(atoms), 3), np.nan)
    disp, _ = find_mic(relaxed.positions - atoms.positions, atoms.cell, atoms.pbc)
    return disp


def sample_graph(s: Sample, mode: str, settings: GraphSettings) -> Data:
    """Graph of a sample with its targets attached: y_ads per graph, y_dband per node and
    y_disp (n_atoms, 3), the displacement of each input atom to its relaxed position."""
    atoms = input_structure(s, mode)
    g = atoms_to_graph(atoms, settings)
    g.y_ads = torch.tensor([s.e_ads], dtype=torch.float32)
    g.y_disp = torch.tensor(relaxation_displacement(atoms, s.relaxed), dtype=torch.float32)
    yd = torch.full((len(atoms),), float("nan"))
    metal = (g.tags == 1).nonzero().flatten()
    for k, idx in enumerate(metal[:2]):
        yd[idx] = s.dband[k] if len(metal) == 2 else s.dband[0]
    g.y_dband = yd
    return g


def cache_key(samples: list[Sample], mode: str, settings: GraphSettings) -> str:
    """Hash of the samples' identities and targets, the input mode and featuriser settings."""
    h = hashlib.sha1(f"{mode}|{settings.digest()}|targets-{TARGETS_VERSION}".encode())
    for s in samples:
        h.update(
            f"{s.host}|{s.m1}|{s.m2}|{s.placement}|{s.state}|{s.orientation}|{s.e_ads:.6f}|{s.dband}".encode()
        )
    return h.hexdigest()[:16]


def build_graphs(
    samples: list[Sample], mode: str, settings: GraphSettings, cache_dir: Path | None
) -> list[Data]:
    """Featurise samples, re-using a cached file when samples and settings are unchanged."""
    path = cache_dir / f"graphs-{cache_key(samples, mode, settings)}.pt" if cache_dir else None
    if path is not None and path.is_file():
        return torch.load(path, weights_only=False)
    graphs = [sample_graph(s, mode, settings) for s in samples]
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save(graphs, tmp)
        tmp.rename(path)
    return graphs
