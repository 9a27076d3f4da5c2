"""The fast ARD likelihood gradient against scikit-learn's own."""

from __future__ import annotations

import numpy as np
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, WhiteKernel

from dacscreen.models.gp import ARDGaussianProcess, ard_kernel


def _data(n: int = 80, d: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, d))
    return x, np.sin(x[:, 0]) + 0.3 * x[:, 1] ** 2 + 0.05 * rng.normal(size=n)


def test_gradient_and_fit_match_scikit_learn() -> None:
    x, y = _data()
    fast = ARDGaussianProcess(ard_kernel(5), normalize_y=True, random_state=0, n_restarts_optimizer=1).fit(
        x, y
    )
    slow = GaussianProcessRegressor(ard_kernel(5), normalize_y=True, random_state=0, n_restarts_optimizer=1)
    slow.fit(x, y)
    for shift in (0.0, 0.7, -1.3):
        theta = fast.kernel_.theta + shift * np.linspace(-1, 1, len(fast.kernel_.theta))
        lml, grad = fast.log_marginal_likelihood(theta, eval_gradient=True)
        ref, ref_grad = GaussianProcessRegressor.log_marginal_likelihood(fast, theta, eval_gradient=True)
        assert np.isclose(lml, ref, rtol=1e-10)
        assert np.allclose(grad, ref_grad, rtol=1e-6, atol=1e-8 * np.abs(ref_grad).max())
    # the same optimiser on the same likelihood: the fast gradient reaches the same optimum or a
    # better one (the two L-BFGS runs stop a few 1e-6 apart, in either's favour by BLAS build)
    best, ref_best = fast.log_marginal_likelihood_value_, slow.log_marginal_likelihood_value_
    assert best >= ref_best - 1e-6 * abs(ref_best)
    assert np.allclose(fast.predict(x[:10]), slow.predict(x[:10]), atol=1e-4)


def test_other_kernels_take_scikit_learns_path() -> None:
    x, y = _data(40, 3)
    gp = ARDGaussianProcess(RBF(1.0) + WhiteKernel(), normalize_y=True).fit(x, y)
    theta = gp.kernel_.theta
    assert not gp._fast(theta)
    got = gp.log_marginal_likelihood(theta, eval_gradient=True)
    want = GaussianProcessRegressor.log_marginal_likelihood(gp, theta, eval_gradient=True)
    assert got[0] == want[0] and np.array_equal(got[1], want[1])
