"""Thermodynamics of the Li–S sulfur reduction reaction (SRR) on a catalyst site.

Sign convention: energies in eV, negative = favourable (exothermic / binding).
Potentials in V versus Li/Li+ (μ_Li is the energy per atom of bcc Li, i.e. 0 V vs Li/Li+).

Free energies follow G = E + ZPE − TS. The default correction is zero (ΔG ≈ ΔE); every
output states which correction was used (see :data:`GIBBS_CORRECTION_NOTE`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from dacscreen.elements import delta_chi

SRR_SPECIES: tuple[str, ...] = ("S8", "Li2S8", "Li2S6", "Li2S4", "Li2S2", "Li2S")
"""The six SRR intermediates, from sulfur to the discharge product."""

GIBBS_CORRECTION_NOTE = "ΔG ≈ ΔE (ZPE − TS correction = 0 eV)"
LI_IN_OFFSET_V = 0.62
"""Potential of a Li–In anode versus Li/Li+ (V): U(vs Li-In) = U(vs Li/Li+) − 0.62."""

Normalisation = Literal["two-electron", "per-product", "per-electron"]


@dataclass(frozen=True)
class SRRStep:
    """One SRR step: Σ ν_r X_r* + n_li (Li+ + e−) → Σ ν_p X_p*, in the two-electron form."""

    index: int
    reactants: Mapping[str, float]
    products: Mapping[str, float]
    n_li: int = 2

    @property
    def label(self) -> str:
        """Human-readable equation, e.g. ``Li2S2* + 2 Li → 2 Li2S*``."""

        def side(terms: Mapping[str, float]) -> str:
            return " + ".join(f"{_fmt(n)}{x}*" for x, n in terms.items())

        return f"{side(self.reactants)} + {self.n_li} Li → {side(self.products)}"


def _fmt(n: float) -> str:
    return "" if n == 1 else f"{n:g} "


SRR_STEPS: tuple[SRRStep, ...] = (
    SRRStep(1, {"S8": 1}, {"Li2S8": 1}),
    SRRStep(2, {"Li2S8": 3}, {"Li2S6": 4}),
    SRRStep(3, {"Li2S6": 2}, {"Li2S4": 3}),
    SRRStep(4, {"Li2S4": 1}, {"Li2S2": 2}),
    SRRStep(5, {"Li2S2": 1}, {"Li2S": 2}),
)

STEPS_PER_S8: tuple[float, ...] = (1.0, 1.0 / 3.0, 2.0 / 3.0, 2.0, 4.0)
"""How many times each two-electron step occurs when one S8 is reduced to 8 Li2S."""


def adsorption_energy(e_complex: float, e_site: float, e_molecule: float) -> float:
    """E_ads(X) = E(X*) − E(*) − E(X), in eV; negative means X binds to the site."""
    return e_complex - e_site - e_molecule


def g_star(e_ads: float, e_molecule: float, gibbs_correction: float = 0.0) -> float:
    """G*(X) = G(X*) − G(*) = E_ads(X) + E(X) + ΔG_corr (eV)."""
    return e_ads + e_molecule + gibbs_correction


def step_free_energy(
    step: SRRStep,
    gstar: Mapping[str, float],
    mu_li: float,
    normalisation: Normalisation = "two-electron",
) -> float:
    """ΔG of one SRR step at 0 V vs Li/Li+ (eV).

    ΔG = Σ ν_p G*(p) − Σ ν_r G*(r) − n_li μ_Li. ``normalisation`` rescales the two-electron
    form: ``per-product`` divides by the product coefficient, ``per-electron`` by n_e.
    """
    dg = sum(n * gstar[x] for x, n in step.products.items())
    dg -= sum(n * gstar[x] for x, n in step.reactants.items())
    dg -= step.n_li * mu_li
    if normalisation == "per-product":
        return dg / next(iter(step.products.values()))
    if normalisation == "per-electron":
        return dg / step.n_li
    return dg


def srr_free_energies(
    gstar: Mapping[str, float], mu_li: float, normalisation: Normalisation = "two-electron"
) -> list[float]:
    """The five SRR step free energies ΔG_1..ΔG_5 (eV) at 0 V vs Li/Li+."""
    return [step_free_energy(s, gstar, mu_li, normalisation) for s in SRR_STEPS]


def rate_determining_step(step_dgs: list[float]) -> tuple[int, float]:
    """Return (1-based index, ΔG_RDS) of the step with the largest ΔG."""
    idx = max(range(len(step_dgs)), key=lambda i: step_dgs[i])
    return idx + 1, step_dgs[idx]


def cumulative_profile(step_dgs_two_electron: list[float]) -> list[float]:
    """Cumulative free-energy profile per S8 (eV), starting at 0 for S8*.

    Entry k is the free energy after step k, with each two-electron step weighted by how
    often it occurs per S8 (:data:`STEPS_PER_S8`); the last entry is 8 Li2S* per S8.
    """
    profile = [0.0]
    for dg, times in zip(step_dgs_two_electron, STEPS_PER_S8, strict=True):
        profile.append(profile[-1] + times * dg)
    return profile


def shift_to_potential(step_dgs: list[float], potential_v: float, n_e: int = 2) -> list[float]:
    """ΔG_i(U) = ΔG_i(0) + n_e·e·U for reduction steps at potential U (V vs Li/Li+)."""
    return [dg + n_e * potential_v for dg in step_dgs]


def limiting_potential(step_dgs: list[float], n_e: int = 2) -> float:
    """U_L = −max_i ΔG_i(0) / (n_e e), in V vs Li/Li+; all steps are downhill below U_L."""
    return -max(step_dgs) / n_e


def to_li_in_scale(potential_vs_li: float, offset_v: float = LI_IN_OFFSET_V) -> float:
    """Convert a potential from V vs Li/Li+ to V vs a Li–In anode."""
    return potential_vs_li - offset_v


def binding_energy(
    e_site: float,
    e_host: float,
    mu_m1: float,
    mu_m2: float | None = None,
    n_h_removed: int = 0,
    mu_h: float = 0.0,
) -> float:
    """E_bind = E(M1M2@host) + n_H·μ_H − E(host) − μ_M1 − μ_M2 (eV); > 0: the metals prefer to
    cluster.

    μ_M is the energy per atom of the elemental bulk metal. Leave ``mu_m2`` None for a
    single-atom site. On melon the metals replace N–H hydrogens; the ``n_h_removed`` H atoms
    leave as ½H2 each (μ_H = E(H2)/2).
    """
    return e_site + n_h_removed * mu_h - e_host - mu_m1 - (mu_m2 or 0.0)


@dataclass(frozen=True)
class SRRResult:
    """The SRR thermodynamics of one site, in eV and V vs Li/Li+."""

    step_dgs: list[float]
    rds_step: int
    dg_rds: float
    limiting_potential: float
    profile: list[float]
    normalisation: str = "two-electron"
    correction: str = GIBBS_CORRECTION_NOTE


def srr_from_adsorption(
    e_ads: Mapping[str, float], e_molecules: Mapping[str, float], mu_li: float
) -> SRRResult:
    """Compute the SRR profile from adsorption energies and isolated-molecule energies."""
    gs = {x: g_star(e_ads[x], e_molecules[x]) for x in SRR_SPECIES}
    dgs = srr_free_energies(gs, mu_li)
    rds, dg = rate_determining_step(dgs)
    return SRRResult(dgs, rds, dg, limiting_potential(dgs), cumulative_profile(dgs))


__all__ = [
    "GIBBS_CORRECTION_NOTE",
    "SRR_SPECIES",
    "SRR_STEPS",
    "SRRResult",
    "adsorption_energy",
    "binding_energy",
    "cumulative_profile",
    "delta_chi",
    "limiting_potential",
    "rate_determining_step",
    "shift_to_potential",
    "srr_free_energies",
    "srr_from_adsorption",
]
