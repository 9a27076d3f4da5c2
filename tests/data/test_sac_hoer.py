"""Import → train → evaluate on a 20-record slice of real VASP data (../shared/datasets/sac_hoer)."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
import yaml

from dacscreen.config import ImportConfig, TrainConfig
from dacscreen.data.importers import run_import
from dacscreen.data.store import Store
from dacscreen.models.dataset import prepare
from dacscreen.models.fit import train_ensemble

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "datasets" / "sac_hoer"
METALS = ("Fe", "Co", "Ni", "Cu")


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/datasets/sac_hoer is not present")
def test_real_vasp_slice(tmp_path: Path, project_env: Path) -> None:
    wanted = {f"RawData/4N4_{m}_{s}/CONTCAR" for m in METALS for s in ("substrate", "H", "O", "OH", "OOH")}
    with tarfile.open(SHARED / "RawData_CONTCAR_INCAR_KPOINTS.tar.gz") as tar:
        members = [m for m in tar.getmembers() if m.name in wanted]
        tar.extractall(tmp_path, members=members, filter="data")
    assert len(members) == 20
    imp = yaml.safe_load((ROOT / "configs" / "import_sac_hoer.yaml").read_text())
    imp.update(
        {
            "source": str(tmp_path / "RawData"),
            "energies_csv": str(SHARED / "final_energies.csv"),
            "db": str(tmp_path / "sac.db"),
        }
    )
    report = run_import(Store(imp["db"]), ImportConfig.model_validate(imp))
    assert report.written == 20 and not report.errors
    train = yaml.safe_load((ROOT / "configs" / "train_sac_hoer.yaml").read_text())
    train.update(
        {
            "db": imp["db"],
            "epochs": 2,
            "out": str(tmp_path / "model"),
            "batch_size": 4,
            "model": {"arch": "schnet", "hidden": 16, "layers": 2, "n_rbf": 8, "ensemble": 2},
            "split": {"kind": "leave-metal-out", "test_metals": ["Cu"], "val_fraction": 0.34},
        }
    )
    cfg = TrainConfig.model_validate(train)
    p = prepare(cfg)
    assert {s.state for s in p.samples} == {"clean", "H", "O", "OH", "OOH"}
    _, rep = train_ensemble(cfg, p)
    assert rep["test"]["gnn_e_ads"]["n"] == 4
    assert "baseline_e_ads:OH" in rep["test"]


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/datasets/sac_hoer is not present")
def test_import_killed_and_resumed_matches_uninterrupted(tmp_path: Path) -> None:
    """SIGKILL ``dataset import`` part-way: the re-run completes it with no duplicates, and the
    store equals that of an uninterrupted import (records are written one transaction each)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    with tarfile.open(SHARED / "RawData_CONTCAR_INCAR_KPOINTS.tar.gz") as tar:
        members = [m for m in tar.getmembers() if m.name.endswith("/CONTCAR")][:200]
        tar.extractall(tmp_path, members=members, filter="data")
    imp = yaml.safe_load((ROOT / "configs" / "import_sac_hoer.yaml").read_text())
    imp.update({"source": str(tmp_path / "RawData"), "energies_csv": str(SHARED / "final_energies.csv")})
    env = {**os.environ, "DACSCREEN_SHARDS": str(tmp_path / "none")}

    def command(db: Path) -> list[str]:
        path = tmp_path / f"{db.stem}.yaml"
        path.write_text(yaml.safe_dump({**imp, "db": str(db)}))
        return [sys.executable, "-m", "dacscreen.cli", "-q", "dataset", "import", "--config", str(path)]

    killed, once = tmp_path / "killed.db", tmp_path / "once.db"
    proc = subprocess.Popen(command(killed), env=env)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if killed.exists() and Store(killed).count(kind="site") >= 30:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    assert proc.wait() == -signal.SIGKILL, "the import finished before it could be killed"
    partial = Store(killed).count()
    assert 0 < partial < len(members)
    assert subprocess.run(command(killed), env=env, check=False).returncode == 0
    assert subprocess.run(command(once), env=env, check=False).returncode == 0

    def rows(db: Path) -> list[tuple[str, float]]:
        return sorted((r.rid, round(r.energy, 6)) for r in Store(db).rows())

    assert rows(killed) == rows(once)
    assert len(rows(killed)) == len({r for r, _ in rows(killed)})
