"""The label definition (SCIENCE.md §3): lowest valid state of any class, the state classes, the
ML+SP rule, and the migration of records labelled before the classes existed."""

from __future__ import annotations

import gzip
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase import Atoms

from dacscreen.data import anomalies, label_rules
from dacscreen.data.store import Record, Store, _shard_safe, import_shards
from dacscreen.data.summary import summarize


def _li2s2(ss: float = 2.1, li_s: float = 2.3) -> Atoms:
    """A toy 'site': one metal (tag 1) on four N (tag 0), Li2S2 (tag 2) above it."""
    sub = Atoms("N4Cu", positions=[[0, 0, 0], [2.6, 0, 0], [0, 2.6, 0], [2.6, 2.6, 0], [1.3, 1.3, 0.2]])
    ads = Atoms(
        "S2Li2",
        positions=[
            [1.3 - ss / 2, 1.3, 2.4],
            [1.3 + ss / 2, 1.3, 2.4],
            [1.3, 1.3 + li_s, 2.4],
            [1.3, 1.3 - li_s, 2.4],
        ],
    )
    atoms = sub + ads
    atoms.set_tags([0, 0, 0, 0, 1, 2, 2, 2, 2])
    atoms.set_cell([12, 12, 15])
    atoms.pbc = [True, True, False]
    return atoms


def test_state_classes_by_geometry() -> None:
    start = _li2s2()
    assert anomalies.state_class(start, _li2s2()) == "intact"
    assert anomalies.state_class(start, _li2s2(ss=3.6)) == "ss_cleaved"
    assert anomalies.state_class(start, _li2s2(li_s=4.5)) == "li_detached"
    assert anomalies.check(_li2s2(ss=3.6)) == ""  # a broken S–S bond is chemistry, not an anomaly
    far = _li2s2()
    far.positions[far.get_tags() == 2, 2] += 5.0
    assert anomalies.check(far) == "adsorbate desorbed"


def test_label_is_the_lowest_valid_state_whatever_its_class() -> None:
    c = label_rules.Candidate
    cands = [
        c("intact", -10.0, True, "", "intact"),
        c("cleaved", -12.0, True, "", "ss_cleaved"),
        c("lower but anomalous", -15.0, True, "pair separated (5.6 Å)", "li_detached"),
        c("lower but unconverged", -14.0, False, "", "intact"),
    ]
    assert label_rules.choose(cands) == ("cleaved", "intact")
    assert label_rules.choose(cands[2:]) == (None, None)
    flags = label_rules.flags(cands)
    assert flags["cleaved"] == {"best": True, "best_intact": False}
    assert flags["intact"] == {"best": False, "best_intact": True}


def _record(rid: str, final: Atoms, energy: float, initial: Atoms | None, **keys: object) -> Record:
    base = {
        "rid": rid,
        "task": "melon|Cu||0|Li2S2|chgnet-0.4.2",
        "kind": "site",
        "host": "melon",
        "m1": "Cu",
        "m2": "",
        "placement": 0,
        "adsorbate": "Li2S2",
        "method": "chgnet-0.4.2",
        "converged": True,
        "anomaly": "",
    }
    return Record(final, energy, {**base, **keys}, initial)


def _shard(path: Path, records: list[Record]) -> None:
    """Write ``records`` as a legacy shard (keys in info, the start as ``initial_positions``)."""
    frames = []
    for r in records:
        a = r.atoms.copy()
        a.info.update(r.keys)
        a.info["energy"] = r.energy
        if r.initial is not None:
            a.arrays["initial_positions"] = r.initial.positions
        frames.append(_shard_safe(a))
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as fh:
        ase.io.write(fh, frames, format="extxyz")


