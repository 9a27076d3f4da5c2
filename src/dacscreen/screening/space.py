"""The screening space: every single-atom site and every metal pair of a metal set."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import combinations_with_replacement

from dacscreen.config import ScreenConfig
from dacscreen.data.hosts import default_supercell
from dacscreen.data.sites import placements_for
from dacscreen.elements import check_metals, metal_rank


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
    host: str,
    metals: list[str],
    include_single: bool = True,
    allow_non_transition: bool = False,
    placements: str = "first",
) -> Iterator[SiteSpec]:
    """All n(n+1)/2 pairs (homo and hetero) and, optionally, the n single atoms; with
    ``placements="all"`` every symmetry-distinct placement of each. Each pair is (M1, M2) in
    :func:`dacscreen.elements.metal_rank` order whatever the order of ``metals``, as the
    labeller builds it, so that ``screen --metals Ta Cu`` and ``label --metals Ta Cu`` name and
    build the same structures.

    The default 28 metals give 406 pairs + 28 single atoms = 434 sites (first placement).
    """
    metals = sorted(check_metals(metals, allow_non_transition=allow_non_transition), key=metal_rank)
    sites = [[m] for m in metals] if include_single else []
    sites += [[a, b] for a, b in combinations_with_replacement(metals, 2)]
    sc = default_supercell(host)
    for site in sites:
        n = len(placements_for(host, sc, site)) if placements == "all" else 1
        for p in range(n):
            yield SiteSpec(host, site[0], site[1] if len(site) > 1 else "", p)


def space_from_config(cfg: ScreenConfig) -> Iterator[SiteSpec]:
    """The screening space a config asks for."""
    return site_space(cfg.host, cfg.metals, cfg.include_single, cfg.allow_non_transition, cfg.placements)
