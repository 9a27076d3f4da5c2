"""The ASE-db store: transactional writes, shards round trip, first-use build from shards."""

from __future__ import annotations

import gc
import gzip
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from ase.build import molecule

from dacscreen.data import store as store_module
from dacscreen.data.store import Record, Store, export_shard, import_shards, open_store, shipped_rids
from dacscreen.errors import DacscreenError


def _rec(rid: str, energy: float = -1.0) -> Record:
    atoms = molecule("CO2")
    atoms.set_cell([9, 9, 9])
    atoms.set_tags([1, 2, 2])
    init = atoms.copy()
    init.positions += 0.05
    return Record(
        atoms,
        energy,
        {
            "rid": rid,
            "task": rid.split("#", maxsplit=1)[0],
            "kind": "site",
            "m1": "C",
            "m2": "",
            "placement": 0,
            "adsorbate": "clean",
            "anomaly": "",
            "mm_dist": 2.5,
            "best": True,
            "converged": True,
        },
        init,
    )


def test_transaction_all_or_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    with pytest.raises(DacscreenError):
        store.write_records([_rec("a"), _rec("b", float("nan"))])
    assert store.count() == 0
    store.write_records([_rec("a"), _rec("b")])
    store.write_records([_rec("a")])  # idempotent
    assert store.count() == 2
    assert store.has_task("a")


