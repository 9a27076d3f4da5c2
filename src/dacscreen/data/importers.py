"""Importers for a user's own DFT data (VASP folder trees, extxyz, CSV joined to structure
files, energies-only tables), one transaction per record.

Which atoms are the site, the adsorbate and the host is taken from the CSV columns of the
config or inferred: transition metals are the site (tag 1), ``adsorbate_elements`` in a
non-clean state are the adsorbate (tag 2), the rest is the host (tag 0). Every bad file is
reported with its path and the reason; the rest is still imported.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ase.io
import numpy as np
import pandas as pd
from ase import Atoms
from pymatgen.core.periodic_table import Element

from dacscreen.config import ImportConfig
from dacscreen.data.store import Record, Store
from dacscreen.data.vasp_io import VaspRun, job_tags, read_job, read_vasprun
from dacscreen.errors import DacscreenError, DFTInputError, StructureError
from dacscreen.site_key import SiteKey

log = logging.getLogger(__name__)


@dataclass
class ImportReport:
    """What an import did."""

    written: int = 0
    skipped_existing: int = 0
    without_structure: int = 0
    """Written records without atoms (format energies, a site the platform cannot build)."""
    errors: list[str] = field(default_factory=list)


def is_site_metal(symbol: str, adsorbate_elements: list[str]) -> bool:
    """Whether an atom of ``symbol`` is a site atom when no column names the metals: a
    transition metal, or another metal (Mg, Al, Ga, Sn, Bi ...) that is not an adsorbate
    element."""
    el = Element(symbol)
    return el.is_transition_metal or (el.is_metal and symbol not in adsorbate_elements)


def infer_tags(
    atoms: Atoms, clean: bool, adsorbate_elements: list[str], site_metals: list[str] | None = None
) -> np.ndarray:
    """Tags: site metals 1 (``site_metals`` when given, else :func:`is_site_metal`), adsorbate
    elements 2 (only in adsorbate states), else 0."""
    tags = []
    for s in atoms.get_chemical_symbols():
        site = s in site_metals if site_metals else is_site_metal(s, adsorbate_elements)
        if site:
            tags.append(1)
        elif not clean and s in adsorbate_elements:
            tags.append(2)
        else:
            tags.append(0)
    return np.array(tags)


def read_structure(folder: Path, names: list[str]) -> Atoms:
    """The first readable structure file of ``names`` in ``folder``."""
    for name in names:
        path = folder / name
        if path.is_file():
            try:
                atoms = ase.io.read(path, format="vasp")
            except Exception as exc:
                raise StructureError(f"{path}: malformed structure file: {exc}") from exc
            if len(atoms) == 0:
                raise StructureError(f"{path}: no atoms")
            return atoms
    raise StructureError(f"{folder}: none of {', '.join(names)} found")


def folder_energy(folder: Path) -> float:
    """Final energy (eV) from OSZICAR (E0) or OUTCAR, in that order (a folder without
    vasprun.xml)."""
    if (folder / "OSZICAR").is_file():
        from pymatgen.io.vasp import Oszicar

        try:
            return float(Oszicar(str(folder / "OSZICAR")).final_energy)
        except Exception as exc:
            raise DFTInputError(f"{folder / 'OSZICAR'}: cannot read the final energy: {exc}") from exc
    if (folder / "OUTCAR").is_file():
        try:
            return float(ase.io.read(folder / "OUTCAR", format="vasp-out").get_potential_energy())
        except Exception as exc:
            raise DFTInputError(f"{folder / 'OUTCAR'}: cannot read the final energy: {exc}") from exc
    raise DFTInputError(f"{folder}: no energy (no CSV row, vasprun.xml, OSZICAR or OUTCAR)")


def folder_structure(folder: Path, names: list[str], run: VaspRun | None) -> Atoms:
    """The folder's structure: the first of ``names`` present (CONTCAR, POSCAR), else the final
    structure of its vasprun.xml."""
    if run is not None and not any((folder / n).is_file() for n in names):
        return run.atoms
    return read_structure(folder, names)


def _folders(root: Path, names: list[str]) -> Iterator[Path]:
    seen = set()
    for name in [*names, "vasprun.xml"]:
        for p in root.rglob(name):
            if p.parent not in seen:
                seen.add(p.parent)
    yield from sorted(seen)


def _metadata(cfg: ImportConfig, row: pd.Series | None, atoms: Atoms) -> dict[str, Any]:
    """Site identity of a structure: CSV columns where the config names them, else inferred
    (the site metals in atom order, the adsorbate from ``adsorbate_elements``)."""
    metals = [a.symbol for a in atoms if is_site_metal(a.symbol, cfg.adsorbate_elements)]
    m1 = str(row[cfg.metal_column]) if row is not None and cfg.metal_column else (metals[0] if metals else "")
    m2 = metals[1] if len(metals) > 1 and not cfg.metal_column else ""
    host = cfg.host_prefix
    if row is not None and cfg.host_column:
        host = f"{cfg.host_prefix}-{row[cfg.host_column]}"
    state = str(row[cfg.state_column]) if row is not None and cfg.state_column else ""
    if not state:
        ads = [a.symbol for a in atoms if a.symbol in cfg.adsorbate_elements]
        state = Atoms(ads).get_chemical_formula() if ads else "clean"
    if state in cfg.clean_states:
        state = "clean"
    return {"host": host, "m1": m1, "m2": m2, "adsorbate": state}


def _tagged(atoms: Atoms, cfg: ImportConfig, meta: dict[str, Any], where: str) -> Atoms:
    """``atoms`` with site (1), adsorbate (2) and host (0) tags; a structure without a site
    metal is rejected."""
    site = [m for m in (meta["m1"], meta["m2"]) if m]
    atoms.set_tags(infer_tags(atoms, meta["adsorbate"] == "clean", cfg.adsorbate_elements, site))
    if not (atoms.get_tags() == 1).any():
        raise StructureError(f"{where}: no site metal found (name it with metal_column)")
    return atoms


def import_vasp_tree(store: Store, cfg: ImportConfig) -> ImportReport:
    """Import every run folder under ``cfg.source`` (``dacscreen dataset import`` and its alias
    ``dacscreen ingest``, which reads back the jobs of ``export-dft``).

    Per folder: the structure from CONTCAR/POSCAR, else vasprun.xml; the energy from
    ``energies_csv``, else vasprun.xml (converged unless ``allow_unconverged``), OSZICAR or
    OUTCAR; the site identity and atom tags from ``job.json`` where ``export-dft`` wrote one,
    else inferred; the metals' d-band centres from the projected DOS of vasprun.xml when it has
    one. A reference job (``job.json`` names a ``reference``) is stored as that reference."""
    report = ImportReport()
    if not cfg.source.is_dir():
        raise DacscreenError(f"{cfg.source}: directory not found")
    table = None
    if cfg.energies_csv is not None:
        if not cfg.energies_csv.is_file():
            raise DacscreenError(f"{cfg.energies_csv}: energies CSV not found")
        table = pd.read_csv(cfg.energies_csv).set_index(cfg.key_column)
    for folder in _folders(cfg.source, cfg.structure_files):
        rid = f"{cfg.method}|{folder.relative_to(cfg.source)}"
        if store.count(rid=rid):
            report.skipped_existing += 1
            continue
        try:
            record = _folder_record(cfg, folder, table, rid)
            report.written += len(store.write_records([record]))
        except DacscreenError as exc:
            report.errors.append(str(exc))
            log.warning("%s", exc)
    return report


def _folder_record(cfg: ImportConfig, folder: Path, table: pd.DataFrame | None, rid: str) -> Record:
    job = read_job(folder)
    row = table.loc[folder.name] if table is not None and folder.name in table.index else None
    # the convergence check guards the energy: with the energy from the CSV, vasprun.xml only
    # supplies a structure or the projected DOS
    lenient = cfg.allow_unconverged or row is not None
    run = read_vasprun(folder, lenient) if (folder / "vasprun.xml").is_file() else None
    atoms = folder_structure(folder, cfg.structure_files, run)
    energy = (
        float(row[cfg.energy_column]) if row is not None else run.energy if run else folder_energy(folder)
    )
    if not math.isfinite(energy):
        raise DFTInputError(f"{folder}: energy is not finite ({energy})")
    if "reference" in job:
        keys = {"rid": rid, "task": rid, "kind": "reference", "ref": job["reference"], "method": cfg.method}
        return Record(_bare(atoms), energy, keys | {"converged": True, "source": str(folder)})
    meta = _metadata(cfg, row, atoms) | _job_identity(job)
    tags = job_tags(job, atoms)
    atoms = _tagged(atoms, cfg, meta, str(folder)) if tags is None else _with_tags(atoms, tags)
    record = _site_record(cfg, atoms, energy, meta, rid, str(folder))
    centres = run.band_centres([int(i) for i in np.where(atoms.get_tags() == 1)[0]]) if run else []
    if centres:
        record.keys |= {"dband_m1": centres[0], "dband_m2": centres[-1], "dband_method": f"{cfg.method}-pdos"}
    return record


def _job_identity(job: dict[str, Any]) -> dict[str, Any]:
    """The site identity that ``job.json`` gives (its ``state`` is the stored ``adsorbate``)."""
    keys = {k: job[k] for k in ("host", "m1", "m2") if k in job}
    if "state" in job:
        keys["adsorbate"] = job["state"]
    if "placement" in job:
        keys["placement"] = int(job["placement"])
    return keys


def _with_tags(atoms: Atoms, tags: np.ndarray) -> Atoms:
    atoms.set_tags(tags)
    return atoms


def import_extxyz(store: Store, cfg: ImportConfig) -> ImportReport:
    """Import frames of an extxyz file (energy from the frame, metadata from its info)."""
    report = ImportReport()
    try:
        frames = ase.io.read(cfg.source, index=":", format="extxyz")
    except Exception as exc:
        raise StructureError(f"{cfg.source}: malformed extxyz: {exc}") from exc
    for k, atoms in enumerate(frames):
        rid = f"{cfg.method}|{cfg.source.name}|{k}"
        if store.count(rid=rid):
            report.skipped_existing += 1
            continue
        try:
            energy = float(
                atoms.info.get("energy", atoms.get_potential_energy() if atoms.calc else float("nan"))
            )
            if not math.isfinite(energy):
                raise DFTInputError(f"{cfg.source} frame {k}: energy is not finite ({energy})")
            meta = _frame_metadata(cfg, atoms)
            where = f"{cfg.source} frame {k}"
            record = _site_record(cfg, _tagged(atoms, cfg, meta, where), energy, meta, rid, where)
            report.written += len(store.write_records([record]))
        except DacscreenError as exc:
            report.errors.append(str(exc))
    return report


BUILDER_KEYS = ("host", "m1", "m2", "placement", "adsorbate", "orientation")
"""Site identity keys that ``dacscreen build`` writes into an extxyz frame's info."""


