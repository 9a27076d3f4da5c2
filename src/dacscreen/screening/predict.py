"""Ensemble predictions for screening sites, turned into SRR thermodynamics with uncertainty.

For each site the model sees the as-built clean site (E_bind, d-band centres) and every SRR
intermediate in every offered placement orientation, through the one predictor that the model's
evaluation uses too (:func:`dacscreen.models.predictor.predict_states`): the lowest predicted
E_ads (the AdsorbML idea) for a model of the relaxed start, the mean for a model trained on
every orientation (``orientations: all``). ``orientation_<state>`` names the start predicted
lowest either way, a starting point for DFT. ΔG values are computed per ensemble member with
:mod:`dacscreen.thermo`, so their spread is the uncertainty.

Every number names its fidelity: the plain columns are at the level of the labels the model
was trained on (column ``fidelity``; the d-band centres ``d_band_fidelity``). A model that
ships a fidelity map (:class:`dacscreen.models.correction.Correction`, e.g. CHGNet → GPAW) adds
``<quantity>_dft`` columns for the states the map covers, plus ΔG5 when it covers Li2S2 and Li2S (column
``dft_fidelity``). The step free energies ΔG1–ΔG5 and ΔG_RDS stay at the training fidelity, so
that energies of two methods never meet in one difference.
"""

from __future__ import annotations

import functools
import json
from dataclasses import astuple
from typing import Any

import numpy as np

from dacscreen.data.host_adsorption import reference_name
from dacscreen.elements import delta_chi
from dacscreen.featurize.samples import Sample
from dacscreen.models.correction import Correction
from dacscreen.models.ensemble import Ensemble
from dacscreen.models.predictor import Pooled, predict_states
from dacscreen.models.targets import DG5_REFS, Predictions, profile, srr_columns
from dacscreen.site_key import SiteKey
from dacscreen.thermo import SRR_SPECIES, Normalisation

STATES = ("clean", *SRR_SPECIES)
"""What is predicted of each site: the clean site (E_bind, d-band centres) and every intermediate."""


def site_queries(specs: list[SiteKey]) -> list[Sample]:
    """One query per site × :data:`STATES`, for :func:`dacscreen.models.predictor.predict_states`."""
    nan = float("nan")
    return [Sample(*astuple(spec), state, "none", nan, (nan, nan)) for spec in specs for state in STATES]


def predict_sites(
    specs: list[SiteKey],
    ens: Ensemble,
    device: str = "cpu",
    normalisation: Normalisation = "per-product",
) -> list[dict[str, Any]]:
    """One row per site with every predicted quantity and its standard deviation; the SRR
    steps written in ``normalisation`` (:func:`dacscreen.thermo.srr_profile`)."""
    pooled = predict_states(ens, site_queries(specs), "as-built", device=device)
    n = len(STATES)
    rows = [_row(spec, pooled, k * n, ens, normalisation) for k, spec in enumerate(specs)]
    if ens.meta.correction is not None:
        corr = fidelity_map(json.dumps(ens.meta.correction, sort_keys=True))
        for row, extra in zip(rows, corrected_columns(specs, rows, corr), strict=True):
            row.update(extra)
    return rows


@functools.lru_cache(maxsize=4)
def fidelity_map(meta: str) -> Correction:
    """A model's fidelity map from its meta (JSON), fitted once per process (screening calls
    :func:`predict_sites` once per chunk): its Gaussian processes are refitted from the stored
    training pairs with the stored kernel hyperparameters, in milliseconds (a model saved
    without them optimises them here, several seconds)."""
    return Correction.from_meta(json.loads(meta))


def corrected_columns(
    specs: list[SiteKey], rows: list[dict[str, Any]], corr: Correction
) -> list[dict[str, Any]]:
    """Per site, ``<quantity>_dft`` and ``<quantity>_dft_std`` (eV): the row's values mapped to
    the correction's fidelity (:meth:`Correction.apply`, the row's σ propagated; one call for
    all ``specs``) for each state the correction covers (E_bind for clean sites, E_ads
    otherwise) and the d-band centres; ``dg_5_dft`` from the mapped E_ads of Li2S2 and Li2S
    with the references of the correction's method."""
    nan = float("nan")
    states = ["clean", *sorted(corr.states - {"clean"})]
    cols = ["e_bind" if s == "clean" else f"e_ads_{s.lower()}" for s in states]
    n = len(states)
    site = [Sample(*astuple(spec), s, "none", nan, (nan, nan)) for spec in specs for s in states]
    dband = np.repeat([[row.get(f"d_band_{m}", nan) for m in ("m1", "m2")] for row in rows], n, axis=0)
    dband_std = np.repeat(
        [[row.get(f"d_band_{m}_std", nan) for m in ("m1", "m2")] for row in rows], n, axis=0
    )
    low = Predictions(
        np.array(
            [
                row.get(c, nan) if s in corr.states else nan
                for row in rows
                for s, c in zip(states, cols, strict=True)
            ]
        ),
        np.array([row.get(f"{c}_std", nan) for row in rows for c in cols]),
        dband.reshape(-1, 2),
        dband_std.reshape(-1, 2),
    )
    high = corr.apply(site, low)
    return [_dft_columns(row, cols, high, k * n, corr) for k, row in enumerate(rows)]


