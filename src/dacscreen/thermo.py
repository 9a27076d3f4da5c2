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

import numpy as np

from dacscreen.elements import delta_chi

SRR_SPECIES: tuple[str, ...] = ("S8", "Li2S8", "Li2S6", "Li2S4", "Li2S2", "Li2S")
"""The six SRR intermediates, from sulfur to the discharge product."""

GIBBS_CORRECTION_NOTE = "ΔG ≈ ΔE (ZPE − TS correction = 0 eV)"
LI_IN_OFFSET_V = 0.62
"""Potential of a Li–In anode versus Li/Li+ (V): U(vs Li-In) = U(vs Li/Li+) − 0.62."""

Normalisation = Literal["per-product", "two-electron", "cumulative"]
NORMALISATIONS: tuple[str, ...] = ("per-product", "two-electron", "cumulative")
"""How the SRR steps are written (SCIENCE.md §5). ``per-product`` (the default, the form of the
Li–S literature): one adsorbed species per site, each step per formula unit of its product,
e.g. ½ Li2S2* + Li → Li2S*. ``two-electron``: every step with 2 Li, e.g. Li2S2* + 2 Li → 2 Li2S*;
it creates adsorbed complexes out of nothing, so each step carries an extra adsorption energy.
``cumulative``: each two-electron step weighted by how often it occurs per S8 reduced."""


@dataclass(frozen=True)
class SRRStep:
    """One SRR step in its two-electron form: Σ ν_r X_r* + n_li (Li+ + e−) → Σ ν_p X_p*."""

    index: int
    reactants: Mapping[str, float]
    products: Mapping[str, float]
    n_li: int = 2

    @property
    def label(self) -> str:
        """Human-readable two-electron equation, e.g. ``Li2S2* + 2 Li → 2 Li2S*``."""

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


def step_factor(step: SRRStep, normalisation: Normalisation = "per-product") -> float:
    """The multiple of the two-electron step that ``normalisation`` writes: 1/ν(product) for
    ``per-product`` (¾ Li2S8* + ½ Li → Li2S6*), 1 for ``two-electron``, the occurrences per S8
    for ``cumulative``."""
    if normalisation == "per-product":
        return 1.0 / next(iter(step.products.values()))
    if normalisation == "two-electron":
        return 1.0
    if normalisation == "cumulative":
        return STEPS_PER_S8[step.index - 1]
    raise ValueError(f"unknown SRR normalisation {normalisation!r}; use one of {NORMALISATIONS}")


def electrons(normalisation: Normalisation = "per-product") -> tuple[float, ...]:
    """Electrons n_e,i transferred in each step as ``normalisation`` writes it: (2, ½, ⅔, 1, 1)
    per product, 2 each in the two-electron form."""
    return tuple(s.n_li * step_factor(s, normalisation) for s in SRR_STEPS)


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
    normalisation: Normalisation = "per-product",
) -> float:
    """ΔG of one SRR step at 0 V vs Li/Li+ (eV), written in ``normalisation``:
    ΔG = f·(Σ ν_p G*(p) − Σ ν_r G*(r) − n_li μ_Li), with f = :func:`step_factor`. Per product,
    step 5 is ΔG5 = G*(Li2S) − ½ G*(Li2S2) − μ_Li."""
    dg = sum(n * gstar[x] for x, n in step.products.items())
    dg -= sum(n * gstar[x] for x, n in step.reactants.items())
    dg -= step.n_li * mu_li
    return dg * step_factor(step, normalisation)


