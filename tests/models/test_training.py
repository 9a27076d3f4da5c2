"""Training, saving, loading and evaluating the ensemble on real (tiny) labelled data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from dacscreen.config import TrainConfig
from dacscreen.data.store import Store
from dacscreen.errors import ModelError
from dacscreen.featurize.samples import collect_samples
from dacscreen.models.dataset import prepare
from dacscreen.models.ensemble import Ensemble, Scaling
from dacscreen.models.evaluation import evaluate
from dacscreen.models.splits import leave_metal_out
from tests.conftest import TINY_TRAIN


def test_leave_metal_out_never_leaks(tiny_store_path: Path) -> None:
    samples = collect_samples(Store(tiny_store_path))
    tr, va, te = leave_metal_out(samples, ["Zn"], 0.3)
    assert te and all("Zn" in samples[i].metals for i in te)
    assert not any("Zn" in samples[i].metals for i in tr + va)
    assert not set(tr) & set(va)


def test_model_roundtrip_and_predictions(tiny_model: Path, tiny_store_path: Path, project_env: Path) -> None:
    ens = Ensemble.load(tiny_model)
    assert len(ens.members) == 2
    assert {"Li_bcc", "mol_Li2S2"} <= set(ens.meta.references)
    cfg = TrainConfig.model_validate({**TINY_TRAIN, "db": str(tiny_store_path)})
    p = prepare(cfg)
    pred = ens.predict(p.graphs)
    assert pred["e_ads"].shape == (len(p.graphs),)
    assert np.all(pred["e_ads_std"] >= 0)
    report = evaluate(ens, p, project_env / "eval")
    assert "test" in report
    assert {"mae", "rmse", "spearman", "within_1sigma", "miscalibration_area"} <= set(
        report["test"]["gnn_e_ads"]
    )
    assert "baseline_e_ads" in report["test"]
    assert (project_env / "eval" / "parity_e_ads.png").stat().st_size > 1000
    json.loads((project_env / "eval" / "metrics.json").read_text())


def test_model_from_other_featuriser_rejected(tiny_model: Path, tmp_path: Path) -> None:
    bad = tmp_path / "old"
    shutil.copytree(tiny_model, bad)
    meta = json.loads((bad / "meta.json").read_text())
    meta["featurizer"]["version"] = 0
    (bad / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="featuriser version 0"):
        Ensemble.load(bad)


def test_model_with_code_payload_rejected(tiny_model: Path, tmp_path: Path) -> None:
    bad = tmp_path / "evil"
    shutil.copytree(tiny_model, bad)

    class Payload:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (print, ("pwned",))

    torch.save({"x": Payload()}, bad / "weights.pt")
    with pytest.raises(ModelError, match="cannot load weights safely"):
        Ensemble.load(bad)


def test_missing_model(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not a dacscreen model"):
        Ensemble.load(tmp_path / "nope")


def test_training_killed_and_resumed_matches(tiny_store_path: Path, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    import yaml

    cfg = {
        **TINY_TRAIN,
        "epochs": 12,
        "patience": 100,
        "db": str(tiny_store_path),
        "model": {**TINY_TRAIN["model"], "ensemble": 1},
    }
    env = {
        **os.environ,
        "DACSCREEN_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db",
        "DACSCREEN_ARTIFACT_ROOT": str(tmp_path / "art"),
        "DACSCREEN_CACHE_DIR": str(tmp_path / "cache"),
        "DACSCREEN_SHARDS": str(tmp_path / "none"),
        "OMP_NUM_THREADS": "1",
    }

    def run(out: Path, kill_after_epoch: int | None = None) -> None:
        path = tmp_path / f"{out.name}.yaml"
        path.write_text(yaml.safe_dump({**cfg, "out": str(out)}))
        cmd = [sys.executable, "-m", "dacscreen.cli", "-q", "train", "--config", str(path)]
        proc = subprocess.Popen(cmd, env=env)
        ck = out / "checkpoints" / "member-0.pt"
        if kill_after_epoch is not None:
            deadline = time.time() + 300
            while time.time() < deadline and proc.poll() is None:
                if ck.is_file() and torch.load(ck, weights_only=True)["epoch"] >= kill_after_epoch:
                    proc.send_signal(signal.SIGKILL)
                    break
                time.sleep(0.05)
            proc.wait()
            assert proc.returncode == -signal.SIGKILL
            proc = subprocess.Popen(cmd, env=env)
        assert proc.wait() == 0

    run(tmp_path / "once")
    run(tmp_path / "resumed", kill_after_epoch=4)
    a = torch.load(tmp_path / "once" / "checkpoints" / "member-0.pt", weights_only=True)
    b = torch.load(tmp_path / "resumed" / "checkpoints" / "member-0.pt", weights_only=True)
    assert a["epoch"] == b["epoch"] == 12 and "opt" not in a and "opt" not in b  # finished: compact
    assert [round(h[2], 6) for h in a["history"]] == [round(h[2], 6) for h in b["history"]]
    for k, v in a["best_state"].items():
        assert torch.allclose(v, b["best_state"][k], atol=1e-6), k


def test_stale_checkpoint_of_another_run_is_not_resumed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A checkpoint left in the output directory by a run with another architecture (or data)
    must not be loaded into this run's model."""
    from dacscreen.models.train import _matching_checkpoint, _save_checkpoint, run_fingerprint

    def graph(y: float, x: float = 0.0) -> object:
        fields = {"y_ads": torch.tensor([y]), "y_dband": torch.zeros(2), "pos": torch.full((3, 3), x)}
        return type("G", (), fields)()

    graphs = [graph(-1.0), graph(2.0)]
    cfg = TrainConfig.model_validate(TINY_TRAIN)
    wider = cfg.model_copy(update={"model": cfg.model.model_copy(update={"hidden": 32})})
    mine, other = run_fingerprint(graphs, cfg, 0), run_fingerprint(graphs, wider, 0)
    assert mine != other != run_fingerprint(graphs[:1], cfg, 0)
    assert mine == run_fingerprint(graphs, cfg.model_copy(update={"epochs": 99}), 0)
    bigger = cfg.model_copy(update={"model": cfg.model.model_copy(update={"ensemble": 7})})
    assert mine == run_fingerprint(graphs, bigger, 0)  # a member does not depend on its ensemble's size
    crossed = cfg.model_copy(update={"model": cfg.model.model_copy(update={"reference_folds": 5})})
    assert mine != run_fingerprint(graphs, crossed, 0)  # trained on other residuals
    assert mine != run_fingerprint([graphs[0], graph(2.0, x=0.5)], cfg, 0)  # other input positions
    assert mine != run_fingerprint(graphs, cfg, 0, val=[graph(0.0)])  # another validation set
    per_state = Scaling(per_state={"Li2S2": [-3.0, 0.5]})  # another target standardisation
    assert run_fingerprint(graphs, cfg, 0, Scaling()) != run_fingerprint(graphs, cfg, 0, per_state)
    # a reference refitted with another BLAS thread count: the same member, not a new one
    gp = {"Li2S2": {"kind": "gp", "alpha": [0.1234567]}}
    bits = {"Li2S2": {"kind": "gp", "alpha": [0.1234568]}}
    noisy = Scaling(per_state={"Li2S2": [-3.0 + 1e-9, 0.5]}, reference=bits)
    same = run_fingerprint(graphs, cfg, 0, Scaling(per_state={"Li2S2": [-3.0, 0.5]}, reference=gp))
    assert same == run_fingerprint(graphs, cfg, 0, noisy)
    path = tmp_path / "member-0.pt"
    _save_checkpoint(path, {"fingerprint": other, "epoch": 7})
    assert _matching_checkpoint(path, mine, torch.device("cpu")) is None
    assert "different run" in caplog.text
    assert _matching_checkpoint(path, other, torch.device("cpu"))["epoch"] == 7


