"""Labelling with the real CHGNet labeller: records, idempotence, resume after SIGKILL."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from dacscreen.cli import app
from dacscreen.data.adsorbates import orientations
from dacscreen.data.labelling import Labeller, plan, site_order, spanning_first, uncovered_first
from dacscreen.data.store import Record, Store
from dacscreen.data.summary import summarize
from dacscreen.elements import DEFAULT_METALS
from dacscreen.site_key import SiteKey
from tests.conftest import TINY_LABEL, tiny_label_config

runner = CliRunner()


def test_pair_order_does_not_depend_on_the_metal_list() -> None:
    """``--metals Ta Cu`` labels the same (Cu, Ta) site as the full metal set."""
    assert site_order("melon", ["Ta", "Cu"]) == site_order("melon", ["Cu", "Ta"])
    assert site_order("melon", ["Ta", "Cu"])[-1] == SiteKey("melon", "Cu", "Ta")
    assert SiteKey("melon", "Cu", "Ta") in site_order("melon", list(DEFAULT_METALS))
    assert site_order("melon", list(DEFAULT_METALS))[0] == SiteKey("melon", "Cu", "Ni")


def _keys(*sites: tuple[str, ...]) -> list[SiteKey]:
    return [SiteKey.of_record(SiteKey("melon", *s)) for s in sites]


def test_spanning_first_covers_every_metal_early() -> None:
    """The ML+SP plan puts the reference sites and, in order, each site with a metal not yet
    covered first (Mo here has only a pair), then the rest in their original order."""
    sites = _keys(
        ("Cu", "Ni"), ("Cu",), ("Ni",), ("Zn",), ("Zn", "Zn"), ("Cu", "Zn"), ("Mo", "Zn"), ("Cu", "Cu")
    )
    assert spanning_first(sites) == _keys(
        ("Cu", "Ni"),
        ("Cu",),
        ("Ni",),
        ("Zn",),
        ("Mo", "Zn"),
        ("Zn", "Zn"),
        ("Cu", "Zn"),
        ("Cu", "Cu"),
    )


def test_uncovered_first_takes_each_new_metal_in_turn() -> None:
    """Sites that bring a metal not yet on an all-seven site come first: round k takes each
    such metal's k-th site, one new metal before two; the covered sites keep their order."""
    sites = _keys(
        ("Cu",),
        ("Ti",),
        ("Cu", "Ti"),
        ("Ti", "W"),
        ("Ag", "Ti"),
        ("Ag", "W"),
        ("Cu", "Ag"),
        ("Cu", "W"),
    )
    assert uncovered_first(sites, {"Cu", "Ag"}) == _keys(
        ("Ti",),
        ("Ti", "W"),
        ("Cu", "Ti"),
        ("Ag", "W"),
        ("Cu", "W"),
        ("Ag", "Ti"),
        ("Cu",),
        ("Cu", "Ag"),
    )


def test_labeller_plan_puts_sites_with_metals_lacking_all_seven_states_first(tiny_store: Path) -> None:
    """With a valid record of all seven states on Cu–Ni (the only site that has them all), the
    labeller's plan runs the further intermediates of Zn–Zn, which brings a metal without
    such a site, before those of Ni–Ni and Cu–Cu; the plan without a store keeps site order."""
    store = Store(tiny_store)
    lab = Labeller(tiny_label_config(tiny_store, limit=7, all_states_sites=7), store)
    for task in plan(lab.cfg, lab.method)[:7]:
        assert task.metals == ("Cu", "Ni")
        row = next(store.rows(kind="site", task=task.key))
        _relabel(store, row, f"{task.key}|valid", "valid", row.energy - 1.0)
    assert lab.strategy.covered_metals(store) == {"Cu", "Ni"}

    def phase_c(tasks: list) -> list:  # type: ignore[type-arg]
        after_a = tasks[3 * 7 :]  # phase A: all seven states of Cu–Ni, Cu and Ni
        return list(dict.fromkeys(t.metals for t in after_a if t.state not in lab.cfg.states))

    assert phase_c(lab.plan()) == [("Zn",), ("Zn", "Zn"), ("Ni", "Ni"), ("Cu", "Cu")]
    assert phase_c(plan(lab.cfg, lab.method)) == [("Zn",), ("Ni", "Ni"), ("Cu", "Cu"), ("Zn", "Zn")]


