"""Importers for a user's own DFT data (VASP folder trees, extxyz), one transaction per record.

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
from dacscreen.errors import DacscreenError, DFTInputError, StructureError

log = logging.getLogger(__name__)


@dataclass
class ImportReport:
    """What an import did."""

    written: int = 0
    skipped_existing: int = 0
    errors: list[str] = field(default_factory=list)


def infer_tags(atoms: Atoms, clean: bool, adsorbate_elements: list[str]) -> np.ndarray:
    """Tags: transition metals 1, adsorbate elements 2 (only in adsorbate states), else 0."""
    tags = []
    for s in atoms.get_chemical_symbols():
        if Element(s).is_transition_metal:
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
    """Final energy (eV) from vasprun.xml, OSZICAR (E0) or OUTCAR, in that order."""
    from dacscreen.data.vasp_io import read_vasprun

    if (folder / "vasprun.xml").is_file():
        return read_vasprun(folder).energy
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


def _folders(root: Path, names: list[str]) -> Iterator[Path]:
    seen = set()
    for name in [*names, "vasprun.xml"]:
        for p in root.rglob(name):
            if p.parent not in seen:
                seen.add(p.parent)
    yield from sorted(seen)


def _metadata(cfg: ImportConfig, folder: Path, row: pd.Series | None, atoms: Atoms) -> dict[str, Any]:
    metals = [a.symbol for a in atoms if Element(a.symbol).is_transition_metal]
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


def import_vasp_tree(store: Store, cfg: ImportConfig) -> ImportReport:
    """Import every run folder under ``cfg.source``."""
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
    atoms = read_structure(folder, cfg.structure_files)
    row = table.loc[folder.name] if table is not None and folder.name in table.index else None
    energy = float(row[cfg.energy_column]) if row is not None else folder_energy(folder)
    if not math.isfinite(energy):
        raise DFTInputError(f"{folder}: energy is not finite ({energy})")
    meta = _metadata(cfg, folder, row, atoms)
    atoms.set_tags(infer_tags(atoms, meta["adsorbate"] == "clean", cfg.adsorbate_elements))
    if not (atoms.get_tags() == 1).any():
        raise StructureError(f"{folder}: no transition-metal site atom found")
    return _site_record(cfg, atoms, energy, meta, rid, str(folder))


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
            meta = _metadata(cfg, cfg.source, None, atoms)
            meta.update({k2: atoms.info[k2] for k2 in ("host", "m1", "m2", "adsorbate") if k2 in atoms.info})
            atoms.set_tags(infer_tags(atoms, meta["adsorbate"] == "clean", cfg.adsorbate_elements))
            record = _site_record(cfg, atoms, energy, meta, rid, f"{cfg.source}#{k}")
            report.written += len(store.write_records([record]))
        except DacscreenError as exc:
            report.errors.append(str(exc))
    return report


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
            meta = _metadata(cfg, path, row, atoms)
            atoms.set_tags(infer_tags(atoms, meta["adsorbate"] == "clean", cfg.adsorbate_elements))
            report.written += len(
                store.write_records([_site_record(cfg, atoms, energy, meta, rid, str(path))])
            )
        except DacscreenError as exc:
            report.errors.append(str(exc))
    return report


def _site_record(
    cfg: ImportConfig, atoms: Atoms, energy: float, meta: dict[str, Any], rid: str, source: str
) -> Record:
    task = f"{meta['host']}|{meta['m1']}|{meta['m2']}|0|{meta['adsorbate']}|{cfg.method}"
    keys = {
        "rid": rid,
        "task": task,
        "kind": "site",
        "placement": 0,
        "orientation": "dft",
        "method": cfg.method,
        "converged": True,
        "anomaly": "",
        "best": True,
        "source": source,
        **meta,
    }
    clean = Atoms(
        atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc, tags=atoms.get_tags()
    )
    return Record(clean, energy, keys)


def run_import(store: Store, cfg: ImportConfig) -> ImportReport:
    """Dispatch on ``cfg.format``."""
    runners = {"extxyz": import_extxyz, "csv": import_csv, "vasp-tree": import_vasp_tree}
    return runners[cfg.format](store, cfg)
