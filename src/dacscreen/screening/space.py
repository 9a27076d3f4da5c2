"""The screening space: every single-atom site and every metal pair of a metal set."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import combinations_with_replacement

from dacscreen.elements import check_metals


@dataclass(frozen=True)
class SiteSpec:
    """One site to screen (m2 empty for a single atom)."""

    host: str
    m1: str
    m2: str
    placement: int = 0

    @property
    def metals(self) -> list[str]:
        """[m1] or [m1, m2]."""
        return [self.m1, self.m2] if self.m2 else [self.m1]


def site_space(
    host: str, metals: list[str], include_single: bool = True, allow_non_transition: bool = False
) -> Iterator[SiteSpec]:
    """All n(n+1)/2 pairs (homo and hetero) and, optionally, the n single atoms.

    The default 28 metals give 406 pairs + 28 single atoms = 434 sites.
    """
    metals = check_metals(metals, allow_non_transition=allow_non_transition)
    if include_single:
        for m in metals:
            yield SiteSpec(host, m, "")
    for a, b in combinations_with_replacement(metals, 2):
        yield SiteSpec(host, a, b)
