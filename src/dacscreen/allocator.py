"""Keep glibc's allocator from returning tensor memory to the OS between model calls.

CPU inference and training allocate and free tensors of a few MB to a few tens of MB on every
message-passing layer. glibc serves blocks above ``M_MMAP_THRESHOLD`` (128 kB at start, adapting
up to 32 MB) with fresh ``mmap`` pages, so every layer pays page faults to zero them again. On the
2-core reference machine that halved screening throughput (about 70 against 150 graphs/s for the
5-member ensemble, ``benchmarks/speed.py``). PyTorch's CPU performance guide recommends jemalloc or
tcmalloc for the same reason; this does the equivalent with glibc's own ``mallopt``, so there is
nothing to install.

Set ``DACSCREEN_TUNE_MALLOC=0`` to leave the allocator alone. Elsewhere than Linux/glibc this is
a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
from functools import cache

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3  # glibc <malloc.h>
MMAP_THRESHOLD = 1 << 30
"""Bytes: blocks below this come from the heap, which is reused instead of unmapped."""
TRIM_THRESHOLD = (1 << 31) - 1
"""Bytes of free heap top kept before glibc gives memory back (the largest value mallopt takes)."""
TOP_PAD = 64 << 20
"""Bytes of extra heap requested with each ``brk``, so growth takes fewer system calls."""


@cache
def tune_allocator() -> bool:
    """Apply the settings once per process; True when they took effect."""
    if os.environ.get("DACSCREEN_TUNE_MALLOC", "1") == "0":
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS, Windows)
        return False
    ok = all(
        mallopt(param, value) == 1
        for param, value in (
            (_M_MMAP_THRESHOLD, MMAP_THRESHOLD),
            (_M_TRIM_THRESHOLD, TRIM_THRESHOLD),
            (_M_TOP_PAD, TOP_PAD),
        )
    )
    log.debug("glibc mallopt tuned: %s", ok)
    return ok
