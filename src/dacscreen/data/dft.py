"""The DFT tier: GPAW (PBE, PAW) single points on labeller-relaxed geometries (ML+SP).

The AdsorbML protocol: an MLIP (CHGNet) relaxes, then DFT evaluates that geometry once. Defaults
follow the issue and SCIENCE.md §7 as far as a 2-core machine allows: PBE, PAW setups from the
``gpaw-data`` package (an element it lacks, such as Tc, gets a dataset and basis generated
locally by GPAW's own generators: :func:`generate_datasets`), LCAO with the dzp basis
(``mode="pw"`` as an option), Fermi–Dirac smearing of 0.1 eV, spin-polarised with initial
moments on the transition metals, Γ-point for slabs and molecules (a k-point density for bulk
references), and Grimme D3 (zero damping, as VASP's IVDW = 11) added through ASE's
``SumCalculator``. Energies in eV.

An SCF that does not converge raises :class:`SCFConvergenceError`; callers flag it and never store
its energy as a label.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.mixing import SumCalculator
from pymatgen.core.periodic_table import Element

from dacscreen.config import Settings
from dacscreen.data.dband import FULL, OCCUPIED, dband_keys
from dacscreen.elements import valence_subshells
from dacscreen.errors import ConfigError, DacscreenError
from dacscreen.optional import requires

MAX_INITIAL_MOMENT = 2.0
"""Cap (μ_B) on the initial moment of a transition metal; the SCF relaxes it."""
BULK_KPT_DENSITY = 3.0
"""k-points per Å⁻¹ for fully periodic bulk references (bcc Li, the elemental metals)."""


class SCFConvergenceError(DacscreenError):
    """GPAW's self-consistent field did not converge within ``maxiter``."""


@dataclass(frozen=True)
class GPAWSettings:
    """GPAW parameters of the DFT tier (mode ``lcao`` or ``pw``)."""

    mode: str = "lcao"
    basis: str = "dzp"
    ecut: float = 400.0
    xc: str = "PBE"
    smearing: float = 0.1
    d3: bool = True
    maxiter: int = 300
    generate_missing: bool = True
    """Generate a dataset (and basis) for an element that ``gpaw-data`` lacks (:func:`generate_datasets`)."""
    extra: dict[str, Any] = field(default_factory=dict)

    def method(self) -> str:
        """The method tag stored with every energy, e.g. ``gpaw-lcao-pbe-d3``."""
        mode = "lcao" if self.mode == "lcao" else f"pw{self.ecut:g}"
        return f"gpaw-{mode}-{self.xc.lower()}" + ("-d3" if self.d3 else "")


def gpaw_settings(kwargs: dict[str, Any]) -> GPAWSettings:
    """Settings from a config's ``calculator.kwargs``; an unknown key is a ConfigError."""
    known = set(GPAWSettings.__dataclass_fields__)
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise ConfigError(f"gpaw calculator: unknown setting(s) {unknown}; known: {sorted(known)}")
    return GPAWSettings(**kwargs)


def missing_datasets(symbols: list[str], settings: GPAWSettings | None = None) -> list[str]:
    """Elements of ``symbols`` without a PAW dataset for ``settings.xc`` (or, in LCAO mode, a
    ``settings.basis`` basis) on GPAW's setup path; ``gpaw-data`` has none for Tc, for example."""
    s = settings or GPAWSettings()
    found = _dataset_files(tuple(str(p) for p in requires("gpaw", "gpaw").setup_paths))
    return sorted({el for el in symbols for n in _dataset_names(el, s) if n not in found})


def _dataset_names(symbol: str, s: GPAWSettings) -> list[str]:
    """File names (no ``.gz``) GPAW reads for ``symbol``: the dataset and, in LCAO, the basis."""
    return [f"{symbol}.{s.xc}"] + ([f"{symbol}.{s.basis}.basis"] if s.mode == "lcao" else [])


@lru_cache(maxsize=2)
def _dataset_files(paths: tuple[str, ...]) -> frozenset[str]:
    """File names (``.gz`` dropped) in GPAW's setup directories."""
    return frozenset(f.name.removesuffix(".gz") for p in paths if Path(p).is_dir() for f in Path(p).iterdir())


def generated_dir() -> Path:
    """Where generated datasets live: ``gpaw-setups`` under the settings' cache directory."""
    return Settings().cache_dir / "gpaw-setups"


