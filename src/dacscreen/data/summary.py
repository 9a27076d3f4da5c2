"""Dataset summaries and whole-dataset export."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import ase.io
import pandas as pd

from dacscreen.data.store import Store, record_to_atoms
from dacscreen.errors import DacscreenError
from dacscreen.site_key import SiteKey


def summarize(store: Store) -> dict[str, Any]:
    """Counts the ``dataset info`` command reports.

    ``sites_with_states`` maps a '+'-joined sorted state list to how many distinct sites have
    a best (valid) record for each of those states under one method (a site labelled by two
    methods counts once; ``by_method`` has the count per method); ``all_seven`` counts sites
    with all seven. ``state_classes`` counts, per method and intermediate, the labels of each
    adsorbate state class (``intact``, ``ss_cleaved``, ``li_detached``, ``other``), and
    ``with_intact`` how many of those labels also have a valid intact state (``best_intact``).
    ``converged_fraction`` counts a relaxation that was continued
    (``LabelConfig.continue_steps``) once, by its continuation.
    """
    rows = list(store.rows(kind="site"))
    relaxations = _relaxations(rows)
    states: dict[str, set[str]] = defaultdict(set)
    metals: Counter[str] = Counter()
    for r in rows:
        site = f"{SiteKey.of_record(r)}|{r.method}"
        if r.get("best"):
            states[site].add(r.adsorbate)
        metals.update([r.m1] + ([r.m2] if r.m2 else []))
    combos = _distinct_site_combos(states)
    return {
        "records": store.count("kind!=claim"),
        "site_records": len(rows),
        "sites": len({SiteKey.of_record(r) for r in rows}),
        "sites_with_states": combos,
        "converged_fraction": _converged_fraction(relaxations),
        "anomalies": sum(1 for r in rows if r.anomaly),
        "all_energies_finite": all(math.isfinite(r.energy) for r in store.rows("kind!=claim")),
        "methods": sorted({r.method for r in store.rows("kind!=claim")}),
        "by_method": _by_method(rows, relaxations, states),
        "state_classes": _state_classes(rows),
        "metals": dict(sorted(metals.items())),
    }


def _state_classes(rows: list[Any]) -> dict[str, dict[str, dict[str, int]]]:
    """``{method: {intermediate: {class: labels, "with_intact": n}}}`` over the label records."""
    out: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for r in rows:
        if r.adsorbate == "clean":
            continue
        if r.get("best"):
            out[r.method][r.adsorbate][str(r.get("state_class", "unknown"))] += 1
        if r.get("best_intact"):
            out[r.method][r.adsorbate]["with_intact"] += 1
    return {m: {a: dict(sorted(c.items())) for a, c in sorted(v.items())} for m, v in sorted(out.items())}


def _combos(state_sets: Iterable[set[str]]) -> dict[str, int]:
    sets = list(state_sets)
    return {
        "clean+Li2S2+Li2S": sum(1 for s in sets if {"clean", "Li2S2", "Li2S"} <= s),
        "all_seven": sum(1 for s in sets if len(s) == 7),
    }


def _distinct_site_combos(states: dict[str, set[str]]) -> dict[str, int]:
    """:func:`_combos` over distinct sites: a site counts when one of its methods covers the
    states."""
    per_site: dict[str, list[set[str]]] = defaultdict(list)
    for key, have in states.items():
        per_site[key.rsplit("|", 1)[0]].append(have)
    counts = [_combos(sets) for sets in per_site.values()]
    return {k: sum(1 for c in counts if c[k]) for k in ("clean+Li2S2+Li2S", "all_seven")}


def _relaxations(rows: list[Any]) -> list[Any]:
    """Site records less those that a later record continues (one relaxation, counted once)."""
    continued = {r.get("continues") for r in rows}
    return [r for r in rows if r.rid not in continued]


def _converged_fraction(rows: list[Any]) -> float:
    return sum(1 for r in rows if r.converged) / len(rows) if rows else 0.0


def _by_method(
    rows: list[Any], relaxations: list[Any], states: dict[str, set[str]]
) -> dict[str, dict[str, Any]]:
    """Per method: site records, converged fraction (SCF for single points) and state counts."""
    out = {}
    for method in sorted({r.method for r in rows}):
        mine = [r for r in rows if r.method == method]
        out[method] = {
            "site_records": len(mine),
            "converged_fraction": _converged_fraction([r for r in relaxations if r.method == method]),
            "sites_with_states": _combos(v for k, v in states.items() if k.endswith(f"|{method}")),
        }
    return out


def export(store: Store, out: Path, fmt: str) -> int:
    """Write every record as extxyz or a CSV of keys and energies; returns the record count."""
    rows = list(store.rows("kind!=claim"))
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "extxyz":
        ase.io.write(out, [record_to_atoms(r) for r in rows], format="extxyz")
    elif fmt == "csv":
        pd.DataFrame(
            [{"id": r.id, "formula": r.formula, "energy": r.energy, **r.key_value_pairs} for r in rows]
        ).to_csv(out, index=False)
    else:
        raise DacscreenError(f"unknown export format '{fmt}'; use extxyz or csv")
    return len(rows)
