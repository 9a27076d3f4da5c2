"""Exception types. Every user-facing error names the file, key or element at fault."""

from __future__ import annotations


class DacscreenError(Exception):
    """Base class for errors reported to the user with a clear message and exit code 2."""


class ConfigError(DacscreenError):
    """A configuration file is missing, malformed or has unknown/invalid keys."""


class ElementError(DacscreenError):
    """An unknown element symbol, or a metal not allowed in the metal set."""


class StructureError(DacscreenError):
    """A structure that cannot be read or fails validation."""


class DFTInputError(DacscreenError):
    """A DFT output that is truncated, unconverged or carries non-finite energies."""


class ModelError(DacscreenError):
    """A model file that is missing, corrupt or incompatible with the featuriser."""


class StoreError(DacscreenError):
    """A dataset store that cannot be opened: not a database, a missing backend, no server."""
