"""Default-host choice: the valid trial closest to 3.4 Å wins."""

from __future__ import annotations

from dacscreen.data.host_selection import HostTrial, choose


def test_choose_closest_valid() -> None:
    trials = [
        HostTrial("heptazine", 0, "inter-intra", 2.6, 2.1, "", -1.0, True),
        HostTrial("melon", 0, "NH-NH", 3.39, 3.2, "", -1.0, True),
        HostTrial("melon", 1, "NH-NH", 3.75, 3.4, "pair separated (4.4 Å)", -1.0, True),
    ]
    host, table = choose(trials)
    assert host == "melon"
    assert len(table) == 3 and table[0]["relaxed_mm"] == 2.1
