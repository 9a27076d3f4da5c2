"""The labels of one method as a table: one row per site, in the screen's column names.

Columns: ``host``, ``m1``, ``m2``, ``placement``, ``e_ads_<x>`` (the label, the site's lowest
valid state), ``e_ads_<x>_intact`` (the lowest valid intact state, where one exists),
``class_<x>`` (the label's state class), the SRR columns of :func:`dacscreen.thermo.srr_profile`
(``dg_1`` … ``dg_5``, ``dg_rds``, … where the species are labelled) and the clean site's
``d_band_m1``, ``d_band_m2`` and full-band ``d_band_full_m1``, ``d_band_full_m2`` (eV vs E_F).
Energies in eV; every value of one table comes from one method.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import pandas as pd

from dacscreen.data.references import reference_value
from dacscreen.data.store import Store
from dacscreen.site_key import SiteKey
from dacscreen.thermo import SRR_SPECIES, Normalisation, srr_profile


def label_table(store: Store, method: str, normalisation: Normalisation = "per-product") -> pd.DataFrame:
    """One row per site with a clean label of ``method`` (see the module docstring)."""
    refs = {
        r.ref: reference_value(r.ref, r.energy, r.natoms) for r in store.rows(kind="reference", method=method)
    }  # per atom for bcc Li and the bulk metals (chemical potentials)
    sites: dict[SiteKey, dict[str, Any]] = defaultdict(dict)
    for r in store.rows(kind="site", method=method):
        slot = sites[SiteKey.of_record(r)].setdefault(r.adsorbate, {})
        if r.get("best"):
            slot["best"] = r
        if r.get("best_intact"):
            slot["intact"] = r
    rows = []
    for site, states in sites.items():
        clean = states.get("clean", {}).get("best")
        if clean is None:
            continue
        row: dict[str, Any] = {"host": site.host, "m1": site.m1, "m2": site.m2, "placement": site.placement}
        for k in ("dband_m1", "dband_m2", "dband_full_m1", "dband_full_m2"):
            row[k.replace("dband", "d_band")] = float(clean.get(k, np.nan))
        e_ads = {}
        for x in SRR_SPECIES:
            recs = states.get(x, {})
            if f"mol_{x}" not in refs:
                continue
            for which, suffix in (("best", ""), ("intact", "_intact")):
                if which in recs:
                    row[f"e_ads_{x.lower()}{suffix}"] = recs[which].energy - clean.energy - refs[f"mol_{x}"]
            if "best" in recs:
                e_ads[x] = row[f"e_ads_{x.lower()}"]
                row[f"class_{x.lower()}"] = recs["best"].get("state_class", "unknown")
        molecules = {x: refs[f"mol_{x}"] for x in SRR_SPECIES if f"mol_{x}" in refs}
        row.update(srr_profile(e_ads, molecules, refs.get("Li_bcc", np.nan), normalisation).columns())
        rows.append(row)
    return pd.DataFrame(rows)