def test_legacy_dissociated_records_become_labels_on_import(tmp_path: Path) -> None:
    """A shard of an older labeller: the cleaved start carries ``adsorbate dissociated`` and is
    lower. On import it gets its class, loses that anomaly and becomes the label; the intact
    start stays as ``best_intact``; a single point of the intact geometry is not the DFT label."""
    start = _li2s2()
    legacy = [
        _record("t|bridge", _li2s2(ss=3.6), -20.0, start, anomaly=anomalies.LEGACY_ANOMALY, best=False),
        _record("t|top1", _li2s2(), -18.0, start, best=True),
        _record(
            "g|sp|top1",
            _li2s2(),
            -500.0,
            None,
            task="melon|Cu||0|Li2S2|gpaw",
            method="gpaw",
            source="t|top1",
            best=True,
        ),
    ]
    _shard(tmp_path / "labels" / "labels-1.extxyz.gz", legacy)
    store = Store(tmp_path / "s.db")
    assert import_shards(store, tmp_path / "labels") == 3
    rows = {r.rid: r for r in store.rows(kind="site")}
    assert rows["t|bridge"].anomaly == "" and rows["t|bridge"].state_class == "ss_cleaved"
    assert rows["t|bridge"].best and not rows["t|top1"].best and rows["t|top1"].best_intact
    assert rows["g|sp|top1"].state_class == "intact" and not rows["g|sp|top1"].best
    info = summarize(store)
    assert info["state_classes"]["chgnet-0.4.2"]["Li2S2"] == {"ss_cleaved": 1, "with_intact": 1}
    # a DFT single point of the new label geometry becomes the DFT label
    sp = _record(
        "g|sp|bridge",
        _li2s2(ss=3.6),
        -499.0,
        None,
        task="melon|Cu||0|Li2S2|gpaw",
        method="gpaw",
        source="t|bridge",
    )
    store.write_records([sp])
    assert next(store.rows(rid="g|sp|bridge")).best


def test_a_lower_start_supersedes_the_label_and_its_single_point(tmp_path: Path) -> None:
    """A later, lower CHGNet record takes the label; the DFT single point of the old label
    geometry then stops being the DFT label, in the same write."""
    start = _li2s2()
    store = Store(tmp_path / "s.db")
    store.write_records([_record("t|top1", _li2s2(), -18.0, start)])
    sp = _record("g|sp|top1", _li2s2(), -500.0, None, task="x|gpaw", method="gpaw", source="t|top1")
    store.write_records([sp])
    assert next(store.rows(rid="g|sp|top1")).best
    store.write_records([_record("t|li_n", _li2s2(li_s=4.5), -19.0, start)])
    assert next(store.rows(rid="t|li_n")).best and next(store.rows(rid="t|li_n")).state_class == "li_detached"
    assert not next(store.rows(rid="g|sp|top1")).best


def test_a_replacing_record_takes_the_label_even_when_higher(tmp_path: Path) -> None:
    """A re-evaluation that names the old record in ``replaces`` is the label in its place, even
    a μeV higher; the old record stays stored, and replaying both from a shard gives the same."""
    start = _li2s2()
    old = _record("g|sp", _li2s2(), -500.0, None, task="x|gpaw", method="gpaw", adsorbate="clean")
    redo = _record(
        "g|sp|redo",
        _li2s2(),
        -499.999999,
        None,
        task="x|gpaw",
        method="gpaw",
        adsorbate="clean",
        replaces="g|sp",
    )
    live = Store(tmp_path / "live.db")
    live.write_records([_record("t|top1", _li2s2(), -18.0, start)])
    live.write_records([old])
    assert next(live.rows(rid="g|sp")).best
    live.write_records([redo])
    _shard(tmp_path / "labels" / "labels-1.extxyz.gz", [old, redo])
    replayed = Store(tmp_path / "replayed.db")
    import_shards(replayed, tmp_path / "labels")
    for store in (live, replayed):
        rows = {r.rid: r for r in store.rows(task="x|gpaw")}
        assert rows["g|sp|redo"].best and not rows["g|sp"].best, store.url


def test_unbounded_dband_window_is_dropped() -> None:
    keys = {"kind": "site", "adsorbate": "clean", "dband_m1": -589.7, "dband_window": "-inf,inf"}
    label_rules.migrate(keys, None, _li2s2(), {})
    assert "dband_m1" not in keys and keys["dband_window"] == "-10,0" and "dropped" in keys["dband_note"]
    assert keys["state_class"] == "intact"


@pytest.mark.parametrize("shift", [0.0, 0.3])
def test_state_class_ignores_small_motion(shift: float) -> None:
    moved = _li2s2()
    moved.positions[moved.get_tags() == 2] += np.array([shift, 0.0, 0.0])
    assert anomalies.state_class(_li2s2(), moved) == "intact"


