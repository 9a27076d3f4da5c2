"""Shared CLI plumbing: logging, error reporting and progress bars."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from dacscreen.errors import DacscreenError

console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


class State:
    """Global CLI flags."""

    quiet: bool = False
    json: bool = False


def setup_logging(level: str) -> None:
    """Route logging through rich at ``level``."""
    logging.basicConfig(
        level=level.upper(),
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
        force=True,
    )


def reports_errors(fn: F) -> F:
    """Turn DacscreenError into a one-line message and exit code 2."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DacscreenError as exc:
            console.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True)
            raise typer.Exit(2) from exc
        except PermissionError as exc:
            console.print(f"[bold red]error:[/] cannot write {exc.filename}: permission denied")
            raise typer.Exit(2) from exc
        except OSError as exc:
            if exc.errno == 28:
                console.print(f"[bold red]error:[/] no space left on device writing {exc.filename}")
                raise typer.Exit(2) from exc
            raise

    return wrapper  # type: ignore[return-value]


@contextmanager
def progress(description: str, total: int) -> Iterator[Callable[[int], None]]:
    """A rich progress bar with ETA; yields ``advance(n)``. Silent with --quiet/--json."""
    if State.quiet or State.json:
        yield lambda n=1: None
        return
    cols = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
    ]
    with Progress(*cols, console=console) as bar:
        tid = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(tid, n)


def emit(summary: dict[str, Any], title: str) -> None:
    """Print a run summary: JSON on stdout with --json, a rich table otherwise."""
    if State.json:
        sys.stdout.write(json.dumps(summary, indent=2, default=str) + "\n")
        return
    if State.quiet:
        return
    from rich.table import Table

    table = Table(title=title, show_header=False)
    for k, v in summary.items():
        table.add_row(str(k), json.dumps(v, default=str) if isinstance(v, dict | list) else str(v))
    Console().print(table)