def test_records_have_keys(tiny_store_path: Path) -> None:
    store = Store(tiny_store_path)
    rows = list(store.rows(kind="site"))
    assert rows
    for r in rows:
        assert r.method.startswith("chgnet")
        assert math.isfinite(r.energy)
        assert r.adsorbate in {"clean", "S8", "Li2S8", "Li2S6", "Li2S4", "Li2S2", "Li2S"}
        assert "initial_positions" in r.data
    clean = [r for r in rows if r.adsorbate == "clean"]
    assert all(math.isfinite(r.dband_m1) for r in clean if r.m1 in {"Cu", "Ni"})
    cuni = [r for r in clean if r.m1 == "Cu" and r.m2 == "Ni"]
    assert cuni and cuni[0].mm_dist > 1.5
    refs = store.references(rows[0].method)
    assert {"Li_bcc", "mol_S8", "mol_Li2S2", "bulk_Cu", "host_melon"} <= set(refs)


def test_rerun_is_idempotent(tiny_store: Path) -> None:
    cfg = tiny_label_config(tiny_store)
    store = Store(tiny_store)
    before = store.count()
    lab = Labeller(cfg, store)
    assert lab.pending(plan(cfg, lab.method)) == []
    lab.run_references(cfg.metals)
    assert store.count() == before


def _keep_first_start(store: Store, task: str, **keys: object):  # type: ignore[no-untyped-def]
    """Delete every stored start of ``task`` but the first, set ``keys`` on it; its old row."""
    rows = list(store.rows(kind="site", task=task))
    with store.db:
        for r in rows[1:]:
            del store.db[r.id]
        store.db.update(rows[0].id, **keys)
    return rows[0]


def test_task_without_a_valid_record_resumes_with_untried_orientations(tiny_store: Path) -> None:
    """A Cu–Ni Li2S2 task whose only stored start was anomalous (as a run that stopped after
    fewer starts leaves it) is pending again; the retry relaxes only untried orientations,
    adds records without rewriting the stored one, and a capped config leaves it alone."""
    store = Store(tiny_store)
    cfg = tiny_label_config(tiny_store, fallback_orientations=None)
    lab = Labeller(cfg, store)
    task = next(t for t in plan(cfg, lab.method) if t.metals == ("Cu", "Ni") and t.state == "Li2S2")
    keep = _keep_first_start(store, task.key, best=False, anomaly="adsorbate dissociated")
    capped = Labeller(tiny_label_config(tiny_store, fallback_orientations=0), store)
    assert task not in capped.pending([task])
    assert lab.pending([task]) == [task]
    assert lab.run_claimed(task)
    after = list(store.rows(kind="site", task=task.key))
    orientations = [r.orientation for r in after]
    assert len(orientations) == len(set(orientations)) > 1
    assert next(r for r in after if r.id == keep.id).energy == keep.energy
    assert sum(1 for r in after if r.best) <= 1
    assert lab.pending([task]) == []


def _relabel(store: Store, row, rid: str, orientation: str, energy: float) -> None:  # type: ignore[no-untyped-def]
    """Store a copy of ``row`` as a valid best start with another rid, orientation and energy."""
    keys = {**row.key_value_pairs, "rid": rid, "orientation": orientation, "best": True}
    keys |= {"converged": True, "anomaly": ""}
    store.write_records([Record(row.toatoms(), energy, keys)])


def test_task_whose_every_start_dissociated_resumes_from_donor_templates(tiny_store: Path) -> None:
    """Cu–Ni Li2S2 with every offered start anomalous: with ``template_donors`` it is pending
    again and starts from the valid Li2S2 of other sites, those sharing a metal first, each
    once; without donors, or for a full-search state, no donor start is offered."""
    store = Store(tiny_store)
    cfg = tiny_label_config(tiny_store, fallback_orientations=None, template_donors=2)
    lab = Labeller(cfg, store)
    tasks = plan(cfg, lab.method)
    task = next(t for t in tasks if t.metals == ("Cu", "Ni") and t.state == "Li2S2")
    first = _keep_first_start(store, task.key, best=False, anomaly="adsorbate dissociated")
    for mode in orientations(2, "Li2S2"):
        _relabel(store, first, f"{task.key}|{mode}", mode, first.energy)
    with store.db:
        for r in store.rows(kind="site", task=task.key):
            store.db.update(r.id, best=False, anomaly="adsorbate dissociated")
    for metals in (("Zn",), ("Ni",), ("Cu",)):  # valid Li2S2 labels on three other sites
        other = next(t for t in tasks if t.metals == metals and t.state == "Li2S2")
        row = next(store.rows(kind="site", task=other.key))
        _relabel(store, row, f"{other.key}|valid", "top1", row.energy)
    no_donors = Labeller(tiny_label_config(tiny_store, fallback_orientations=None, template_donors=0), store)
    assert no_donors.pending([task]) == []
    assert [name for name, _ in lab.strategy.template_rows(store, task)] == ["template:Ni", "template:Cu"]
    assert lab.pending([task]) == [task]
    assert lab.run_claimed(task)
    starts = [r.orientation for r in store.rows(kind="site", task=task.key)]
    assert sorted(s for s in starts if s.startswith("template:")) == ["template:Cu", "template:Ni"]
    assert len(starts) == len(set(starts))
    assert lab.pending([task]) == []
    li2s = next(t for t in tasks if t.metals == ("Cu", "Ni") and t.state == "Li2S")
    full = Labeller(tiny_label_config(tiny_store, full_search_states=["Li2S"], template_donors=2), store)
    assert all(name == "template" for name, _ in full.strategy.template_rows(store, li2s))


