"""Leave-metal-out splits, with validation drawn by site or by metal."""

from __future__ import annotations

import itertools

import pytest

from dacscreen.featurize.samples import Sample
from dacscreen.models.splits import leave_metal_out

METALS = ["Cu", "Ni", "Fe", "Co", "Zn", "Pt", "Pd", "Ag"]


def _samples() -> list[Sample]:
    nan = float("nan")
    pairs = itertools.combinations(METALS, 2)
    states = ("clean", "Li2S")
    return [Sample("melon", a, b, 0, st, "none", -1.0, (nan, nan)) for a, b in pairs for st in states]


@pytest.mark.parametrize("val_by", ["site", "metal"])
def test_no_test_metal_reaches_training_or_validation(val_by: str) -> None:
    s = _samples()
    tr, va, te = leave_metal_out(s, ["Zn", "Pt"], 0.2, seed=1, val_by=val_by)
    assert sorted(tr + va + te) == list(range(len(s)))
    assert all({"Zn", "Pt"} & set(s[i].metals) for i in te)
    assert not any({"Zn", "Pt"} & set(s[i].metals) for i in tr + va)
    sites = lambda idx: {(s[i].m1, s[i].m2) for i in idx}  # noqa: E731
    assert not sites(tr) & sites(va)
    assert len(sites(va)) >= round(0.2 * len(sites(tr + va)))


def test_validation_by_metal_holds_out_whole_metals() -> None:
    s = _samples()
    tr, va, _ = leave_metal_out(s, ["Zn"], 0.2, seed=3, val_by="metal")
    seen = {m for i in tr for m in s[i].metals}
    unseen = {m for i in va for m in s[i].metals} - seen
    assert unseen, "some validation metal never appears in training"
    assert all(unseen & set(s[i].metals) for i in va)
