"""Shared CLI plumbing: logging, error reporting and progress bars."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
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


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def setup_logging(level: str) -> None:
    """Route logging through rich at ``level`` (one of :data:`LOG_LEVELS`, any case)."""
    if level.upper() not in LOG_LEVELS:
        raise typer.BadParameter(
            f"{level!r}: choose one of {', '.join(LOG_LEVELS)}", param_hint="--log-level"
        )
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
            console.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
            raise typer.Exit(2) from exc
        except OSError as exc:
            if exc.filename is None and exc.errno is None:
                raise
            why = exc.strerror.lower() if exc.strerror else str(exc)
            if isinstance(exc, FileExistsError | NotADirectoryError):
                why = "a file stands where a folder is needed"
            console.print(
                f"[bold red]error:[/] {exc.filename or 'output'}: {why}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(2) from exc

    return wrapper  # type: ignore[return-value]


def check_output_dir(path: Path) -> None:
    """Raise a one-line error when the output folder ``path`` (or a folder above it) is a file."""
    for p in (path, *path.parents):
        if p.exists():
            if not p.is_dir():
                raise DacscreenError(f"{p}: is a file; --out needs a folder")
            return


def check_output_format(path: Path) -> None:
    """Raise a one-line error when ASE cannot write a structure file named ``path`` (an
    unknown or read-only extension), before anything is computed."""
    from ase.io.formats import UnknownFileTypeError, filetype, ioformats

    try:
        fmt = filetype(path, read=False)
    except (UnknownFileTypeError, ValueError) as exc:
        raise DacscreenError(
            f"{path}: unknown structure format {path.suffix!r} (e.g. .xyz, .cif, .vasp)"
        ) from exc
    if fmt not in ioformats:
        raise DacscreenError(f"{path}: unknown structure format {path.suffix!r} (e.g. .xyz, .cif, .vasp)")
    if not ioformats[fmt].can_write:
        raise DacscreenError(f"{path}: ASE cannot write the {fmt!r} format")


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
