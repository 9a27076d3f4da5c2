"""DFT input sets for verification jobs (SCIENCE.md §7, the reference study's VASP settings).

One folder per candidate and state with POSCAR, INCAR, KPOINTS and POTCAR.spec (POTCARs are
licensed and never written; the user's VASP set-up supplies them), and a ``references/`` folder
with the jobs that turn total energies into E_ads and ΔG: bcc Li (μ_Li, cell relaxed on a k-mesh),
the gas-phase SRR molecules and the bare host. Each geometry is the labeller's relaxed state from
the store when there is one (the label of that site and state; ``geometry`` in ``job.json`` says
which), else the builder's site with the adsorbate in the orientation the model found lowest.
Host atoms further than :data:`FIX_RADIUS` from every metal are fixed (selective dynamics), as in
the labeller's relaxations.

All files are staged and renamed into place (:func:`dacscreen.atomic.staged`), and a job folder
that already holds VASP output (OUTCAR, vasprun.xml, OSZICAR) is never overwritten unless asked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import ase.io
import pandas as pd
from ase import Atoms
from ase.constraints import FixAtoms

from dacscreen.atomic import staged
from dacscreen.data.adsorbates import orientations, place_adsorbate
from dacscreen.data.references import reference_structures
from dacscreen.data.relax import fix_far_atoms
from dacscreen.data.sites import build_site
from dacscreen.data.store import Store, record_to_atoms
from dacscreen.errors import DacscreenError
from dacscreen.thermo import SRR_SPECIES

FIX_RADIUS = 6.0
"""Host atoms further than this (Å) from every metal are fixed (the labeller's ``fix_radius``)."""
VASP_OUTPUTS = ("OUTCAR", "vasprun.xml", "OSZICAR")
"""Files that mark a job folder as run: its inputs are never overwritten unless forced."""

INCAR = {
    "PREC": "Accurate",
    "ENCUT": 400,
    "EDIFF": 1e-5,
    "EDIFFG": -0.01,
    "IBRION": 2,
    "NSW": 300,
    "ISIF": 2,
    "ISMEAR": 0,
    "SIGMA": 0.05,
    "ISPIN": 2,
    "IVDW": 11,
    "LORBIT": 11,
    "NEDOS": 3001,
    "GGA": "PE",
    "LREAL": "Auto",
    "LWAVE": ".FALSE.",
    "LCHARG": ".FALSE.",
    "LASPH": ".TRUE.",
}
KPOINTS = "Gamma-centred 1x1x1 (reference study)\n0\nGamma\n1 1 1\n0 0 0\n"
BULK_KPOINTS = "Gamma-centred 12x12x12 (bulk references)\n0\nGamma\n12 12 12\n0 0 0\n"
BULK_INCAR = {"ISIF": 3, "ISPIN": 1}
"""A bulk reference relaxes its cell too, on a k-mesh, without spin."""


def incar_text(atoms: Atoms, bulk: bool = False) -> str:
    """INCAR with initial magnetic moments (3 μB on metals, 0 elsewhere) in POSCAR order; a
    bulk reference gets :data:`BULK_INCAR`."""
    tags = atoms.get_tags()
    mags = ["3.0" if t == 1 else "0.0" for t in tags]
    settings = {**INCAR, **BULK_INCAR} if bulk else INCAR
    lines = [f"{k} = {v}" for k, v in settings.items()]
    if not bulk:
        lines.append("MAGMOM = " + " ".join(mags))
    return "\n".join(lines) + "\n"


def write_job(atoms: Atoms, folder: Path, meta: dict[str, object], bulk: bool = False) -> None:
    """Write POSCAR (sorted by element, tags kept in job.json; far host atoms fixed by selective
    dynamics), INCAR, KPOINTS, POTCAR.spec and job.json."""
    folder.mkdir(parents=True, exist_ok=True)
    atoms = atoms.copy()
    atoms.set_constraint(FixAtoms(indices=fix_far_atoms(atoms, FIX_RADIUS)) if not bulk else None)
    order = sorted(range(len(atoms)), key=lambda i: atoms.numbers[i])
    atoms = atoms[order]
    ase.io.write(folder / "POSCAR", atoms, format="vasp", direct=True, sort=False)
    (folder / "INCAR").write_text(incar_text(atoms, bulk))
    (folder / "KPOINTS").write_text(BULK_KPOINTS if bulk else KPOINTS)
    species = list(dict.fromkeys(atoms.get_chemical_symbols()))
    (folder / "POTCAR.spec").write_text("\n".join(species) + "\n")
    (folder / "job.json").write_text(json.dumps({**meta, "tags": atoms.get_tags().tolist()}, indent=2))


def export_candidates(
    candidates: Path,
    out: Path,
    top: int,
    all_states: bool = False,
    code: str = "vasp",
    store: Store | None = None,
    force: bool = False,
) -> list[Path]:
    """Write jobs for the ``top`` candidates (pairs; a screen's single-atom reference rows are
    left out) by acquisition value, with their references; returns the job folders. Relaxed
    geometries come from ``store`` where it labels the site and state."""
    if code != "vasp":
        raise DacscreenError(f"export code '{code}' is not supported; use vasp")
    if not candidates.is_file():
        raise DacscreenError(f"{candidates}: candidates file not found (run dacscreen screen first)")
    df = pd.read_csv(candidates, keep_default_na=False)
    missing = {"m1", "m2", "host", "acquisition"} - set(df.columns)
    if missing:
        raise DacscreenError(f"{candidates}: missing columns {sorted(missing)}")
    if "reference_row" in df:  # single atoms are references, not candidates
        df = df[df["reference_row"].astype(str) != "True"]
    picks = df.sort_values("acquisition", ascending=False).head(top)
    return export_frame(picks, out, all_states, store, force)


def export_frame(
    picks: pd.DataFrame,
    out: Path,
    all_states: bool = False,
    store: Store | None = None,
    force: bool = False,
) -> list[Path]:
    """Write VASP jobs for every row of ``picks`` (host, m1, m2, placement, orientations) and
    the references, staged and renamed into ``out``; returns the folders as they are in ``out``."""
    states = ["clean", *SRR_SPECIES] if all_states else ["clean", "Li2S2", "Li2S"]
    jobs = [job for _, r in picks.iterrows() for job in _site_jobs(r, states, store)]
    if not picks.empty:
        jobs += _reference_jobs(str(picks.host.iloc[0]), states, store)
    ran = [name for name, *_ in jobs if any((out / name / f).exists() for f in VASP_OUTPUTS)]
    if ran and not force:
        raise DacscreenError(
            f"{out / ran[0]}: holds VASP output ({len(ran)} such job folders); use another --out, "
            "or --force to overwrite their inputs"
        )
    with staged(out) as stage:
        for name, atoms, meta, bulk in jobs:
            write_job(atoms, stage / name, meta, bulk)
        write_manifest(stage, [stage / name for name, *_ in jobs])
    return [out / name for name, *_ in jobs]


Job = tuple[str, Atoms, dict[str, Any], bool]
"""(folder relative to the export, geometry, job.json keys, bulk reference)."""


def _site_jobs(r: pd.Series, states: list[str], store: Store | None) -> list[Job]:
    metals = [r.m1, r.m2] if r.m2 else [r.m1]
    placement = int(r.get("placement", 0) or 0)
    site = build_site(r.host, metals, placement)
    jobs = []
    for state in states:
        atoms, geometry = _labelled(store, r.host, r.m1, r.m2, placement, state)
        if atoms is None:
            col = f"orientation_{state.lower()}"
            mode = r[col] if col in r.index and r[col] else orientations(len(metals), state)[0]
            atoms = site if state == "clean" else place_adsorbate(site, state, mode)
            geometry = "built (unrelaxed)"
        meta = {"host": r.host, "m1": r.m1, "m2": r.m2, "state": state, "placement": placement}
        jobs.append(
            (f"{r.host}_{r.m1}{r.m2}_p{placement}/{state}", atoms, {**meta, "geometry": geometry}, False)
        )
    return jobs


def _labelled(
    store: Store | None, host: str, m1: str, m2: str, placement: int, state: str
) -> tuple[Atoms | None, str]:
    """The label (lowest valid relaxed state) of a site and state in ``store``, and its method."""
    if store is None:
        return None, ""
    rows = store.rows(kind="site", host=host, m1=m1, m2=m2, placement=placement, adsorbate=state, best=True)
    row = min((r for r in rows if not r.get("source")), key=lambda r: str(r.method), default=None)
    return (record_to_atoms(row), f"relaxed ({row.method}, {row.rid})") if row is not None else (None, "")


def _reference_jobs(host: str, states: list[str], store: Store | None) -> list[Job]:
    """Bulk Li, the gas-phase molecules of ``states`` and the bare host, as relaxed by the
    labeller where the store holds them."""
    wanted = {"Li_bcc", f"host_{host}", *(f"mol_{s}" for s in states if s != "clean")}
    built = reference_structures(host, [], [s for s in states if s != "clean"])
    jobs = []
    for name in sorted(wanted):
        row = None
        if store is not None:
            relaxed = (r for r in store.rows(kind="reference", ref=name) if not r.get("source"))
            row = min(relaxed, key=lambda r: str(r.method), default=None)
        atoms, geometry = (
            (record_to_atoms(row), f"relaxed ({row.method})") if row else (built[name][0], "built")
        )
        meta = {"reference": name, "state": name, "geometry": geometry}
        jobs.append((f"references/{name}", atoms, meta, name == "Li_bcc"))
    return jobs


SLURM = """#!/bin/bash
# SLURM job array over the exported DFT jobs; adapt the partition, modules and VASP binary.
#SBATCH --job-name=dacscreen-verify
#SBATCH --array=0-{last}
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=32
#SBATCH --time=24:00:00
set -euo pipefail
JOB=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" jobs.txt)
cd "$JOB"
# POTCARs are licensed: build them from POTCAR.spec with your own PAW set, e.g.
# for el in $(cat POTCAR.spec); do cat "$VASP_PP_PATH/potpaw_PBE/$el/POTCAR"; done > POTCAR
srun vasp_std
"""


def write_manifest(out: Path, folders: list[Path]) -> None:
    """``manifest.json`` (one entry per job, references included), ``jobs.txt`` and
    ``submit_array.slurm`` in ``out``."""
    jobs = [{"folder": str(f.relative_to(out)), **json.loads((f / "job.json").read_text())} for f in folders]
    for j in jobs:
        j.pop("tags", None)
    (out / "manifest.json").write_text(
        json.dumps({"settings": INCAR, "kpoints": "Gamma 1x1x1", "jobs": jobs}, indent=2)
    )
    (out / "jobs.txt").write_text("".join(f"{j['folder']}\n" for j in jobs))
    (out / "submit_array.slurm").write_text(SLURM.format(last=max(0, len(jobs) - 1)))
