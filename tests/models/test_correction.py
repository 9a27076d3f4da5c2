"""The Δ-correction a model ships, and the higher-fidelity screening columns it adds."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from dacscreen.featurize.samples import Sample
from dacscreen.models.correction import Correction
from dacscreen.screening.predict import corrected_columns
from dacscreen.screening.space import SiteSpec

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


def _correction() -> Correction:
    return Correction.build(_samples("gpaw", 0.4), _samples("chgnet", 0.0), REFS)


def test_correction_survives_the_model_metadata() -> None:
    corr = _correction()
    again = Correction.from_meta(json.loads(json.dumps(corr.to_meta())))
    assert (again.method, again.base, again.states) == ("gpaw", "chgnet", {"Li2S2", "Li2S"})
    assert again.label() == f"gpaw (Δ-learned on chgnet, {len(METALS)} sites)"
    probe = [replace(s, e_ads=NAN) for s in again.samples[:3]]
    np.testing.assert_allclose(again.model().predict(probe)[0], corr.model().predict(probe)[0])


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
    out = corrected_columns(SiteSpec("melon", "Cu", "", 0), row, _correction())
    assert out["dft_fidelity"].startswith("gpaw (Δ-learned on chgnet")
    assert "e_bind_dft" not in out and "e_ads_s8_dft" not in out  # states the correction lacks
    np.testing.assert_allclose(out["e_ads_li2s2_dft"], -1.6, atol=0.05)
    np.testing.assert_allclose(out["e_ads_li2s_dft"], -2.1, atol=0.05)
    np.testing.assert_allclose(out["d_band_m1_dft"], -1.1, atol=0.05)
    assert out["e_ads_li2s2_dft_std"] >= row["e_ads_li2s2_std"]
    # ΔG5 = 2 G*(Li2S) − G*(Li2S2) − 2 μ_Li, with G* = E_ads + E(molecule)
    expected = 2 * (out["e_ads_li2s_dft"] + REFS["mol_Li2S"]) - (out["e_ads_li2s2_dft"] + REFS["mol_Li2S2"])
    np.testing.assert_allclose(out["dg_5_dft"], expected - 2 * REFS["Li_bcc"], atol=1e-9)
    sd = np.hypot(out["e_ads_li2s2_dft_std"], 2 * out["e_ads_li2s_dft_std"])
    np.testing.assert_allclose(out["dg_5_dft_std"], sd, rtol=1e-6)