def test_full_search_state_relaxes_every_orientation_and_supersedes_a_higher_label(
    tiny_store: Path,
) -> None:
    """A stored Li2S label from one start, 5 eV above where it relaxed: with Li2S in
    ``full_search_states`` the task is pending again, every untried orientation is relaxed
    (each once), the lowest valid start becomes the label, and the old record keeps its energy
    but loses its flag. Li2S2 is left alone."""
    store = Store(tiny_store)
    # fmax 5 eV/Å: every start converges at once, so each is a valid candidate
    cfg = tiny_label_config(tiny_store, full_search_states=["Li2S"], fmax=5.0)
    lab = Labeller(cfg, store)
    tasks = plan(cfg, lab.method)
    task = next(t for t in tasks if t.metals == ("Cu", "Ni") and t.state == "Li2S")
    rows = list(store.rows(kind="site", task=task.key))
    with store.db:
        for r in rows:
            del store.db[r.id]
    _relabel(store, rows[0], f"{task.key}|template", "template", rows[0].energy + 5.0)
    li2s2 = next(t for t in tasks if t.metals == ("Cu", "Ni") and t.state == "Li2S2")
    assert lab.pending([task, li2s2]) == [task]
    assert lab.run_claimed(task)
    after = {r.orientation: r for r in store.rows(kind="site", task=task.key)}
    assert set(after) == {"template", *orientations(2, "Li2S")}
    assert after["template"].energy == pytest.approx(rows[0].energy + 5.0)
    best = [r for r in after.values() if r.best]
    valid = [r for r in after.values() if r.converged and not r.anomaly]
    assert len(best) == 1 and best[0].energy == min(r.energy for r in valid) < after["template"].energy
    assert lab.pending([task]) == []


def test_start_that_hit_the_step_cap_is_continued_once(tiny_store: Path) -> None:
    """With ``continue_steps`` a stored Cu–Ni Li2S2 start that stopped at the step cap without
    an anomaly is continued once, from its final geometry, as a new record that names it; the
    stored records are not rewritten, and ``dataset info`` counts the relaxation once."""
    store = Store(tiny_store)
    cfg = tiny_label_config(tiny_store, continue_steps=40)
    lab = Labeller(cfg, store)
    task = next(t for t in plan(cfg, lab.method) if t.metals == ("Cu", "Ni") and t.state == "Li2S2")
    capped = _keep_first_start(store, task.key, converged=False, anomaly="", best=False)
    _relabel(store, capped, f"{task.key}|valid", "valid", capped.energy + 10.0)
    assert Labeller(tiny_label_config(tiny_store), store).pending([task]) == []  # off by default
    before = summarize(store)
    assert lab.pending([task]) == [task]
    assert lab.run_claimed(task)
    after = {r.orientation: r for r in store.rows(kind="site", task=task.key)}
    assert set(after) == {capped.orientation, "valid", f"{capped.orientation}+"}
    cont = after[f"{capped.orientation}+"]
    assert cont.continues == capped.rid and cont.nsteps > capped.nsteps
    assert after[capped.orientation].energy == capped.energy
    assert cont.best == (cont.converged and not cont.anomaly)
    assert lab.pending([task]) == []
    info = summarize(store)
    assert info["site_records"] == before["site_records"] + 1
    n = before["site_records"]
    expected = (before["converged_fraction"] * n + int(cont.converged)) / n  # the capped leg drops out
    assert info["converged_fraction"] == pytest.approx(expected)


def _store_start(store: Store, row, task, valid: bool) -> None:  # type: ignore[no-untyped-def]
    """Store ``row``'s structure as the one start of ``task``: valid, or dissociated."""
    keys = {**row.key_value_pairs, "rid": f"{task.key}|bridge", "task": task.key, "adsorbate": task.state}
    keys |= {"orientation": "bridge", "best": valid, "converged": True}
    keys["anomaly"] = "" if valid else "adsorbate dissociated"
    store.write_records([Record(row.toatoms(), row.energy, keys)])


