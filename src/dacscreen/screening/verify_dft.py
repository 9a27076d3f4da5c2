"""DFT verification of screening candidates by ML+SP (the AdsorbML protocol).

Each candidate site is relaxed with the ML labeller (records already in the store are reused),
then one single point per state is run with the DFT calculator on that geometry. The AdsorbML
success rate is the fraction of predicted adsorption energies within 0.1 eV and within 0.2 eV of
the single-point value (E_ads of Li2S2 and Li2S against the isolated molecules, both in eV and
both from the single-point method, so the comparison is on one energy scale).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dacscreen.config import CalculatorConfig, LabelConfig
from dacscreen.data.labelling import Labeller
from dacscreen.data.store import Store
from dacscreen.featurize.samples import collect_samples
from dacscreen.screening.loop import verify

THRESHOLDS_EV = (0.1, 0.2)
COMPARED = ("Li2S2", "Li2S")


def ml_sp_verify(
    picks: pd.DataFrame,
    store: Store,
    single_point: CalculatorConfig,
    relax: CalculatorConfig,
    states: list[str],
) -> dict[str, Any]:
    """Relax ``picks`` with ``relax``, run ``single_point`` on the relaxed geometries, and
    return the tasks run, the single-point method and the success rates."""
    host = str(picks.host.iloc[0])
    relaxer = Labeller(LabelConfig(host=host, calculator=relax, states=states, max_orientations=2), store)
    relaxed = verify(relaxer, picks)
    sp_cfg = LabelConfig(
        host=host,
        calculator=single_point,
        dband_calculator=None,
        states=states,
        single_point_of=relaxer.method,
    )
    sp = Labeller(sp_cfg, store)
    ran = verify(sp, picks)
    return {
        "relaxation_method": relaxer.method,
        "method": sp.method,
        "relaxations_run": relaxed,
        "single_points_run": ran,
        **success_rate(picks, store, sp.method),
    }


def success_rate(picks: pd.DataFrame, store: Store, method: str) -> dict[str, Any]:
    """AdsorbML success rates of the predicted E_ads in ``picks`` against ``method``'s labels."""
    truth = {
        (s.host, s.m1, s.m2, s.placement, s.state): s.e_ads
        for s in collect_samples(store, method)
        if s.state in COMPARED
    }
    rows = []
    for r in picks.itertuples():
        for state in COMPARED:
            y = truth.get((r.host, r.m1, r.m2 or "", int(r.placement), state), np.nan)
            pred = float(getattr(r, f"e_ads_{state.lower()}"))
            if np.isfinite(y) and np.isfinite(pred):
                rows.append({"site": f"{r.m1}{r.m2}", "state": state, "predicted": pred, "dft": float(y)})
    err = np.array([abs(x["predicted"] - x["dft"]) for x in rows])
    out: dict[str, Any] = {"compared": len(rows), "pairs": rows}
    out["mae"] = float(err.mean()) if len(err) else float("nan")
    for t in THRESHOLDS_EV:
        out[f"success_within_{t:g}_eV"] = float(np.mean(err <= t)) if len(err) else float("nan")
    return out