def test_writer_killed_mid_write_leaves_no_lock(tmp_path: Path) -> None:
    """A writer SIGKILLed mid-write must not block the next one: SQLite drops the unfinished
    write, and no lock file survives (ASE's ``<db>.lock`` did, and the next write hung)."""
    import signal
    import subprocess
    import sys

    db = tmp_path / "s.db"
    Store(db).write_records([_rec("a")])
    code = (  # the child dies inside ASE's write, where ASE holds its lock file
        "import os, signal, sys\n"
        "from ase.db.sqlite import SQLite3Database\n"
        "from dacscreen.data.store import Store\n"
        "SQLite3Database._write = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)\n"
        "s = Store(sys.argv[1])\n"
        "s.db.write(s.db.get_atoms(id=1), rid='half')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(db)], check=False, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    store = Store(db, timeout=10)
    store.write_records([_rec("b")])
    assert sorted(r.rid for r in store.rows()) == ["a", "b"]


def test_shards_round_trip_and_first_use(tmp_path: Path) -> None:
    src = Store(tmp_path / "src.db")
    src.write_records([_rec("a#1", -1.5), _rec("b#1", -2.5)])
    shards = tmp_path / "labels"
    first = export_shard(src, shards)
    assert first is not None and first.name.endswith(".extxyz.gz")
    assert export_shard(src, shards) is None  # nothing new: no empty shard
    cont = _rec("c#1", -3.5)
    cont.keys |= {"continues": "a#1", "paw_generated": "Tc", "a_key_added_later": 0.25}
    src.write_records([cont])
    assert src.claim("d")  # a live claim of another task is not a record: it is not shipped
    export_shard(src, shards, prefix="more")
    assert shipped_rids(shards) == {"a#1", "b#1", "c#1"}
    fresh = open_store(tmp_path / "fresh" / "s.db", shards)
    assert fresh.count() == 3
    rows = {r.rid: r for r in fresh.rows()}
    assert rows["b#1"].energy == pytest.approx(-2.5)
    assert list(rows["a#1"].toatoms().get_tags()) == [1, 2, 2]
    assert np.allclose(rows["a#1"].data["initial_positions"], rows["a#1"].positions + 0.05)
    assert import_shards(fresh, shards) == 0
    # every key survives, empty strings too (extxyz would otherwise merge 'm2=' with the next key)
    original = {r.rid: r.key_value_pairs for r in src.rows("kind!=claim")}
    assert all(rows[rid].key_value_pairs == kv for rid, kv in original.items())


def test_concurrent_shard_writers_ship_each_record_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two labellers that shard the same store at the same moment: the second waits for the
    first, so no record lands in two shards. The read of the shipped records is slowed to make
    the race window wide."""
    src = Store(tmp_path / "src.db")
    src.write_records([_rec("a#1"), _rec("b#1")])
    shards = tmp_path / "labels"
    read_shipped = store_module.shipped_rids

    def slow_shipped(shard_dir: Path) -> set[str]:
        rids = read_shipped(shard_dir)
        time.sleep(0.3)
        return rids

    monkeypatch.setattr(store_module, "shipped_rids", slow_shipped)
    stores = [Store(tmp_path / "src.db") for _ in range(2)]
    writers = [threading.Thread(target=export_shard, args=(store, shards)) for store in stores]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    rids = [str(a.info["rid"]) for a in store_module.iter_shards(shards)]
    assert sorted(rids) == ["a#1", "b#1"]
    assert len(list(shards.glob("*.extxyz.gz"))) == 1


def test_a_later_best_record_supersedes_its_task_and_the_shards_replay_it(tmp_path: Path) -> None:
    """A placement search that finds a lower minimum adds a best record: the earlier best of the
    same task loses its flag (its energy is kept), other tasks are untouched, and a store
    rebuilt from the shards ends the same way."""
    src = Store(tmp_path / "src.db")
    src.write_records([_rec("t#template", -1.0), _rec("u#template", -5.0)])
    shards = tmp_path / "labels"
    export_shard(src, shards)
    src.write_records([_rec("t#top1", -2.0)])
    export_shard(src, shards)
    for store in (src, open_store(tmp_path / "fresh.db", shards)):
        best = {r.rid: r.energy for r in store.rows(best=True)}
        assert best == {"t#top1": pytest.approx(-2.0), "u#template": pytest.approx(-5.0)}
        assert store.count(task="t") == 2


def test_legacy_shard_with_merged_empty_keys_is_repaired(tmp_path: Path) -> None:
    shards = tmp_path / "labels"
    shards.mkdir()
    header = (
        'Lattice="9 0 0 0 9 0 0 0 9" Properties=species:S:1:pos:R:3 rid=x task=x kind=site '
        'host=melon m1=Cu m2= placement=0 adsorbate=clean anomaly= mm_dist=2.5 energy=-1.0 pbc="T T T"'
    )
    with gzip.open(shards / "old.extxyz.gz", "wt") as fh:
        fh.write(f"1\n{header}\nCu 0 0 0\n")
    row = next(open_store(tmp_path / "s.db", shards).rows())
    assert (row.m2, row.placement, row.anomaly, row.mm_dist) == ("", 0, "", 2.5)


def test_each_shard_is_read_once_for_the_shipped_ids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Shards are written once and never changed: a labeller exporting a shard every few tasks
    parses only the shards it has not read yet, not the whole directory again."""
    src = Store(tmp_path / "src.db")
    shards = tmp_path / "labels"
    src.write_records([_rec("a#1")])
    first = export_shard(src, shards)
    reads: list[str] = []
    read = store_module._read_shard

    def counted(path: Path):  # type: ignore[no-untyped-def]
        reads.append(path.name)
        return read(path)

    monkeypatch.setattr(store_module, "_read_shard", counted)
    src.write_records([_rec("b#1")])
    second = export_shard(src, shards, prefix="more")
    assert shipped_rids(shards) == {"a#1", "b#1"}
    assert second is not None
    assert reads.count(first.name) == 1 and reads.count(second.name) == 1  # not once per export


def test_site_rows_answer_as_the_database_after_writes_by_another_process(tmp_path: Path) -> None:
    """The labeller's in-memory copy of the site records answers what an ASE query does, in the
    same order, and is read again after a write by another connection, including a write that
    only moves the ``best`` flag of a stored record."""
    path = tmp_path / "s.db"
    reader, writer = Store(path), Store(path)
    writer.write_records([_rec("t#template", -1.0), _rec("u#template", -5.0)])
    assert [r.rid for r in reader.site_rows(best=True)] == ["t#template", "u#template"]
    writer.write_records([_rec("t#top1", -2.0)])
    for sel in ({"task": "t"}, {"best": True}, {"task": "t", "best": True}, {"m1": "C"}):
        assert [r.rid for r in reader.site_rows(**sel)] == [r.rid for r in reader.rows(kind="site", **sel)]
    assert [r.rid for r in reader.site_rows(task="t", best=True)] == ["t#top1"]
    assert reader.site_rows(task="nothing") == []


def test_a_copy_of_the_database_file_holds_what_site_rows_has_seen(tmp_path: Path) -> None:
    """Asking ``site_rows`` keeps no connection open, so a write is in the database file itself
    once it is committed (SQLite folds its write-ahead log back in when the last connection
    closes), and a plain copy of the file holds it. (ASE's own queries leave their connection
    to the garbage collector, hence the collection first.)"""
    store = Store(tmp_path / "s.db")
    store.write_records([_rec("t#template", -1.0)])
    assert [r.rid for r in store.site_rows()] == ["t#template"]
    store.write_records([_rec("t#top1", -2.0)])
    assert len(store.site_rows(task="t")) == 2
    gc.collect()
    shutil.copy(tmp_path / "s.db", tmp_path / "copy.db")
    assert Store(tmp_path / "copy.db").count(task="t") == 2
