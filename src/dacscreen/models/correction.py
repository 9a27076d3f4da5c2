"""The map from low- to high-fidelity labels that a model ships (see
:mod:`dacscreen.models.multifidelity`).

It is learned from the sites labelled by both methods (same site and state; the DFT single
points sit on the CHGNet geometries, ML+SP), for the graph-level value (E_ads or E_bind, eV) and
the d-band centres (eV vs E_F). Two kinds:

* ``nargp``: a Gaussian process on the site descriptor *and the low-fidelity value*,
  y_high = g(x, y_low), the nonlinear autoregressive scheme of Perdikaris et al., Proc. R. Soc. A
  473, 20160751 (2017). Its length scale on y_low decides how much of the low fidelity to
  trust; with a linear g it is Kennedy and O'Hagan's y_high = ρ·y_low + δ(x) (Biometrika 87, 1
  (2000)). The CHGNet E_ads spread about twice as wide as the GPAW ones (ρ ≈ 0.5), which a
  plain Δ cannot express.
* ``delta``: y_high = y_low + Δ(x), a Gaussian process on the descriptor for Δ (Ramakrishnan et
  al., J. Chem. Theory Comput. 11, 2087 (2015)); ρ fixed at 1.

y_low is either the low-fidelity *model's* prediction, with its σ propagated (the screening
tier: nothing is computed for the candidate), or the low-fidelity *label* of the candidate itself,
from one labeller relaxation (:func:`label_predictions`; Δ-ML in its original sense, where the
cheap calculation is run on every new system and only the correction is learned).

``kind="auto"`` picks the kind by a leave-metal-out cross-validation over the fitting pairs
(:func:`choose_kind`), so that no test site decides it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from dacscreen.featurize.descriptors import site_descriptor
from dacscreen.featurize.samples import Sample
from dacscreen.models.baseline import DescriptorBaseline, Hyper, Regressor, TwoRegressors, metal_rows
from dacscreen.models.splits import metal_folds
from dacscreen.models.targets import Predictions

Kind = Literal["nargp", "delta"]
KINDS: tuple[Kind, ...] = ("nargp", "delta")
KindChoice = Literal["nargp", "delta", "auto"]
CHOICE_FOLDS = 5
NAN = float("nan")


def _key(s: Sample) -> tuple:
    return (s.site, s.state)


def twin_pairs(high: Sequence[Sample], low: Sequence[Sample]) -> list[tuple[Sample, Sample]]:
    """(high, low) samples of the same site and state; high samples without a twin are left out."""
    twins = {_key(s): s for s in low}
    return [(s, twins[_key(s)]) for s in high if _key(s) in twins]


def delta_samples(high: Sequence[Sample], low: Sequence[Sample]) -> list[Sample]:
    """The high-fidelity samples with targets replaced by high − low of the same site and state
    (graph-level value and d-band centres, eV); samples without a low-fidelity twin are left
    out."""
    return [_delta(h, lo) for h, lo in twin_pairs(high, low)]


def label_predictions(samples: Sequence[Sample], low: Sequence[Sample]) -> Predictions:
    """The low-fidelity labels of the twins of ``samples`` (same site and state) as predictions
    with σ = 0: graph-level value and d-band centres (eV), NaN where a sample has no twin."""
    twins = {_key(s): s for s in low}
    found = [twins.get(_key(s)) for s in samples]
    e = np.array([t.e_ads if t else NAN for t in found], dtype=float)
    db = np.array([t.dband if t else (NAN, NAN) for t in found], dtype=float).reshape(-1, 2)
    return Predictions(e, np.zeros_like(e), db, np.zeros_like(db))


def _delta(h: Sample, lo: Sample) -> Sample:
    db = (h.dband[0] - lo.dband[0], h.dband[1] - lo.dband[1])
    return replace(h, e_ads=h.e_ads - lo.e_ads, dband=db)


def _covered(samples: Sequence[Sample], states: set[str]) -> np.ndarray:
    return np.array([s.state in states for s in samples], dtype=bool)


class DeltaMap:
    """y_high = y_low + Δ(x), σ² = σ_low² + σ_Δ²."""

    def __init__(self, seed: int = 0, hyper: Hyper | None = None) -> None:
        self.gp = DescriptorBaseline("gp", seed, hyper)

    @property
    def hyperparameters(self) -> Hyper:
        """The fitted kernels' log hyperparameters (``hyper`` refits without optimising)."""
        return self.gp.hyperparameters

    def fit(self, pairs: Sequence[tuple[Sample, Sample]]) -> DeltaMap:
        """Fit the Gaussian process on the differences of ``pairs``."""
        self.gp.fit([_delta(h, lo) for h, lo in pairs])
        return self

    def predict(self, samples: list[Sample], low: Predictions) -> Predictions:
        """High-fidelity predictions from the low-fidelity ones (NaN for states not fitted)."""
        d, d_std = self.gp.predict(samples)
        db, db_std = self.gp.predict_dband(samples)
        ok = _covered(samples, set(self.gp.states))
        return Predictions(
            np.where(ok, low.e_ads + d, NAN),
            np.where(ok, np.hypot(low.e_ads_std, d_std), NAN),
            low.dband + db,
            np.hypot(low.dband_std, db_std),
        )


