"""Swappable ASE calculators, chosen by name or import path (the atomate2 "maker" idea).

``chgnet`` (default labeller, weights ship inside the PyPI package), ``tblite`` (GFN1-xTB),
``emt`` (ASE's toy potential, for tests of metals), ``gpaw`` (PBE+D3 single points, see
:mod:`dacscreen.data.dft`; the calculator depends on the structure, so it is made there), or
``package.module:Class`` for any other ASE calculator (VASP, MACE, SevenNet, ...).

Security: an import path **imports and runs that module's code**, exactly as ``python -c
"import package.module"`` would. Only use configs from people you trust.
"""

from __future__ import annotations

import contextlib
import sys
from functools import lru_cache
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator

from dacscreen.errors import ConfigError
from dacscreen.optional import requires


def _chgnet(**kwargs: Any) -> Calculator:
    mod = requires("chgnet.model.dynamics", "chgnet")
    kwargs.setdefault("use_device", _device())
    return _cached_chgnet(mod, tuple(sorted(kwargs.items())))


@lru_cache(maxsize=4)
def _cached_chgnet(mod: Any, items: tuple) -> Calculator:
    class CHGNetEF(mod.CHGNetCalculator):
        """CHGNet that skips the stress and magmom heads unless they are asked for: a fixed-cell
        relaxation needs energy and forces only, and the strain derivative costs ~30 % of a step."""

        def calculate(self, atoms: Any = None, properties: Any = None, system_changes: Any = None) -> None:
            full = properties is None or {"stress", "magmoms"} & set(properties)
            super().calculate(atoms, properties, system_changes, task="efsm" if full else "ef")

    with contextlib.redirect_stdout(sys.stderr):  # CHGNet prints banners; stdout is for --json
        return CHGNetEF(**dict(items))


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _tblite(**kwargs: Any) -> Calculator:
    mod = requires("tblite.ase", "tblite")
    kwargs.setdefault("method", "GFN1-xTB")
    kwargs.setdefault("verbosity", 0)
    return mod.TBLite(**kwargs)


def lowest_spin(atoms: Atoms) -> np.ndarray:
    """Initial magnetic moments (μ_B) of the lowest spin state of the neutral structure: none, or
    one unpaired electron on the first atom when Σ Z is odd. Core shells hold even numbers of
    electrons, so the valence count of xTB has the parity of Σ Z. Structures built by
    ``ase.build.bulk`` carry ferromagnetic moments (Fe, Co, Ni) that GFN1-xTB, which takes the
    unpaired-electron count from their sum, would reject."""
    moments = np.zeros(len(atoms))
    if int(atoms.numbers.sum()) % 2 and len(atoms):
        moments[0] = 1.0
    return moments


def _emt(**kwargs: Any) -> Calculator:
    from ase.calculators.emt import EMT

    return EMT(**kwargs)


BUILTIN = {"chgnet": _chgnet, "tblite": _tblite, "emt": _emt}


def get_calculator(name: str, **kwargs: Any) -> Calculator:
    """Return an ASE calculator by registered name or ``module:Class`` import path."""
    if name in BUILTIN:
        return BUILTIN[name](**kwargs)
    if ":" not in name:
        raise ConfigError(f"unknown calculator '{name}'; use one of {', '.join(BUILTIN)} or 'module:Class'")
    module, cls = name.split(":", 1)
    obj = getattr(requires(module, name), cls, None)
    if obj is None:
        raise ConfigError(f"calculator '{name}': {module} has no attribute {cls}")
    return obj(**kwargs)


def method_string(name: str, kwargs: dict[str, Any] | None = None) -> str:
    """A method label stored with every energy, e.g. ``chgnet-0.3.0`` or ``tblite-GFN1-xTB``."""
    if name == "chgnet":
        from importlib.metadata import version

        return f"chgnet-{version('chgnet')}"
    if name == "tblite":
        return f"tblite-{(kwargs or {}).get('method', 'GFN1-xTB')}"
    if name == "gpaw":
        from dacscreen.data.dft import gpaw_settings

        return gpaw_settings(kwargs or {}).method()
    return name
