"""Outputs that are either complete or not there: write into a staging folder, then rename.

A ``screen`` or ``export-dft`` interrupted (Ctrl-C, SIGTERM, an error) leaves the previous
outputs of its folder as they were; the new files replace them only once all are written, each
with an atomic ``os.replace`` on the same file system.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def staged(out: Path) -> Iterator[Path]:
    """Yield a fresh hidden staging folder inside ``out``; when the block finishes, move every
    file written there to the same relative path in ``out`` (replacing what was there). On an
    exception or interrupt the staging folder is removed and ``out`` is left untouched."""
    out.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
    try:
        yield stage
        for path in sorted(p for p in stage.rglob("*") if p.is_file()):
            dest = out / path.relative_to(stage)
            dest.parent.mkdir(parents=True, exist_ok=True)
            path.replace(dest)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
