"""The evaluation table: per target, the GNN ensemble and the descriptor baseline side by side.

Targets (eV): E_ads(Li2S2) and E_ads(Li2S) against the isolated molecules; ΔG_RDS and ΔG5 of the
SRR in the per-product form, computed with :func:`dacscreen.thermo.srr_profile` (:func:`profile`)
from the predicted adsorption energies of a site (ΔG_RDS only where all six intermediates are
labelled); and the d-band centres of the
metals of clean sites (vs E_F). Each entry holds MAE, RMSE, R², Spearman ρ and the
calibration of the model's σ; ΔG_RDS adds the top-20 recall of the lowest-ΔG_RDS candidates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dacscreen.featurize.samples import Sample
from dacscreen.models.metrics import calibration_metrics, mae_gap, regression_metrics, top_k_recall
from dacscreen.thermo import SRR_SPECIES, Normalisation, SRRProfile, srr_profile

TARGETS = ("e_ads:Li2S2", "e_ads:Li2S", "dg5", "dg_rds", "e_bind", "dband")
"""The targets of the shipped SRR data, in report order."""
TOP_K = 20


def report_targets(samples: Sequence[Sample]) -> list[str]:
    """The targets ``samples`` can be scored on, in report order: ``e_ads:<state>`` for every
    adsorbate state (a user's own targets included), ``dg5`` and ``dg_rds`` where the SRR
    states they need are present, ``e_bind`` where clean sites carry a graph-level target, and
    ``dband`` where any d-band centre is labelled."""
    states = {s.state for s in samples} - {"clean"}
    clean = [s for s in samples if s.state == "clean"]
    order = {x: f"{k:02d}" for k, x in enumerate(SRR_SPECIES)}  # SRR states in reaction order first
    out = [f"e_ads:{x}" for x in sorted(states, key=lambda x: (x not in order, order.get(x, x)))]
    out += ["dg5"] * ({"Li2S2", "Li2S"} <= states) + ["dg_rds"] * (set(SRR_SPECIES) <= states)
    out += ["e_bind"] * any(np.isfinite(s.e_ads) for s in clean)
    out += ["dband"] * any(np.isfinite(s.dband).any() for s in clean)
    return out


@dataclass
class Predictions:
    """One model's predictions for every sample: graph-level mean/σ (n,) and d-band (n, 2)."""

    e_ads: np.ndarray
    e_ads_std: np.ndarray
    dband: np.ndarray
    dband_std: np.ndarray

    @classmethod
    def empty(cls, n: int, value: float = np.nan) -> Predictions:
        """Every entry ``value`` (NaN: not predicted), to be filled fold by fold."""
        return cls(np.full(n, value), np.full(n, value), np.full((n, 2), value), np.full((n, 2), value))

    def fill(self, idx: Sequence[int], other: Predictions) -> None:
        """Set entries ``idx`` from ``other`` (aligned with ``idx``)."""
        i = np.asarray(idx, dtype=int)
        self.e_ads[i], self.e_ads_std[i] = other.e_ads, other.e_ads_std
        self.dband[i], self.dband_std[i] = other.dband, other.dband_std


def _scored(y: np.ndarray, mean: np.ndarray, std: np.ndarray) -> dict[str, float]:
    return {**regression_metrics(y, mean), **calibration_metrics(y, mean, std)}


def _site_values(
    samples: Sequence[Sample], idx: Sequence[int], values: np.ndarray, states: Sequence[str]
) -> dict[tuple, dict[str, float]]:
    """Finite ``values`` of ``states`` per site, over the samples ``idx``."""
    by_site: dict[tuple, dict[str, float]] = defaultdict(dict)
    for i in idx:
        s = samples[i]
        if s.state in states and np.isfinite(values[i]):
            by_site[s.site][s.state] = float(values[i])
    return by_site


def profile(
    e_ads: Mapping[str, float | np.ndarray],
    refs: Mapping[str, float],
    normalisation: Normalisation = "per-product",
) -> SRRProfile:
    """:func:`dacscreen.thermo.srr_profile` with the references of one method (``Li_bcc``,
    ``mol_<X>``); the steps whose references or species are missing are NaN."""
    molecules = {x: refs[f"mol_{x}"] for x in SRR_SPECIES if f"mol_{x}" in refs}
    return srr_profile(e_ads, molecules, refs.get("Li_bcc", np.nan), normalisation)


def srr_columns(
    e_ads: Mapping[str, float | np.ndarray],
    refs: Mapping[str, float],
    normalisation: Normalisation = "per-product",
) -> dict[str, Any]:
    """The screening columns of :meth:`SRRProfile.columns` for one site."""
    return profile(e_ads, refs, normalisation).columns()


DG5_REFS = ("Li_bcc", "mol_Li2S2", "mol_Li2S")


def _dg_rds(
    samples: Sequence[Sample], idx: Sequence[int], values: np.ndarray, refs: dict[str, float]
) -> dict:
    """ΔG_RDS (eV, per product) per site whose six SRR states are all in ``idx``."""
    per_site = _site_values(samples, idx, values, SRR_SPECIES)
    return {site: profile(e, refs).dg_rds for site, e in per_site.items() if len(e) == len(SRR_SPECIES)}


def _dg5(samples: Sequence[Sample], idx: Sequence[int], values: np.ndarray, refs: dict[str, float]) -> dict:
    """ΔG5 (eV, per product) per site with both Li2S2 and Li2S."""
    per_site = _site_values(samples, idx, values, ("Li2S2", "Li2S"))
    return {site: profile(e, refs).step_dgs[4] for site, e in per_site.items() if len(e) == 2}


SITE_TARGETS = {"dg_rds": _dg_rds, "dg5": _dg5}
"""Targets derived per site from several predicted adsorption energies."""


def score_table(
    samples: Sequence[Sample],
    idx: Sequence[int],
    models: dict[str, Predictions],
    refs: dict[str, float],
    targets: Sequence[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """``{target: {model name: metrics}}`` over the samples ``idx``.

    Targets (default: :func:`report_targets` of the samples ``idx``): ``e_ads:<state>`` (the
    graph-level value of that state), ``dg_rds`` and ``dg5`` (derived per site with the
    thermodynamics module; ``dg_rds`` adds the top-20 recall of the lowest-ΔG_RDS sites),
    ``e_bind`` (clean sites) and ``dband`` (both metals of the clean sites). When the models
    include ``gnn`` and ``baseline``, the per-sample entries add ``gap``: MAE(baseline) −
    MAE(gnn) with its paired-bootstrap 95 % interval (:func:`dacscreen.models.metrics.mae_gap`).
    """
    y = np.array([s.e_ads for s in samples])
    table: dict[str, dict[str, Any]] = {}
    for target in targets if targets is not None else report_targets([samples[i] for i in idx]):
        if target in SITE_TARGETS:
            table[target] = {
                name: _site_scored(target, samples, idx, y, p, refs) for name, p in models.items()
            }
            continue
        truth, preds = _sample_values(target, samples, idx, y, models)
        table[target] = {name: _scored(truth, *pred) for name, pred in preds.items()}
        if "gnn" in preds and "baseline" in preds:
            table[target]["gap"] = mae_gap(truth, preds["gnn"][0], preds["baseline"][0])
    return table


def _sample_values(
    target: str, samples: Sequence[Sample], idx: Sequence[int], y: np.ndarray, models: dict[str, Predictions]
) -> tuple[np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """The labels of a per-sample target (``e_ads:<state>``, ``e_bind`` or ``dband``) over
    ``idx`` and each model's (mean, σ) aligned with them."""
    if target == "dband":
        i = np.array([k for k in idx if samples[k].state == "clean"], dtype=int)
        truth = np.array([samples[k].dband for k in i]).reshape(-1, 2).ravel()
        return truth, {name: (p.dband[i].ravel(), p.dband_std[i].ravel()) for name, p in models.items()}
    state = "clean" if target == "e_bind" else target.split(":")[1]
    i = np.array([k for k in idx if samples[k].state == state], dtype=int)
    return y[i], {name: (p.e_ads[i], p.e_ads_std[i]) for name, p in models.items()}


def _site_scored(
    target: str, samples: Sequence[Sample], idx: Sequence[int], y: np.ndarray, p: Predictions, refs: dict
) -> dict[str, float]:
    derive = SITE_TARGETS[target]
    truth, pred = derive(samples, idx, y, refs), derive(samples, idx, p.e_ads, refs)
    sites = sorted(set(truth) & set(pred))
    t, q = np.array([truth[s] for s in sites]), np.array([pred[s] for s in sites])
    out = regression_metrics(t, q)
    if target == "dg_rds":
        out[f"top{TOP_K}_recall"] = top_k_recall(t, q, TOP_K)
    return out


def target_table(
    samples: Sequence[Sample],
    idx: Sequence[int],
    gnn: Predictions,
    baseline: Predictions,
    refs: dict[str, float],
) -> dict[str, dict[str, Any]]:
    """``{target: {"gnn": {...}, "baseline": {...}}}`` over the samples ``idx``."""
    return score_table(samples, idx, {"gnn": gnn, "baseline": baseline}, refs)


def markdown(table: dict[str, dict[str, Any]], baseline_name: str = "baseline") -> list[str]:
    """Rows of a Markdown table of :func:`target_table` (GNN and baseline side by side; the last
    column is MAE(baseline) − MAE(GNN) in eV with its paired-bootstrap 95 % interval, positive
    when the GNN is better)."""
    lines = [
        f"| target | n | GNN MAE | {baseline_name} MAE | GNN R² | baseline R² | GNN ρ | baseline ρ | "
        "GNN ±1σ | baseline ±1σ | gap [95 % CI] |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for target, row in table.items():
        g, b = row.get("gnn", {}), row.get("baseline", {})
        cells = [
            f"{v:.3f}" if isinstance(v, float) else str(v)
            for v in (
                g.get("mae", np.nan),
                b.get("mae", np.nan),
                g.get("r2", np.nan),
                b.get("r2", np.nan),
                g.get("spearman", np.nan),
                b.get("spearman", np.nan),
                g.get("within_1sigma", np.nan),
                b.get("within_1sigma", np.nan),
            )
        ]
        cells.append(_gap_cell(row.get("gap")))
        lines.append(f"| {target} | {g.get('n', 0)} | " + " | ".join(cells) + " |")
    return lines


def _gap_cell(gap: dict[str, float] | None) -> str:
    if not gap or not gap.get("n"):
        return ""
    return f"{gap['gap']:+.3f} [{gap['low']:+.3f}, {gap['high']:+.3f}]"


def accumulate(
    acc: dict[str, Predictions], count: np.ndarray, idx: list[int], preds: dict[str, Predictions]
) -> None:
    """Add one fold's predictions (aligned with ``idx``) into the running sums ``acc`` (by model
    name, created on first use) for later averaging."""
    i = np.asarray(idx, dtype=int)
    for key, pred in preds.items():
        total = acc.setdefault(key, Predictions.empty(len(count), 0.0))
        for name in ("e_ads", "e_ads_std", "dband", "dband_std"):
            getattr(total, name)[i] += getattr(pred, name)
    count[i] += 1


def averaged(total: Predictions, count: np.ndarray) -> Predictions:
    c = np.where(count > 0, count, np.nan)
    return Predictions(
        total.e_ads / c, total.e_ads_std / c, total.dband / c[:, None], total.dband_std / c[:, None]
    )
