"""Optional dependencies, guarded: a calculator's package is imported only when it is used, and
a missing one is a one-line ConfigError that says how to install it."""

from __future__ import annotations

import importlib
from typing import Any

from dacscreen.errors import ConfigError

INSTALL_HINTS = {
    "chgnet": "pip install chgnet",
    "tblite": "pip install tblite",
    "gpaw": "pip install 'dacscreen[dft]' (see README: needs libxc-dev, libopenblas-dev and a "
    "GPAW siteconfig) or conda install -c conda-forge gpaw",
}


def requires(module: str, name: str) -> Any:
    """Import ``module`` or raise a ConfigError that says how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        hint = INSTALL_HINTS.get(name, f"pip install {module.split('.', maxsplit=1)[0]}")
        raise ConfigError(f"calculator '{name}' needs {module}: {hint}") from exc
