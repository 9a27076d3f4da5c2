"""The ``train`` runner: a deep ensemble fitted on a prepared dataset, σ-scaled on its
validation split, saved with its metadata, evaluated, and logged to MLflow."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from dacscreen.config import TrainConfig
from dacscreen.featurize.samples import cache_key
from dacscreen.models import ddp
from dacscreen.models.dataset import Prepared, prepare
from dacscreen.models.ensemble import Ensemble, Scaling
from dacscreen.models.ensemble_meta import EnsembleMeta
from dacscreen.models.evaluation import evaluate, flatten, write_model_card
from dacscreen.models.registry import register
from dacscreen.models.shrinkage import fit_on_validation, metals_of
from dacscreen.models.train import train_member

# TrainConfig keys that say where and on what a run happens, not how the model is trained; they
# are left out of the recipe stored with a model (:attr:`EnsembleMeta.train_config`).
MACHINE_KEYS = {"db", "out", "device", "devices", "num_workers", "registered_model"}


def train_ensemble(
    cfg: TrainConfig, prepared: Prepared | None = None, progress=None
) -> tuple[Ensemble, dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Train ``cfg.model.ensemble`` members, save the ensemble to ``cfg.out``, log to MLflow.

    Under torchrun (``train --devices N``) every process calls this; ranks other than 0 only
    train (their ensemble is None) and rank 0 logs, evaluates and saves."""
    import mlflow

    from dacscreen import tracking

    p = prepared or prepare(cfg)
    val_g = p.training_graphs(p.val)
    scaling, train_g = Scaling.for_training(
        p.training_graphs(p.train), cfg.model.energy_reference, cfg.model.reference_folds, val_g
    )
    if ddp.rank() != 0:  # a data-parallel helper: it trains the same members; rank 0 reports
        for k in range(cfg.model.ensemble):
            train_member(
                train_g, val_g, cfg, scaling, cfg.seed + k, cfg.out / "checkpoints" / f"member-{k}.pt"
            )
        return None, {"rank": ddp.rank()}
    members, seconds = [], 0.0
    params = {
        "devices": ddp.world_size(),
        **cfg.model.model_dump(),
        "input_mode": cfg.input_mode,
        "orientations": cfg.orientations,
        "epochs": cfg.epochs,
        "lr": cfg.lr,
        "batch_size": cfg.batch_size,
        "n_train": len(p.train),
        "n_val": len(p.val),
        "n_test": len(p.test),
        "test_metals": ",".join(p.test_metals),
        "dataset_hash": cache_key(p.samples, cfg.input_mode, p.settings),
        "targets": ",".join(cfg.targets),
    }
    with tracking.run(cfg.experiment, f"train-{cfg.model.arch}-{cfg.input_mode}", params) as active:
        for k in range(cfg.model.ensemble):
            ck = cfg.out / "checkpoints" / f"member-{k}.pt"

            def log_epoch(epoch: int, tl: float, vl: float, k: int = k) -> None:
                mlflow.log_metrics({f"m{k}_train_loss": tl, f"m{k}_val_loss": vl}, step=epoch)

            res = train_member(train_g, val_g, cfg, scaling, cfg.seed + k, ck, log_epoch)
            members.append(res.model)
            seconds += res.seconds
            if progress:
                progress(1)
        ens = Ensemble(
            members,
            cfg.model,
            p.settings,
            scaling,
            EnsembleMeta(
                input_mode=cfg.input_mode,
                orientations=cfg.orientations,
                method=p.samples[0].method,
                dband_method=p.dband_method,
                targets=cfg.targets,
                test_metals=p.test_metals,
                train_metals=metals_of([p.samples[i] for i in p.train]),
                trained=time.strftime("%Y-%m-%dT%H:%M:%S"),
                mlflow_run=active.info.run_id,
                references=p.references,
                train_config=cfg.model_dump(mode="json", exclude=MACHINE_KEYS),
                correction=p.correction.to_meta() if p.correction else None,
            ),
        )
        fit_on_validation(ens, [p.samples[i] for i in p.val], cfg.input_mode)
        ens.save(cfg.out)
        report = evaluate(ens, p, cfg.out)
        report["train_seconds"] = seconds
        report["std_scale"] = ens.std_scale
        write_model_card(cfg, p, report)
        mlflow.log_metrics(
            {k: v for k, v in flatten(report).items() if isinstance(v, float | int) and np.isfinite(v)}
        )
        for f in cfg.out.glob("*.png"):
            mlflow.log_artifact(str(f))
        mlflow.log_artifact(str(cfg.out / "metrics.json"))
        mlflow.log_dict(cfg.model_dump(mode="json"), "config.json")
        for name in ("meta.json", "weights.pt", "model_card.md"):
            mlflow.log_artifact(str(cfg.out / name), artifact_path="model")
        if cfg.registered_model:
            report["registered"] = f"models:/{cfg.registered_model}/{register(cfg.out, cfg.registered_model)}"
    return ens, report
