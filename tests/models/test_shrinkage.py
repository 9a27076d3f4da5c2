"""The correction weights fitted on validation (no training needed: an untrained member's
output is a correction to the reference like any other)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from dacscreen.config import ModelConfig
from dacscreen.data.store import Store
from dacscreen.featurize.graphs import GraphSettings
from dacscreen.featurize.samples import collect_samples
from dacscreen.models import shrinkage
from dacscreen.models.ensemble import Ensemble, Scaling
from dacscreen.models.multitask import MultiTaskGNN
from dacscreen.models.predictor import predict_states
from dacscreen.models.shrinkage import GRID, fit_correction_weights, fit_on_validation, metals_of


def _ensemble(weight: str = "validation") -> Ensemble:
    torch.manual_seed(0)
    cfg = ModelConfig(arch="painn", hidden=8, layers=1, n_rbf=8, ensemble=3, correction_weight=weight)
    ens = Ensemble([MultiTaskGNN(cfg) for _ in range(3)], cfg, GraphSettings(), Scaling())
    ens.meta.orientations = "all"
    return ens


def _predict(ens: Ensemble, samples: list, weights: dict[str, float] | None = None):
    if weights is not None:
        ens.meta.correction_weight = weights
    return predict_states(ens, samples, "as-built").predictions


@pytest.fixture
def samples(tiny_store_path: Path, monkeypatch: pytest.MonkeyPatch) -> list:
    monkeypatch.setattr(shrinkage, "MIN_PER_STATE", 3)
    return collect_samples(Store(tiny_store_path))[:24]


@pytest.mark.parametrize("truth", ["reference", "full"])
def test_the_weight_follows_whichever_of_reference_and_correction_is_right(samples: list, truth: str) -> None:
    """Labels equal to the reference alone give w = 0 for every state; labels equal to the
    full prediction give w = 1."""
    ens = _ensemble()
    states = sorted({s.state for s in samples})
    y = _predict(ens, samples, dict.fromkeys(states, 0.0) if truth == "reference" else {}).e_ads
    labelled = [dataclasses.replace(s, e_ads=float(v)) for s, v in zip(samples, y, strict=True)]
    weights = fit_correction_weights(ens, labelled, "as-built")
    assert {st for st in states if sum(s.state == st for s in samples) >= 3} <= set(weights) <= set(states)
    assert len(weights) >= 2
    assert set(weights.values()) == {0.0 if truth == "reference" else 1.0}


def test_the_prediction_is_the_reference_plus_the_weighted_correction_with_sigma_kept(samples: list) -> None:
    ens = _ensemble()
    states = sorted({s.state for s in samples})
    full = _predict(ens, samples, {})
    ref = _predict(ens, samples, dict.fromkeys(states, 0.0))
    weights = fit_correction_weights(ens, samples, "as-built")
    after = _predict(ens, samples)
    w = np.array([weights.get(s.state, 1.0) for s in samples])
    assert set(weights.values()) <= set(GRID)
    np.testing.assert_allclose(after.e_ads, ref.e_ads + w * (full.e_ads - ref.e_ads), atol=1e-5)
    np.testing.assert_allclose(after.e_ads_std, full.e_ads_std, rtol=1e-5, atol=1e-6)
    y = np.array([s.e_ads for s in samples])
    for st in weights:  # never worse on the samples it was fitted to than the full correction
        i = np.array([s.state == st for s in samples])
        assert np.abs(after.e_ads[i] - y[i]).mean() <= np.abs(full.e_ads[i] - y[i]).mean() + 1e-9


def test_full_keeps_the_whole_correction(samples: list) -> None:
    ens = _ensemble("full")
    before = _predict(ens, samples)
    assert fit_correction_weights(ens, samples, "as-built") == {}
    np.testing.assert_allclose(_predict(ens, samples).e_ads, before.e_ads, rtol=1e-6)


def test_weights_and_sigma_scale_survive_save_and_load(samples: list, tmp_path: Path) -> None:
    ens = _ensemble()
    fit_on_validation(ens, samples, "as-built")
    ens.save(tmp_path / "m")
    loaded = Ensemble.load(tmp_path / "m")
    assert loaded.meta.correction_weight == ens.meta.correction_weight != {}
    assert loaded.std_scale == ens.std_scale != {}
    np.testing.assert_allclose(_predict(loaded, samples).e_ads, _predict(ens, samples).e_ads, rtol=1e-5)


def test_only_queries_with_a_new_metal_are_weighted(samples: list) -> None:
    """A query whose metals were all trained on keeps the whole correction; the weights are
    fitted on the new-metal validation samples alone, and without any there are none."""
    ens = _ensemble()
    full = _predict(ens, samples)
    ens.meta.train_metals = metals_of(samples)
    assert fit_correction_weights(ens, samples, "as-built") == {}
    seen = set(metals_of(samples)) - {samples[-1].metals[0]}
    new = np.array([bool(set(s.metals) - seen) for s in samples])
    assert new.any() and (~new).any()
    ens.meta.train_metals = sorted(seen)
    states = sorted({s.state for s in samples})
    after = _predict(ens, samples, dict.fromkeys(states, 0.0))
    np.testing.assert_allclose(after.e_ads[~new], full.e_ads[~new], rtol=1e-6)
    assert np.all(np.abs(after.e_ads[new] - full.e_ads[new]) > 1e-6)


def test_states_too_sparse_for_their_own_weight_share_one(
    samples: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    states = [s.state for s in samples]
    monkeypatch.setattr(shrinkage, "MIN_PER_STATE", max(states.count(st) for st in states) + 1)
    weights = fit_correction_weights(_ensemble(), samples, "as-built")
    assert set(weights) == set(states) and len(set(weights.values())) == 1
