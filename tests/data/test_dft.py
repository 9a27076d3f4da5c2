"""The DFT tier: a real GPAW single point with a d-band centre, and the ML+SP labelling mode."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms

from dacscreen.config import LabelConfig
from dacscreen.data.dft import GPAWSettings, gpaw_settings, initial_moment, is_bulk
from dacscreen.data.labelling import Labeller
from dacscreen.data.store import Record, Store
from dacscreen.errors import ConfigError


def test_settings_and_method_tag() -> None:
    assert GPAWSettings().method() == "gpaw-lcao-pbe-d3"
    assert gpaw_settings({"mode": "pw", "ecut": 350, "d3": False}).method() == "gpaw-pw350-pbe"
    with pytest.raises(ConfigError, match="bogus"):
        gpaw_settings({"bogus": 1})
    assert (initial_moment("Cu"), initial_moment("Ni"), initial_moment("Zn"), initial_moment("S")) == (
        1.0,
        2.0,
        0.0,
        0.0,
    )
    assert is_bulk(Atoms("Li2", scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.5]], cell=[3.44] * 3, pbc=True))
    assert not is_bulk(Atoms("Cu", positions=[[4, 4, 4]], cell=[8, 8, 8], pbc=True))


def test_gpaw_single_point_and_d_band_centre(tmp_path: Path) -> None:
    pytest.importorskip("gpaw", reason="the dft extra is not installed (make dft)")
    from dacscreen.data.dft import gpaw_energy

    dimer = Atoms("CuNi", positions=[[0, 0, 0], [2.25, 0, 0]], tags=[1, 1], cell=[8, 6, 6], pbc=True)
    dimer.center()
    energy, keys = gpaw_energy(dimer, GPAWSettings(), dband=True)
    assert math.isfinite(energy) and energy < 0
    assert keys["spin_moment"] == pytest.approx(1.0, abs=0.3)  # Cu d10 s1 + Ni d9 s1: one unpaired e
    # filled Cu d lies deeper below E_F than the open Ni d shell
    assert -6.0 < keys["dband_m1"] < keys["dband_m2"] < 0.0
    assert keys["dband_method"] == "gpaw-lcao-pbe-d3-pdos"
    # both windows: the full band adds the empty d states above E_F, so its centre is higher
    assert (keys["dband_window"], keys["dband_full_window"]) == ("-10,0", "-10,10")
    assert keys["dband_full_m2"] > keys["dband_m2"] and -6.0 < keys["dband_full_m1"] < 5.0
    store = Store(tmp_path / "dft.db")  # every key is storable in the ASE database
    store.write_records([Record(dimer, energy, {"rid": "x", "task": "x", "kind": "site", **keys})])
    assert next(store.rows()).spin_moment == pytest.approx(keys["spin_moment"])


def _xtb_single_points(db: Path, **extra: object) -> LabelConfig:
    """ML+SP with GFN1-xTB on the CHGNet records of the tiny store."""
    return LabelConfig.model_validate(
        {
            "host": "melon",
            "metals": ["Cu", "Ni", "Zn"],
            "calculator": {"name": "tblite"},
            "dband_calculator": None,
            "single_point_of": "chgnet-0.4.2",
            "db": str(db),
            **extra,
        }
    )


def test_ml_plus_single_point_labelling(tiny_store: Path) -> None:
    """Single points of another calculator (GFN1-xTB here, GPAW in configs/label_dft.yaml) on the
    CHGNet-relaxed records: same sites, geometry unchanged, its own method and references."""
    store = Store(tiny_store)
    cfg = _xtb_single_points(tiny_store, limit=1)
    lab = Labeller(cfg, store)
    tasks = lab.plan()
    assert len(tasks) == 3 and len({t.site_id for t in tasks}) == 1
    for task in tasks:
        assert lab.run_claimed(task)
    assert lab.pending(tasks) == []
    sp = {r.adsorbate: r for r in store.rows(kind="site", method="tblite-GFN1-xTB", m1=tasks[0].metals[0])}
    assert set(sp) == {"clean", "Li2S2", "Li2S"}
    src = next(store.rows(rid=sp["Li2S2"].source))
    assert src.method == "chgnet-0.4.2"
    assert np.allclose(src.positions, sp["Li2S2"].positions)
    assert sp["Li2S2"].energy != pytest.approx(src.energy, abs=1.0)  # another method's energy scale
    assert all(r.best and r.converged and r.nsteps == 0 for r in sp.values())


def test_short_relaxation_before_the_single_point(tiny_store: Path) -> None:
    """``single_point_steps`` (ML+RX): a few steps with the single-point calculator from the
    CHGNet geometry, then its energy; the record names the short relaxation and its source."""
    store = Store(tiny_store)
    lab = Labeller(_xtb_single_points(tiny_store, limit=1, single_point_steps=2), store)
    task = next(t for t in lab.plan() if t.state == "Li2S")
    assert lab.run_claimed(task)
    rx = next(store.rows(kind="site", method="tblite-GFN1-xTB", adsorbate="Li2S"))
    src = next(store.rows(rid=rx.source))
    assert rx.orientation == "rx" and rx.rid.split("|")[-2] == "rx"
    assert 1 <= rx.nsteps <= 2 and rx.fmax_final > 0
    assert not np.allclose(src.positions, rx.positions)
    assert math.isfinite(rx.energy) and rx.converged
    assert lab.pending([task]) == []


def test_single_point_follows_a_superseded_source(tiny_store: Path) -> None:
    """When a placement search supersedes the CHGNet Li2S label, the ML+SP task is pending
    again and evaluates the new best geometry as a new record, which becomes its label."""
    store = Store(tiny_store)
    lab = Labeller(_xtb_single_points(tiny_store, limit=1), store)
    tasks = lab.plan()
    for task in tasks:
        assert lab.run_claimed(task)
    li2s = next(t for t in tasks if t.state == "Li2S")
    old = next(store.rows(kind="site", best=True, method="tblite-GFN1-xTB", adsorbate="Li2S"))
    src = next(store.rows(rid=old.source))
    keys = {**src.key_value_pairs, "rid": f"{src.task}|search", "orientation": "search"}
    atoms = src.toatoms()
    atoms.positions[atoms.get_tags() == 2] += (0.0, 0.0, 0.1)
    store.write_records([Record(atoms, src.energy - 0.5, keys)])  # a lower CHGNet minimum
    assert lab.pending(tasks) == [li2s]
    assert lab.run_claimed(li2s)
    now = list(store.rows(kind="site", best=True, method="tblite-GFN1-xTB", adsorbate="Li2S"))
    assert [r.source for r in now] == [f"{src.task}|search"]
    assert store.count(kind="site", method="tblite-GFN1-xTB", adsorbate="Li2S") == 2
    assert lab.pending(tasks) == []


def test_single_point_references_for_adsorption_only(tiny_store: Path) -> None:
    """``single_point_references: adsorption`` re-evaluates Li, the molecules and the hosts and
    skips the bulk metals (needed only for E_bind, and the slowest references in DFT)."""
    store = Store(tiny_store)
    cfg = _xtb_single_points(tiny_store, single_point_references="adsorption")
    Labeller(cfg, store).run_references(["Cu", "Ni", "Zn"])
    source = {r.ref for r in store.rows(kind="reference", method="chgnet-0.4.2")}
    done = {r.ref for r in store.rows(kind="reference", method="tblite-GFN1-xTB")}
    assert done == {ref for ref in source if not ref.startswith("bulk_")}
    assert {"Li_bcc", "mol_Li2S2", "mol_Li2S", "host_melon"} <= done


@pytest.fixture
def gpaw_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A scratch cache directory for generated datasets; GPAW's setup path restored afterwards."""
    gpaw = pytest.importorskip("gpaw", reason="the dft extra is not installed (make dft)")
    monkeypatch.setenv("DACSCREEN_CACHE_DIR", str(tmp_path))
    saved = list(gpaw.setup_paths)
    yield tmp_path / "gpaw-setups"
    gpaw.setup_paths[:] = saved


