"""The one name of a site: :class:`SiteKey` (host, metals in one order, placement).

Labelling, the store, training, screening, the fidelity map and DFT verification all name a site
with it, so that ``label --metals Ta Cu`` and ``screen --metals Ta Cu`` mean the same structure.
The order of the metals names a structure (the first metal goes on the first anchor of the
placement); :meth:`SiteKey.of` puts a user's metals into the canonical order
(:func:`dacscreen.elements.canonical_metals`), while :meth:`SiteKey.of_record` keeps the order a
stored record (or imported data) has. The enumerator of a site space is
:func:`dacscreen.data.sites.site_keys`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dacscreen.elements import canonical_metals


@dataclass(frozen=True, order=True)
class SiteKey:
    """One site: ``m2`` is empty for a single atom; ``placement`` indexes the host's
    symmetry-distinct placements of the builder. ``str()`` gives ``host|M1|M2|placement``, the
    prefix of every task and record id of the store."""

    host: str
    m1: str
    m2: str = ""
    placement: int = 0

    @classmethod
    def of(cls, host: str, metals: Sequence[str], placement: int = 0) -> SiteKey:
        """The site of ``metals`` (one or two, any order) in canonical order."""
        ordered = canonical_metals(metals)
        return cls(host, ordered[0], ordered[1] if len(ordered) > 1 else "", int(placement))

    @classmethod
    def of_record(cls, r: Any) -> SiteKey:
        """The site of anything with ``host``, ``m1``, ``m2`` and ``placement`` attributes (a store
        row, a sample, a label), metals in the order it has."""
        return cls(str(r.host), str(r.m1), str(r.m2 or ""), int(r.placement))

    @classmethod
    def parse(cls, text: str) -> SiteKey:
        """The inverse of ``str()``: ``host|M1|M2|placement``."""
        host, m1, m2, placement = text.split("|")[:4]
        return cls(host, m1, m2, int(placement))

    @property
    def metals(self) -> tuple[str, ...]:
        """(M1,) or (M1, M2)."""
        return (self.m1, self.m2) if self.m2 else (self.m1,)

    def __str__(self) -> str:
        return f"{self.host}|{self.m1}|{self.m2}|{self.placement}"
