"""scikit-learn descriptor baselines (random forest; the spread of its trees is its σ)."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import RandomForestRegressor

from dacscreen.featurize.descriptors import site_descriptor
from dacscreen.featurize.samples import Sample


def descriptor_matrix(samples: list[Sample]) -> np.ndarray:
    """Rows of :func:`site_descriptor` for the samples."""
    return np.array([site_descriptor(s.m1, s.m2, s.state) for s in samples])


class ForestBaseline:
    """Random forest on site descriptors for E_ads; predicts mean and tree spread (eV)."""

    def __init__(self, seed: int = 0) -> None:
        self.model = RandomForestRegressor(n_estimators=300, min_samples_leaf=2, random_state=seed, n_jobs=1)

    def fit(self, samples: list[Sample]) -> ForestBaseline:
        """Fit on the samples with a finite E_ads."""
        s = [x for x in samples if np.isfinite(x.e_ads)]
        self.model.fit(descriptor_matrix(s), np.array([x.e_ads for x in s]))
        return self

    def predict(self, samples: list[Sample]) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation over trees."""
        x = descriptor_matrix(samples)
        per_tree = np.stack([t.predict(x) for t in self.model.estimators_])
        return per_tree.mean(0), per_tree.std(0)
