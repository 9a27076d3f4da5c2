"""Reading finished VASP runs back into the dataset (the active-learning loop).

A run folder holds ``vasprun.xml`` (preferred) and optionally ``job.json`` written by
``dacscreen export-dft`` (host, metals, state, placement, atom tags). Without ``job.json`` the
tags are inferred: transition metals are the site (1), ``adsorbate_elements`` the adsorbate (2),
everything else the host (0). Every problem is reported per file; good runs are still ingested.
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from pymatgen.core.periodic_table import Element

from dacscreen.data.store import Record, Store
from dacscreen.errors import DFTInputError
from dacscreen.site_key import SiteKey

log = logging.getLogger(__name__)
SRR_ADSORBATE_ELEMENTS = ("Li", "S")


@dataclass
class VaspResult:
    """The final structure and energy of one VASP run, with its d-band centres if present."""

    folder: Path
    atoms: Atoms
    energy: float
    initial: Atoms
    dband: dict[int, float] = field(default_factory=dict)


def read_vasprun(
    folder: Path, allow_unconverged: bool = False, dband_window: tuple[float, float] = (-10.0, 0.0)
) -> VaspResult:
    """Parse ``folder/vasprun.xml``; raise DFTInputError naming the file on any problem."""
    from pymatgen.io.ase import AseAtomsAdaptor
    from pymatgen.io.vasp import Vasprun

    path = folder / "vasprun.xml"
    if not path.is_file():
        raise DFTInputError(f"{path}: no vasprun.xml")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run = Vasprun(str(path), parse_potcar_file=False, parse_dos=True, exception_on_bad_xml=True)
    except Exception as exc:
        raise DFTInputError(f"{path}: cannot parse (truncated or malformed): {exc}") from exc
    if not allow_unconverged and not (run.converged_electronic and run.converged_ionic):
        what = "electronic" if not run.converged_electronic else "ionic"
        raise DFTInputError(f"{path}: VASP run is not converged ({what})")
    energy = float(run.final_energy)
    if not math.isfinite(energy):
        raise DFTInputError(f"{path}: final energy is not finite ({energy})")
    atoms = AseAtomsAdaptor.get_atoms(run.final_structure)
    initial = AseAtomsAdaptor.get_atoms(run.initial_structure)
    tags = _tags(folder, atoms)
    atoms.set_tags(tags)
    initial.set_tags(tags)
    dband: dict[int, float] = {}
    if run.complete_dos is not None and run.complete_dos.pdos:
        for i in np.where(tags == 1)[0]:
            site = run.complete_dos.structure[int(i)]
            dband[int(i)] = float(run.complete_dos.get_band_center(sites=[site], erange=dband_window))
    return VaspResult(folder, atoms, energy, initial, dband)


def _tags(
    folder: Path, atoms: Atoms, adsorbate_elements: tuple[str, ...] = SRR_ADSORBATE_ELEMENTS
) -> np.ndarray:
    job = folder / "job.json"
    if job.is_file():
        tags = json.loads(job.read_text()).get("tags")
        if tags is not None and len(tags) == len(atoms):
            return np.array(tags)
    out = []
    for s in atoms.get_chemical_symbols():
        if Element(s).is_transition_metal:
            out.append(1)
        elif s in adsorbate_elements:
            out.append(2)
        else:
            out.append(0)
    return np.array(out)


def job_keys(folder: Path, atoms: Atoms, method: str) -> dict[str, Any]:
    """Record keys from ``job.json`` (or inferred from the structure)."""
    meta = json.loads((folder / "job.json").read_text()) if (folder / "job.json").is_file() else {}
    metals = [a.symbol for a in atoms if a.tag == 1]
    m1 = meta.get("m1", metals[0] if metals else "")
    m2 = meta.get("m2", metals[1] if len(metals) > 1 else "")
    state = meta.get(
        "state",
        "clean" if not (atoms.get_tags() == 2).any() else atoms[atoms.get_tags() == 2].get_chemical_formula(),
    )
    host = meta.get("host", "user")
    placement = int(meta.get("placement", 0))
    task = f"{SiteKey(host, m1, m2, placement)}|{state}|{method}"
    return {
        "rid": f"{task}|{folder.name}",
        "task": task,
        "kind": "site",
        "host": host,
        "m1": m1,
        "m2": m2,
        "placement": placement,
        "adsorbate": state,
        "orientation": "dft",
        "method": method,
        "converged": True,
        "anomaly": "",
        "best": True,
        "source": str(folder),
    }


def find_runs(root: Path) -> Iterator[Path]:
    """Folders under ``root`` that contain a vasprun.xml."""
    for p in sorted(root.rglob("vasprun.xml")):
        yield p.parent


def ingest_vasp(
    store: Store, root: Path, method: str, allow_unconverged: bool = False
) -> tuple[int, list[str]]:
    """Ingest every run under ``root``; returns (records written, per-file error messages)."""
    errors: list[str] = []
    written = 0
    if not root.exists():
        raise DFTInputError(f"{root}: directory not found")
    for folder in find_runs(root):
        try:
            res = read_vasprun(folder, allow_unconverged)
        except DFTInputError as exc:
            errors.append(str(exc))
            log.warning("%s", exc)
            continue
        keys = job_keys(folder, res.atoms, method)
        metal_idx = sorted(res.dband)
        if metal_idx:
            keys["dband_m1"] = res.dband[metal_idx[0]]
            keys["dband_m2"] = res.dband[metal_idx[-1]]
            keys["dband_method"] = f"{method}-pdos-lorbit11"
        written += len(store.write_records([Record(res.atoms, res.energy, keys, res.initial)]))
    return written, errors