def generator_valence(symbol: str) -> int | None:
    """Valence electrons of the semicore entry of GPAW's generator table (``generator2.parameters``)
    for ``symbol``; None when GPAW has no parameters for it. The semicore entry for Mo (14 e)
    reproduces the released dataset's PBE lattice constant to 0.1 %
    (``benchmarks/results/gpaw_generated_setups.md``)."""
    table = requires("gpaw.atom.generator2", "gpaw").parameters
    counts = [int(k[len(symbol) :]) for k in table if k.rstrip("0123456789") == symbol]
    return max(counts) if counts else None


def generate_datasets(
    symbols: list[str], settings: GPAWSettings | None = None, directory: Path | None = None
) -> list[str]:
    """Generate, with GPAW's own PAW generator (``gpaw dataset``, the semicore parameters of its
    table) and basis generator (``gpaw basis``), the datasets that are missing from GPAW's setup
    path, into ``directory`` (default :func:`generated_dir`), and put that directory last on the
    path so that released datasets always win. Nothing is fetched.

    Returns the elements of ``symbols`` that are served by a generated dataset (stored with each
    energy as ``paw_generated``). Elements GPAW has no generator parameters for stay missing.
    """
    s = settings or GPAWSettings()
    gpaw = requires("gpaw", "gpaw")
    directory = Path(directory or generated_dir()).resolve()
    if directory not in [Path(p).resolve() for p in gpaw.setup_paths]:
        gpaw.setup_paths.append(directory)
    if s.generate_missing:
        for el in missing_datasets(symbols, s):
            valence = generator_valence(el)
            if valence is not None:
                generate_dataset(el, valence, s, directory)
            _dataset_files.cache_clear()
    return sorted(el for el in set(symbols) if (directory / f"{el}.{s.xc}").exists())


def generate_dataset(
    symbol: str, valence: int, settings: GPAWSettings, directory: Path, tag: str | None = None
) -> list[Path]:
    """Write ``symbol``'s dataset (``-e valence``; named ``<symbol>[.<tag>].<xc>``) and, in LCAO
    mode without a tag, its basis into ``directory`` atomically (a work directory, then
    :meth:`Path.replace`), so that concurrent labellers never read a half-written file."""
    directory.mkdir(parents=True, exist_ok=True)
    gpaw_cli = [sys.executable, "-m", "gpaw"]
    dataset = f"{symbol}.{tag}.{settings.xc}" if tag else f"{symbol}.{settings.xc}"
    steps = [
        [*gpaw_cli, "dataset", symbol, "-f", settings.xc, "-e", str(valence), "-w"]
        + (["-t", tag] if tag else [])
    ]
    names = [dataset]
    if settings.mode == "lcao" and not tag:
        steps.append([*gpaw_cli, "basis", "-t", settings.basis, dataset])
        names.append(f"{symbol}.{settings.basis}.basis")
    with tempfile.TemporaryDirectory(dir=directory) as work:
        for cmd in steps:
            done = subprocess.run(cmd, cwd=work, capture_output=True, text=True, check=False)
            if done.returncode:
                raise DacscreenError(f"generating the GPAW dataset of {symbol} failed: {done.stderr[-500:]}")
        for name in names:
            (Path(work) / name).replace(directory / name)
    return [directory / n for n in names]


def is_bulk(atoms: Atoms) -> bool:
    """Fully periodic and dense (no vacuum gap): a bulk reference that needs k-points."""
    if not atoms.pbc.all():
        return False
    span = np.ptp(atoms.positions, axis=0) if len(atoms) > 1 else np.zeros(3)
    return bool(np.all(atoms.cell.lengths() - span < 6.0))


def gpaw_calculator(atoms: Atoms, settings: GPAWSettings | None = None, txt: str | None = None) -> Any:
    """A GPAW calculator (plus D3) for ``atoms``: Γ-point unless ``atoms`` is bulk."""
    s = settings or GPAWSettings()
    gpaw = requires("gpaw", "gpaw")
    mode = gpaw.PW(s.ecut) if s.mode == "pw" else "lcao"
    kpts = {"density": BULK_KPT_DENSITY, "gamma": True} if is_bulk(atoms) else (1, 1, 1)
    params: dict[str, Any] = {
        "mode": mode,
        "xc": s.xc,
        "kpts": kpts,
        "occupations": gpaw.FermiDirac(s.smearing),
        "maxiter": s.maxiter,
        "txt": txt,
        **s.extra,
    }
    if s.mode == "lcao":
        params["basis"] = s.basis
    dft = gpaw.GPAW(**params)
    if not s.d3:
        return dft
    d3 = requires("dftd3.ase", "gpaw").DFTD3(method=s.xc, damping="d3zero")
    return SumCalculator([dft, d3])


