"""scikit-learn baselines: random forest, gradient boosting and a Gaussian process on descriptors,
and the additive model of the metals' identities alone.

Each baseline predicts the graph-level target (E_ads or E_bind, eV) from the site descriptor
(elemental descriptors of both metals, |Δχ|, state and host one-hots) and the metal d-band
centres (eV vs E_F) from a per-metal descriptor (its own elemental descriptor plus the site's).
Each gives a mean and a standard deviation: the spread of the trees (forest), of five
sub-sampled boosters (boosting), or the predictive σ (Gaussian process).
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import BayesianRidge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dacscreen.elements import element_features
from dacscreen.featurize.descriptors import metal_descriptor, one_hot, site_descriptor
from dacscreen.featurize.samples import Sample
from dacscreen.models.gp import ARDGaussianProcess, ard_kernel

Kind = Literal["rf", "gb", "gp", "metals"]
KINDS: tuple[Kind, ...] = ("rf", "gb", "gp", "metals")
NAMES = {
    "rf": "random forest",
    "gb": "gradient boosting",
    "gp": "Gaussian process",
    "metals": "metal identity",
}
"""``metals``: the additive model of the two metals' identities alone, a Bayesian ridge on
symmetric one-hot counts of the site's metals per state (no elemental descriptors): the bar a
structure model has to clear on seen metals. A metal never seen in training contributes
nothing."""
N_BOOSTERS = 5


class Regressor:
    """One scikit-learn model with a mean and σ. A Gaussian process given ``theta`` (the log
    hyperparameters of :func:`ard_kernel`, as :attr:`theta` returns them after a fit) keeps
    them fixed instead of optimising them: the same fitted GP, refitted in milliseconds."""

    def __init__(self, kind: Kind, seed: int, theta: list[float] | None = None) -> None:
        self.kind, self.seed, self.fixed = kind, seed, theta
        self.models: list[Any] = []

    def fit(self, x: np.ndarray, y: np.ndarray) -> Regressor:
        if self.kind == "metals":
            self.models = [BayesianRidge(fit_intercept=False)]  # centred per state by the caller
        elif self.kind == "rf":
            self.models = [RandomForestRegressor(300, min_samples_leaf=2, random_state=self.seed, n_jobs=1)]
        elif self.kind == "gb":
            self.models = [
                GradientBoostingRegressor(
                    n_estimators=200, max_depth=3, subsample=0.8, random_state=self.seed + k
                )
                for k in range(N_BOOSTERS)
            ]
        else:
            self.models = [make_pipeline(StandardScaler(), self._gp(x.shape[1]))]
        with warnings.catch_warnings():  # length scales of irrelevant descriptors run to the bound
            warnings.simplefilter("ignore", ConvergenceWarning)
            for m in self.models:
                m.fit(x, y)
        return self

    def _gp(self, n_features: int) -> ARDGaussianProcess:
        kernel = ard_kernel(n_features)
        if self.fixed is None:
            return ARDGaussianProcess(
                kernel, normalize_y=True, random_state=self.seed, n_restarts_optimizer=2
            )
        kernel = kernel.clone_with_theta(np.asarray(self.fixed, dtype=float))
        return ARDGaussianProcess(kernel, normalize_y=True, optimizer=None)

    @property
    def theta(self) -> list[float] | None:
        """The fitted Gaussian process's log hyperparameters (None for the other kinds)."""
        return self.models[0][1].kernel_.theta.tolist() if self.kind == "gp" and self.models else None

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.kind == "rf":
            per_tree = np.stack([t.predict(x) for t in self.models[0].estimators_])
            return per_tree.mean(0), per_tree.std(0)
        if self.kind == "gb":
            per = np.stack([m.predict(x) for m in self.models])
            return per.mean(0), per.std(0)
        if self.kind == "metals":
            return self.models[0].predict(x, return_std=True)
        scaler, gp = self.models[0][0], self.models[0][1]
        mean, std = gp.predict(scaler.transform(x), return_std=True)
        return mean, std


def metal_rows(s: Sample, vocabulary: list[str] | None = None) -> list[np.ndarray]:
    """Descriptor rows of the metals of a clean site (M1, then M2 for a pair): elemental
    descriptors, or with a metal ``vocabulary`` the metal's one-hot and the site's counts."""
    if vocabulary is not None:
        site = metal_counts(s.metals, vocabulary)
        return [np.concatenate([one_hot(m, vocabulary), site]) for m in s.metals]
    site = metal_descriptor(s.m1, s.m2 or None)
    return [np.concatenate([element_features(m), site]) for m in s.metals]