def _dft_columns(
    row: dict[str, Any], cols: list[str], high: Predictions, first: int, corr: Correction
) -> dict[str, Any]:
    """One site's ``*_dft`` columns from the mapped predictions ``high[first : first + len(cols)]``."""
    block = slice(first, first + len(cols))
    values = dict(zip(cols, zip(high.e_ads[block], high.e_ads_std[block], strict=True), strict=True))
    values |= {f"d_band_m{k + 1}": (high.dband[first, k], high.dband_std[first, k]) for k in range(2)}
    out: dict[str, Any] = {"dft_fidelity": corr.label()}
    for col, (v, sd) in values.items():
        if col in row and np.isfinite(v):
            out[f"{col}_dft"], out[f"{col}_dft_std"] = float(v), float(sd)
    return out | _dg5_dft(out, corr.references)


def _dg5_dft(cols: dict[str, Any], refs: dict[str, float]) -> dict[str, float]:
    """ΔG5 in the per-product form (eV at 0 V vs Li/Li+) and its σ from corrected E_ads
    (linear propagation, the two errors taken as independent); empty without them."""
    needed = ("e_ads_li2s2_dft", "e_ads_li2s_dft")
    if not all(k in cols for k in needed) or not all(k in refs for k in DG5_REFS):
        return {}
    e = np.array([cols[k] for k in needed])
    sd = np.array([cols[f"{k}_std"] for k in needed])
    probe = e + np.vstack([np.zeros(2), np.eye(2)])  # the value, then a 1 eV step in each
    dg = np.array([profile({"Li2S2": a, "Li2S": b}, refs).step_dgs[4] for a, b in probe])
    return {"dg_5_dft": float(dg[0]), "dg_5_dft_std": float(np.hypot(*((dg[1:] - dg[0]) * sd)))}


def _row(
    spec: SiteKey, pooled: Pooled, first: int, ens: Ensemble, normalisation: Normalisation
) -> dict[str, Any]:
    """One site's row from its :data:`STATES` queries, ``pooled[first : first + len(STATES)]``."""
    p = pooled.predictions
    row: dict[str, Any] = {
        "host": spec.host,
        "m1": spec.m1,
        "m2": spec.m2,
        "placement": spec.placement,
        "delta_chi": delta_chi(spec.m1, spec.m2),
        "fidelity": ens.meta.method or "unknown",  # the labels the model was trained on
        "d_band_fidelity": ens.meta.dband_method or ens.meta.method or "unknown",
    }
    row["e_bind"], row["e_bind_std"] = float(p.e_ads[first]), float(p.e_ads_std[first])
    row["d_band_m1"], row["d_band_m2"] = (float(v) for v in p.dband[first])
    row["d_band_m1_std"], row["d_band_m2_std"] = (float(v) for v in p.dband_std[first])
    per_member: dict[str, np.ndarray] = {}
    for k, x in enumerate(SRR_SPECIES, start=first + 1):
        per_member[x] = pooled.e_ads_members[:, k]
        row[f"e_ads_{x.lower()}"] = float(p.e_ads[k])
        row[f"e_ads_{x.lower()}_std"] = float(p.e_ads_std[k])
        row[f"orientation_{x.lower()}"] = pooled.orientation[k]
    row.update(srr_columns(per_member, ens.meta.references, normalisation))
    row.update(metal_share(row, ens.meta.references, spec.host))
    return row


def metal_share(row: dict[str, Any], refs: dict[str, float], host: str) -> dict[str, float]:
    """For Li2S2 and Li2S: E_ads on the metal-free host (``e_ads_<x>_host``, eV, a reference of
    the model's method; :mod:`dacscreen.data.host_adsorption`) and the metals' share of the
    site's binding, ``metal_share_<x>`` = E_ads(site) − E_ads(bare host) (negative: the metals
    bind it more strongly than the bare host does). Empty without the host references."""
    out: dict[str, float] = {}
    for x in ("Li2S2", "Li2S"):
        names = (reference_name(host, x), f"host_{host}", f"mol_{x}")
        if all(n in refs for n in names):
            bare = refs[names[0]] - refs[names[1]] - refs[names[2]]
            out[f"e_ads_{x.lower()}_host"] = bare
            out[f"metal_share_{x.lower()}"] = row[f"e_ads_{x.lower()}"] - bare
    return out
