"""DFT verification of screening candidates by ML+SP (the AdsorbML protocol).

Each candidate site is relaxed with the ML labeller (records already in the store are reused),
then one single point per state is run with the DFT calculator on that geometry. The AdsorbML
success rate is the fraction of predicted adsorption energies within 0.1 eV and within 0.2 eV of
the single-point value (E_ads of Li2S2 and Li2S against the isolated molecules, both in eV and
both from the single-point method, so the comparison is on one energy scale).

Next to the screening prediction it scores the Δ-ML estimate that the relaxation alone gives:
the candidate's own ML label through the fidelity map (:mod:`dacscreen.models.correction`)
fitted on the *other* sites of the store that carry labels of both methods, before the single
points of the candidates are run.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dacscreen.config import CalculatorConfig, LabelConfig
from dacscreen.data.labelling import Labeller
from dacscreen.data.store import Store
from dacscreen.featurize.samples import Sample, collect_samples, reference_table
from dacscreen.models.correction import Correction, label_predictions
from dacscreen.site_key import SiteKey
from dacscreen.workflows.loop import verify

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
    return the tasks run, the single-point method, the success rates of the screening
    prediction and those of the Δ-ML estimate (``delta_ml``; None when no other site of the
    store carries labels of both methods)."""
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
    high, low = collect_samples(store, sp.method), collect_samples(store, relaxer.method)
    estimates = delta_ml_estimates(_sites(picks), high, low, reference_table(store, sp.method))
    return {
        "relaxation_method": relaxer.method,
        "method": sp.method,
        "relaxations_run": relaxed,
        "single_points_run": ran,
        **_rates(_truth(high), _predicted(picks)),
        "delta_ml": _rates(_truth(high), estimates) if estimates else None,
    }


Key = tuple[SiteKey, str]
"""A site and a state."""


def _key(s: Sample) -> Key:
    return (s.site, s.state)


def _sites(picks: pd.DataFrame) -> set[SiteKey]:
    return {SiteKey.of_record(r) for r in picks.itertuples()}


def _truth(samples: list[Sample]) -> dict[Key, float]:
    return {_key(s): s.e_ads for s in samples if s.state in COMPARED}


def delta_ml_estimates(
    sites: set[SiteKey],
    high: list[Sample],
    low: list[Sample],
    references: dict[str, float],
) -> dict[Key, float]:
    """High-fidelity E_ads (eV) of the ``sites``' compared states from their own low-fidelity
    labels, through a fidelity map fitted on the sites *not* in ``sites`` that carry labels of
    both methods (kind chosen by cross-validation). Empty when no other site has both."""
    others = [s for s in high if s.site not in sites]
    targets = [s for s in low if s.site in sites and s.state in COMPARED]
    try:
        corr = Correction.build(others, low, references, "auto")
    except ValueError:
        return {}
    pred = corr.apply(targets, label_predictions(targets, low))
    return {_key(s): float(e) for s, e in zip(targets, pred.e_ads, strict=True)}


def success_rate(picks: pd.DataFrame, store: Store, method: str) -> dict[str, Any]:
    """AdsorbML success rates of the predicted E_ads in ``picks`` against ``method``'s labels."""
    return _rates(_truth(collect_samples(store, method)), _predicted(picks))


def _predicted(picks: pd.DataFrame) -> dict[Key, float]:
    """The screening prediction of E_ads (eV) of each compared state of each candidate row."""
    return {
        (SiteKey.of_record(r), state): float(getattr(r, f"e_ads_{state.lower()}"))
        for r in picks.itertuples()
        for state in COMPARED
    }


def _rates(truth: dict[Key, float], predicted: dict[Key, float]) -> dict[str, Any]:
    """MAE (eV) and the fractions of |predicted − truth| within each of :data:`THRESHOLDS_EV`
    over the keys with finite values of both, with the compared pairs."""
    rows = [
        {"site": "".join(k[0].metals), "state": k[1], "predicted": p, "dft": truth[k]}
        for k, p in predicted.items()
        if k in truth and np.isfinite(p) and np.isfinite(truth[k])
    ]
    err = np.array([abs(x["predicted"] - x["dft"]) for x in rows])
    out: dict[str, Any] = {"compared": len(rows), "pairs": rows}
    out["mae"] = float(err.mean()) if len(err) else float("nan")
    for t in THRESHOLDS_EV:
        out[f"success_within_{t:g}_eV"] = float(np.mean(err <= t)) if len(err) else float("nan")
    return out
