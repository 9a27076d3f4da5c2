"""DFT input sets for verification jobs (SCIENCE.md §7, the reference study's VASP settings).

One folder per candidate and state with POSCAR, INCAR, KPOINTS and POTCAR.spec (POTCARs are
licensed and never written; the user's VASP set-up supplies them). The geometry is the builder's
site with the adsorbate in the orientation the model found lowest.
"""

from __future__ import annotations

import json
from pathlib import Path

import ase.io
import pandas as pd
from ase import Atoms

from dacscreen.data.adsorbates import orientations, place_adsorbate
from dacscreen.data.sites import build_site
from dacscreen.errors import DacscreenError
from dacscreen.thermo import SRR_SPECIES

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


def incar_text(atoms: Atoms) -> str:
    """INCAR with initial magnetic moments (3 μB on metals, 0 elsewhere) in POSCAR order."""
    tags = atoms.get_tags()
    mags = ["3.0" if t == 1 else "0.0" for t in tags]
    lines = [f"{k} = {v}" for k, v in INCAR.items()]
    lines.append("MAGMOM = " + " ".join(mags))
    return "\n".join(lines) + "\n"


def write_job(atoms: Atoms, folder: Path, meta: dict[str, object]) -> None:
    """Write POSCAR (sorted by element, tags kept in job.json), INCAR, KPOINTS, POTCAR.spec."""
    folder.mkdir(parents=True, exist_ok=True)
    order = sorted(range(len(atoms)), key=lambda i: atoms.numbers[i])
    atoms = atoms[order]
    ase.io.write(folder / "POSCAR", atoms, format="vasp", direct=True, sort=False)
    (folder / "INCAR").write_text(incar_text(atoms))
    (folder / "KPOINTS").write_text(KPOINTS)
    species = list(dict.fromkeys(atoms.get_chemical_symbols()))
    (folder / "POTCAR.spec").write_text("\n".join(species) + "\n")
    (folder / "job.json").write_text(json.dumps({**meta, "tags": atoms.get_tags().tolist()}, indent=2))


def export_candidates(
    candidates: Path, out: Path, top: int, all_states: bool = False, code: str = "vasp"
) -> list[Path]:
    """Write jobs for the ``top`` candidates (pairs; a screen's single-atom reference rows are
    left out) by acquisition value; returns the job folders."""
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
    return export_frame(df.sort_values("acquisition", ascending=False).head(top), out, all_states)


def export_frame(picks: pd.DataFrame, out: Path, all_states: bool = False) -> list[Path]:
    """Write VASP jobs for every row of ``picks`` (host, m1, m2, placement, orientations)."""
    states = ["clean", *SRR_SPECIES] if all_states else ["clean", "Li2S2", "Li2S"]
    df = picks
    folders = []
    for _, r in picks.iterrows():
        metals = [r.m1, r.m2] if r.m2 else [r.m1]
        site = build_site(r.host, metals, int(r.get("placement", 0) or 0))
        for state in states:
            if state == "clean":
                atoms = site
            else:
                col = f"orientation_{state.lower()}"
                mode = r[col] if col in df.columns and r[col] else orientations(len(metals), state)[0]
                atoms = place_adsorbate(site, state, mode)
            folder = out / f"{r.host}_{r.m1}{r.m2}_p{int(r.get('placement', 0) or 0)}" / state
            write_job(
                atoms,
                folder,
                {
                    "host": r.host,
                    "m1": r.m1,
                    "m2": r.m2,
                    "state": state,
                    "placement": int(r.get("placement", 0) or 0),
                },
            )
            folders.append(folder)
    write_manifest(out, folders)
    return folders


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
    """``manifest.json`` (one entry per job) and ``submit_array.slurm`` in ``out``."""
    jobs = [{"folder": str(f.relative_to(out)), **json.loads((f / "job.json").read_text())} for f in folders]
    for j in jobs:
        j.pop("tags", None)
    (out / "manifest.json").write_text(
        json.dumps({"settings": INCAR, "kpoints": "Gamma 1x1x1", "jobs": jobs}, indent=2)
    )
    (out / "jobs.txt").write_text("".join(f"{j['folder']}\n" for j in jobs))
    (out / "submit_array.slurm").write_text(SLURM.format(last=max(0, len(jobs) - 1)))