def test_member_store_trains_each_member_once(tiny_store_path: Path, tmp_path: Path) -> None:
    """A member trained into a store is found there by its fingerprint and not trained again;
    one stopped early is kept without its optimiser state; a run with another patience (which
    would have stopped elsewhere) trains afresh."""
    from dacscreen.models.train import train_member

    cfg = TrainConfig.model_validate({**TINY_TRAIN, "db": str(tiny_store_path), "epochs": 60, "patience": 1})
    p = prepare(cfg)
    tg, vg = p.training_graphs(p.train), p.training_graphs(p.val)
    scaling = Scaling.fit(tg, cfg.model.energy_reference)
    epochs: list[int] = []
    first = train_member(tg, vg, cfg, scaling, 0, on_epoch=lambda e, *_: epochs.append(e), store=tmp_path)
    (stored,) = tmp_path.glob("*.pt")
    ck = torch.load(stored, weights_only=True)
    assert 0 < len(epochs) < 60 and ck["stale"] >= 1 and "opt" not in ck
    again = train_member(tg, vg, cfg, scaling, 0, on_epoch=lambda e, *_: epochs.append(e), store=tmp_path)
    assert len(epochs) == len(ck["history"]) and again.best_val == first.best_val
    for k, v in first.model.state_dict().items():
        assert torch.equal(v, again.model.state_dict()[k]), k
    patient = cfg.model_copy(update={"patience": 3})
    train_member(tg, vg, patient, scaling, 0, on_epoch=lambda e, *_: epochs.append(e), store=tmp_path)
    assert len(epochs) > len(ck["history"])


