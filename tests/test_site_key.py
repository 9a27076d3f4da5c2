"""The one name of a site (issue: `(host, m1, m2, placement)` was spelled by hand in 15 places)."""

from __future__ import annotations

from dacscreen.data.sites import site_keys
from dacscreen.elements import DEFAULT_METALS
from dacscreen.site_key import SiteKey


def test_site_key_orders_metals_and_round_trips() -> None:
    key = SiteKey.of("melon", ["Ta", "Cu"], 1)
    assert key == SiteKey("melon", "Cu", "Ta", 1) and str(key) == "melon|Cu|Ta|1"
    assert SiteKey.parse(str(key)) == key
    assert SiteKey.parse("melon|Cu||0|Li2S|chgnet") == SiteKey("melon", "Cu")
    assert SiteKey.of("melon", ["Ni", "Cu"]).metals == ("Cu", "Ni")  # the reference pair's name
    assert SiteKey.of_record(SiteKey("melon", "Ni", "Cu")).metals == ("Ni", "Cu")  # a record's own order


def test_the_default_space_has_434_distinct_sites() -> None:
    keys = site_keys("melon", list(DEFAULT_METALS))
    assert len(keys) == len(set(keys)) == 434
    assert sum(1 for k in keys if not k.m2) == 28
    assert keys == site_keys("melon", list(reversed(DEFAULT_METALS)))
