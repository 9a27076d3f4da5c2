"""The glibc allocator tuning used by inference and training."""

from __future__ import annotations

import platform

import pytest

from dacscreen import allocator


@pytest.fixture(autouse=True)
def _fresh() -> None:
    allocator.tune_allocator.cache_clear()


def test_switched_off_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DACSCREEN_TUNE_MALLOC", "0")
    assert allocator.tune_allocator() is False


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_applies_on_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DACSCREEN_TUNE_MALLOC", raising=False)
    assert allocator.tune_allocator() is True
