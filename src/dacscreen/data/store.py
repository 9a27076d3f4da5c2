"""The dataset store: an ASE database (SQLite by default, a ``postgresql://`` URL works too).

Every record is one relaxed structure with the keys documented in ``data/README.md``. The
initial (as-built) positions are kept in the record's ``data``. Records are written per task
(one site × state, all its orientations) in a single transaction, so a killed job leaves either
the whole task or nothing; re-running skips tasks that are already stored.

The shipped data live as append-only ``data/labels/*.extxyz.gz`` shards; :func:`open_store`
builds the local SQLite file from them on first use.
"""

from __future__ import annotations

import gzip
import logging
import math
import os
import re
import socket
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import ase.db
import ase.io
import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from dacscreen.data import label_rules
from dacscreen.errors import DacscreenError, StoreError

log = logging.getLogger(__name__)

KEYS = (
    "rid",
    "task",
    "kind",
    "host",
    "m1",
    "m2",
    "placement",
    "adsorbate",
    "orientation",
    "method",
    "converged",
    "nsteps",
    "fmax_final",
    "anomaly",
    "best",
    "mm_dist",
    "cn_m1",
    "cn_m2",
    "dband_m1",
    "dband_m2",
    "dband_method",
    "dband_window",
    "dband_full_m1",
    "dband_full_m2",
    "dband_full_window",
    "dband_note",
    "ref",
    "source",
    "optimizer",
    "spin_moment",
    "continues",
    "paw_generated",
    "state_class",
    "best_intact",
    "replaces",
)
"""The documented record keys (``data/README.md``); a shard restores every key it holds."""

SHARD_ONLY = ("energy", "empty_keys")
"""``info`` entries of a shard structure that are not record keys."""


@dataclass
class Record:
    """One labelled structure: the relaxed atoms, its energy (eV) and its metadata keys."""

    atoms: Atoms
    energy: float
    keys: dict[str, Any]
    initial: Atoms | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        """Reject non-finite energies and keys ASE cannot store."""
        if not math.isfinite(self.energy):
            raise DacscreenError(f"record {self.keys.get('rid')}: energy is not finite ({self.energy})")
        for k, v in self.keys.items():
            if isinstance(v, float) and not math.isfinite(v):
                raise DacscreenError(f"record {self.keys.get('rid')}: key '{k}' is not finite")


