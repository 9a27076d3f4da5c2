"""Multi-fidelity: the Δ-correction, the corrected predictions, and fine-tuning."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from dacscreen.config import TrainConfig
from dacscreen.elements import element_features
from dacscreen.featurize.samples import Sample
from dacscreen.models.correction import Correction, Kind, delta_samples
from dacscreen.models.dataset import prepare
from dacscreen.models.ensemble import Ensemble
from dacscreen.models.multifidelity import fine_tune
from dacscreen.models.targets import Predictions
from tests.conftest import TINY_TRAIN

METALS = ["Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Y", "Zr", "Nb", "Mo", "Ru", "Rh", "Pd"]


def _chi(m: str) -> float:
    return float(element_features(m)[0])


def _samples(shift: float, slope: float) -> list[Sample]:
    """Li2S2 samples on single atoms with E_ads = −3 + slope·χ + shift and ε_d = −2 + shift."""
    nan = float("nan")
    out = []
    for m in METALS:
        out.append(Sample("melon", m, "", 0, "clean", "none", nan, (-2.0 + shift, -2.0 + shift)))
        out.append(Sample("melon", m, "", 0, "Li2S2", "top", -3.0 + slope * _chi(m) + shift, (nan, nan)))
    return out


def test_delta_samples_pair_the_same_site_and_state() -> None:
    low, high = _samples(0.0, 0.0), _samples(0.5, 0.2)
    delta = delta_samples(high[:6], low)
    assert [(s.m1, s.state) for s in delta] == [(s.m1, s.state) for s in high[:6]]
    li2s2 = [s for s in delta if s.state == "Li2S2"]
    np.testing.assert_allclose([s.e_ads for s in li2s2], [0.5 + 0.2 * _chi(s.m1) for s in li2s2])
    assert all(s.dband == (0.5, 0.5) for s in delta if s.state == "clean")
    only = delta_samples(high, low[:1])  # only Sc's clean site has a twin: no Δ for the rest
    assert [(s.m1, s.state, s.dband) for s in only] == [("Sc", "clean", (0.5, 0.5))]


@pytest.mark.parametrize("kind", ["nargp", "delta"])
def test_correction_learned_on_some_metals_transfers_to_others(kind: Kind) -> None:
    low, high = _samples(0.0, 0.0), _samples(0.7, 0.3)
    train_metals = set(METALS[::2])
    train = [s for s in high if s.m1 in train_metals]
    test = [s for s in high if s.m1 not in train_metals]
    n = len(test)
    low_pred = Predictions(
        np.array([s.e_ads for s in low if s.m1 not in train_metals]),
        np.full(n, 0.05),
        np.full((n, 2), -2.0),
        np.full((n, 2), 0.05),
    )
    out = Correction.build(train, low, {}, kind).apply(test, low_pred)
    ads = np.array([s.state == "Li2S2" for s in test])
    truth = np.array([s.e_ads for s in test])
    assert np.abs(out.e_ads[ads] - truth[ads]).max() < 0.1  # the low tier alone is off by ≥ 0.7 eV
    np.testing.assert_allclose(out.dband[~ads], -1.3, atol=0.05)
    if kind == "delta":  # Δ's variance adds; a map may also compress the low fidelity's
        assert np.all(out.e_ads_std[ads] >= low_pred.e_ads_std[ads])
    assert np.all(out.e_ads_std[ads] > 0)


def test_fine_tuning_moves_a_pretrained_ensemble_to_the_new_fidelity(
    tiny_model: Path, tiny_store_path: Path, project_env: Path, tmp_path: Path
) -> None:
    """A high fidelity 1 eV above the low one on every graph-level target: the fine-tuned
    members follow it, and the pretrained ensemble itself is left unchanged."""
    low = Ensemble.load(tiny_model)
    before = {k: v.clone() for k, v in low.members[0].state_dict().items()}
    cfg = TrainConfig.model_validate({**TINY_TRAIN, "db": str(tiny_store_path), "epochs": 40, "lr": 5e-3})
    p = prepare(cfg)
    shifted = [g.clone() for g in p.graphs]
    for g in shifted:
        g.y_ads = g.y_ads + 1.0
    high = dataclasses.replace(p, graphs=shifted)
    idx = list(range(len(shifted)))
    tuned = fine_tune(low, cfg, high, idx, [], tmp_path / "ft")
    y = np.concatenate([g.y_ads.numpy() for g in shifted])
    ok = np.isfinite(y)
    err_low = np.abs(low.predict(shifted)["e_ads"][ok] - y[ok]).mean()
    err_tuned = np.abs(tuned.predict(shifted)["e_ads"][ok] - y[ok]).mean()
    assert err_tuned < 0.7 * err_low
    assert tuned.scaling is low.scaling
    for k, v in low.members[0].state_dict().items():
        torch.testing.assert_close(v, before[k])
    # the tuned members are in the store under their fingerprints; a second run reuses them
    assert len(list((tmp_path / "ft").glob("*.pt"))) == len(low.members)
    again = fine_tune(low, cfg, high, idx, [], tmp_path / "ft")
    assert len(list((tmp_path / "ft").glob("*.pt"))) == len(low.members)
    np.testing.assert_allclose(again.predict(shifted)["e_ads"], tuned.predict(shifted)["e_ads"])
