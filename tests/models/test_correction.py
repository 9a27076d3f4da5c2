"""The Δ-correction a model ships, and the higher-fidelity screening columns it adds."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from dacscreen.featurize.samples import Sample
from dacscreen.models.correction import Correction, DeltaMap, Kind, choose_kind, label_predictions, twin_pairs
from dacscreen.models.targets import Predictions
from dacscreen.screening.predict import corrected_columns
from dacscreen.site_key import SiteKey

METALS = ["Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Zr", "Mo"]
NAN = float("nan")
REFS = {"Li_bcc": -1.9, "mol_Li2S2": -15.0, "mol_Li2S": -10.0}


def _samples(method: str, shift: float) -> list[Sample]:
    """Clean sites (ε_d = −2 + shift), Li2S2 and Li2S (E_ads = −3 + shift) of single atoms."""
    out = []
    for m in METALS:
        out.append(Sample("melon", m, "", 0, "clean", "none", NAN, (-2.0 + shift,) * 2, method=method))
        for state in ("Li2S2", "Li2S"):
            out.append(Sample("melon", m, "", 0, state, "top", -3.0 + shift, (NAN, NAN), method=method))
    return out


def _correction(kind: Kind = "delta") -> Correction:
    return Correction.build(_samples("gpaw", 0.4), _samples("chgnet", 0.0), REFS, kind)


def test_correction_survives_the_model_metadata() -> None:
    corr = _correction()
    again = Correction.from_meta(json.loads(json.dumps(corr.to_meta())))
    assert (again.method, again.base, again.kind) == ("gpaw", "chgnet", "delta")
    assert again.states == {"Li2S2", "Li2S"}
    assert again.label() == f"gpaw (delta map from chgnet, {len(METALS)} sites)"
    probe = [replace(s, e_ads=NAN) for s in again.samples[:3]]
    low = _low([-3.0, -2.0, -1.0])
    np.testing.assert_allclose(again.apply(probe, low).e_ads, corr.apply(probe, low).e_ads)


@pytest.mark.parametrize("kind", ["delta", "nargp"])
def test_a_loaded_map_refits_with_its_saved_hyperparameters(kind: Kind) -> None:
    """``meta.json`` carries the fitted kernels: loading refits the Gaussian processes with
    them fixed (no optimiser run at screening time) and predicts exactly what the fitted map did."""
    corr = _correction(kind)
    again = Correction.from_meta(json.loads(json.dumps(corr.to_meta())))
    model = again.model()
    fitted = [model.gp.energy, model.gp.dband] if isinstance(model, DeltaMap) else [model.energy, model.dband]
    assert all(r is not None and r.models[0][1].optimizer is None for r in fitted)
    probe = [replace(s, e_ads=NAN) for s in again.samples[:4]]
    low = _low([-3.0, -2.5, -2.0, -1.0])
    a, b = again.apply(probe, low), corr.apply(probe, low)
    for x, y in ((a.e_ads, b.e_ads), (a.e_ads_std, b.e_ads_std), (a.dband, b.dband)):
        np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-12)


def test_correction_written_through_the_ensemble_metadata_keeps_its_missing_labels() -> None:
    """A clean site's E_bind is NaN without references: it stays NaN through ``meta.json``
    (pydantic's JSON mode would write null), and a null written before that loads as NaN."""
    from dacscreen.models.ensemble_meta import EnsembleMeta

    meta = EnsembleMeta(correction=_correction().to_meta()).to_json()
    assert "NaN" in json.dumps(meta)
    again = Correction.from_meta(json.loads(json.dumps(meta))["correction"])
    assert again.states == {"Li2S2", "Li2S"}
    nulls = json.loads(json.dumps(meta).replace("NaN", "null"))["correction"]
    assert Correction.from_meta(nulls).states == {"Li2S2", "Li2S"}


def _low(values: list[float], std: float = 0.1) -> Predictions:
    n = len(values)
    return Predictions(np.array(values), np.full(n, std), np.full((n, 2), -2.0), np.full((n, 2), std))


def test_metadata_written_before_the_nargp_map_loads_as_a_delta_map() -> None:
    """Old model directories hold Δ rows and no ``kind``: they keep adding the same Δ."""
    meta = _correction().to_meta()
    legacy = {k: v for k, v in meta.items() if k not in ("kind", "hyper")}
    legacy["samples"] = [
        {k: v for k, v in r.items() if not k.endswith("_low")} | {"e_ads": r["e_ads"] - r["e_ads_low"]}
        for r in meta["samples"]
    ]
    legacy["samples"] = [r | {"dband": [0.4, 0.4]} if r["state"] == "clean" else r for r in legacy["samples"]]
    corr = Correction.from_meta(legacy)
    assert corr.kind == "delta"
    probe = [s for s in corr.samples if s.state == "Li2S2"][:2]
    out = corr.apply(probe, _low([-3.0, -1.0]))
    np.testing.assert_allclose(out.e_ads, [-2.6, -0.6], atol=0.05)


def _random_low(metals: list[str], seed: int = 1) -> dict[str, float]:
    """A per-metal low-fidelity E_ads (eV) that no elemental descriptor explains."""
    rng = np.random.default_rng(seed)
    return {m: float(v) for m, v in zip(metals, rng.uniform(-4.0, -1.0, len(metals)), strict=True)}


def test_the_nargp_map_learns_a_compressed_scale_that_a_delta_cannot() -> None:
    """High = 0.5 · low − 1 eV, with a low fidelity that varies by metal beyond what the
    descriptors carry: the Δ = −0.5 · low − 1 is then unlearnable from descriptors, while the
    map from (x, y_low) recovers the high fidelity on held-out metals."""
    metals = [*METALS, "Y", "Nb", "Ru", "Rh", "Pd", "Ag"]
    y_low = _random_low(metals)
    low = [Sample("melon", m, "", 0, "Li2S2", "top", y_low[m], (NAN, NAN), method="chgnet") for m in metals]
    high = [replace(s, e_ads=0.5 * s.e_ads - 1.0, method="gpaw") for s in low]
    train, test = high[::2], high[1::2]
    pred = _low([y_low[s.m1] for s in test], std=0.0)
    truth = np.array([s.e_ads for s in test])
    err = {
        kind: np.abs(Correction.build(train, low, REFS, kind).apply(test, pred).e_ads - truth).mean()
        for kind in ("nargp", "delta")
    }
    assert err["nargp"] < 0.1 < err["delta"]


def test_the_nargp_map_propagates_the_low_fidelity_sigma() -> None:
    metals = [*METALS, "Y", "Nb", "Ru", "Rh", "Pd", "Ag"]
    y_low = _random_low(metals)
    low = [Sample("melon", m, "", 0, "Li2S2", "top", y_low[m], (NAN, NAN), method="chgnet") for m in metals]
    high = [replace(s, e_ads=0.5 * s.e_ads - 1.0, method="gpaw") for s in low]
    corr = Correction.build(high, low, REFS, "nargp")
    probe = low[:3]
    sharp = corr.apply(probe, _low([y_low[s.m1] for s in probe], std=0.0))
    blurred = corr.apply(probe, _low([y_low[s.m1] for s in probe], std=0.4))
    np.testing.assert_allclose(sharp.e_ads, blurred.e_ads)
    assert np.all(blurred.e_ads_std > sharp.e_ads_std)
    unseen = [replace(probe[0], state="Li2S")]  # a state the map was not fitted on
    assert np.isnan(corr.apply(unseen, _low([-2.0])).e_ads).all()


def test_correction_needs_sites_labelled_by_both_methods() -> None:
    with pytest.raises(ValueError, match="both methods"):
        Correction.build(_samples("gpaw", 0.4), [], REFS)


def test_screen_columns_add_the_correction_and_name_its_fidelity() -> None:
    row = {
        "e_bind": 1.0,
        "e_bind_std": 0.1,
        "d_band_m1": -1.5,
        "d_band_m1_std": 0.2,
        "d_band_m2": -1.5,
        "d_band_m2_std": 0.2,
        "e_ads_li2s2": -2.0,
        "e_ads_li2s2_std": 0.3,
        "e_ads_li2s": -2.5,
        "e_ads_li2s_std": 0.3,
        "e_ads_s8": -1.0,
        "e_ads_s8_std": 0.3,
    }
    out = corrected_columns([SiteKey("melon", "Cu", "", 0)], [row], _correction())[0]
    assert out["dft_fidelity"].startswith("gpaw (delta map from chgnet")
    assert "e_bind_dft" not in out and "e_ads_s8_dft" not in out  # states the correction lacks
    np.testing.assert_allclose(out["e_ads_li2s2_dft"], -1.6, atol=0.05)
    np.testing.assert_allclose(out["e_ads_li2s_dft"], -2.1, atol=0.05)
    np.testing.assert_allclose(out["d_band_m1_dft"], -1.1, atol=0.05)
    assert out["e_ads_li2s2_dft_std"] >= row["e_ads_li2s2_std"]
    # per product: ΔG5 = G*(Li2S) − ½ G*(Li2S2) − μ_Li, with G* = E_ads + E(molecule)
    expected = (out["e_ads_li2s_dft"] + REFS["mol_Li2S"]) - 0.5 * (out["e_ads_li2s2_dft"] + REFS["mol_Li2S2"])
    np.testing.assert_allclose(out["dg_5_dft"], expected - REFS["Li_bcc"], atol=1e-9)
    sd = np.hypot(0.5 * out["e_ads_li2s2_dft_std"], out["e_ads_li2s_dft_std"])
    np.testing.assert_allclose(out["dg_5_dft_std"], sd, rtol=1e-6)


def test_screen_columns_of_a_nargp_map_follow_the_low_fidelity_value() -> None:
    """A screening row mapped by the NARGP map: finite DFT-level columns for the states it
    covers, and a larger low-fidelity E_ads mapped to a larger one (high = 0.5 · low − 1)."""
    metals = [*METALS, "Y", "Nb", "Ru", "Rh", "Pd", "Ag"]
    y_low = _random_low(metals)
    low = [
        Sample("melon", m, "", 0, st, "top", y_low[m] - k, (NAN, NAN), method="chgnet")
        for m in metals
        for k, st in enumerate(("Li2S2", "Li2S"))
    ]
    low += [Sample("melon", m, "", 0, "clean", "none", NAN, (-2.0,) * 2, method="chgnet") for m in metals]
    high = [replace(s, e_ads=0.5 * s.e_ads - 1.0, dband=(-1.5, -1.5), method="gpaw") for s in low]
    corr = Correction.build(high, low, REFS, "nargp")
    row = {"d_band_m1": -2.0, "d_band_m1_std": 0.1, "d_band_m2": -2.0, "d_band_m2_std": 0.1}
    rows = [
        row | {"e_ads_li2s2": e, "e_ads_li2s2_std": 0.1, "e_ads_li2s": e - 1, "e_ads_li2s_std": 0.1}
        for e in (-3.5, -2.0)
    ]
    out = corrected_columns([SiteKey("melon", "Cu", "", 0)] * 2, rows, corr)  # one call, two sites
    cols = dict(zip((-3.5, -2.0), out, strict=True))
    for out in cols.values():
        assert out["dft_fidelity"] == f"gpaw (nargp map from chgnet, {len(metals)} sites)"
        assert all(
            np.isfinite(out[k]) for k in ("e_ads_li2s2_dft", "e_ads_li2s_dft", "dg_5_dft", "d_band_m1_dft")
        )
    assert cols[-2.0]["e_ads_li2s2_dft"] > cols[-3.5]["e_ads_li2s2_dft"]
    np.testing.assert_allclose(cols[-2.0]["e_ads_li2s2_dft"], 0.5 * -2.0 - 1.0, atol=0.15)


def _scaled(scale: float, shift: float) -> tuple[list[Sample], list[Sample]]:
    """(high, low) Li2S2 samples with high = scale · low + shift and a per-metal low fidelity
    that no descriptor explains."""
    metals = [*METALS, "Y", "Nb", "Ru", "Rh", "Pd", "Ag"]
    y_low = _random_low(metals, seed=3)
    low = [Sample("melon", m, "", 0, "Li2S2", "top", y_low[m], (NAN, NAN), method="chgnet") for m in metals]
    return [replace(s, e_ads=scale * s.e_ads + shift, method="gpaw") for s in low], low


def test_auto_kind_is_the_one_that_cross_validates_better() -> None:
    """A compressed scale needs the NARGP map; ``auto`` finds that from the fitting pairs alone,
    and the built correction records the kind it chose."""
    high, low = _scaled(0.5, -1.0)
    assert choose_kind(twin_pairs(high, low)) == "nargp"
    assert Correction.build(high, low, REFS).kind == "nargp"
    assert choose_kind([]) == "nargp"  # nothing to score: the default


def test_label_predictions_are_the_twins_labels_with_no_sigma() -> None:
    high, low = _scaled(1.0, 0.3)
    probe = [*high[:2], replace(high[2], m1="Au")]  # Au has no low-fidelity twin
    out = label_predictions(probe, low)
    np.testing.assert_allclose(out.e_ads[:2], [s.e_ads for s in low[:2]])
    assert np.isnan(out.e_ads[2]) and not out.e_ads_std[:2].any()