def test_label_table_of_a_labelled_store(tiny_store: Path) -> None:
    """The labels of one method in the screen's columns: E_ads of the label and of the lowest
    intact state, the class, ΔG5 per product from the same method's references, and the host
    reference that the labeller relaxed on the metal-free host."""
    from dacscreen.data.label_table import label_table
    from dacscreen.thermo import srr_profile

    store = Store(tiny_store)
    method = next(store.rows(kind="site")).method
    df = label_table(store, method)
    both = df[np.isfinite(df["e_ads_li2s2"]) & np.isfinite(df["e_ads_li2s"])]
    assert len(both), "the tiny store labels Li2S2 and Li2S on some site"
    cuni = both.iloc[0]
    refs = store.references(method)
    molecules = {x: refs[f"mol_{x}"] for x in ("Li2S2", "Li2S")}
    li = next(store.rows(kind="reference", ref="Li_bcc"))
    mu_li = li.energy / li.natoms  # μ_Li per atom, not the cell's energy
    expected = srr_profile({"Li2S2": cuni.e_ads_li2s2, "Li2S": cuni.e_ads_li2s}, molecules, mu_li)
    assert cuni.dg_5 == pytest.approx(expected.step_dgs[4])
    assert cuni.class_li2s2 in anomalies.STATE_CLASSES and (df["normalisation"] == "per-product").all()
    assert {"bare_melon_Li2S2", "bare_melon_Li2S"} <= set(refs)


def test_a_search_is_complete_once_every_offered_orientation_has_started() -> None:
    """Pair Li2S6: bridge, top1, top2, li_n offered; a continuation counts as its start; records
    outside the placement search (single points, imported DFT, the clean site) are complete."""
    done = label_rules.search_complete
    assert not done("Li2S6", 2, ["template"])
    assert not done("Li2S6", 2, ["template", "bridge", "top1", "top2"])
    assert done("Li2S6", 2, ["template", "bridge", "top1", "top2+", "li_n"])
    assert done("S8", 1, ["top1", "flat"])  # no Li, so no li_n start on S8
    assert not done("S8", 1, ["top1"])
    for outside in (["sp"], ["dft"], ["none"], []):
        assert done("Li2S2", 2, outside)


def test_collected_samples_say_whether_their_search_was_complete(tiny_store: Path) -> None:
    """The tiny store relaxes one start per task (``max_orientations: 1``); adding the other
    offered orientations of one task makes its label's search complete, and a training config
    can then leave the incomplete ones out."""
    from dacscreen.config import TrainConfig
    from dacscreen.data.adsorbates import orientations
    from dacscreen.featurize.samples import collect_samples
    from dacscreen.models.dataset import prepare

    store = Store(tiny_store)
    li2s2 = [s for s in collect_samples(store) if s.state == "Li2S2"]
    assert li2s2 and not any(s.search_complete for s in li2s2)
    target = li2s2[0]
    label = next(store.rows(kind="site", best=True, adsorbate="Li2S2", m1=target.m1, m2=target.m2))
    more = [
        Record(
            label.toatoms(),
            label.energy + 1.0,
            {**label.key_value_pairs, "rid": f"{label.rid}-{o}", "orientation": o},
        )
        for o in orientations(len(target.metals), "Li2S2")
    ]
    store.write_records(more)
    after = {(s.m1, s.m2): s for s in collect_samples(store) if s.state == "Li2S2"}
    assert after[(target.m1, target.m2)].search_complete
    assert after[(target.m1, target.m2)].e_ads == pytest.approx(target.e_ads)  # the label stays
    assert sum(s.search_complete for s in after.values()) == 1
    cfg = TrainConfig(
        db=str(tiny_store),
        targets=["Li2S2", "Li2S"],
        complete_search_only=["Li2S2"],
        split={"kind": "random"},
    )
    kept = prepare(cfg, graphs=False).samples
    assert [(s.m1, s.m2) for s in kept if s.state == "Li2S2"] == [(target.m1, target.m2)]
    assert sum(s.state == "Li2S" for s in kept) == sum(s.state == "Li2S" for s in collect_samples(store))
