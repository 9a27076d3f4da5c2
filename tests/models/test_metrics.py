"""Error metrics: the paired MAE gap between two models."""

from __future__ import annotations

import numpy as np
import pytest

from dacscreen.models.metrics import mae_gap


def test_mae_gap_is_positive_when_the_first_model_is_better() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(-3.0, 1.0, 80)
    good = y + rng.normal(0.0, 0.1, 80)
    bad = y + rng.normal(0.0, 0.1, 80) + np.where(rng.random(80) < 0.5, 0.5, -0.5)
    g = mae_gap(y, good, bad)
    assert g["n"] == 80 and g["gap"] > 0.3 and 0.0 < g["low"] < g["gap"] < g["high"]
    flipped = mae_gap(y, bad, good)
    assert flipped["gap"] == pytest.approx(-g["gap"]) and flipped["high"] < 0.0


def test_mae_gap_of_a_model_with_itself_is_zero_and_skips_missing_values() -> None:
    y = np.array([1.0, 2.0, np.nan, 4.0])
    a = np.array([1.5, 2.5, 3.0, np.nan])
    assert mae_gap(y, a, a) == {"n": 2, "gap": 0.0, "low": 0.0, "high": 0.0}
    assert mae_gap(y[:0], a[:0], a[:0])["n"] == 0
