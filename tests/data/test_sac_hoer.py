"""Import → train → evaluate on a 20-record slice of real VASP data (../shared/datasets/sac_hoer)."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
import yaml

from dacscreen.config import ImportConfig, TrainConfig
from dacscreen.data.importers import run_import
from dacscreen.data.store import Store
from dacscreen.models.pipeline import prepare, train_ensemble

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
