"""The one road from sites to predictions.

Training evaluation, cross-validation, the multi-fidelity benchmark, screening, the MLflow model
and DFT verification all predict through :func:`predict_states`: a (site, state) query is built
with the functions training uses (:func:`dacscreen.featurize.samples.input_site` and
:func:`~dacscreen.featurize.samples.on_site`), an adsorbate in every offered orientation, all
graphs go through the ensemble in one batch, and the orientations of each query are pooled by
the model's ``orientations`` rule (:func:`orientation_weights`): the lowest predicted E_ads for
a model of the relaxed start (AdsorbML), the mean for a model of the site. Each member's
predictions are pooled on their own, and σ is the spread of the members' pooled values: the
uncertainty of the number reported, which is what :mod:`dacscreen.models.calibration` scales. The label is the
lowest valid relaxed start of a site, so the orientation of the start that gave it is never
shown to the model. Each site is built once, however many states are asked of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dacscreen.data.adsorbates import orientations
from dacscreen.featurize.graphs import atoms_to_graph
from dacscreen.featurize.samples import Sample, input_site, on_site
from dacscreen.models.ensemble import Ensemble
from dacscreen.models.targets import Predictions


@dataclass(frozen=True)
class Pooled:
    """Pooled predictions of a list of queries, aligned with it."""

    predictions: Predictions
    """Mean and σ of E_ads (eV) and of both metals' ε_d (eV vs E_F)."""
    e_ads_members: np.ndarray
    """(K, n): each ensemble member's pooled E_ads, for quantities derived per member (ΔG)."""
    orientation: list[str]
    """The orientation predicted lowest for each query (``none`` for a clean site)."""


def orientation_weights(e_ads: np.ndarray, rule: str) -> np.ndarray:
    """Weights over one query's orientations: the lowest predicted E_ads (``labelled``: a model
    of the relaxed start's energy, pooled as AdsorbML does) or the mean (``all``: a model of the
    site, averaged over the starts it was shown)."""
    if rule == "all":
        return np.full(len(e_ads), 1.0 / len(e_ads))
    return np.eye(len(e_ads))[int(np.argmin(e_ads))]


def pool(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Σ_i w_i values[i] over the first axis, skipping zero weights (whose values may be NaN)."""
    keep = weights > 0
    return np.tensordot(weights[keep], values[keep], axes=1)


def query_inputs(queries: Sequence[Sample], mode: str) -> tuple[list[Any], list[int], list[str]]:
    """Every model input of ``queries`` in ``mode``: the structures, the index of each one's
    query and its orientation. In ``relaxed`` mode a query with a relaxed structure is that
    structure alone."""
    structures: list[Any] = []
    owner: list[int] = []
    names: list[str] = []
    sites: dict[tuple[Any, int], Any] = {}
    for k, q in enumerate(queries):
        if mode == "relaxed" and q.relaxed is not None:
            inputs = [(q.orientation, q.relaxed)]
        else:
            key = (q.site, id(q.relaxed_clean) if mode != "as-built" else 0)
            site = sites.get(key)
            if site is None:
                site = sites[key] = input_site(q, mode)
            modes = ["none"] if q.state == "clean" else orientations(len(q.metals), q.state)
            inputs = [(o, on_site(site, q.state, o)) for o in modes]
        structures += [a for _, a in inputs]
        owner += [k] * len(inputs)
        names += [o for o, _ in inputs]
    return structures, owner, names


def predict_states(ens: Ensemble, queries: Sequence[Sample], mode: str, device: str = "cpu") -> Pooled:
    """The ensemble's pooled predictions of ``queries`` (site × state; their labels are not
    read) with inputs built in ``mode`` (``as-built``, ``relaxed-site`` or ``relaxed``)."""
    structures, owner, names = query_inputs(queries, mode)
    weights = ens.correction_weights([q.state for q in queries], [q.metals for q in queries])
    graphs = [atoms_to_graph(a, ens.settings) for a in structures]
    raw = ens.predict(graphs, device=device, weights=weights[np.asarray(owner, dtype=int)])
    rule = ens.meta.orientations
    n = len(queries)
    k_members = raw["e_ads_members"].shape[0]
    members_e, members_d = np.full((k_members, n), np.nan), np.full((k_members, n, 2), np.nan)
    lowest = ["none"] * n
    owner_a = np.asarray(owner)
    for k in range(n):
        idx = np.where(owner_a == k)[0]
        w = orientation_weights(raw["e_ads"][idx], rule)
        members_e[:, k] = pool(raw["e_ads_members"][:, idx].T, w)
        members_d[:, k] = pool(raw["dband_members"][:, idx].transpose(1, 0, 2), w)
        lowest[k] = names[idx[int(np.argmin(raw["e_ads"][idx]))]]
    out = Predictions(members_e.mean(0), members_e.std(0), members_d.mean(0), members_d.std(0))
    return Pooled(out, members_e, lowest)
