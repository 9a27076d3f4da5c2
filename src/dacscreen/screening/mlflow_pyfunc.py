"""The MLflow pyfunc flavour of a dacscreen ensemble, logged as code (MLflow "models from code"),
so that the registry holds no pickle: the weights travel as the ensemble directory artifact.

``mlflow.pyfunc.load_model("models:/dacscreen/1").predict(df)`` takes a DataFrame with columns
``m1``, ``m2`` (empty for a single atom) and optionally ``host`` and ``placement``, and returns
one row per site with the predicted adsorption energies, ΔG_RDS and d-band centres (eV).
"""

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel


class EnsembleModel(PythonModel):
    """Predicts the SRR screening row of each site in the input frame."""

    def load_context(self, context: Any) -> None:
        from dacscreen.models.ensemble import Ensemble

        self.ensemble = Ensemble.load(context.artifacts["ensemble"])

    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]  # MLflow reads hints
        from dacscreen.screening.predict import predict_sites
        from dacscreen.site_key import SiteKey

        specs = [
            SiteKey(
                str(r.get("host", "melon")),
                str(r["m1"]),
                str(r.get("m2", "") or ""),
                int(r.get("placement", 0) or 0),
            )
            for r in model_input.to_dict("records")
        ]
        return pd.DataFrame(predict_sites(specs, self.ensemble))


mlflow.models.set_model(EnsembleModel())
