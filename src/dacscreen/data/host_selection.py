"""Choosing the default host by measurement (SCIENCE.md §2).

Cu–Ni is relaxed in every symmetry-distinct placement on every host; the default host is the
one whose relaxed, non-anomalous Cu–Ni distance is closest to the reference 3.4 Å (ADF-STEM and
DFT of the reference study).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from dacscreen.data import anomalies
from dacscreen.data.hosts import HOSTS, default_supercell
from dacscreen.data.relax import relax
from dacscreen.data.sites import build_site, placements_for

REFERENCE_MM = 3.4
"""Cu–Ni distance of the reference Cu1Ni1–PCN site (Å)."""


@dataclass
class HostTrial:
    """One relaxed Cu–Ni placement."""

    host: str
    placement: int
    label: str
    initial_mm: float
    relaxed_mm: float
    anomaly: str
    energy: float
    converged: bool


def measure(
    calc: Any, fmax: float = 0.05, steps: int = 300, metals: tuple[str, str] = ("Cu", "Ni")
) -> list[HostTrial]:
    """Relax the pair in every placement on every host."""
    trials = []
    for host in HOSTS:
        sc = default_supercell(host)
        for p in placements_for(host, sc, list(metals)):
            site = build_site(host, list(metals), p.index, sc)
            res = relax(site, calc, fmax, steps)
            trials.append(
                HostTrial(
                    host,
                    p.index,
                    p.label,
                    anomalies.metal_pair_distance(site),
                    anomalies.metal_pair_distance(res.final),
                    anomalies.check(res.final),
                    res.energy,
                    res.converged,
                )
            )
    return trials


def choose(trials: list[HostTrial]) -> tuple[str, list[dict[str, Any]]]:
    """The host whose best valid trial is closest to :data:`REFERENCE_MM`, and all trials."""
    valid = [t for t in trials if not t.anomaly and t.converged] or trials
    best = min(valid, key=lambda t: abs(t.relaxed_mm - REFERENCE_MM))
    return best.host, [asdict(t) for t in trials]
