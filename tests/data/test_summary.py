"""Dataset summary counts."""

from __future__ import annotations

from pathlib import Path

from dacscreen.data.store import Store
from dacscreen.data.summary import summarize
from tests.data.test_store import _rec


def _site(rid: str, m1: str, adsorbate: str, method: str):  # type: ignore[no-untyped-def]
    rec = _rec(rid)
    rec.keys.update({"host": "melon", "m1": m1, "adsorbate": adsorbate, "method": method})
    return rec


def test_a_site_labelled_by_two_methods_counts_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    records = [
        _site(f"{m1}-{state}-{method}", m1, state, method)
        for m1, methods in (("Cu", ("chgnet", "gpaw")), ("Ni", ("chgnet",)))
        for method in methods
        for state in ("clean", "Li2S2", "Li2S")
    ]
    records.append(_site("Fe-clean-gpaw", "Fe", "clean", "gpaw"))
    records.append(_site("Fe-Li2S2-chgnet", "Fe", "Li2S2", "chgnet"))  # states split over methods
    store.write_records(records)
    info = summarize(store)
    assert info["sites"] == 3
    assert info["sites_with_states"] == {"clean+Li2S2+Li2S": 2, "all_seven": 0}
    assert info["by_method"]["chgnet"]["sites_with_states"]["clean+Li2S2+Li2S"] == 2
    assert info["by_method"]["gpaw"]["sites_with_states"]["clean+Li2S2+Li2S"] == 1
