"""Per-state energy references the network corrects (Δ-learning on the site descriptor).

A reference maps a graph's ``site_x`` (the scaled, symmetrised metal-pair descriptor) to an
energy (eV) for one state; the network then learns the residual. Two kinds, both fitted on the
training split only and stored as plain numbers in ``meta.json`` (a model file is data):

* ``ridge``: ``[intercept, w_1 … w_d]``, the analogue of fairchem's linear element references;
* ``joint`` (``descriptor-gp-joint``): one such Gaussian process over every state, its inputs
  the descriptor and the state's one-hot, stored once (``Scaling.joint``);
* ``gp``: a Gaussian process (constant × anisotropic RBF + white noise, hyperparameters by
  marginal likelihood) on the distinct training sites of the state: its training inputs, the
  weights α = K⁻¹(y − ȳ)/s_y and the kernel's amplitude, length scales and white-noise level.
  Its predictive σ (:func:`reference_std`) is part of the ensemble's σ: it grows away from the
  training metals, which the members, all starting from the same reference, cannot show. On the shipped
  labels the elemental GP is the strongest descriptor model on seen metals (random-pair MAE
  about 0.42 eV for E_ads(Li2S2), against 0.50 eV for the additive metal-identity ridge), so
  the network starting from it has the baselines' answer to begin with and learns what the
  elements leave.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy.linalg import solve_triangular

JOINT_REFERENCE = "descriptor-gp-joint"
"""One Gaussian process over every state, on the site descriptor and the state's one-hot (the
descriptor baseline's form, :mod:`dacscreen.models.baseline`): a state labelled on few sites
borrows the metals' trends from the states labelled on all of them."""
AUTO_REFERENCE = "descriptor-gp-auto"
"""Per state, its own GP or its entry in the joint one, whichever the validation split prefers."""
RIDGE_ALPHAS = np.logspace(-3, 3, 13)
"""Ridge penalties searched by leave-one-out on the training split."""
GP_RESTARTS = 2
"""Restarts of the GP's marginal-likelihood optimiser."""

Reference = list[float] | dict[str, Any]
"""A stored reference: ridge coefficients (a list) or a GP's numbers (a dict, ``kind: gp``)."""


def fit_reference(kind: str, x: np.ndarray, y: np.ndarray, seed: int = 0) -> tuple[Reference, np.ndarray]:
    """Fit the ``kind`` reference (``descriptor-ridge`` or ``descriptor-gp``) of one state's
    targets ``y`` (eV) on descriptors ``x``; returns it and the training residuals (eV)."""
    ref = _fit_gp(x, y, seed) if kind == "descriptor-gp" else _fit_ridge(x, y)
    return ref, y - reference_value(ref, x)


def with_state(x: np.ndarray, states: np.ndarray, vocabulary: list[str]) -> np.ndarray:
    """Rows of ``x`` with the one-hot of each row's state over ``vocabulary`` appended (the
    inputs of the joint reference)."""
    return np.hstack([x, np.array([[float(s == v) for v in vocabulary] for s in states]).reshape(len(x), -1)])


