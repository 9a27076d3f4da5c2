"""Reading one finished VASP run: ``vasprun.xml`` (pymatgen) and the ``job.json`` that
``dacscreen export-dft`` writes beside its inputs. The importer
(:func:`dacscreen.data.importers.import_vasp_tree`) turns them into records; every problem is
raised as :class:`DFTInputError` naming the file.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from dacscreen.errors import DFTInputError

DBAND_WINDOW = (-10.0, 0.0)
"""Energy window (eV vs E_F) of the d-band centres read from a run's projected DOS."""


@dataclass
class VaspRun:
    """The final and initial structure and the final energy (eV) of one VASP run, with its
    projected DOS where the run wrote one (LORBIT = 11)."""

    atoms: Atoms
    initial: Atoms
    energy: float
    dos: Any = None

    def band_centres(self, indices: list[int], window: tuple[float, float] = DBAND_WINDOW) -> list[float]:
        """d-band centres (eV vs E_F) of the atoms ``indices`` over ``window``; none without a
        projected DOS."""
        if self.dos is None or not self.dos.pdos:
            return []
        return [
            float(self.dos.get_band_center(sites=[self.dos.structure[i]], erange=window)) for i in indices
        ]


def read_vasprun(folder: Path, allow_unconverged: bool = False) -> VaspRun:
    """Parse ``folder/vasprun.xml``; raise DFTInputError naming the file on any problem (missing,
    truncated, malformed, not converged unless ``allow_unconverged``, a non-finite energy)."""
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
    return VaspRun(atoms, initial, energy, run.complete_dos)


def read_job(folder: Path) -> dict[str, Any]:
    """``folder/job.json`` as written by ``export-dft`` (host, m1, m2, state, placement, tags;
    ``reference`` for a reference job), or {} when there is none."""
    path = folder / "job.json"
    if not path.is_file():
        return {}
    try:
        job = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DFTInputError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(job, dict):
        raise DFTInputError(f"{path}: expected a JSON object")
    return job


def job_tags(job: dict[str, Any], atoms: Atoms) -> np.ndarray | None:
    """The atom tags ``job.json`` gives, when they match ``atoms``; else None (infer them)."""
    tags = job.get("tags")
    return np.array(tags) if tags is not None and len(tags) == len(atoms) else None
