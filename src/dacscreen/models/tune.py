"""Optuna hyper-parameter search over the model config, scored on the validation split only.

The study lives in an RDB storage (SQLite by default) and is resumed by name, so a killed
search continues where it stopped. The test split is never touched.
"""

from __future__ import annotations

from typing import Any

from dacscreen.config import TuneConfig
from dacscreen.models.ensemble import Scaling
from dacscreen.models.pipeline import Prepared, prepare
from dacscreen.models.train import train_member


def objective_factory(cfg: TuneConfig, p: Prepared):  # type: ignore[no-untyped-def]
    """An Optuna objective: best validation loss of one member with sampled hyper-parameters."""
    train_g = [p.graphs[i] for i in p.train]
    val_g = [p.graphs[i] for i in p.val]
    scaling = Scaling.fit(train_g)

    def objective(trial: Any) -> float:
        model = cfg.train.model.model_copy(
            update={
                "arch": trial.suggest_categorical("arch", ["schnet", "painn"]),
                "hidden": trial.suggest_categorical("hidden", [32, 64, 128]),
                "layers": trial.suggest_int("layers", 2, 4),
                "n_rbf": trial.suggest_categorical("n_rbf", [16, 32]),
                "ensemble": 1,
            }
        )
        train_cfg = cfg.train.model_copy(
            update={"model": model, "lr": trial.suggest_float("lr", 3e-4, 5e-3, log=True)}
        )
        return train_member(train_g, val_g, train_cfg, scaling, seed=trial.number).best_val

    return objective


def run_study(cfg: TuneConfig, progress=None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Run (or resume) the study until it holds ``n_trials`` finished trials."""
    import optuna

    if cfg.storage.startswith("sqlite:///"):
        from pathlib import Path

        Path(cfg.storage.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=cfg.study, storage=cfg.storage, direction="minimize", load_if_exists=True
    )
    done = sum(1 for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE)
    remaining = max(0, cfg.n_trials - done)
    if remaining:
        callbacks = [lambda *_: progress(1)] if progress else []
        study.optimize(objective_factory(cfg, prepare(cfg.train)), n_trials=remaining, callbacks=callbacks)
    return {
        "study": cfg.study,
        "trials": len(study.trials),
        "best_value": study.best_value,
        "best_params": study.best_params,
        "storage": cfg.storage,
    }