class FidelityMap(TwoRegressors):
    """y_high = g(x, y_low) with a Gaussian process g (ARD RBF + white noise) on the site
    descriptor x with the low-fidelity value appended; the d-band centre of each metal likewise
    from its metal descriptor and its low-fidelity centre. σ adds the GP's σ and the spread of g
    over y_low ± σ_low in quadrature."""

    def _rows(self, samples: Sequence[Sample]) -> np.ndarray:
        return np.array(
            [site_descriptor(s.m1, s.m2, s.state, self.states, s.host, self.hosts) for s in samples]
        )

    def fit(self, pairs: Sequence[tuple[Sample, Sample]]) -> FidelityMap:
        """Fit on the pairs whose two values are finite."""
        ok = [(h, lo) for h, lo in pairs if np.isfinite(h.e_ads) and np.isfinite(lo.e_ads)]
        if not ok:
            raise ValueError("no state carries finite labels of both methods")
        self.states = sorted({h.state for h, _ in ok})
        self.hosts = sorted({h.host for h, _ in ok})
        x = np.c_[self._rows([h for h, _ in ok]), [lo.e_ads for _, lo in ok]]
        self.energy = Regressor("gp", self.seed, self.hyper.get("energy")).fit(
            x, np.array([h.e_ads for h, _ in ok])
        )
        rows, y = [], []
        for h, lo in pairs:
            if h.state == "clean":
                for row, d_high, d_low in zip(metal_rows(h), h.dband, lo.dband, strict=False):
                    if np.isfinite(d_high) and np.isfinite(d_low):
                        rows.append(np.append(row, d_low))
                        y.append(d_high)
        dband = Regressor("gp", self.seed, self.hyper.get("dband"))
        self.dband = dband.fit(np.array(rows), np.array(y)) if len(y) > 2 else None
        return self

    def predict(self, samples: list[Sample], low: Predictions) -> Predictions:
        """High-fidelity predictions from the low-fidelity ones (NaN for states not fitted)."""
        if self.energy is None:
            raise RuntimeError("fit the fidelity map first")
        y_low = np.where(_covered(samples, set(self.states)), low.e_ads, NAN)
        out = Predictions.empty(len(samples))
        out.e_ads, out.e_ads_std = _propagated(self.energy, self._rows(samples), y_low, low.e_ads_std)
        if self.dband is not None and samples:
            rows = np.array([r for s in samples for r in _two_rows(s)])
            m, sd = _propagated(self.dband, rows, low.dband.reshape(-1), low.dband_std.reshape(-1))
            out.dband, out.dband_std = m.reshape(-1, 2), sd.reshape(-1, 2)
        return out


def _two_rows(s: Sample) -> list[np.ndarray]:
    """Metal descriptor rows of M1 and M2 (M1 again for a single atom)."""
    rows = metal_rows(s)
    return [rows[0], rows[-1]]


