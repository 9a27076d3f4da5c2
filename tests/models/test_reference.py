"""The descriptor references' stored numbers reproduce the fitted regressors."""

from __future__ import annotations

import numpy as np

from dacscreen.models.reference import fit_reference, gp_regressor, reference_std, reference_value


def test_gp_reference_rebuilds_sklearns_mean_and_predictive_sigma() -> None:
    """Mean and σ from the stored training inputs and hyperparameters equal scikit-learn's
    ``predict(return_std=True)`` (white noise included), and σ grows away from the data."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    y = 2.0 * np.sin(x[:, 0]) + 0.1 * rng.normal(size=60)
    ref, _ = fit_reference("descriptor-gp", x, y)
    queries = np.vstack([x[:3], rng.normal(size=(5, 3)), np.full((1, 3), 8.0)])
    mean, std = gp_regressor(x, y).predict(queries, return_std=True)
    np.testing.assert_allclose(reference_value(ref, queries), mean, atol=1e-6)
    np.testing.assert_allclose(reference_std(ref, queries), std, rtol=1e-5)
    assert reference_std(ref, queries)[-1] > 3 * reference_std(ref, queries[:3]).max()


def test_references_without_a_predictive_sigma_give_zero() -> None:
    """A ridge reference, or a GP stored before its noise level was kept, adds no σ."""
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(30, 2)), rng.normal(size=30)
    ridge, _ = fit_reference("descriptor-ridge", x, y)
    gp, _ = fit_reference("descriptor-gp", x, y)
    old = {k: v for k, v in gp.items() if k != "noise"}
    assert not reference_std(ridge, x).any() and not reference_std(old, x).any()
