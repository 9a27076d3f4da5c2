"""σ-scaling of the deep ensemble (no training needed: untrained members have a spread too)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from dacscreen.config import ModelConfig
from dacscreen.data.adsorbates import place_adsorbate
from dacscreen.data.sites import build_site
from dacscreen.data.store import Store
from dacscreen.featurize.graphs import GraphSettings, atoms_to_graph
from dacscreen.featurize.samples import collect_samples
from dacscreen.models.calibration import recalibrate
from dacscreen.models.ensemble import Ensemble, Scaling
from dacscreen.models.multitask import MultiTaskGNN
from dacscreen.models.predictor import predict_states
from dacscreen.models.reference import out_of_fold, reference_value


def _labelled_graphs(values: list[float]) -> list:
    graphs = []
    for k, (metals, y) in enumerate(
        zip([["Cu", "Ni"], ["Fe", "Co"], ["Pt"], ["Zn", "Mo"]] * 2, values, strict=False)
    ):
        site = build_site("melon", metals)
        g = atoms_to_graph(place_adsorbate(site, "Li2S2", "bridge") if k % 2 else site)
        g.y_ads = torch.tensor([y], dtype=torch.float32)
        g.y_dband = torch.where(g.tags == 1, torch.tensor(-2.0 + 0.1 * k), torch.tensor(float("nan")))
        graphs.append(g)
    return graphs


def _samples(store: Path) -> list:
    """Labelled samples of both states (E_bind of clean sites, E_ads of adsorbates)."""
    return collect_samples(Store(store))[:10]


def test_recalibrated_sigma_has_normal_median_z_and_keeps_the_mean(tiny_store_path: Path) -> None:
    """The σ-scale is fitted on the pooled site predictions that screen reports, so there the
    scaled z-scores have the median of a unit normal."""
    torch.manual_seed(0)
    cfg = ModelConfig(arch="painn", hidden=8, layers=1, n_rbf=8, ensemble=3)
    ens = Ensemble([MultiTaskGNN(cfg) for _ in range(3)], cfg, GraphSettings(), Scaling())
    ens.meta.orientations = "all"
    samples = _samples(tiny_store_path)
    before = predict_states(ens, samples, "as-built").predictions
    scale = recalibrate(ens, samples, "as-built")
    after = predict_states(ens, samples, "as-built").predictions
    assert scale["e_ads"] > 1.0  # untrained members are far more wrong than they disagree
    np.testing.assert_allclose(after.e_ads, before.e_ads, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(after.e_ads_std, scale["e_ads"] * before.e_ads_std, rtol=1e-4)
    y = np.array([s.e_ads for s in samples])
    z = (y - after.e_ads) / after.e_ads_std
    assert abs(np.median(np.abs(z)) - 0.6745) < 1e-3
    assert ens.meta.std_scale == scale


def test_each_state_with_enough_labels_gets_its_own_sigma_scale(
    tiny_store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """E_bind of clean sites and E_ads of each adsorbate err on their own scales: a state with
    enough validation labels is calibrated on its own, the rest take the overall factor."""
    from dacscreen.models import calibration

    monkeypatch.setattr(calibration, "MIN_PER_STATE", 3)
    torch.manual_seed(0)
    cfg = ModelConfig(arch="painn", hidden=8, layers=1, n_rbf=8, ensemble=3)
    ens = Ensemble([MultiTaskGNN(cfg) for _ in range(3)], cfg, GraphSettings(), Scaling())
    samples = collect_samples(Store(tiny_store_path))[:24]
    states = np.array([s.state for s in samples])
    scale = recalibrate(ens, samples, "as-built")
    own = {st for st in set(states) if (states == st).sum() >= 3}
    assert {k.split(":")[1] for k in scale if k.startswith("e_ads:")} == own and len(own) >= 2
    after = predict_states(ens, samples, "as-built").predictions
    y = np.array([s.e_ads for s in samples])
    for st in own:
        z = ((y - after.e_ads) / after.e_ads_std)[states == st]
        assert abs(np.median(np.abs(z)) - 0.6745) < 1e-3, st


def test_recalibration_survives_save_and_load(tmp_path: Path, tiny_store_path: Path) -> None:
    cfg = ModelConfig(arch="schnet", hidden=8, layers=1, n_rbf=8, ensemble=2)
    ens = Ensemble([MultiTaskGNN(cfg) for _ in range(2)], cfg, GraphSettings(), Scaling())
    recalibrate(ens, _samples(tiny_store_path), "as-built")
    ens.save(tmp_path / "m")
    loaded = Ensemble.load(tmp_path / "m")
    assert loaded.std_scale == ens.std_scale and ens.std_scale["e_ads"] != 1.0
    graphs = _labelled_graphs([-3.0, -1.0, -2.5, 0.5])
    np.testing.assert_allclose(
        loaded.predict(graphs)["e_ads_std"], ens.predict(graphs)["e_ads_std"], rtol=1e-5
    )


def test_scaling_standardises_each_state_on_its_own() -> None:
    values = [5.0, -3.0, 7.0, -4.0, 6.0, -3.5, 9.0, -2.5]  # clean sites (E_bind) and Li2S2 (E_ads)
    graphs = _labelled_graphs(values)
    scaling = Scaling.fit(graphs)
    assert set(scaling.per_state) == {"clean", "Li2S2"}
    np.testing.assert_allclose(scaling.per_state["clean"][0], np.mean(values[0::2]), rtol=1e-6)
    np.testing.assert_allclose(scaling.per_state["Li2S2"][1], np.std(values[1::2]), rtol=1e-6)
    mean, std = scaling.ads_stats(Batch.from_data_list(graphs))
    z = (torch.tensor(values) - mean) / std
    for k in (0, 1):  # each state has zero mean and unit spread after standardisation
        assert abs(float(z[k::2].mean())) < 1e-5
        np.testing.assert_allclose(float(z[k::2].std(unbiased=False)), 1.0, rtol=1e-5)
    few = Scaling.fit(graphs[:4])  # two samples per state: the global statistics apply
    assert few.per_state == {}
    assert torch.allclose(few.ads_stats(graphs[1])[0], torch.tensor([few.ads_mean]))


SITES = [["Cu", "Ni"], ["Fe", "Co"], ["Pt"], ["Zn", "Mo"], ["Ag", "Au"], ["Mn"], ["Ti", "V"], ["Ir"]]


def _descriptor_graphs(sites: list[list[str]]) -> list:
    """Clean and Li2S2 graphs of ``sites`` whose target is linear in the first descriptor."""
    graphs = []
    for metals in sites:
        site = build_site("melon", metals)
        for k, atoms in enumerate((site, place_adsorbate(site, "Li2S2", "bridge"))):
            g = atoms_to_graph(atoms)
            g.y_ads = torch.tensor([(-3.0 if k else 4.0) + 20.0 * float(g.site_x[0, 0])])
            g.y_dband = torch.full((len(atoms),), float("nan"))
            graphs.append(g)
    return graphs


@pytest.mark.parametrize(
    "kind", ["descriptor-ridge", "descriptor-gp", "descriptor-gp-joint", "descriptor-gp-auto"]
)
def test_descriptor_reference_carries_what_the_descriptor_explains(kind: str) -> None:
    """With a descriptor reference the per-graph mean is a ridge or GP fit of the state's
    targets on ``site_x``: a target linear in the descriptor is matched by the reference alone,
    so the network's residual is small; the plain state mean cannot do that. It survives the
    round trip through ``meta.json``."""
    graphs = _descriptor_graphs(SITES)
    y = torch.cat([g.y_ads for g in graphs])
    batch = Batch.from_data_list(graphs)
    fitted = Scaling.fit(graphs, kind)
    assert set(fitted.reference) == {"clean", "Li2S2"}
    assert float((fitted.ads_stats(batch)[0] - y).abs().max()) < 0.2
    plain = Scaling.fit(graphs)
    assert float((plain.ads_stats(batch)[0] - y).abs().max()) > 1.0
    again = Scaling(**json.loads(json.dumps(asdict(fitted))))  # as saved in meta.json
    assert torch.allclose(again.ads_stats(batch)[0], fitted.ads_stats(batch)[0])


def test_sigma_adds_the_gp_references_predictive_variance_to_the_members_spread() -> None:
    """The members all start from one GP reference, so their spread cannot show its error: the
    reported σ² is the members' variance plus the reference's predictive variance, each member
    keeping its own deviation (σ-scale 1 here)."""
    torch.manual_seed(0)
    graphs = _labelled_graphs([5.0, -3.0, 7.0, -4.0, 6.0, -3.5, 9.0, -2.5])
    cfg = ModelConfig(arch="painn", hidden=8, layers=1, n_rbf=8, ensemble=3)
    members = [MultiTaskGNN(cfg) for _ in range(3)]
    scaling = Scaling.fit(graphs, "descriptor-gp")
    bare = Scaling(
        **{
            **asdict(scaling),
            "reference": {
                k: {n: v for n, v in ref.items() if n != "noise"} for k, ref in scaling.reference.items()
            },
        }
    )
    with_gp = Ensemble(members, cfg, GraphSettings(), scaling).predict(graphs)
    spread_only = Ensemble(members, cfg, GraphSettings(), bare).predict(graphs)
    ref_std = scaling.reference_std(graphs)
    assert (ref_std > 0).all()
    np.testing.assert_allclose(with_gp["e_ads"], spread_only["e_ads"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        with_gp["e_ads_std"] ** 2, spread_only["e_ads_std"] ** 2 + ref_std**2, rtol=1e-4
    )
    deviation = with_gp["e_ads_members"] - with_gp["e_ads"]
    assert np.all(np.sign(deviation) == np.sign(spread_only["e_ads_members"] - spread_only["e_ads"]))


def test_cross_fitted_training_graphs_carry_the_out_of_fold_reference() -> None:
    """With ``reference_folds`` > 1 the network trains on each site's residual from a reference
    fitted without that site: the training graphs' per-graph mean is the out-of-fold reference
    plus the residuals' mean (the originals are left alone), each state's std is that of the
    out-of-fold residuals, and the stored reference, the one used on new sites, is the in-sample
    fit."""
    rng = np.random.default_rng(0)
    sites = [["Cu", "Ni"], ["Fe", "Co"], ["Pt"], ["Zn", "Mo"], ["Ag", "Au"], ["Mn"], ["Ti", "V"], ["Ir"]]
    graphs = []
    for metals in sites:
        g = atoms_to_graph(place_adsorbate(build_site("melon", metals), "Li2S2", "bridge"))
        g.y_ads = torch.tensor([3.0 * float(g.site_x[0, 0]) + rng.normal(0, 0.5)], dtype=torch.float32)
        g.y_dband = torch.full((len(g.tags),), float("nan"))
        graphs.append(g)
    x = np.concatenate([g.site_x.numpy() for g in graphs]).astype(np.float64)
    y = torch.cat([g.y_ads for g in graphs]).numpy().astype(np.float64)
    scaling, train = Scaling.for_training(graphs, "descriptor-ridge", folds=4)
    assert all(not hasattr(g, "ref_shift") for g in graphs)
    oof = out_of_fold("descriptor-ridge", x, y, 4)
    mean = scaling.ads_stats(Batch.from_data_list(train))[0].numpy()
    np.testing.assert_allclose(mean, oof + (y - oof).mean(), atol=1e-4)  # the residuals' mean on top
    in_sample = Scaling.fit(graphs, "descriptor-ridge")
    assert scaling.reference == in_sample.reference
    on_new = (
        scaling.ads_stats(Batch.from_data_list(graphs))[0]
        - in_sample.ads_stats(Batch.from_data_list(graphs))[0]
    )
    assert float(on_new.max() - on_new.min()) < 1e-5  # the same reference, up to the residuals' mean
    assert scaling.per_state["Li2S2"][1] == pytest.approx(max((y - oof).std(), 0.1), rel=1e-4)
    assert scaling.per_state["Li2S2"][1] > in_sample.per_state["Li2S2"][1]
    assert Scaling.for_training(graphs, "descriptor-ridge", folds=0)[1] is graphs


def test_the_joint_reference_is_one_gp_stored_once_and_never_cross_fitted() -> None:
    """``descriptor-gp-joint`` keeps one GP for every state (each state's entry its one-hot),
    and refuses the cross-fitting the per-state references have."""
    graphs = _labelled_graphs([5.0, -3.0, 7.0, -4.0, 6.0, -3.5, 9.0, -2.5])
    fitted = Scaling.fit(graphs, "descriptor-gp-joint")
    assert fitted.joint is not None and fitted.joint["kind"] == "gp"
    assert {k: v["suffix"] for k, v in fitted.reference.items()} == {"Li2S2": [1.0, 0.0], "clean": [0.0, 1.0]}
    with pytest.raises(ValueError, match="not cross-fitted"):
        ModelConfig(energy_reference="descriptor-gp-joint", reference_folds=5)


@pytest.mark.parametrize("truth", ["descriptor-gp", "descriptor-gp-joint"])
def test_the_auto_reference_takes_whichever_gp_the_validation_labels_prefer(truth: str) -> None:
    """Validation labels equal to one reference's predictions make every state take that
    reference; without validation labels each state keeps its own GP."""
    train, val = _descriptor_graphs(SITES), _descriptor_graphs([["Y"], ["Cr", "Nb"], ["Re", "Os"]])
    assert {r["kind"] for r in Scaling.for_training(train, "descriptor-gp-auto")[0].reference.values()} == {
        "gp"
    }
    expected = Scaling.fit(train, truth)
    for g in val:
        g.y_ads = torch.from_numpy(expected._per_state(reference_value, [g.state], g.site_x)).float()
    chosen, _ = Scaling.for_training(train, "descriptor-gp-auto", val=val)
    assert {r["kind"] for r in chosen.reference.values()} == {"joint" if truth.endswith("joint") else "gp"}
    assert (chosen.joint is not None) == truth.endswith("joint")
