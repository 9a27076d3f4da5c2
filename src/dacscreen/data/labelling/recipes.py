"""Labelling recipes: pure calculations that take their calculator and inputs and return
records, without reading or writing a store (quacc's recipes; the runner wraps them).

Each record carries its geometry, energy (eV) and the keys of :func:`record_keys`; the store
then makes the lowest valid record of a task its label (:mod:`dacscreen.data.label_rules`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ase import Atoms

from dacscreen.config import LabelConfig
from dacscreen.data import anomalies
from dacscreen.data.adsorbates import orientations, place_adsorbate
from dacscreen.data.host_adsorption import relax_on_bare_host
from dacscreen.data.labelling.calculation import Calculation, bare
from dacscreen.data.labelling.tasks import Task, TaskInputs
from dacscreen.data.relax import RelaxResult, relax, relax_cell
from dacscreen.data.sites import build_site
from dacscreen.data.store import Record


def record_keys(
    task: Task, res: RelaxResult, orientation: str, method: str, optimizer: str
) -> dict[str, Any]:
    """The stored keys of one relaxed (or single-point) start of ``task``: identity, how the
    relaxation went, its site anomaly (:func:`anomalies.check`, empty if none) and state class."""
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
        "method": method,
        "optimizer": optimizer,
        "converged": res.converged,
        "nsteps": res.nsteps,
        "fmax_final": res.fmax,
        "anomaly": anomalies.check(final),
        "state_class": anomalies.state_class(res.initial, final),
        "mm_dist": anomalies.metal_pair_distance(final),
        "cn_m1": cn[0],
        "cn_m2": cn[1] if len(cn) > 1 else 0,
    }


def _relax(atoms: Atoms, calc: Calculation, cfg: LabelConfig, steps: int) -> RelaxResult:
    return relax(atoms, calc.calc, cfg.fmax, steps, cfg.fix_radius, cfg.optimizer)


def relax_clean(task: Task, calc: Calculation, cfg: LabelConfig, method: str) -> Record:
    """Build and relax the clean site of ``task``; with a d-band calculator, its metals'
    d-band centres (both windows) on the relaxed geometry."""
    site = build_site(task.host, list(task.metals), task.placement, cfg.supercell)
    res = _relax(site, calc, cfg, cfg.steps)
    keys = record_keys(task, res, "none", method, cfg.optimizer)
    if calc.dband:
        keys.update(calc.dband_keys(res.final))
    return Record(res.final, res.energy, keys, res.initial)


def relax_adsorbate(
    task: Task, site: Atoms, inputs: TaskInputs, calc: Calculation, cfg: LabelConfig, method: str
) -> list[Record]:
    """Relax ``max_orientations`` starts on the relaxed clean ``site`` (the templates first,
    then the offered orientations; none in ``inputs.tried``); while none of them is valid
    (converged, no anomaly), go on with the remaining orientations, up to ``max_starts`` starts
    in all. A state of ``full_search_states`` relaxes every start (AdsorbML: enough placements
    to find the minimum); a task of another state that has a valid label only continues
    ``inputs.resume`` (:func:`continue_start`)."""
    starts: list[tuple[str, Callable[[], Atoms]]] = []
    for name, template in inputs.templates:
        starts.append((name, lambda template=template: transplant(site, template)))
    for mode in orientations(len(task.metals), task.state):
        starts.append((mode, lambda mode=mode: place_adsorbate(site, task.state, mode)))
    records: list[Record] = []
    full = task.state in cfg.full_search_states
    cap = None if full else cfg.max_starts
    todo = [(m, b) for m, b in starts if m not in inputs.tried]
    if not full and inputs.floor is not None:  # a valid label stands: only continuations
        todo = []
    for mode, build in todo if cap is None else todo[: max(0, cap - len(inputs.tried))]:
        if not full and len(records) >= cfg.max_orientations and any(_valid(r) for r in records):
            break
        res = _relax(build(), calc, cfg, cfg.steps)
        records.append(
            Record(res.final, res.energy, record_keys(task, res, mode, method, cfg.optimizer), res.initial)
        )
    return records + [continue_start(task, stored, calc, cfg, method) for stored in inputs.resume]


def continue_start(task: Task, stored: Atoms, calc: Calculation, cfg: LabelConfig, method: str) -> Record:
    """Resume ``stored`` (a start that hit the step cap) from its final geometry for
    ``continue_steps`` more steps; the anomaly checks compare with its original start, and
    ``nsteps`` counts both legs."""
    final = bare(stored, stored.positions)
    start = bare(stored, stored.arrays.get("initial_positions", stored.positions))
    res = _relax(final, calc, cfg, cfg.continue_steps)
    res = replace(res, initial=start, nsteps=int(stored.info["nsteps"]) + res.nsteps)
    keys = record_keys(task, res, f"{stored.info['orientation']}+", method, cfg.optimizer)
    keys["continues"] = stored.info["rid"]
    return Record(res.final, res.energy, keys, start)


def single_point(task: Task, src: Atoms, calc: Calculation, cfg: LabelConfig, method: str) -> Record:
    """ML+SP: the energy of ``src``, the source method's relaxed geometry; with
    ``single_point_steps``, ML+RX: that many relaxation steps first (orientation ``rx``,
    ``nsteps`` and ``fmax_final`` from that short relaxation; the anomaly checks compare
    with ``src``), then a single point on the result. Clean sites get their d-band centres."""
    mode, geometry, nsteps, fmax = "sp", src, 0, None
    if cfg.single_point_steps:
        rx = _relax(calc.attach(src), calc, cfg, cfg.single_point_steps)
        geometry, nsteps, fmax, mode = rx.final, rx.nsteps, rx.fmax, "rx"
    energy, extra = calc.single_point(geometry, dband=task.state == "clean")
    keys = record_keys(task, RelaxResult(src, geometry, energy, True, nsteps, fmax or 0.0), mode, method, "")
    keys["anomaly"] = str(src.info.get("anomaly", "")) or (keys["anomaly"] if mode == "rx" else "")
    keys["rid"] = f"{task.key}|{mode}|{src.info['rid'].rsplit('|', 1)[-1]}"  # one per source record
    del keys["optimizer"]
    if fmax is None:
        del keys["fmax_final"]
    keys |= {"state_class": src.info.get("state_class", "unknown"), "source": src.info["rid"], **extra}
    return Record(bare(geometry, geometry.positions), energy, keys)


def reference_keys(key: str, name: str, method: str, **extra: Any) -> dict[str, Any]:
    """The stored keys of the reference ``name`` (a record of kind ``reference``)."""
    return {"rid": key, "task": key, "kind": "reference", "ref": name, "method": method, **extra}


def relax_reference(
    key: str, name: str, atoms: Atoms, cell: bool, calc: Calculation, cfg: LabelConfig, method: str
) -> Record:
    """Relax one reference (Li, a molecule, a bulk metal with its cell, or the host)."""
    res = (
        relax_cell(atoms, calc.calc, fmax=cfg.fmax, steps=cfg.steps)
        if cell
        else relax(atoms, calc.calc, fmax=cfg.fmax, steps=cfg.steps, fix_radius=None)
    )
    keys = reference_keys(key, name, method, converged=res.converged, nsteps=res.nsteps, fmax_final=res.fmax)
    return Record(res.final, res.energy, keys, res.initial)


def bare_host_reference(
    key: str, name: str, state: str, calc: Calculation, cfg: LabelConfig, method: str
) -> Record | None:
    """The host reference of ``state`` (:mod:`dacscreen.data.host_adsorption`): its lowest
    valid relaxation on the metal-free host; None when no start is valid."""
    found = relax_on_bare_host(cfg.host, state, calc.calc, cfg.fmax, cfg.steps, cfg.optimizer)
    if found is None:
        return None
    mode, res = found
    keys = reference_keys(key, name, method, adsorbate=state, orientation=mode, converged=True)
    keys |= {
        "nsteps": res.nsteps,
        "fmax_final": res.fmax,
        "state_class": anomalies.state_class(res.initial, res.final),
    }
    return Record(res.final, res.energy, keys, res.initial)


def single_point_reference(key: str, name: str, src: Atoms, calc: Calculation, method: str) -> Record:
    """ML+SP of a reference: the energy of the source method's relaxed ``src``."""
    energy, extra = calc.single_point(src, dband=False)
    keys = reference_keys(key, name, method, converged=True, nsteps=0, source=src.info["rid"], **extra)
    return Record(src, energy, keys)


def _valid(record: Record) -> bool:
    """Converged and without an anomaly of the site: a candidate label
    (:mod:`dacscreen.data.label_rules`; the store sets the ``best`` flag)."""
    return bool(record.keys["converged"]) and not record.keys["anomaly"]


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