def _clean(keys: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in keys.items():
        if v is None:
            continue
        out[k] = bool(v) if isinstance(v, np.bool_) else (v.item() if isinstance(v, np.generic) else v)
    return out


class Store:
    """A thin wrapper over an ASE database with transactional, idempotent task writes."""

    def __init__(self, url: str | Path, timeout: float = 60.0) -> None:
        self.url = str(url)
        self.db = _connect(self.url)
        self.timeout = timeout
        self._sites: tuple[Any, list[Any], dict[str, list[Any]]] | None = None

    def count(self, *query: Any, **selection: Any) -> int:
        """Number of records matching ``query`` strings and ``selection`` (ASE db filters)."""
        return self.db.count(*query, **selection)

    def has_task(self, task: str) -> bool:
        """Whether a task (all orientations of one site × state × method) is stored."""
        return self.db.count("kind!=claim", task=task) > 0

    def write_records(self, records: list[Record]) -> list[int]:
        """Write ``records`` in one transaction; nothing is written if any record is invalid.

        Records whose ``rid`` is already present are skipped (idempotent). Records of an older
        labeller are migrated first (:func:`dacscreen.data.label_rules.migrate`). Then the label
        rule (:mod:`dacscreen.data.label_rules`) sets ``best`` and ``best_intact`` over every
        stored and new record of each task the write touches, in the same transaction: a later
        start that finds a lower valid state adds a record and never rewrites an energy, and
        loading the shards in order gives the same flags.
        """
        for r in records:
            r.validate()
        ids: list[int] = []
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                with self.db:
                    self._begin_write()
                    fresh = self._fresh(records)
                    self._migrate(fresh)
                    updates = self._label(fresh)
                    ids = [self._write_one(r) for r in fresh]
                    for row_id, kv in updates:
                        self.db.update(row_id, **kv)
                self._sites = None  # read again on the next question, whatever the clock says
                return ids
            except Exception as exc:
                if "locked" not in str(exc).lower() or time.monotonic() > deadline:
                    if "locked" in str(exc).lower():
                        raise DacscreenError(f"{self.url}: database is locked by another writer") from exc
                    raise
                ids = []
                time.sleep(0.5)

    def _fresh(self, records: list[Record]) -> list[Record]:
        """``records`` less those whose rid is stored or repeated earlier in the list."""
        seen: set[str] = set()
        out = []
        for r in records:
            rid = r.keys["rid"]
            if rid not in seen and not self.db.count(rid=rid):
                out.append(r)
            seen.add(rid)
        return out

    def _migrate(self, fresh: list[Record]) -> None:
        """Classify the site records of an older labeller (inside the open transaction)."""
        classes: dict[str, str] = {}
        for r in fresh:
            src = r.keys.get("source")
            if src and not r.keys.get("state_class") and src not in classes:
                row = next(iter(self.db.select(rid=src)), None)
                classes[src] = row.get("state_class", label_rules.UNKNOWN) if row else label_rules.UNKNOWN
            label_rules.migrate(r.keys, r.initial, r.atoms, classes)
            if r.keys.get("state_class"):
                classes[r.keys["rid"]] = r.keys["state_class"]

    def _label(self, fresh: list[Record]) -> list[tuple[int, dict[str, bool]]]:
        """Set ``best``/``best_intact`` on the new site records of each task they touch and
        return the flag changes of stored rows (inside the open transaction).

        Relaxation tasks go first. A single point (a record with a ``source``) is a valid label
        only while its source is the label of its own task (ML+SP evaluates the MLIP's label
        geometry), so the single-point tasks whose sources gained or lost ``best`` in this write
        are flagged again after them."""
        by_task: dict[str, list[Record]] = {}
        for r in fresh:
            if r.keys.get("kind") == "site":
                by_task.setdefault(r.keys["task"], []).append(r)
        best_now: dict[str, bool] = {}
        updates: dict[int, dict[str, bool]] = {}
        relaxations = [t for t, recs in by_task.items() if not any(r.keys.get("source") for r in recs)]
        changed: set[str] = set()
        for task in relaxations:
            changed |= self._flag_task(task, by_task[task], best_now, updates)
        single_points = set(by_task) - set(relaxations)
        for rid in changed:
            single_points |= {str(row.task) for row in self.db.select(source=rid)}
        for task in single_points:
            self._flag_task(task, by_task.get(task, []), best_now, updates)
        return list(updates.items())

    def _flag_task(
        self, task: str, new: list[Record], best_now: dict[str, bool], updates: dict[int, dict[str, bool]]
    ) -> set[str]:
        """Apply the label rule to one task's stored and new records; returns the rids whose
        ``best`` flag changed. ``best_now`` collects the flags set so far in this write."""
        stored = list(self.db.select(kind="site", task=task))
        gone = {row.get("replaces") for row in stored} | {r.keys.get("replaces") for r in new}
        cands = [
            self._candidate(("row", row.id), row.key_value_pairs, row.energy, best_now, row.rid in gone)
            for row in stored
        ]
        cands += [
            self._candidate(("new", i), r.keys, r.energy, best_now, r.keys["rid"] in gone)
            for i, r in enumerate(new)
        ]
        flags = label_rules.flags(cands)
        changed = set()
        for i, r in enumerate(new):
            r.keys.update(flags[("new", i)])
            best_now[r.keys["rid"]] = r.keys["best"]
            if r.keys["best"]:
                changed.add(r.keys["rid"])
        for row in stored:
            f = flags[("row", row.id)]
            best_now[row.rid] = f["best"]
            if bool(row.get("best", False)) != f["best"]:
                changed.add(row.rid)
            if any(bool(row.get(k, False)) != v for k, v in f.items()):
                updates[row.id] = f
        return changed

    def _candidate(
        self, key: Any, keys: dict[str, Any], energy: float, best_now: dict[str, bool], replaced: bool
    ) -> Any:
        """A label candidate; a replaced record, or a single point whose source is not (or no
        longer) the label of its task, is not valid. A source missing from the store (imported
        data) does not count."""
        cand = replace(label_rules.candidate(key, keys, energy), replaced=replaced)
        src = keys.get("source")
        if not src or not cand.valid:
            return cand
        ok = best_now.get(src)
        if ok is None:
            row = next(iter(self.db.select(rid=src)), None)
            ok = row is None or bool(row.get("best", False))
        return replace(cand, source_is_label=ok)

    def _begin_write(self) -> None:
        """Start the open transaction as the database's one writer, so that what it reads and
        then writes (is this task done or claimed? is this rid stored?) is atomic across
        processes. Python's sqlite3 otherwise begins a transaction only at the first write, after
        the checks. Raises an error saying "locked" when another writer keeps the lock."""

        con = self.db.connection
        if isinstance(con, sqlite3.Connection):
            con.execute("BEGIN IMMEDIATE")
        else:  # PostgreSQL: one writer of the systems table at a time; readers go on
            con.cursor().execute("LOCK TABLE systems IN SHARE ROW EXCLUSIVE MODE")

    def _write_one(self, r: Record) -> int:
        atoms = r.atoms.copy()
        atoms.calc = SinglePointCalculator(atoms, energy=r.energy)
        data = dict(r.data)
        if r.initial is not None:
            data["initial_positions"] = r.initial.positions
            data["initial_cell"] = np.asarray(r.initial.cell)
        return self.db.write(atoms, key_value_pairs=_clean(r.keys), data=data)

    def claim(self, task: str, ttl: float = 6 * 3600.0) -> bool:
        """Atomically claim ``task`` for this process; False if it is done or claimed by a live
        process. A claim of a dead process (same host) or older than ``ttl`` s is taken over."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                with self.db:
                    self._begin_write()
                    if self.has_task(task):
                        return False
                    for row in self.db.select(kind="claim", task=task):
                        if _claim_alive(row, ttl):
                            return False
                        del self.db[row.id]
                    self.db.write(
                        Atoms(),
                        key_value_pairs={
                            "kind": "claim",
                            "task": task,
                            "pid": os.getpid(),
                            "hostname": socket.gethostname(),
                        },
                    )
                return True
            except Exception as exc:
                if "locked" not in str(exc).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def release(self, task: str) -> None:
        """Drop this process's claim on ``task``."""
        with self.db:
            self._begin_write()
            ids = [r.id for r in self.db.select(kind="claim", task=task, pid=os.getpid())]
            if ids:
                self.db.delete(ids)

    def rows(self, *query: Any, **selection: Any) -> Iterator[Any]:
        """Iterate ASE db rows (read eagerly, so no cursor holds a lock while the caller works)."""
        yield from list(self.db.select(*query, **selection))

    def site_rows(self, **selection: Any) -> list[Any]:
        """Site records whose keys equal ``selection``, from an in-memory copy of every site
        record, indexed by task and read again whenever the store has changed
        (:meth:`version`). For the labeller, which asks thousands of such questions of each
        task and queue step: one ASE query costs about 25 ms on the shipped store of ~7,000
        records, the copy about 4 s, once per write."""
        version = self.version()
        if self._sites is None or self._sites[0] != version:
            with self.db:  # a connection closed at the end, not when a cycle is collected
                rows = list(self.db.select(kind="site"))  # in id order, as ASE's own queries
            by_task: dict[str, list[Any]] = {}
            for row in rows:
                by_task.setdefault(str(row.task), []).append(row)
            self._sites = (version, rows, by_task)
        _, rows, by_task = self._sites
        pool = by_task.get(selection["task"], []) if "task" in selection else rows
        return [r for r in pool if all(r.get(k) == v for k, v in selection.items())]

    def version(self) -> Any:
        """What changes whenever a record is written, re-flagged or deleted, by any process.
        SQLite: the size and modification time of the database file and of its write-ahead log
        (every commit appends to the log, every checkpoint writes the file): one ``stat`` each,
        microseconds, asked thousands of times per queue step. No connection is held open for
        it: one would keep the commits in the log, out of a copy of the database file.
        PostgreSQL: the newest modification time and the number of rows (ASE stamps ``mtime``
        on every write and update; a deleted claim lowers the count)."""
        if not _is_postgresql(self.url):
            return _file_version(self.url), _file_version(f"{self.url}-wal")
        with self.db.managed_connection() as con:
            cur = con.cursor()
            cur.execute("SELECT max(mtime), count(*) FROM systems")
            return tuple(cur.fetchone())

    def best_sites(self, method: str | None = None, host: str | None = None) -> Iterator[Any]:
        """The label of each site and state: its lowest-energy valid record, whatever its
        adsorbate's state class (:mod:`dacscreen.data.label_rules`)."""
        sel: dict[str, Any] = {"kind": "site", "best": True}
        if method:
            sel["method"] = method
        if host:
            sel["host"] = host
        yield from list(self.db.select(**sel))

    def references(self, method: str) -> dict[str, float]:
        """Reference energies (eV) by name for one method: molecules, Li_bcc, bulk_M, host_*."""
        return {row.ref: row.energy for row in self.db.select(kind="reference", method=method)}


@contextmanager
def file_lock(path: Path | str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) across processes. The kernel
    releases it when its holder dies, so a killed process never leaves it held."""
    import fcntl

    with Path(path).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _connect(url: str) -> Any:
    """The ASE database at ``url``: a SQLite path (created when missing) or a
    ``postgresql://`` URL (the ``postgresql`` extra). A file that is not a SQLite database, a
    missing backend and an unreachable server are :class:`StoreError` naming the store."""
    if _is_postgresql(url):
        return _connect_postgresql(url)
    if "://" in url:
        raise StoreError(f"{url}: unknown database URL (a SQLite path or postgresql://...)")
    if Path(url).is_dir():
        raise StoreError(f"{url}: is a folder, not a SQLite database file")
    try:
        Path(url).parent.mkdir(parents=True, exist_ok=True)
        _init_sqlite(url)
        # SQLite locks itself; ASE's extra ``<db>.lock`` file is left behind by a killed writer
        # and then blocks every later write forever, so it is switched off.
        db = ase.db.connect(url, use_lock_file=False)
        db.count()
    except sqlite3.DatabaseError as exc:
        raise StoreError(
            f"{url}: not a readable SQLite database ({exc}); move it aside and the store is rebuilt "
            "from the shards"
        ) from exc
    return db


def _file_version(path: str) -> tuple[int, int] | None:
    """(modification time in ns, size) of ``path``; None when it is missing or empty (a
    connection that opens creates an empty write-ahead log, and the last to close deletes it:
    neither changes what is stored)."""
    try:
        st = Path(path).stat()
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size) if st.st_size else None


def _is_postgresql(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def _connect_postgresql(url: str) -> Any:
    import importlib.util

    if importlib.util.find_spec("ase_db_backends") is None or importlib.util.find_spec("psycopg2") is None:
        raise StoreError(
            f"{_safe_url(url)}: the PostgreSQL backend is not installed: pip install 'dacscreen[postgresql]'"
        )
    import psycopg2

    db = ase.db.connect(url, use_lock_file=True)
    try:
        db.count()
    except psycopg2.Error as exc:
        reason = " ".join(str(exc).split())
        raise StoreError(f"{_safe_url(url)}: cannot connect to PostgreSQL ({reason})") from exc
    return db


def _safe_url(url: str) -> str:
    """``url`` without its password."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def _init_sqlite(path: str) -> None:
    """Switch a SQLite file to write-ahead logging (readers never block the single writer) and
    create ASE's tables, once, under a file lock: two processes that open a new database at the
    same moment would otherwise race to create the tables."""

    with file_lock(f"{path}.init-lock"):
        con = sqlite3.connect(path, timeout=60)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            _check_not_truncated(con, Path(path))
        finally:
            con.close()
        ase.db.connect(path, use_lock_file=False).count()  # creates the tables if they are missing


def _check_not_truncated(con: Any, path: Path) -> None:
    """Raise :class:`StoreError` when the SQLite file ``path`` is shorter than the page count its
    header declares and no write-ahead log holds the rest (a copy cut short); SQLite itself
    notices only when it reads a missing page, possibly halfway through a command. The file is
    measured with ``stat`` only: opening and closing it here would drop SQLite's POSIX locks of
    this process."""
    pages = con.execute("PRAGMA page_count").fetchone()[0]
    size = con.execute("PRAGMA page_size").fetchone()[0]
    wal = Path(f"{path}-wal")
    if pages * size > path.stat().st_size and not (wal.exists() and wal.stat().st_size > 0):
        raise StoreError(
            f"{path}: truncated SQLite database ({path.stat().st_size} of {pages * size} bytes); "
            "move it aside and the store is rebuilt from the shards"
        )


def _claim_alive(row: Any, ttl: float) -> bool:
    from ase.db.core import T2000, YEAR

    if time.time() - (row.mtime * YEAR + T2000) > ttl:  # ASE stores years since 2000
        return False
    if row.get("hostname") != socket.gethostname():
        return True
    try:
        os.kill(int(row.pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def record_to_atoms(row: Any) -> Atoms:
    """An ASE db row as Atoms with its keys in ``info`` and initial positions as an array."""
    atoms = row.toatoms()
    atoms.info.update(row.key_value_pairs)
    atoms.info["energy"] = row.energy
    init = row.data.get("initial_positions") if row.data else None
    if init is not None:
        atoms.arrays["initial_positions"] = np.asarray(init)
    atoms.calc = None
    return atoms


def export_shard(store: Store, shard_dir: Path, prefix: str = "labels") -> Path | None:
    """Append every record not yet in a shard to a new ``<prefix>-<time>.extxyz.gz`` shard.

    Runs under a lock on ``shard_dir/.shard-lock``: labellers that shard the same store at the
    same moment would otherwise each write the records that neither had shipped."""
    shard_dir.mkdir(parents=True, exist_ok=True)
    with file_lock(shard_dir / ".shard-lock"):
        shipped = shipped_rids(shard_dir)
        new = [_shard_safe(record_to_atoms(r)) for r in store.rows("kind!=claim") if r.rid not in shipped]
        if not new:
            return None
        path = shard_dir / f"{prefix}-{time.strftime('%Y%m%dT%H%M%S')}.extxyz.gz"
        while path.exists():  # a second shard within the same second: wait for a later name
            time.sleep(0.2)
            path = shard_dir / f"{prefix}-{time.strftime('%Y%m%dT%H%M%S')}.extxyz.gz"
        tmp = path.with_suffix(".tmp")
        with gzip.open(tmp, "wt") as fh:
            ase.io.write(fh, new, format="extxyz")
        tmp.rename(path)
    log.info("wrote %d records to %s", len(new), path)
    return path


def _shard_safe(atoms: Atoms) -> Atoms:
    """extxyz writes an empty string as ``key=``, which its parser then merges with the next
    key: drop empty values and list their keys in ``empty_keys`` instead."""
    empty = [k for k, v in atoms.info.items() if isinstance(v, str) and not v]
    for k in empty:
        del atoms.info[k]
    if empty:
        atoms.info["empty_keys"] = ",".join(empty)
    return atoms


def _shard_keys(info: dict[str, Any]) -> dict[str, Any]:
    """Record keys from a shard's ``info``, restoring empty strings (and repairing shards
    written before ``empty_keys``, where ``m2= placement=0`` parsed as m2 = 'placement=0')."""
    keys = {k: _scalar(v) for k, v in info.items() if k not in SHARD_ONLY}
    for k in str(info.get("empty_keys", "")).split(","):
        if k:
            keys[k] = ""
    for k, v in list(keys.items()):
        merged = re.fullmatch(r"([a-z_0-9]+)=(.*)", v) if isinstance(v, str) else None
        if merged and merged[1] in KEYS and merged[1] not in keys:
            keys[k], keys[merged[1]] = "", _parse_value(merged[2])
    return keys


def _parse_value(text: str) -> Any:
    """An extxyz scalar: bool (T/F), int, float or string."""
    if text in ("T", "F"):
        return text == "T"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def iter_shards(shard_dir: Path) -> Iterable[Atoms]:
    """All structures of all shards, in file-name order."""
    for path in sorted(shard_dir.glob("*.extxyz.gz")):
        yield from _read_shard(path)


def _read_shard(path: Path) -> Iterator[Atoms]:
    with gzip.open(path, "rt") as fh:
        yield from ase.io.iread(fh, index=":", format="extxyz")


def shipped_rids(shard_dir: Path, before: str | None = None) -> set[str]:
    """Record ids already present in the shards (``before``: only those whose file name sorts
    before it, e.g. ``labels-20261207T06``, the shards written until then). A shard is written
    once and never changed, so each file is parsed once per process (:func:`_shard_rids`, keyed
    by its size and time): a labeller that writes a shard every few tasks reads only the new
    ones, not all of them."""
    files = [p for p in sorted(shard_dir.glob("*.extxyz.gz")) if before is None or p.name < before]
    return set().union(*(_shard_rids(p, p.stat().st_mtime_ns, p.stat().st_size) for p in files))


@cache
def _shard_rids(path: Path, mtime_ns: int, size: int) -> frozenset[str]:
    """Record ids of one shard file (its ``mtime_ns`` and ``size`` make a changed file a new key)."""
    return frozenset(str(a.info["rid"]) for a in _read_shard(path) if "rid" in a.info)


def import_shards(store: Store, shard_dir: Path) -> int:
    """Load shard records that the store lacks, in one transaction; returns how many."""
    recs = []
    for atoms in iter_shards(shard_dir):
        keys = _shard_keys(atoms.info)
        energy = float(atoms.info.get("energy", atoms.get_potential_energy() if atoms.calc else float("nan")))
        init = None
        if "initial_positions" in atoms.arrays:
            init = atoms.copy()
            init.positions = atoms.arrays["initial_positions"]
        clean = Atoms(
            atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc, tags=atoms.get_tags()
        )
        recs.append(Record(clean, energy, keys, init))
    return len(store.write_records(recs)) if recs else 0


def _scalar(value: Any) -> Any:
    """extxyz parses '-10,0' back into an array: turn arrays into the stored string again."""
    if isinstance(value, np.ndarray | list | tuple):
        return ",".join(f"{x:g}" for x in value)
    return value


def open_store(url: str | Path, shard_dir: Path | None = None) -> Store:
    """Open the store; a new, empty local store is first filled from the shipped shards."""
    store = Store(url)
    if shard_dir is not None and Path(shard_dir).is_dir() and store.count() == 0:
        n = import_shards(store, Path(shard_dir))
        log.info("built %s from %d shipped records", url, n)
    return store


def default_store(*urls: str | Path | None, shards: Path | bool | None = True) -> Store:
    """The store every command opens: the first given URL (a config's or an option's), else
    the settings' default (``DACSCREEN_DB``, or ``data/cache/dacscreen.db``). A new, empty
    store is first filled from the shipped shards (``shards=True``: the settings' shard
    folder; a path: that folder; ``False``: never)."""
    from dacscreen.config import Settings

    settings = Settings()
    url = next((u for u in urls if u), settings.db)
    folder = settings.shards if shards is True else (shards or None)
    return open_store(url, folder)
