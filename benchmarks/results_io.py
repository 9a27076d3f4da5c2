"""Where the benchmarks put their results: ``benchmarks/results/<name>.{json,md}``, written
through :func:`dacscreen.atomic.staged`, so an interrupted run leaves the previous table whole."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dacscreen.atomic import staged

RESULTS = Path(__file__).resolve().parent / "results"


def publish(name: str, result: Any, markdown: str) -> None:
    """Write ``result`` as ``<name>.json`` (numpy scalars as floats) and ``markdown`` as
    ``<name>.md`` into ``benchmarks/results/``, and print the markdown."""
    with staged(RESULTS) as stage:
        (stage / f"{name}.json").write_text(json.dumps(result, indent=2, default=float))
        (stage / f"{name}.md").write_text(markdown)
    print(markdown)