def test_labellers_spread_over_sites_and_run_incomplete_sites_last(tiny_store: Path) -> None:
    """Each site tries its ``fail_first`` intermediate first. While it is open (another process
    relaxing it), the site's other intermediates wait and the next site goes ahead; they run
    once it is valid. Once it is exhausted (one dissociated start under a one-start cap), they
    run after every other task. ``defer_incomplete: false`` keeps the plan order."""
    store = Store(tiny_store)
    extra = {"all_states_sites": 4, "fallback_orientations": 0, "template_donors": 0, "fail_first": ["Li2S8"]}
    lab = Labeller(tiny_label_config(tiny_store, **extra), store)
    todo = lab.pending(plan(lab.cfg, lab.method))
    assert [t.metals for t in todo[::4]] == [("Cu",), ("Ni",), ("Zn",)]
    assert [t.state for t in todo[:4]] == ["Li2S8", "S8", "Li2S6", "Li2S4"]
    row = next(store.rows(kind="site", adsorbate="Li2S2"))
    run = lab.schedule(todo)
    assert [next(run), next(run)] == [todo[0], todo[4]]  # Cu's Li2S8 open: Ni's goes ahead
    _store_start(store, row, todo[0], valid=True)
    assert next(run) == todo[1]
    _store_start(store, row, todo[4], valid=False)
    assert lab.outcome(todo[4]) == "exhausted"
    assert list(run) == todo[2:4] + todo[8:] + todo[5:8]
    keep = Labeller(tiny_label_config(tiny_store, **extra, defer_incomplete=False), store)
    assert list(keep.schedule(todo)) == todo


@pytest.mark.parametrize(
    "args", [["--json", "dataset", "info"], ["dataset", "info", "--json"]], ids=["global", "subcommand"]
)
def test_dataset_info_json(tiny_store: Path, args: list[str]) -> None:
    res = runner.invoke(app, [*args, "--db", str(tiny_store)])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert info["sites"] == 4
    assert info["all_energies_finite"]
    assert set(info) >= {
        "records",
        "sites",
        "sites_with_states",
        "converged_fraction",
        "anomalies",
        "methods",
        "metals",
    }


def _rows(path: Path) -> list[tuple]:
    store = Store(path)
    return sorted((r.rid, round(r.energy, 6)) for r in store.rows())


def test_kill_and_resume_matches_uninterrupted(tmp_path: Path, tiny_store_path: Path) -> None:
    # one site, three states: killed after the first record, two tasks are left to resume
    cfg = {**TINY_LABEL, "limit": 1, "dband_calculator": None, "references": False, "all_states_sites": 0}
    cfg_path = tmp_path / "label.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    db = tmp_path / "killed.db"
    cmd = [sys.executable, "-m", "dacscreen.cli", "-q", "label", "--config", str(cfg_path), "--db", str(db)]
    proc = subprocess.Popen(cmd, env={**os.environ, "DACSCREEN_SHARDS": str(tmp_path / "none")})
    deadline = time.time() + 120
    while time.time() < deadline and (not db.exists() or Store(db).count(kind="site") < 1):
        time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = Store(db).count()
    resumed = subprocess.run(cmd, env={**os.environ, "DACSCREEN_SHARDS": str(tmp_path / "none")}, check=False)
    assert resumed.returncode == 0
    clean_db = tmp_path / "clean.db"
    once = subprocess.run(
        [*cmd[:-1], str(clean_db)],
        env={**os.environ, "DACSCREEN_SHARDS": str(tmp_path / "none")},
        check=False,
    )
    assert once.returncode == 0
    killed, uninterrupted = _rows(db), _rows(clean_db)
    assert len(killed) == len({r[0] for r in killed}), "duplicates after resume"
    assert [r[0] for r in killed] == [r[0] for r in uninterrupted]
    assert partial <= len(killed)
    # CHGNet on the same inputs is deterministic to well below a meV
    for (_, e1), (_, e2) in zip(killed, uninterrupted, strict=True):
        assert abs(e1 - e2) < 1e-3


def test_two_label_processes_share_one_database(tmp_path: Path) -> None:
    cfg = {**TINY_LABEL, "limit": 2, "dband_calculator": None, "references": False, "templates": False}
    cfg_path = tmp_path / "label.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    db = tmp_path / "shared.db"
    env = {**os.environ, "DACSCREEN_SHARDS": str(tmp_path / "none"), "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "dacscreen.cli",
        "--json",
        "label",
        "--config",
        str(cfg_path),
        "--db",
        str(db),
    ]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [json.loads(p.communicate(timeout=600)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    rows = _rows(db)
    assert len(rows) == len({r[0] for r in rows}), "duplicate records"
    n_tasks = outs[0]["tasks"]
    assert sum(o["ran"] for o in outs) == n_tasks, "work was duplicated"
    assert Store(db).count(kind="claim") == 0