def test_elements_without_gpaw_datasets_are_named(gpaw_paths: Path) -> None:
    """gpaw-data ships no PAW dataset for Tc: with generation switched off, a single point says
    so before any SCF, and the ML+SP planner leaves Tc sites out instead of stopping the job."""
    from dacscreen.data.dft import missing_datasets, single_point
    from dacscreen.data.labelling.tasks import unsupported_metals

    assert missing_datasets(["Cu", "Ni", "Li", "S", "C", "N", "Tc"]) == ["Tc"]
    tc = Atoms("Tc", positions=[[3, 3, 3]], cell=[6, 6, 6], pbc=True)
    with pytest.raises(ConfigError, match=r"Tc.*no PAW dataset"):
        single_point(tc, GPAWSettings(generate_missing=False))
    calc = {"name": "gpaw", "kwargs": {"generate_missing": False}}
    gpaw_cfg = LabelConfig.model_validate({"calculator": calc, "single_point_of": "chgnet-0.4.2"})
    assert unsupported_metals(gpaw_cfg, ["Cu", "Tc"]) == {"Tc"}
    assert unsupported_metals(_xtb_single_points(Path("x.db")), ["Cu", "Tc"]) == set()
    assert not gpaw_paths.exists()


def test_missing_dataset_is_generated_and_named_on_the_record(gpaw_paths: Path) -> None:
    """Tc gets a dataset and dzp basis from GPAW's own generators (semicore, 15 e); released
    datasets are never replaced, and the energy's keys name the generated element."""
    from dacscreen.data.dft import generate_datasets, generator_valence, gpaw_energy, missing_datasets

    assert generator_valence("Tc") == 15
    assert generator_valence("Cu") == 19
    assert generate_datasets(["Cu", "Tc"]) == ["Tc"]
    assert sorted(f.name for f in gpaw_paths.iterdir()) == ["Tc.PBE", "Tc.dzp.basis"]
    assert missing_datasets(["Cu", "Tc"]) == []
    tc = Atoms("TcLi", positions=[[3, 3, 3], [5.4, 3, 3]], tags=[1, 0], cell=[8, 6, 6], pbc=True)
    energy, keys = gpaw_energy(tc, GPAWSettings(d3=False))
    assert math.isfinite(energy)
    assert keys["paw_generated"] == "Tc"
    assert generate_datasets(["Cu", "Tc"]) == ["Tc"]  # found, not regenerated