def srr_free_energies(
    gstar: Mapping[str, float], mu_li: float, normalisation: Normalisation = "per-product"
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


def shift_to_potential(
    step_dgs: list[float], potential_v: float, normalisation: Normalisation = "per-product"
) -> list[float]:
    """ΔG_i(U) = ΔG_i(0) + n_e,i·e·U for reduction steps at potential U (V vs Li/Li+)."""
    return [dg + n * potential_v for dg, n in zip(step_dgs, electrons(normalisation), strict=True)]


def limiting_potential(step_dgs: list[float], normalisation: Normalisation = "per-product") -> float:
    """U_L = −max_i(ΔG_i(0)/n_e,i), in V vs Li/Li+: every step is downhill below U_L. It does not
    depend on the normalisation, as long as ``step_dgs`` and ``normalisation`` agree."""
    return -max(dg / n for dg, n in zip(step_dgs, electrons(normalisation), strict=True))


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
class SRRProfile:
    """The SRR thermodynamics of one site (eV; potentials in V vs Li/Li+), over ensemble members.

    ``step_dgs``/``step_std``: mean and σ over members of ΔG_1..ΔG_5 (NaN for a step whose
    species are missing); ``rds_step`` the step of the largest mean ΔG (0 when a step is
    missing); ``dg_rds`` that step's mean ΔG and σ, ``limiting_potential`` U_L of the mean
    profile with the σ of its limiting step. The maximum is taken over the mean profile, not
    averaged over each member's maximum: the members' spread is scaled up to match the errors
    (σ-scaling) and varies independently from step to step, so the mean of per-member maxima
    is biased upward by as much as the spread, while the labels' ΔG_RDS is the maximum of one
    profile. With one member every σ is 0."""

    step_dgs: list[float]
    step_std: list[float]
    rds_step: int
    dg_rds: float
    dg_rds_std: float
    limiting_potential: float
    limiting_potential_std: float
    normalisation: str = "per-product"
    correction: str = GIBBS_CORRECTION_NOTE

    def columns(self) -> dict[str, float | int | str]:
        """The screening columns: ``dg_1`` … ``dg_5`` with ``_std``, ``rds_step``, ``dg_rds``,
        ``limiting_potential`` (each with ``_std``), ``normalisation`` and ``gibbs_correction``."""
        out: dict[str, float | int | str] = {
            "normalisation": self.normalisation,
            "gibbs_correction": self.correction,
        }
        for i, (dg, sd) in enumerate(zip(self.step_dgs, self.step_std, strict=True), start=1):
            out[f"dg_{i}"], out[f"dg_{i}_std"] = dg, sd
        out |= {"rds_step": self.rds_step, "dg_rds": self.dg_rds, "dg_rds_std": self.dg_rds_std}
        out |= {"limiting_potential": self.limiting_potential}
        out["limiting_potential_std"] = self.limiting_potential_std
        return out


def srr_profile(
    e_ads: Mapping[str, float | np.ndarray],
    molecules: Mapping[str, float],
    mu_li: float,
    normalisation: Normalisation = "per-product",
    gibbs_correction: Mapping[str, float] | None = None,
) -> SRRProfile:
    """The one road from adsorption energies to the SRR free energies.

    ``e_ads`` maps species to E_ads (eV): a number, or an array over ensemble members (each
    member's profile is computed, so the spread is the uncertainty). Species may be missing:
    the steps that need them are NaN (ΔG5 needs only Li2S2 and Li2S). ``molecules`` are the
    isolated molecules' energies and ``mu_li`` bcc Li's energy per atom, of the same method.
    G*(X) = E_ads(X) + E(X) + ΔG_corr(X); ΔG_i by :func:`step_free_energy`.
    """
    corr = gibbs_correction or {}
    k = max((np.size(v) for v in e_ads.values()), default=1)
    gstar = {
        x: np.broadcast_to(np.asarray(e_ads[x], float), (k,)) + molecules[x] + corr.get(x, 0.0)
        for x in SRR_SPECIES
        if x in e_ads and x in molecules
    }
    nan = np.full(k, np.nan)
    dgs = np.array(
        [
            step_free_energy(s, gstar, mu_li, normalisation)
            if set(s.reactants) | set(s.products) <= set(gstar)
            else nan
            for s in SRR_STEPS
        ]
    ).T  # (k, 5)
    mean, std = dgs.mean(0), dgs.std(0)
    complete = bool(np.isfinite(mean).all())
    per_electron = mean / np.array(electrons(normalisation))
    rds, limiting = (int(np.argmax(mean)), int(np.argmax(per_electron))) if complete else (0, 0)
    return SRRProfile(
        [float(v) for v in mean],
        [float(v) for v in std],
        rds + 1 if complete else 0,
        float(mean[rds]) if complete else np.nan,
        float(std[rds]) if complete else np.nan,
        float(-per_electron[limiting]) if complete else np.nan,
        float(std[limiting] / electrons(normalisation)[limiting]) if complete else np.nan,
        normalisation,
        GIBBS_CORRECTION_NOTE if not corr else "ΔG = ΔE + ZPE − TS (per species)",
    )


__all__ = [
    "GIBBS_CORRECTION_NOTE",
    "SRR_SPECIES",
    "SRR_STEPS",
    "SRRProfile",
    "adsorption_energy",
    "binding_energy",
    "cumulative_profile",
    "delta_chi",
    "limiting_potential",
    "rate_determining_step",
    "shift_to_potential",
    "srr_free_energies",
    "srr_profile",
]
