"""The DFT agreement that ``evaluate`` scores inside its leave-metal-out folds."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from dacscreen.config import ModelConfig
from dacscreen.featurize.graphs import GraphSettings
from dacscreen.models.baseline import DescriptorBaseline
from dacscreen.models.correction import Correction
from dacscreen.models.dft_agreement import TARGETS, DftAgreement, markdown
from dacscreen.models.ensemble import Ensemble, Scaling
from dacscreen.models.multitask import MultiTaskGNN
from dacscreen.models.splits import metal_folds
from tests.models.test_correction import REFS, _samples


def test_held_out_dft_sites_are_mapped_by_a_map_that_never_saw_their_metals() -> None:
    """The DFT labels sit 0.4 eV above the low-fidelity ones, except Sc's, 5 eV above. The map
    that predicts Sc's fold is fitted without Sc and shifts it by 0.4 eV exactly; the maps of
    the other folds have seen Sc and shift their metals by more."""
    low = _samples("chgnet", 0.0)
    high = [replace(s, e_ads=s.e_ads + (4.6 if s.m1 == "Sc" else 0.0)) for s in _samples("gpaw", 0.4)]
    corr = Correction.build(high, low, REFS, "delta")
    torch.manual_seed(0)
    cfg = ModelConfig(arch="schnet", hidden=8, layers=1, n_rbf=8, ensemble=2)
    ens = Ensemble([MultiTaskGNN(cfg) for _ in range(2)], cfg, GraphSettings(), Scaling())
    baseline = DescriptorBaseline("ridge").fit(low)  # type: ignore[arg-type]
    agreement = DftAgreement(corr, low, "delta", "as-built")
    folds = metal_folds(corr.samples, 3, seed=0)
    for held in folds:
        agreement.add(held, ens, baseline)
    assert np.all(agreement.count == 1)  # single atoms: each in exactly one fold
    mapped, gnn = agreement.total["gnn + map"], agreement.total["gnn"]
    ads = np.array([s.state != "clean" for s in corr.samples])
    with_sc = set(next(f for f in folds if "Sc" in f))
    in_fold = np.array([s.m1 in with_sc for s in corr.samples])
    shift = mapped.e_ads - gnn.e_ads
    np.testing.assert_allclose(shift[ads & in_fold], 0.4, atol=1e-3)
    assert np.all(shift[ads & ~in_fold] > 0.45)
    table = agreement.table()
    assert table["sites"] == 12 and table["method"] == "gpaw"
    assert set(TARGETS) <= set(table) and {g["target"] for g in table["gaps"]} == set(TARGETS[:2])
    assert table["e_ads:Li2S2"]["gnn + map"]["n"] == 12
    assert "top10_recall" in table["dg5"]["gnn + map"]
    assert sum("| gnn + map |" in line for line in markdown(table)) == len(TARGETS)


def test_cross_validation_scores_the_dft_sites_of_the_fidelity_map(tiny_store_path, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``evaluate``'s folds carry the DFT agreement when the data has a fidelity map."""
    from dacscreen.config import TrainConfig
    from dacscreen.models.crossval import cross_validate, cv_markdown
    from dacscreen.models.dataset import prepare
    from tests.conftest import TINY_TRAIN

    cfg = TrainConfig.model_validate(
        {**TINY_TRAIN, "db": str(tiny_store_path), "epochs": 1, "out": str(tmp_path / "m")}
    )
    cfg.model = cfg.model.model_copy(update={"ensemble": 1})
    p = prepare(cfg)
    high = [replace(s, e_ads=s.e_ads + 0.3, method="fake-dft") for s in p.samples if s.state != "S8"]
    p = replace(p, correction=Correction.build(high, p.samples, p.references, "delta"))
    report = cross_validate(cfg, p, 2, tmp_path / "cv")["leave-metal-out"]
    dft = report["dft"]
    assert dft["method"] == "fake-dft" and dft["sites"] > 0
    assert dft["e_ads:Li2S2"]["gnn + map"]["n"] > 0 and np.isfinite(dft["e_ads:Li2S2"]["gnn + map"]["mae"])
    lines = cv_markdown({**report, "models": "gnn", "random": {}})
    assert any(line.startswith("## Agreement with fake-dft") for line in lines)