def metal_counts(metals: list[str], vocabulary: list[str]) -> np.ndarray:
    """How often each metal of ``vocabulary`` is on the site (a single atom counts twice, as
    the homonuclear pair of its symmetrised descriptor)."""
    both = metals if len(metals) == 2 else metals * 2
    return np.array([float(both.count(v)) for v in vocabulary])


Hyper = dict[str, list[float] | None]
"""Fitted kernels' log hyperparameters (θ) of a model's ``energy`` and ``dband`` regressors."""


class TwoRegressors:
    """A model of the graph-level target (``energy``) and the metals' d-band centres
    (``dband``) on descriptors of the training ``states`` and ``hosts``. ``hyper`` (the
    :attr:`hyperparameters` of an earlier fit on the same data) fixes Gaussian-process kernels
    instead of optimising them."""

    def __init__(self, seed: int = 0, hyper: Hyper | None = None) -> None:
        self.seed = seed
        self.hyper = hyper or {}
        self.states: list[str] = []
        self.hosts: list[str] = []
        self.energy: Regressor | None = None
        self.dband: Regressor | None = None

    @property
    def hyperparameters(self) -> Hyper:
        """The fitted kernels' log hyperparameters (``energy``, ``dband``), for ``hyper``."""
        return {"energy": self.energy and self.energy.theta, "dband": self.dband and self.dband.theta}


class DescriptorBaseline(TwoRegressors):
    """A scikit-learn baseline for the graph-level target and the d-band centres."""

    def __init__(self, kind: Kind = "rf", seed: int = 0, hyper: Hyper | None = None) -> None:
        super().__init__(seed, hyper)
        self.kind = kind
        self.metals: list[str] | None = None
        """The metal vocabulary of the ``metals`` kind (None for the descriptor kinds)."""
        self.state_mean: dict[tuple[str, str], float] = {}
        """The ``metals`` kind's training mean per (host, state), which its ridge is fitted
        around (so the shrinkage of the metal terms cannot pull states towards each other)."""

    @property
    def name(self) -> str:
        """Human-readable name."""
        return NAMES[self.kind]

    def matrix(self, samples: list[Sample]) -> np.ndarray:
        """Descriptor rows with the vocabularies seen in training."""
        if self.metals is not None:
            return np.array([self._identity_row(s) for s in samples])
        return np.array(
            [site_descriptor(s.m1, s.m2, s.state, self.states, s.host, self.hosts) for s in samples]
        )

    def _identity_row(self, s: Sample) -> np.ndarray:
        return np.kron(one_hot(s.state, self.states), metal_counts(s.metals, self.metals or []))

    def _offset(self, samples: list[Sample]) -> np.ndarray:
        """Per sample, the training mean of its host and state (``metals`` kind; else 0)."""
        fallback = float(np.mean(list(self.state_mean.values()))) if self.state_mean else 0.0
        return np.array(
            [self.state_mean.get((s.host, s.state), fallback) if self.metals else 0.0 for s in samples]
        )

    def fit(self, samples: list[Sample]) -> DescriptorBaseline:
        """Fit on the samples with a finite target (d-band: clean sites with finite centres)."""
        s = [x for x in samples if np.isfinite(x.e_ads)]
        self.states = sorted({x.state for x in s})
        self.hosts = sorted({x.host for x in s})
        y = np.array([x.e_ads for x in s])
        if self.kind == "metals":
            self.metals = sorted({m for x in samples for m in x.metals})
            groups = {(x.host, x.state) for x in s}
            self.state_mean = {g: float(y[[(x.host, x.state) == g for x in s]].mean()) for g in groups}
        energy = Regressor(self.kind, self.seed, self.hyper.get("energy"))
        self.energy = energy.fit(self.matrix(s), y - self._offset(s))
        rows, centres = [], []
        for x in samples:
            if x.state != "clean":
                continue
            for row, d in zip(metal_rows(x, self.metals), x.dband, strict=False):
                if np.isfinite(d):
                    rows.append(row)
                    centres.append(d)
        fits = len(centres) > 2
        dband = Regressor(self.kind, self.seed, self.hyper.get("dband"))
        self.dband = dband.fit(np.array(rows), np.array(centres)) if fits else None
        return self

    def predict(self, samples: list[Sample]) -> tuple[np.ndarray, np.ndarray]:
        """Graph-level mean and standard deviation (eV)."""
        if self.energy is None:
            raise RuntimeError("fit the baseline first")
        mean, std = self.energy.predict(self.matrix(samples))
        return mean + self._offset(samples), std

    def predict_dband(self, samples: list[Sample]) -> tuple[np.ndarray, np.ndarray]:
        """(n, 2) d-band mean and σ of M1 and M2 (M2 = M1 for a single atom); NaN when no
        d-band data were fitted."""
        mean = np.full((len(samples), 2), np.nan)
        std = np.full((len(samples), 2), np.nan)
        if self.dband is None or not samples:
            return mean, std
        rows = [metal_rows(s, self.metals) for s in samples]
        m, sd = self.dband.predict(np.array([r for per_site in rows for r in per_site]))
        k = 0
        for i, per_site in enumerate(rows):
            last = k + len(per_site) - 1  # M2, or M1 again for a single atom
            mean[i], std[i] = (m[k], m[last]), (sd[k], sd[last])
            k = last + 1
        return mean, std