def _frame_metadata(cfg: ImportConfig, atoms: Atoms) -> dict[str, Any]:
    """Identity of an extxyz frame: the builder's info keys where present (a frame the builder
    wrote without ``adsorbate`` is a bare site), else inferred as for any structure."""
    meta = _metadata(cfg, None, atoms)
    info = {k: atoms.info[k] for k in BUILDER_KEYS if k in atoms.info}
    if "host" in info and "m1" in info:
        meta.update(m2="", adsorbate="clean")
    meta.update({k: str(v) if k != "placement" else int(v) for k, v in info.items()})
    return meta


def import_csv(store: Store, cfg: ImportConfig) -> ImportReport:
    """Import a CSV of labels joined to structure files (CIF, POSCAR, xyz, ... by extension)."""
    report = ImportReport()
    if not cfg.source.is_file():
        raise DacscreenError(f"{cfg.source}: labels CSV not found")
    table = pd.read_csv(cfg.source)
    for col in (cfg.file_column, cfg.energy_column):
        if col not in table.columns:
            raise DacscreenError(f"{cfg.source}: missing column '{col}'")
    shared = table[cfg.file_column].astype(str).duplicated(keep=False)
    for k, row in table.iterrows():
        path = cfg.source.parent / str(row[cfg.file_column])
        # one record per row: rows that share a structure file are told apart by their row
        rid = f"{cfg.method}|{row[cfg.file_column]}" + (f"|row{k}" if shared[k] else "")
        if store.count(rid=rid):
            report.skipped_existing += 1
            continue
        try:
            try:
                atoms = ase.io.read(path)
            except Exception as exc:
                raise StructureError(f"{path}: malformed or unreadable structure: {exc}") from exc
            energy = float(row[cfg.energy_column])
            if not math.isfinite(energy):
                raise DFTInputError(f"{path}: energy is not finite ({energy})")
            meta = _metadata(cfg, row, atoms)
            record = _site_record(cfg, _tagged(atoms, cfg, meta, str(path)), energy, meta, rid, str(path))
            report.written += len(store.write_records([record]))
        except DacscreenError as exc:
            report.errors.append(str(exc))
    return report


