"""scikit-learn's Gaussian process with a fast likelihood gradient for the kernel of the baselines.

The descriptor baselines and the energy reference fit ``C · RBF(ℓ₁ … ℓ_d) + White`` (one length
scale per descriptor, ARD) on about a thousand sites. scikit-learn builds the gradient of the log
marginal likelihood from the full n × n × d tensor of ∂K/∂θ (and copies it twice more to stack
the product and sum kernels), which made the optimiser's evaluations 85 % of an ``evaluate`` fold
on 2 cores. The same gradient needs only n × n and n × d arrays: with
B = (ααᵀ − K⁻¹) ∘ K_RBF and x̃ = x / ℓ,

    ∂ log L / ∂ log c   = ½ Σᵢⱼ Bᵢⱼ
    ∂ log L / ∂ log ℓₖ  = Σᵢ x̃ᵢₖ² (Σⱼ Bᵢⱼ) − Σᵢ x̃ᵢₖ (B x̃)ᵢₖ
    ∂ log L / ∂ log w   = ½ w tr(ααᵀ − K⁻¹)

:class:`ARDGaussianProcess` computes exactly that and leaves everything else (the optimiser, its
restarts, the bounds, prediction) to scikit-learn; any other kernel, a fixed hyperparameter or a
multi-output target takes scikit-learn's own path.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.linalg import cho_solve, cholesky
from scipy.spatial.distance import pdist, squareform
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, Kernel, Product, Sum, WhiteKernel


def ard_kernel(n_features: int, length_bounds: tuple[float, float] = (1e-5, 1e5), **white: Any) -> Kernel:
    """``ConstantKernel() * RBF(ones(n_features)) + WhiteKernel(**white)``: the kernel whose
    gradient :class:`ARDGaussianProcess` computes fast."""
    return ConstantKernel() * RBF(np.ones(n_features), length_bounds) + WhiteKernel(**white)


class ARDGaussianProcess(GaussianProcessRegressor):
    """A :class:`~sklearn.gaussian_process.GaussianProcessRegressor` whose log marginal
    likelihood gradient for :func:`ard_kernel` avoids the n × n × d tensor (see the module)."""

    def log_marginal_likelihood(
        self, theta: np.ndarray | None = None, eval_gradient: bool = False, clone_kernel: bool = True
    ):  # type: ignore[no-untyped-def]
        if not eval_gradient or theta is None or not self._fast(theta):
            return super().log_marginal_likelihood(theta, eval_gradient, clone_kernel)
        c, scales, w = np.exp(theta[0]), np.exp(theta[1:-1]), np.exp(theta[-1])
        x = self.X_train_ / scales
        k_rbf = c * np.exp(-0.5 * squareform(pdist(x, metric="sqeuclidean")))
        k = k_rbf.copy()
        k[np.diag_indices_from(k)] += w + self.alpha
        try:
            chol = cholesky(k, lower=True, check_finite=False)
        except np.linalg.LinAlgError:
            return -np.inf, np.zeros_like(theta)
        y = self.y_train_
        alpha = cho_solve((chol, True), y, check_finite=False)
        n = len(y)
        lml = -0.5 * y @ alpha - np.log(np.diag(chol)).sum() - n / 2 * np.log(2 * np.pi)
        inner = np.outer(alpha, alpha) - cho_solve((chol, True), np.eye(n), check_finite=False)
        b = inner * k_rbf
        rows = b.sum(axis=1)
        grad_scales = (x**2).T @ rows - np.einsum("ik,ik->k", x, b @ x)
        grad = np.concatenate([[0.5 * rows.sum()], grad_scales, [0.5 * w * np.trace(inner)]])
        return float(lml), grad

    def _fast(self, theta: np.ndarray) -> bool:
        """Whether the fitted kernel is :func:`ard_kernel`'s with every hyperparameter free and
        the target one-dimensional (the layout the fast gradient assumes)."""
        k = self.kernel_
        ard = (
            isinstance(k, Sum)
            and isinstance(k.k1, Product)
            and isinstance(k.k1.k1, ConstantKernel)
            and isinstance(k.k1.k2, RBF)
            and isinstance(k.k2, WhiteKernel)
        )
        return ard and np.ndim(self.y_train_) == 1 and len(theta) == self.X_train_.shape[1] + 2
