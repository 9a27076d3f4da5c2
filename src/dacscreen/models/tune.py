"""Optuna hyper-parameter search over the model config, scored on the validation split only.

The study lives in an RDB storage (SQLite by default; a shared PostgreSQL/MySQL URL lets
several machines work on one study) and is resumed by name. Bad trials are pruned on their
per-epoch validation loss (median pruner). Each trial is an MLflow run nested under the study's
run, and the best trial's full training config is written to ``<study>-best.yaml``. The test
split is never touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from dacscreen.config import TrainConfig, TuneConfig
from dacscreen.models.dataset import Prepared, prepare
from dacscreen.models.ensemble import Scaling
from dacscreen.models.train import train_member


def trial_config(cfg: TuneConfig, trial: Any) -> TrainConfig:
    """The training config a trial samples (one member; the ensemble size is kept for export)."""
    model = cfg.train.model.model_copy(
        update={
            "arch": trial.suggest_categorical("arch", ["schnet", "painn"]),
            "hidden": trial.suggest_categorical("hidden", [32, 64, 128]),
            "layers": trial.suggest_int("layers", 2, 4),
            "n_rbf": trial.suggest_categorical("n_rbf", [16, 32]),
            "displacement_weight": trial.suggest_categorical("displacement_weight", [0.0, 0.3, 1.0]),
        }
    )
    return cfg.train.model_copy(
        update={"model": model, "lr": trial.suggest_float("lr", 3e-4, 5e-3, log=True)}
    )


def objective_factory(cfg: TuneConfig, p: Prepared):  # type: ignore[no-untyped-def]
    """An Optuna objective: best validation loss of one member, pruned epoch by epoch."""
    import mlflow
    import optuna

    val_g = p.training_graphs(p.val)
    model = cfg.train.model
    scaling, train_g = Scaling.for_training(
        p.training_graphs(p.train), model.energy_reference, model.reference_folds, val_g
    )

    def objective(trial: Any) -> float:
        train_cfg = trial_config(cfg, trial)
        one = train_cfg.model_copy(update={"model": train_cfg.model.model_copy(update={"ensemble": 1})})

        def report(epoch: int, _train_loss: float, val_loss: float) -> None:
            trial.report(val_loss, epoch)
            mlflow.log_metric("val_loss", val_loss, step=epoch)
            if trial.should_prune():
                raise optuna.TrialPruned

        with mlflow.start_run(run_name=f"trial-{trial.number}", nested=True):
            mlflow.log_params(trial.params)
            best = train_member(train_g, val_g, one, scaling, seed=trial.number, on_epoch=report).best_val
            mlflow.log_metric("best_val_loss", best)
        return best

    return objective


def run_study(cfg: TuneConfig, progress=None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Run (or resume) the study until it holds ``n_trials`` finished (complete or pruned) trials."""
    import optuna

    from dacscreen import tracking

    if cfg.storage.startswith("sqlite:///"):
        Path(cfg.storage.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(cfg.storage, heartbeat_interval=cfg.heartbeat_s)
    study = optuna.create_study(
        study_name=cfg.study,
        storage=storage,
        direction="minimize",
        load_if_exists=True,
        pruner=optuna.pruners.MedianPruner(n_warmup_steps=3),
    )
    optuna.storages.fail_stale_trials(study)  # trials of a killed run
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    remaining = max(0, cfg.n_trials - sum(1 for t in study.trials if t.state in finished))
    if remaining:
        callbacks = [lambda *_: progress(1)] if progress else []
        with tracking.run(
            cfg.train.experiment, f"tune-{cfg.study}", {"n_trials": cfg.n_trials, "storage": cfg.storage}
        ):
            study.optimize(
                objective_factory(cfg, prepare(cfg.train)), n_trials=remaining, callbacks=callbacks
            )
    best_cfg = trial_config(cfg, optuna.trial.FixedTrial(study.best_params))
    out = Path(cfg.train.out).parent / f"{cfg.study}-best.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(best_cfg.model_dump(mode="json"), sort_keys=False))
    return {
        "study": cfg.study,
        "trials": len(study.trials),
        "best_value": study.best_value,
        "best_params": study.best_params,
        "storage": cfg.storage,
        "best_config": str(out),
    }
