"""The store on a real PostgreSQL server (started by the test with pgserver's own binaries)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dacscreen.cli import app
from dacscreen.data.store import Store, export_shard, import_shards


@pytest.fixture(scope="module")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pgserver = pytest.importorskip("pgserver", reason="pgserver (dev extra) is not installed")
    pytest.importorskip("ase_db_backends", reason="the postgresql extra is not installed")
    try:
        server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    except Exception as exc:  # a platform where the bundled server cannot start
        pytest.skip(f"PostgreSQL server did not start: {exc}")
    yield server.get_uri().replace("postgresql+psycopg2://", "postgresql://")
    server.cleanup()


def test_a_labelled_store_round_trips_through_postgresql(
    postgres_url: str, tiny_store: Path, tmp_path: Path
) -> None:
    """Shards of the tiny SQLite store imported into PostgreSQL give the same records, labels
    (the lowest valid state per task) and dataset summary."""
    lite = Store(tiny_store)
    shards = tmp_path / "shards"
    export_shard(lite, shards)
    pg = Store(postgres_url)
    assert import_shards(pg, shards) == lite.count("kind!=claim")
    again = Store(postgres_url)
    assert import_shards(again, shards) == 0  # resumable: nothing twice
    best = {r.rid for r in lite.rows(kind="site", best=True)}
    assert best and {r.rid for r in pg.rows(kind="site", best=True)} == best
    res = CliRunner().invoke(app, ["--json", "dataset", "info", "--db", postgres_url])
    assert res.exit_code == 0, res.output
    lite_info = CliRunner().invoke(app, ["--json", "dataset", "info", "--db", str(tiny_store)])
    pg_info, lite_info = json.loads(res.stdout), json.loads(lite_info.stdout)
    assert pg_info["sites"] == lite_info["sites"] and pg_info["records"] == lite_info["records"]