def import_energies(store: Store, cfg: ImportConfig) -> ImportReport:
    """Import a table of energies without structures: one row per site and state.

    The stored energy is E + ZPE − T·S where the config names those columns (the raw E and
    both terms are kept as keys). Where the platform can build the site (a shipped host, a
    placeable adsorbate) the record carries that built, unrelaxed structure
    (``structure: built``), so a GNN can be trained on platform-built inputs; otherwise it has
    no atoms (``structure: none``) and only the descriptor baselines can learn from it. Every row
    is written or reported with its reason.
    """
    report = ImportReport()
    if not cfg.source.is_file():
        raise DacscreenError(f"{cfg.source}: energies table not found")
    table = pd.read_csv(cfg.source)
    optional = (cfg.metal2_column, cfg.placement_column, cfg.host_column, cfg.zpe_column, cfg.ts_column)
    for col in (cfg.metal_column, cfg.state_column, cfg.energy_column, *optional):
        if col and col not in table.columns:
            raise DacscreenError(f"{cfg.source}: missing column '{col}'")
    for k, row in table.iterrows():
        rid = f"{cfg.method}|{cfg.source.name}|row{k}"
        if store.count(rid=rid):
            report.skipped_existing += 1
            continue
        try:
            meta = _row_identity(cfg, row)
            where = f"{cfg.source} row {int(k) + 2}"  # the header is line 1
            energy, terms = _free_energy(cfg, row, where)
            atoms = _platform_structure(meta)
            meta |= terms | {"structure": "built" if len(atoms) else "none"}
            n = len(store.write_records([_site_record(cfg, atoms, energy, meta, rid, where)]))
            report.written += n
            report.without_structure += n * (not len(atoms))
        except DacscreenError as exc:
            report.errors.append(str(exc))
    return report


