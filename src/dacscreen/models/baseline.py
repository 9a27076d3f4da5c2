"""scikit-learn descriptor baselines (random forest; the spread of its trees is its σ)."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import RandomForestRegressor

from dacscreen.featurize.descriptors import site_descriptor
from dacscreen.featurize.samples import Sample


class ForestBaseline:
    """Random forest on site descriptors for the graph-level target; mean and tree spread (eV)."""

    def __init__(self, seed: int = 0) -> None:
        self.model = RandomForestRegressor(n_estimators=300, min_samples_leaf=2, random_state=seed, n_jobs=1)
        self.states: list[str] = []
        self.hosts: list[str] = []

    def matrix(self, samples: list[Sample]) -> np.ndarray:
        """Descriptor rows with the vocabularies seen in training."""
        return np.array(
            [site_descriptor(s.m1, s.m2, s.state, self.states, s.host, self.hosts) for s in samples]
        )

    def fit(self, samples: list[Sample]) -> ForestBaseline:
        """Fit on the samples with a finite target."""
        s = [x for x in samples if np.isfinite(x.e_ads)]
        self.states = sorted({x.state for x in s})
        self.hosts = sorted({x.host for x in s})
        self.model.fit(self.matrix(s), np.array([x.e_ads for x in s]))
        return self

    def predict(self, samples: list[Sample]) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation over trees."""
        x = self.matrix(samples)
        per_tree = np.stack([t.predict(x) for t in self.model.estimators_])
        return per_tree.mean(0), per_tree.std(0)
