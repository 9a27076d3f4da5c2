"""Ensemble predictions for screening sites, turned into SRR thermodynamics with uncertainty.

For each site the model sees the as-built clean site (E_bind, d-band centres) and every SRR
intermediate in the first ``MAX_ORIENTATIONS`` placement orientations; the lowest predicted
E_ads over them is kept (the AdsorbML idea). One orientation keeps the 434-site screen fast on
a laptop CPU; raise it for a more thorough search. ΔG values are computed per ensemble member with
:mod:`dacscreen.thermo`, so their spread is the uncertainty.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dacscreen.data.adsorbates import orientations, place_adsorbate
from dacscreen.data.sites import build_site
from dacscreen.elements import delta_chi
from dacscreen.featurize.graphs import atoms_to_graph
from dacscreen.models.ensemble import Ensemble
from dacscreen.screening.space import SiteSpec
from dacscreen.thermo import GIBBS_CORRECTION_NOTE, SRR_SPECIES, limiting_potential, srr_free_energies

MAX_ORIENTATIONS = 1


def site_graphs(spec: SiteSpec, ens: Ensemble) -> tuple[list[Any], list[tuple[str, str]]]:
    """Graphs of the clean site and of each intermediate × orientation, with their labels."""
    site = build_site(spec.host, spec.metals, spec.placement)
    graphs, labels = [atoms_to_graph(site, ens.settings)], [("clean", "none")]
    for x in SRR_SPECIES:
        for mode in orientations(len(spec.metals), x)[:MAX_ORIENTATIONS]:
            graphs.append(atoms_to_graph(place_adsorbate(site, x, mode), ens.settings))
            labels.append((x, mode))
    return graphs, labels


def predict_sites(
    specs: list[SiteSpec], ens: Ensemble, device: str = "cpu", on_site=None
) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """One row per site with every predicted quantity and its standard deviation."""
    graphs, owners, labels = [], [], []
    for k, spec in enumerate(specs):
        g, lab = site_graphs(spec, ens)
        graphs += g
        owners += [k] * len(g)
        labels += lab
        if on_site:
            on_site(1)
    pred = ens.predict(graphs, device=device)
    owners_a = np.array(owners)
    return [_row(spec, pred, np.where(owners_a == k)[0], labels, ens) for k, spec in enumerate(specs)]


def _row(
    spec: SiteSpec, pred: dict[str, np.ndarray], idx: np.ndarray, labels: list[tuple[str, str]], ens: Ensemble
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
    }
    row["e_bind"], row["e_bind_std"] = float(pred["e_ads"][clean]), float(pred["e_ads_std"][clean])
    row["d_band_m1"], row["d_band_m2"] = (float(v) for v in pred["dband"][clean])
    row["d_band_m1_std"], row["d_band_m2_std"] = (float(v) for v in pred["dband_std"][clean])
    per_member: dict[str, np.ndarray] = {}
    for x in SRR_SPECIES:
        cand = [i for i in idx if labels[i][0] == x]
        best = min(cand, key=lambda i: pred["e_ads"][i])
        per_member[x] = members[:, best]
        row[f"e_ads_{x.lower()}"] = float(pred["e_ads"][best])
        row[f"e_ads_{x.lower()}_std"] = float(pred["e_ads_std"][best])
        row[f"orientation_{x.lower()}"] = labels[best][1]
    row.update(_thermo(per_member, ens.meta.get("references", {})))
    return row


def _thermo(per_member: dict[str, np.ndarray], refs: dict[str, float]) -> dict[str, Any]:
    """ΔG_1..5, RDS, ΔG_RDS and U_L (mean ± std over members); NaN without references."""
    needed = ["Li_bcc"] + [f"mol_{x}" for x in SRR_SPECIES]
    out: dict[str, Any] = {"gibbs_correction": GIBBS_CORRECTION_NOTE, "normalisation": "two-electron"}
    if not all(k in refs for k in needed):
        return {
            **out,
            "dg_rds": float("nan"),
            "dg_rds_std": float("nan"),
            "rds_step": 0,
            "limiting_potential": float("nan"),
            "limiting_potential_std": float("nan"),
        }
    k = len(next(iter(per_member.values())))
    dgs = np.array(
        [
            srr_free_energies({x: per_member[x][m] + refs[f"mol_{x}"] for x in SRR_SPECIES}, refs["Li_bcc"])
            for m in range(k)
        ]
    )  # (K, 5)
    mean = dgs.mean(0)
    rds = int(np.argmax(mean)) + 1
    rds_member = dgs.max(axis=1)
    ul = np.array([limiting_potential(list(d)) for d in dgs])
    for s in range(5):
        out[f"dg_{s + 1}"] = float(mean[s])
        out[f"dg_{s + 1}_std"] = float(dgs[:, s].std())
    out.update(
        {
            "rds_step": rds,
            "dg_rds": float(rds_member.mean()),
            "dg_rds_std": float(rds_member.std()),
            "limiting_potential": float(ul.mean()),
            "limiting_potential_std": float(ul.std()),
        }
    )
    return out