def _propagated(
    reg: Regressor, rows: np.ndarray, y_low: np.ndarray, s_low: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and σ of ``reg`` on ``rows`` with y_low appended; σ adds half the spread of the mean
    over y_low ± σ_low in quadrature. NaN where y_low is NaN."""
    mean, std = np.full(len(y_low), NAN), np.full(len(y_low), NAN)
    ok = np.isfinite(y_low)
    if ok.any():
        r, y, s = rows[ok], y_low[ok], np.nan_to_num(s_low[ok])
        m, sd = reg.predict(np.c_[r, y])
        spread = (reg.predict(np.c_[r, y + s])[0] - reg.predict(np.c_[r, y - s])[0]) / 2
        mean[ok], std[ok] = m, np.hypot(sd, spread)
    return mean, std


MAPS = {"nargp": FidelityMap, "delta": DeltaMap}


def choose_kind(pairs: Sequence[tuple[Sample, Sample]], k: int = CHOICE_FOLDS, seed: int = 0) -> Kind:
    """The map kind with the lower graph-level MAE (eV) in a ``k``-fold leave-metal-out
    cross-validation over ``pairs``: each fold's map is fitted on the pairs without its metals
    and applied to the low-fidelity labels of the rest. ``nargp`` when no fold can be scored."""
    pairs = [(h, lo) for h, lo in pairs if np.isfinite(h.e_ads) and np.isfinite(lo.e_ads)]
    errors: dict[Kind, list[float]] = {kind: [] for kind in KINDS}
    for held in metal_folds([h for h, _ in pairs], k, seed):
        fit = [p for p in pairs if not set(held) & set(p[0].metals)]
        test = [p for p in pairs if set(held) & set(p[0].metals)]
        if len(fit) < 3 or not test:
            continue
        highs = [h for h, _ in test]
        y = np.array([h.e_ads for h in highs])
        low = label_predictions(highs, [lo for _, lo in test])
        for kind in KINDS:
            err = np.abs(MAPS[kind]().fit(fit).predict(highs, low).e_ads - y)
            errors[kind] += err[np.isfinite(err)].tolist()
    scored = {kind: float(np.mean(e)) for kind, e in errors.items() if e}
    return min(scored, key=scored.__getitem__) if scored else "nargp"


@dataclass
class Correction:
    """The fidelity map a model ships: the pairs of higher-fidelity ``method`` samples and their
    twins of the model's training method ``base`` (eV), that method's references, and the
    ``kind`` of map, and its fitted kernel hyperparameters. The map is refitted from the pairs
    on first use with those hyperparameters fixed (milliseconds; optimising them took seconds
    of every screen), so a model directory stays plain JSON and weights."""

    method: str
    base: str
    samples: list[Sample]
    references: dict[str, float]
    low: list[Sample] = field(default_factory=list)
    kind: Kind = "nargp"
    hyper: Hyper | None = None
    """The fitted map's kernel hyperparameters, saved with the model so that loading it refits
    the Gaussian processes without optimising them (None: optimise on first use)."""
    _model: FidelityMap | DeltaMap | None = field(default=None, repr=False)

    @classmethod
    def build(
        cls,
        high: Sequence[Sample],
        low: Sequence[Sample],
        references: dict[str, float],
        kind: KindChoice = "auto",
    ) -> Correction:
        """From the samples of the high- and low-fidelity method (ValueError without overlap);
        ``kind="auto"``: :func:`choose_kind` on the pairs."""
        pairs = twin_pairs(high, low)
        if not pairs:
            raise ValueError("no site carries labels of both methods; nothing to learn a correction from")
        if kind == "auto":
            kind = choose_kind(pairs)
        return cls(
            high[0].method, low[0].method, [h for h, _ in pairs], references, [lo for _, lo in pairs], kind
        )

    @property
    def states(self) -> set[str]:
        """States with finite graph-level labels of both methods (the ones the map covers)."""
        return {
            h.state for h, lo in zip(self.samples, self.low, strict=True) if np.isfinite(h.e_ads - lo.e_ads)
        }

    def model(self) -> FidelityMap | DeltaMap:
        """The fitted map (fitted once; with the saved ``hyper`` without optimising)."""
        if self._model is None:
            self._model = MAPS[self.kind](hyper=self.hyper).fit(
                list(zip(self.samples, self.low, strict=True))
            )
            self.hyper = self._model.hyperparameters
        return self._model

    def apply(self, samples: list[Sample], low: Predictions) -> Predictions:
        """``method``-level predictions for ``samples`` from the ``base``-level ones ``low``."""
        return self.model().predict(samples, low)

    def to_meta(self) -> dict[str, Any]:
        """JSON-ready form for a model's ``meta.json``."""
        keep = ("host", "m1", "m2", "placement", "state", "e_ads", "dband")
        rows = [
            {**{k: getattr(h, k) for k in keep}, "e_ads_low": lo.e_ads, "dband_low": lo.dband}
            for h, lo in zip(self.samples, self.low, strict=True)
        ]
        return {
            "method": self.method,
            "base": self.base,
            "kind": self.kind,
            "references": self.references,
            "samples": rows,
            "hyper": self.model().hyperparameters,
        }

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> Correction:
        """Inverse of :meth:`to_meta`. Metadata without a ``kind`` (written before the ``nargp``
        map) holds Δ rows: they load as a ``delta`` map with a zero low-fidelity twin. A null
        number (a missing label written as JSON null) loads as NaN."""
        keys = ("host", "m1", "m2", "placement", "state")
        high, low = [], []
        for r in meta["samples"]:
            site = [r[k] for k in keys]
            high.append(Sample(*site, "none", _num(r["e_ads"]), _nums(r["dband"])))
            low_e, low_d = r.get("e_ads_low", 0.0), r.get("dband_low", (0.0, 0.0))
            low.append(Sample(*site, "none", _num(low_e), _nums(low_d)))
        kind = meta.get("kind", "delta")
        return cls(meta["method"], meta["base"], high, dict(meta["references"]), low, kind, meta.get("hyper"))

    def label(self) -> str:
        """The fidelity of mapped numbers, e.g.
        ``gpaw-lcao-pbe-d3 (nargp map from chgnet-0.4.2, 12 sites)``."""
        n = len({s.site for s in self.samples})
        return f"{self.method} ({self.kind} map from {self.base}, {n} sites)"


def _num(v: float | None) -> float:
    """A stored number, NaN for null."""
    return NAN if v is None else float(v)


def _nums(values: Sequence[float | None]) -> tuple[float, ...]:
    """Stored numbers, NaN for null."""
    return tuple(_num(v) for v in values)