def initial_moment(symbol: str) -> float:
    """Hund's-rule unpaired electrons of the free transition-metal atom (its outer s and d
    shells), capped at :data:`MAX_INITIAL_MOMENT`; 0 for other elements. GPAW rejects an initial
    moment that the atom's valence cannot hold (e.g. 2 μ_B on Cu)."""
    if not Element(symbol).is_transition_metal:
        return 0.0
    outer = {shell[-1]: occ for shell, occ in valence_subshells(symbol)}  # last s and last d
    unpaired = min(outer["s"], 2 - outer["s"]) + min(outer.get("d", 0), 10 - outer.get("d", 0))
    return float(min(unpaired, MAX_INITIAL_MOMENT))


def with_moments(atoms: Atoms) -> Atoms:
    """A copy with :func:`initial_moment` on every atom."""
    out = atoms.copy()
    out.set_initial_magnetic_moments([initial_moment(s) for s in out.get_chemical_symbols()])
    return out


@dataclass
class SinglePoint:
    """A converged DFT single point: total energy (eV), Fermi level (eV) and the calculator."""

    atoms: Atoms
    energy: float
    fermi: float
    magmom: float
    dft: Any
    generated: list[str] = field(default_factory=list)
    """Elements whose PAW dataset was generated locally (:func:`generate_datasets`)."""


def single_point(atoms: Atoms, settings: GPAWSettings | None = None, txt: str | None = None) -> SinglePoint:
    """GPAW (+D3) energy of ``atoms`` as given (no relaxation); raises :class:`SCFConvergenceError`."""
    gpaw = requires("gpaw", "gpaw")
    symbols = sorted(set(atoms.get_chemical_symbols()))
    generated = generate_datasets(symbols, settings)
    missing = missing_datasets(symbols, settings)
    if missing:
        raise ConfigError(
            f"{atoms.get_chemical_formula()}: GPAW has no PAW dataset or basis for {missing}, and "
            "cannot generate one; add one to GPAW_SETUP_PATH (gpaw dataset, gpaw basis) or leave "
            "these elements out"
        )
    a = with_moments(atoms)
    a.calc = gpaw_calculator(a, settings, txt)
    try:
        energy = float(a.get_potential_energy())
    except gpaw.KohnShamConvergenceError as exc:
        raise SCFConvergenceError(f"{a.get_chemical_formula()}: GPAW SCF did not converge ({exc})") from exc
    dft = a.calc.mixer.calcs[0] if isinstance(a.calc, SumCalculator) else a.calc
    magmom = float(dft.get_magnetic_moment())
    return SinglePoint(a, energy, float(dft.get_fermi_level()), magmom, dft, generated)


def gpaw_d_band_centres(
    sp: SinglePoint,
    indices: list[int] | None = None,
    window: tuple[float, float] = (-10.0, 0.0),
    width: float = 0.1,
) -> dict[int, float]:
    """ε_d (eV vs E_F) of ``indices`` (default: tag-1 metals) from the d-projected DOS
    (``DOSCalculator.raw_pdos(l=2)``, Gaussian width in eV) over ``window``; NaN if empty."""
    dos_mod = requires("gpaw.dos", "gpaw")
    if indices is None:
        indices = [int(i) for i in np.where(sp.atoms.get_tags() == 1)[0]]
    dos = dos_mod.DOSCalculator.from_calculator(sp.dft)  # energies relative to E_F
    grid = np.linspace(window[0], window[1], 2001)
    out = {}
    for i in indices:
        rho = np.asarray(dos.raw_pdos(grid, a=i, l=2, width=width))
        norm = np.trapezoid(rho, grid)
        out[i] = float(np.trapezoid(grid * rho, grid) / norm) if norm > 0.05 else float("nan")
    return out


def gpaw_energy(atoms: Atoms, settings: GPAWSettings, dband: bool = False) -> tuple[float, dict[str, Any]]:
    """ML+SP energy (eV) of ``atoms`` and the keys stored with it: the total moment (μ_B), the
    elements with a generated dataset (``paw_generated``, when any) and, with ``dband``, the
    metals' ε_d (eV vs E_F) over the occupied and the full band (:func:`dband_keys`)."""
    sp = single_point(atoms, settings)
    keys: dict[str, Any] = {"spin_moment": sp.magmom}
    if sp.generated:
        keys["paw_generated"] = ",".join(sp.generated)
    if dband:
        occ, full = (list(gpaw_d_band_centres(sp, window=w).values()) for w in (OCCUPIED, FULL))
        keys |= dband_keys(occ, full, f"{settings.method()}-pdos")
    return sp.energy, keys
