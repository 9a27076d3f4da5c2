"""The MLflow model registry: every trained ensemble is logged as a pyfunc model (from code, no
pickle) and registered under one name, so a model can be referred to as ``models:/NAME/VERSION``
(or ``models:/NAME@ALIAS``) wherever a model directory is accepted."""

from __future__ import annotations

from pathlib import Path

from dacscreen.config import Settings
from dacscreen.errors import ModelError

PYFUNC_CODE = Path(__file__).parents[1] / "screening" / "mlflow_pyfunc.py"
"""The pyfunc flavour, logged as code (it predicts through the screen, so it lives there)."""
ARTIFACT = "ensemble"


def register(model_dir: Path, name: str) -> str:
    """Log ``model_dir`` as a pyfunc model in the active MLflow run and register it under
    ``name``; returns the registered version."""
    import mlflow
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    inputs = Schema(
        [
            ColSpec("string", "m1"),
            ColSpec("string", "m2", required=False),
            ColSpec("string", "host", required=False),
            ColSpec("long", "placement", required=False),
        ]
    )
    info = mlflow.pyfunc.log_model(
        name="pyfunc",
        python_model=str(PYFUNC_CODE),
        artifacts={ARTIFACT: str(model_dir)},
        pip_requirements=["dacscreen"],
        signature=ModelSignature(inputs=inputs),
        registered_model_name=name,
    )
    return str(info.registered_model_version)


def register_once(model_dir: Path, name: str, alias: str | None = None) -> tuple[str, bool]:
    """Register ``model_dir`` under ``name`` unless a version of the same weights (SHA-256 of
    ``weights.pt``, the version's ``weights_sha256`` tag) is registered already; point ``alias``
    at that version. Returns (version, newly registered). Idempotent, so ``make demo`` can run it
    every time and ``models:/NAME@ALIAS`` always names the shipped model."""
    import hashlib

    import mlflow

    from dacscreen import tracking

    weights = model_dir / "weights.pt"
    if not weights.is_file():
        raise ModelError(f"{model_dir}: no trained ensemble here (weights.pt missing)")
    sha = hashlib.sha256(weights.read_bytes()).hexdigest()
    tracking.configure()
    client = mlflow.MlflowClient()
    found = client.search_model_versions(f"name = '{name}' and tag.weights_sha256 = '{sha}'")
    new = not found
    if new:
        with tracking.run("registry", f"register {model_dir.name}", {"model_dir": str(model_dir)}):
            version = register(model_dir, name)
        client.set_model_version_tag(name, version, "weights_sha256", sha)
    else:
        version = str(found[0].version)
    if alias:
        client.set_registered_model_alias(name, alias, version)
    return version, new


def is_registry_uri(model: str | Path) -> bool:
    """Whether ``model`` names a registry or run model rather than a directory."""
    return str(model).startswith(("models:/", "runs:/"))


def resolve(model: str | Path, settings: Settings | None = None) -> Path:
    """A local ensemble directory for a directory or a ``models:/`` / ``runs:/`` URI (downloaded
    from the project's tracking store into the cache)."""
    if not is_registry_uri(model):
        return Path(model)
    import mlflow

    from dacscreen import tracking

    s = settings or Settings()
    tracking.configure(s)
    dst = s.cache_dir / "registry" / str(model).replace(":/", "_").replace("/", "_").replace("@", "_")
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=str(model), dst_path=str(dst)))
    except Exception as exc:
        raise ModelError(f"{model}: cannot fetch the model from {s.tracking_uri}: {exc}") from exc
    found = [p.parent for p in local.rglob("meta.json") if (p.parent / "weights.pt").is_file()]
    if not found:
        raise ModelError(f"{model}: the registered model holds no dacscreen ensemble")
    return found[0]