def test_member_that_ran_out_of_epochs_is_kept_compact(tiny_store_path: Path, tmp_path: Path) -> None:
    """A member that used its whole epoch budget is stored without its optimiser state and reused
    by a run with the same budget; a run with a longer budget (it would have trained on) trains
    afresh."""
    from dacscreen.models.train import train_member

    cfg = TrainConfig.model_validate({**TINY_TRAIN, "db": str(tiny_store_path), "epochs": 2, "patience": 50})
    p = prepare(cfg)
    tg, vg = p.training_graphs(p.train), p.training_graphs(p.val)
    scaling = Scaling.fit(tg, cfg.model.energy_reference)
    epochs: list[int] = []
    train_member(tg, vg, cfg, scaling, 0, on_epoch=lambda e, *_: epochs.append(e), store=tmp_path)
    (stored,) = tmp_path.glob("*.pt")
    ck = torch.load(stored, weights_only=True)
    assert epochs == [0, 1] and ck["epoch"] == 2 and "opt" not in ck
    train_member(tg, vg, cfg, scaling, 0, on_epoch=lambda e, *_: epochs.append(e), store=tmp_path)
    assert epochs == [0, 1]
    longer = cfg.model_copy(update={"epochs": 3})
    train_member(tg, vg, longer, scaling, 0, on_epoch=lambda e, *_: epochs.append(e), store=tmp_path)
    assert epochs == [0, 1, 0, 1, 2]


def test_member_trains_on_cross_fitted_residuals(tiny_store_path: Path) -> None:
    """Training graphs from ``Scaling.for_training`` (each carrying its out-of-fold reference
    shift) train a member: the shift is collated per graph, the training loss stays finite and
    the validation graphs, without a shift, are scored against the stored reference."""
    from dacscreen.models.train import train_member

    model = {**TINY_TRAIN["model"], "energy_reference": "descriptor-ridge", "reference_folds": 3}
    cfg = TrainConfig.model_validate({**TINY_TRAIN, "db": str(tiny_store_path), "epochs": 1, "model": model})
    p = prepare(cfg)
    scaling, tg = Scaling.for_training(p.training_graphs(p.train), "descriptor-ridge", 3)
    assert all(g.ref_shift.shape == (1,) for g in tg)
    result = train_member(tg, p.training_graphs(p.val), cfg, scaling, 0)
    assert np.isfinite(result.best_val) and all(np.isfinite(h[1]) for h in result.history)


def test_correction_method_without_shared_sites_is_a_clear_error(tiny_store_path: Path) -> None:
    from dacscreen.errors import DacscreenError

    cfg = TrainConfig.model_validate(
        {**TINY_TRAIN, "db": str(tiny_store_path), "correction_method": "gpaw-lcao-pbe-d3"}
    )
    with pytest.raises(DacscreenError, match=r"correction_method 'gpaw-lcao-pbe-d3'.*both methods"):
        prepare(cfg)
