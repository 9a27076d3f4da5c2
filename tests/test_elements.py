"""Element validation and descriptors."""

from __future__ import annotations

import pytest

from dacscreen.elements import DEFAULT_METALS, check_metals, d_electrons, element_features
from dacscreen.errors import ElementError


def test_default_set_is_28_transition_metals() -> None:
    assert len(DEFAULT_METALS) == 28
    assert check_metals(DEFAULT_METALS) == DEFAULT_METALS


@pytest.mark.parametrize(("metals", "needle"), [(["Xx"], "Xx"), (["Na"], "Na"), ([], "empty")])
def test_bad_metal_sets(metals: list[str], needle: str) -> None:
    with pytest.raises(ElementError, match=needle):
        check_metals(metals)


def test_non_transition_allowed_with_flag() -> None:
    assert check_metals(["Na", "Cu"], allow_non_transition=True) == ["Na", "Cu"]


def test_descriptors() -> None:
    assert d_electrons("Cu") == 10
    assert d_electrons("Ni") == 8
    chi, group, period, *_ = element_features("Pt")
    assert (group, period) == (10.0, 6.0)
    assert chi == pytest.approx(2.28)
