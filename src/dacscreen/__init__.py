"""dacscreen: machine-learning screening of dual-atom catalysts on polymeric carbon nitride."""

from __future__ import annotations

__version__ = "0.1.0"
