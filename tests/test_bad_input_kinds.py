"""Bad inputs by kind: each ends with exit code 2, one error line naming the input, no
traceback, and every file that was there before unchanged (nothing half-written)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dacscreen.cli import app
from dacscreen.data.store import Store

runner = CliRunner()

YAML = {
    "empty.yaml": "",
    "comments.yaml": "# nothing but a comment\n",
    "dup.yaml": "top: 5\ntop: 7\n",
    "list.yaml": "- top\n- 5\n",
    "broken.yaml": "top: [1,\n",
    "unknown.yaml": "tpo: 3\n",
    "nan_window.yaml": "ranking: {li2s2_window: [.nan, 0]}\n",
    "inverted_window.yaml": "ranking: {li2s_window: [0, -1]}\n",
    "neg_margin.yaml": "ranking: {stability_margin: -0.5}\n",
    "nan_kappa.yaml": "ranking: {kappa: .nan}\n",
    "neg_kappa.yaml": "ranking: {kappa: -1}\n",
    "neg_chi.yaml": "ranking: {max_delta_chi: -0.1}\n",
    "inf_chi.yaml": "ranking: {max_delta_chi: .inf}\n",
    "quantiles.yaml": "ranking: {window_quantiles: [0.9, 0.1]}\n",
    "chunk.yaml": "chunk_size: 0\n",
    "workers.yaml": "workers: -1\n",
    "host.yaml": "host: graphene\n",
    "norm.yaml": "normalisation: four-electron\n",
    "metal.yaml": "metals: [Cu, Qq]\n",
    "import_fmt.yaml": "source: x\nmethod: m\nformat: poscar\n",
}

CASES: list[tuple[str, list[str], str]] = [
    # numbers that are out of range or not finite
    ("top-zero", ["screen", "--top", "0", "--out", "{t}/o"], "--top"),
    ("top-negative", ["screen", "--top", "-5", "--out", "{t}/o"], "--top"),
    (
        "export-top-negative",
        ["export-dft", "--candidates", "{t}/cand.csv", "--top", "-2", "--out", "{t}/o"],
        "--top",
    ),
    ("nan-window", ["screen", "-c", "{t}/nan_window.yaml", "--out", "{t}/o"], "li2s2_window"),
    ("inverted-window", ["screen", "-c", "{t}/inverted_window.yaml", "--out", "{t}/o"], "li2s_window"),
    ("negative-margin", ["screen", "-c", "{t}/neg_margin.yaml", "--out", "{t}/o"], "stability_margin"),
    ("nan-kappa", ["screen", "-c", "{t}/nan_kappa.yaml", "--out", "{t}/o"], "kappa"),
    ("negative-kappa", ["screen", "-c", "{t}/neg_kappa.yaml", "--out", "{t}/o"], "kappa"),
    ("negative-delta-chi", ["screen", "-c", "{t}/neg_chi.yaml", "--out", "{t}/o"], "max_delta_chi"),
    ("infinite-delta-chi", ["screen", "-c", "{t}/inf_chi.yaml", "--out", "{t}/o"], "max_delta_chi"),
    ("inverted-quantiles", ["screen", "-c", "{t}/quantiles.yaml", "--out", "{t}/o"], "window_quantiles"),
    ("zero-chunk", ["screen", "-c", "{t}/chunk.yaml", "--out", "{t}/o"], "chunk_size"),
    ("negative-workers", ["screen", "-c", "{t}/workers.yaml", "--out", "{t}/o"], "workers"),
    # files and folders
    ("out-under-a-file", ["build", "--metals", "Cu", "--out", "{t}/afile/x.xyz"], "afile"),
    ("unknown-extension", ["build", "--metals", "Cu", "--out", "{t}/x.qqq"], "x.qqq"),
    ("screen-out-is-file", ["screen", "--metals", "Cu", "--out", "{t}/afile"], "afile"),
    ("export-out-is-file", ["export-dft", "--candidates", "{t}/cand.csv", "--out", "{t}/afile"], "afile"),
    ("config-missing", ["screen", "-c", "{t}/nope.yaml", "--out", "{t}/o"], "nope.yaml"),
    ("config-is-folder", ["screen", "-c", "{t}/emptydir", "--out", "{t}/o"], "emptydir"),
    ("candidates-missing", ["export-dft", "--candidates", "{t}/nope.csv", "--out", "{t}/o"], "nope.csv"),
    (
        "candidates-columns",
        ["export-dft", "--candidates", "{t}/cand_bad.csv", "--out", "{t}/o"],
        "cand_bad.csv",
    ),
    ("model-missing", ["screen", "--model", "{t}/nomodel", "--metals", "Cu", "--out", "{t}/o"], "nomodel"),
    # databases
    ("corrupt-sqlite", ["dataset", "info", "--db", "{t}/corrupt.db"], "corrupt.db"),
    ("truncated-sqlite", ["dataset", "info", "--db", "{t}/truncated.db"], "truncated.db"),
    ("db-is-folder", ["dataset", "info", "--db", "{t}/emptydir"], "emptydir"),
    ("db-unknown-scheme", ["dataset", "info", "--db", "mysql://u@localhost/x"], "mysql://"),
    (
        "postgres-unreachable",
        ["dataset", "info", "--db", "postgresql://u:pw@127.0.0.1:1/x"],
        "postgresql://u:***@",
    ),
    (
        "export-corrupt-db",
        ["dataset", "export", "--db", "{t}/corrupt.db", "--out", "{t}/o.csv"],
        "corrupt.db",
    ),
    # command-line edge cases
    ("three-metals", ["build", "--metals", "Cu", "Ni", "Co", "--out", "{t}/x.xyz"], "--metals"),
    ("metals-without-value", ["build", "--metals", "--out", "{t}/x.xyz"], "--metals"),
    ("unknown-element", ["build", "--metals", "Qq", "--out", "{t}/x.xyz"], "Qq"),
    ("non-transition", ["build", "--metals", "Al", "Cu", "--out", "{t}/x.xyz"], "Al"),
    ("unknown-adsorbate", ["build", "--metals", "Cu", "--adsorbate", "XeF6", "--out", "{t}/x.xyz"], "XeF6"),
    (
        "unknown-orientation",
        ["build", "--metals", "Cu", "--adsorbate", "Li2S", "--orientation", "sideways", "--out", "{t}/x.xyz"],
        "sideways",
    ),
    (
        "placement-out-of-range",
        ["build", "--metals", "Cu", "Ni", "--placement", "99", "--out", "{t}/x.xyz"],
        "99",
    ),
    ("log-level", ["--log-level", "LOUD", "dataset", "info", "--db", "{t}/s.db"], "--log-level"),
    (
        "export-code",
        ["export-dft", "--candidates", "{t}/cand.csv", "--code", "cp2k", "--out", "{t}/o"],
        "cp2k",
    ),
    (
        "export-format",
        ["dataset", "export", "--db", "{t}/s.db", "--format", "xlsx", "--out", "{t}/o.x"],
        "xlsx",
    ),
    ("screen-unknown-metal", ["screen", "--metals", "Cu", "Qq", "--out", "{t}/o"], "Qq"),
    ("screen-unknown-host", ["screen", "--host", "graphene", "--out", "{t}/o"], "host"),
    (
        "host-outside-model",
        ["screen", "--host", "heptazine", "--metals", "Cu", "--out", "{t}/o"],
        "not heptazine",
    ),
    ("host-in-config", ["screen", "-c", "{t}/host.yaml", "--out", "{t}/o"], "host"),
    ("normalisation", ["screen", "-c", "{t}/norm.yaml", "--out", "{t}/o"], "normalisation"),
    ("metal-in-config", ["screen", "-c", "{t}/metal.yaml", "--out", "{t}/o"], "Qq"),
    # config files
    ("empty-config", ["screen", "-c", "{t}/empty.yaml", "--out", "{t}/o"], "empty.yaml"),
    ("comment-only-config", ["screen", "-c", "{t}/comments.yaml", "--out", "{t}/o"], "comments.yaml"),
    ("duplicate-key", ["screen", "-c", "{t}/dup.yaml", "--out", "{t}/o"], "duplicate key 'top'"),
    ("list-config", ["screen", "-c", "{t}/list.yaml", "--out", "{t}/o"], "list.yaml"),
    ("broken-yaml", ["screen", "-c", "{t}/broken.yaml", "--out", "{t}/o"], "broken.yaml"),
    ("unknown-key", ["screen", "-c", "{t}/unknown.yaml", "--out", "{t}/o"], "tpo"),
    ("import-format", ["dataset", "import", "-c", "{t}/import_fmt.yaml", "--db", "{t}/s.db"], "format"),
    # runs that would "succeed" with nothing done
    ("ingest-empty-folder", ["ingest", "{t}/emptydir", "--db", "{t}/s.db"], "emptydir"),
    ("ingest-a-file", ["ingest", "{t}/afile", "--db", "{t}/s.db"], "afile"),
    ("ingest-garbage", ["ingest", "{t}/garbage", "--db", "{t}/s.db"], "garbage"),
    (
        "import-nothing",
        ["dataset", "import", "--source", "{t}/empty.extxyz", "--method", "m", "--db", "{t}/s.db"],
        "empty.extxyz",
    ),
]


@pytest.fixture
def inputs(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    for name, text in YAML.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "afile").write_text("a file, not a folder\n")
    (tmp_path / "emptydir").mkdir()
    (tmp_path / "garbage" / "run1").mkdir(parents=True)
    (tmp_path / "garbage" / "run1" / "OUTCAR").write_text("not an OUTCAR\n")
    (tmp_path / "empty.extxyz").write_text("")
    (tmp_path / "cand.csv").write_text("host,m1,m2,placement,acquisition\nmelon,Cu,Ni,0,1.0\n")
    (tmp_path / "cand_bad.csv").write_text("m1,m2\nCu,Ni\n")
    (tmp_path / "corrupt.db").write_bytes(b"SQLite format 3\x00" + b"\x13" * 4000)
    (tmp_path / "truncated.db").write_bytes(_filled_store(tmp_path_factory.mktemp("real")))
    return tmp_path


def _filled_store(folder: Path) -> bytes:
    """The first half of a SQLite store holding 20 records."""
    import sqlite3

    from ase.build import molecule

    from dacscreen.data.store import Record

    store = Store(folder / "real.db")
    atoms = molecule("H2O")
    atoms.set_cell([8, 8, 8])
    store.write_records(
        [Record(atoms, -1.0 - k, {"rid": f"r{k}", "task": f"r{k}", "kind": "site"}) for k in range(20)]
    )
    con = sqlite3.connect(folder / "real.db")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    data = (folder / "real.db").read_bytes()
    return data[: len(data) // 2]


def _snapshot(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(("args", "needle"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(inputs: Path, args: list[str], needle: str) -> None:
    before = _snapshot(inputs)
    res = runner.invoke(app, [a.format(t=inputs) for a in args])
    out = res.output
    assert res.exit_code == 2, out
    assert "Traceback" not in out and not (res.exception and not isinstance(res.exception, SystemExit))
    errors = [line for line in out.splitlines() if line.lower().startswith("error")]
    assert len(errors) == 1, out
    assert needle in errors[0], out
    after = _snapshot(inputs)
    assert all(after.get(p) == b for p, b in before.items())  # nothing stored was changed or lost
    made = {p.relative_to(inputs) for p in set(after) - set(before)}
    assert all(p.name.endswith("-lock") or p.name.startswith(("default-store.db", "s.db")) for p in made), (
        made
    )
    assert not (inputs / "o").exists() and not (inputs / "x.xyz").exists()


def test_at_least_forty_kinds() -> None:
    assert len(CASES) >= 40