class SingleAtomMean:
    """A pair predicted as the mean of its two metals' single-atom labels of the same host and
    state, where training holds both single atoms (a single atom: its own label); NaN elsewhere,
    so its n says how much of a split it covers. σ is the RMS deviation of the training pairs
    from that mean, per state. It asks whether a pair is more than the average of its atoms."""

    kind = "singles"
    name = "single-atom mean"

    def __init__(self) -> None:
        self.single: dict[tuple[str, str, str], float] = {}
        self.single_dband: dict[tuple[str, str], float] = {}
        self.sigma: dict[str, float] = {}
        self.sigma_dband = float("nan")

    def fit(self, samples: list[Sample]) -> SingleAtomMean:
        singles = [x for x in samples if not x.m2]
        self.single = {(x.host, x.m1, x.state): x.e_ads for x in singles if np.isfinite(x.e_ads)}
        self.single_dband = {
            (x.host, x.m1): x.dband[0] for x in singles if x.state == "clean" and np.isfinite(x.dband[0])
        }
        pairs = [x for x in samples if x.m2]
        err = np.array([self.predict([x])[0][0] - x.e_ads for x in pairs]) if pairs else np.zeros(0)
        states = np.array([x.state for x in pairs])
        for state in set(states[np.isfinite(err)]):
            e = err[(states == state) & np.isfinite(err)]
            self.sigma[state] = float(np.sqrt(np.mean(e**2)))
        d_err = [self.predict_dband([x])[0][0] - np.asarray(x.dband) for x in pairs if x.state == "clean"]
        flat = np.concatenate(d_err) if d_err else np.zeros(0)
        flat = flat[np.isfinite(flat)]
        self.sigma_dband = float(np.sqrt(np.mean(flat**2))) if len(flat) else float("nan")
        return self

    def predict(self, samples: list[Sample]) -> tuple[np.ndarray, np.ndarray]:
        """Graph-level mean and σ (eV); NaN where a metal's single atom was not seen."""
        nan = float("nan")
        mean = [np.mean([self.single.get((s.host, m, s.state), nan) for m in s.metals]) for s in samples]
        return np.array(mean, dtype=float), np.array([self.sigma.get(s.state, nan) for s in samples])

    def predict_dband(self, samples: list[Sample]) -> tuple[np.ndarray, np.ndarray]:
        """(n, 2) d-band centre of each metal as in its single-atom site (M2 = M1 for a single
        atom), with the training pairs' RMS deviation as σ."""
        nan = float("nan")
        mean = np.array(
            [[self.single_dband.get((s.host, m), nan) for m in (s.m1, s.m2 or s.m1)] for s in samples]
        )
        return mean.reshape(-1, 2), np.full((len(samples), 2), self.sigma_dband)


Baseline = DescriptorBaseline | SingleAtomMean


def fit_baselines(train: list[Sample], seed: int = 0) -> list[Baseline]:
    """One baseline of every kind (:data:`KINDS`, then the single-atom mean) fitted on ``train``."""
    return [*(DescriptorBaseline(kind, seed).fit(train) for kind in KINDS), SingleAtomMean().fit(train)]


def choose_baseline(fitted: list[Baseline], val: list[Sample]) -> Baseline:
    """The fitted baseline with the lowest graph-level MAE on ``val`` among those that predict
    every validation sample (the first, a random forest, when there is no validation data).
    The test split is never consulted."""
    y = np.array([s.e_ads for s in val])
    ok = np.isfinite(y)
    if not ok.any():
        return fitted[0]
    maes = []
    for b in fitted:
        pred = b.predict(val)[0][ok]
        maes.append(float(np.mean(np.abs(pred - y[ok]))) if np.isfinite(pred).all() else np.inf)
    return fitted[int(np.argmin(maes))]


def best_baseline(train: list[Sample], val: list[Sample], seed: int = 0) -> Baseline:
    """Fit every kind on ``train`` and keep the one with the lowest graph-level MAE on ``val``."""
    return choose_baseline(fit_baselines(train, seed), val)
