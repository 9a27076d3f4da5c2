"""Ensemble predictions for screening sites, turned into SRR thermodynamics with uncertainty.

For each site the model sees the as-built clean site (E_bind, d-band centres) and every SRR
intermediate in every offered placement orientation (``MAX_ORIENTATIONS``), pooled as in the
model's evaluation (:func:`dacscreen.models.pipeline.blind_predictions`): the lowest predicted
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
from typing import Any

import numpy as np

from dacscreen.data.adsorbates import orientations, place_adsorbate
from dacscreen.data.host_adsorption import reference_name
from dacscreen.data.sites import build_site
from dacscreen.elements import delta_chi
from dacscreen.featurize.graphs import GraphSettings, atoms_to_graph
from dacscreen.featurize.samples import Sample
from dacscreen.models.correction import Correction
from dacscreen.models.ensemble import Ensemble
from dacscreen.models.pipeline import orientation_weights, pool
from dacscreen.models.targets import DG5_REFS, Predictions, profile, srr_columns
from dacscreen.site_key import SiteKey
from dacscreen.thermo import SRR_SPECIES, Normalisation

MAX_ORIENTATIONS: int | None = None
"""Orientations per intermediate (None: every offered one), as in the model's evaluation."""


def site_graphs(spec: SiteKey, settings: GraphSettings) -> tuple[list[Any], list[tuple[str, str]]]:
    """Graphs of the clean site and of each intermediate × orientation, with their labels."""
    site = build_site(spec.host, list(spec.metals), spec.placement)
    graphs, labels = [atoms_to_graph(site, settings)], [("clean", "none")]
    for x in SRR_SPECIES:
        for mode in orientations(len(spec.metals), x)[:MAX_ORIENTATIONS]:
            graphs.append(atoms_to_graph(place_adsorbate(site, x, mode), settings))
            labels.append((x, mode))
    return graphs, labels


Featurised = tuple[list[Any], list[int], list[tuple[str, str]]]
"""Graphs of a list of sites, the index of each graph's site and its (state, orientation)."""


def featurise_sites(specs: list[SiteKey], settings: GraphSettings) -> Featurised:
    """Every graph of ``specs`` (:func:`site_graphs`), ready for one :meth:`Ensemble.predict`."""
    graphs: list[Any] = []
    owners: list[int] = []
    labels: list[tuple[str, str]] = []
    for k, spec in enumerate(specs):
        g, lab = site_graphs(spec, settings)
        graphs += g
        owners += [k] * len(g)
        labels += lab
    return graphs, owners, labels


def predict_sites(
    specs: list[SiteKey],
    ens: Ensemble,
    device: str = "cpu",
    normalisation: Normalisation = "per-product",
) -> list[dict[str, Any]]:
    """One row per site with every predicted quantity and its standard deviation; the SRR
    steps written in ``normalisation`` (:func:`dacscreen.thermo.srr_profile`)."""
    graphs, owners, labels = featurise_sites(specs, ens.settings)
    pred = ens.predict(graphs, device=device)
    owners_a = np.array(owners)
    rows = [
        _row(spec, pred, np.where(owners_a == k)[0], labels, ens, normalisation)
        for k, spec in enumerate(specs)
    ]
    if "correction" in ens.meta:
        corr = fidelity_map(json.dumps(ens.meta["correction"], sort_keys=True))
        for row, extra in zip(rows, corrected_columns(specs, rows, corr), strict=True):
            row.update(extra)
    return rows


@functools.lru_cache(maxsize=4)
def fidelity_map(meta: str) -> Correction:
    """A model's fidelity map from its meta (JSON), fitted once per process: its Gaussian
    process is refitted from the stored training pairs, which costs about a second, and screening
    calls :func:`predict_sites` once per chunk."""
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
    site = [
        Sample(spec.host, spec.m1, spec.m2, spec.placement, s, "none", nan, (nan, nan))
        for spec in specs
        for s in states
    ]
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
    return out | _dg5(out, corr.references)


def _dg5(cols: dict[str, Any], refs: dict[str, float]) -> dict[str, float]:
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
    spec: SiteKey,
    pred: dict[str, np.ndarray],
    idx: np.ndarray,
    labels: list[tuple[str, str]],
    ens: Ensemble,
    normalisation: Normalisation,
) -> dict[str, Any]:
    members = pred["e_ads_members"]  # (K, n)
    clean = idx[0]
    row: dict[str, Any] = {
        "host": spec.host,
        "m1": spec.m1,
        "m2": spec.m2,
        "placement": spec.placement,
        "delta_chi": delta_chi(spec.m1, spec.m2),
        "fidelity": ens.meta.get("method", "unknown"),  # the labels the model was trained on
        "d_band_fidelity": ens.meta.get("dband_method") or ens.meta.get("method", "unknown"),
    }
    row["e_bind"], row["e_bind_std"] = float(pred["e_ads"][clean]), float(pred["e_ads_std"][clean])
    row["d_band_m1"], row["d_band_m2"] = (float(v) for v in pred["dband"][clean])
    row["d_band_m1_std"], row["d_band_m2_std"] = (float(v) for v in pred["dband_std"][clean])
    per_member: dict[str, np.ndarray] = {}
    rule = ens.meta.get("orientations", "labelled")
    for x in SRR_SPECIES:
        cand = np.array([i for i in idx if labels[i][0] == x])
        w = orientation_weights(pred["e_ads"][cand], rule)
        per_member[x] = pool(members[:, cand].T, w)
        row[f"e_ads_{x.lower()}"] = float(pool(pred["e_ads"][cand], w))
        row[f"e_ads_{x.lower()}_std"] = float(pool(pred["e_ads_std"][cand], w))
        row[f"orientation_{x.lower()}"] = labels[cand[int(np.argmin(pred["e_ads"][cand]))]][1]
    row.update(srr_columns(per_member, ens.meta.get("references", {}), normalisation))
    row.update(metal_share(row, ens.meta.get("references", {}), spec.host))
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
