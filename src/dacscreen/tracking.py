"""MLflow tracking on the project's own store (SQLite backend, local artifact directory)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dacscreen.config import Settings


def configure(settings: Settings | None = None) -> str:
    """Point MLflow at the project's tracking store; returns the tracking URI."""
    import mlflow

    s = settings or Settings()
    uri = s.tracking_uri
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(uri)
    return uri


def experiment_id(name: str, settings: Settings | None = None) -> str:
    """Id of experiment ``name``, created with the project's artifact root if missing."""
    import mlflow

    s = settings or Settings()
    exp = mlflow.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    root = s.artifact_root.resolve() / name
    root.mkdir(parents=True, exist_ok=True)
    return mlflow.create_experiment(name, artifact_location=root.as_uri())


@contextmanager
def run(experiment: str, name: str, params: dict[str, Any]) -> Iterator[Any]:
    """An MLflow run with ``params`` logged; yields the active run."""
    import mlflow

    configure()
    with mlflow.start_run(experiment_id=experiment_id(experiment), run_name=name) as active:
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        yield active