def _row_identity(cfg: ImportConfig, row: pd.Series) -> dict[str, Any]:
    """host, metals, placement and state of an energies row."""

    def cell(col: str | None) -> str:
        value = row[col] if col else ""
        return "" if pd.isna(value) else str(value).strip()

    state = cell(cfg.state_column)
    host = f"{cfg.host_prefix}-{cell(cfg.host_column)}" if cfg.host_column else cfg.host_prefix
    placement = cell(cfg.placement_column)
    return {
        "host": host,
        "m1": cell(cfg.metal_column),
        "m2": cell(cfg.metal2_column),
        "placement": int(float(placement)) if placement else 0,
        "adsorbate": "clean" if state in cfg.clean_states else state,
        "orientation": "none",
    }


def _free_energy(cfg: ImportConfig, row: pd.Series, where: str) -> tuple[float, dict[str, float]]:
    """E + ZPE − T·S (eV) of a row and the terms it was made of."""
    terms = {"e_raw": row[cfg.energy_column]}
    if cfg.zpe_column:
        terms["zpe"] = row[cfg.zpe_column]
    if cfg.ts_column:
        terms["ts"] = cfg.ts_sign * row[cfg.ts_column]
    try:
        values = {k: float(v) for k, v in terms.items()}
    except (TypeError, ValueError) as exc:
        raise DFTInputError(f"{where}: not a number: {exc}") from exc
    bad = [k for k, v in values.items() if not math.isfinite(v)]
    if bad:
        raise DFTInputError(f"{where}: {', '.join(bad)} is not finite")
    return values["e_raw"] + values.get("zpe", 0.0) - values.get("ts", 0.0), values


def _platform_structure(meta: dict[str, Any]) -> Atoms:
    """The builder's site (and adsorbate, in its first offered orientation) for ``meta``, or no
    atoms where the platform cannot build it (an unknown host, metal or adsorbate)."""
    from dacscreen.data.adsorbates import orientations, place_adsorbate
    from dacscreen.data.hosts import HOSTS
    from dacscreen.data.sites import build_site

    metals = [m for m in (meta["m1"], meta["m2"]) if m]
    if meta["host"] not in HOSTS:
        return Atoms()
    try:
        atoms = build_site(meta["host"], metals, meta["placement"])
        if meta["adsorbate"] != "clean":
            atoms = place_adsorbate(atoms, meta["adsorbate"], orientations(len(metals), meta["adsorbate"])[0])
    except (DacscreenError, KeyError, ValueError, IndexError) as exc:
        log.info("no platform structure for %s: %s", meta, exc)
        return Atoms()
    return atoms


def _site_record(
    cfg: ImportConfig, atoms: Atoms, energy: float, meta: dict[str, Any], rid: str, source: str
) -> Record:
    meta = {"placement": 0, "orientation": "dft", **meta}
    task = (
        f"{SiteKey(meta['host'], meta['m1'], meta['m2'], meta['placement'])}|{meta['adsorbate']}|{cfg.method}"
    )
    keys = {
        "rid": rid,
        "task": task,
        "kind": "site",
        "method": cfg.method,
        "converged": True,
        "anomaly": "",
        "best": True,
        "source": source,
        **meta,
    }
    return Record(_bare(atoms), energy, keys)


def _bare(atoms: Atoms) -> Atoms:
    """``atoms``' species, positions, cell and tags, without a calculator or arrays."""
    return Atoms(
        atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc, tags=atoms.get_tags()
    )


def run_import(store: Store, cfg: ImportConfig) -> ImportReport:
    """Dispatch on ``cfg.format``."""
    runners = {
        "extxyz": import_extxyz,
        "csv": import_csv,
        "vasp-tree": import_vasp_tree,
        "energies": import_energies,
    }
    return runners[cfg.format](store, cfg)