def out_of_fold(kind: str, x: np.ndarray, y: np.ndarray, folds: int, seed: int = 0) -> np.ndarray:
    """Each row's ``kind`` reference value (eV) from a reference fitted without its site: k-fold
    over the distinct rows of ``x`` (a site's orientations share its descriptor, so they leave
    together). A network stacked on the reference meets the reference's out-of-sample error on
    new sites; trained on the in-sample residuals, which a GP shrinks towards its noise, it
    would learn a different, smaller function (Wolpert's stacked generalisation)."""
    from sklearn.model_selection import KFold

    rows, inverse = np.unique(np.round(x, 9), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    out = np.empty(len(y))
    for fit_rows, held_rows in KFold(min(folds, len(rows)), shuffle=True, random_state=seed).split(rows):
        fit, held = np.isin(inverse, fit_rows), np.isin(inverse, held_rows)
        ref, _ = fit_reference(kind, x[fit], y[fit], seed)
        out[held] = reference_value(ref, x[held])
    return out


def reference_value(ref: Reference, x: np.ndarray) -> np.ndarray:
    """The reference energy (eV) of each row of ``x``."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    if isinstance(ref, dict):
        k = ref["amplitude"] * _rbf(x, np.asarray(ref["x"], dtype=np.float64), ref["length_scale"])
        return ref["y_mean"] + ref["y_std"] * (k @ np.asarray(ref["alpha"]))
    coef = np.asarray(ref, dtype=np.float64)
    return coef[0] + x @ coef[1:]


def reference_std(ref: Reference, x: np.ndarray) -> np.ndarray:
    """The reference's predictive standard deviation (eV) for each row of ``x``: a GP's
    posterior σ of a new label (the white noise included), rebuilt from its stored training
    inputs and hyperparameters; 0 for a ridge reference or a GP stored without its noise level
    (models trained before the noise was kept)."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    if not isinstance(ref, dict) or "noise" not in ref:
        return np.zeros(len(x))
    train = np.asarray(ref["x"], dtype=np.float64)
    amp, noise = float(ref["amplitude"]), float(ref["noise"])
    v = solve_triangular(_cholesky(ref), amp * _rbf(train, x, ref["length_scale"]), lower=True)
    var = amp + noise - (v**2).sum(0)
    return ref["y_std"] * np.sqrt(np.clip(var, 0.0, None))


_FACTORS: dict[int, tuple[dict[str, Any], np.ndarray]] = {}
"""Cholesky factors of stored GPs' training kernels, by the identity of their dict (a GP is
read, never changed, after it is fitted or loaded), so prediction factorises each one once."""


def _cholesky(ref: dict[str, Any]) -> np.ndarray:
    """Lower Cholesky factor of the GP's training kernel (white noise included)."""
    hit = _FACTORS.get(id(ref))
    if hit is None or hit[0] is not ref:
        train = np.asarray(ref["x"], dtype=np.float64)
        k = float(ref["amplitude"]) * _rbf(train, train, ref["length_scale"])
        hit = (ref, np.linalg.cholesky(k + float(ref["noise"]) * np.eye(len(train))))
        _FACTORS[id(ref)] = hit
    return hit[1]


def _rbf(a: np.ndarray, b: np.ndarray, length_scale: list[float]) -> np.ndarray:
    """Unit-amplitude anisotropic RBF kernel between the rows of ``a`` and ``b`` (squared
    distances as |a|² + |b|² − 2 a·b, without the (n_a, n_b, d) difference array)."""
    scale = np.asarray(length_scale, dtype=np.float64)
    a, b = a / scale, b / scale
    d2 = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2.0 * a @ b.T
    return np.exp(-0.5 * np.clip(d2, 0.0, None))


def _fit_ridge(x: np.ndarray, y: np.ndarray) -> list[float]:
    """Ridge fit (penalty by efficient leave-one-out CV): ``[intercept, w…]``."""
    from sklearn.linear_model import RidgeCV

    model = RidgeCV(alphas=RIDGE_ALPHAS).fit(x, y)
    return [float(model.intercept_), *map(float, model.coef_)]


def gp_regressor(x: np.ndarray, y: np.ndarray, seed: int = 0) -> Any:
    """The fitted scikit-learn GP of the ``descriptor-gp`` reference (constant × anisotropic RBF
    + white noise, hyperparameters by marginal likelihood, normalised ``y``) on rows ``x``."""
    from sklearn.exceptions import ConvergenceWarning

    from dacscreen.models.gp import ARDGaussianProcess, ard_kernel

    kernel = ard_kernel(x.shape[1], (1e-2, 1e3), noise_level=0.1, noise_level_bounds=(1e-4, 1e1))
    gp = ARDGaussianProcess(kernel, normalize_y=True, random_state=seed, n_restarts_optimizer=GP_RESTARTS)
    with warnings.catch_warnings():  # length scales of irrelevant descriptors run to the bound
        warnings.simplefilter("ignore", ConvergenceWarning)
        return gp.fit(x, y)


def _fit_gp(x: np.ndarray, y: np.ndarray, seed: int) -> dict[str, Any]:
    """GP on the distinct rows of ``x`` (orientations of one site share its descriptor and
    label, so they are one observation, their mean)."""
    rows, inverse = np.unique(np.round(x, 9), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    target = np.bincount(inverse, weights=y) / np.bincount(inverse)
    gp = gp_regressor(rows, target, seed)
    product, white = gp.kernel_.k1, gp.kernel_.k2
    return {
        "kind": "gp",
        "x": rows.tolist(),
        "alpha": gp.alpha_.reshape(-1).tolist(),
        "amplitude": float(product.k1.constant_value),
        "length_scale": np.atleast_1d(product.k2.length_scale).astype(float).tolist(),
        "noise": float(white.noise_level),
        "y_mean": float(np.ravel(gp._y_train_mean)[0]),
        "y_std": float(np.ravel(gp._y_train_std)[0]),
    }
