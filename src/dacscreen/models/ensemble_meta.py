"""What a saved ensemble records about how it was made and how it is to be used.

``meta.json`` beside the weights holds these keys (with the architecture, featuriser and target
scaling, which :class:`dacscreen.models.ensemble.Ensemble` keeps as its own fields). A typed
value rejects unknown keys, so a typo in a writer fails at once instead of in a later reader.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class EnsembleMeta(BaseModel):
    """Provenance and usage of a trained ensemble."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, ser_json_inf_nan="constants")
    """NaN stays NaN in ``meta.json`` (a missing label, e.g. a GPAW E_bind without references),
    instead of pydantic's default null."""

    input_mode: Literal["as-built", "relaxed-site", "relaxed"] | None = None
    """The structure the model reads (:attr:`dacscreen.config.TrainConfig.input_mode`); None for
    an ensemble fitted inside a cross-validation, whose caller knows it."""
    orientations: Literal["labelled", "all"] = "labelled"
    """How adsorbate orientations are pooled at prediction time (:mod:`dacscreen.models.predictor`)."""
    method: str | None = None
    """The labeller whose labels the model learned (the screen's ``fidelity`` column)."""
    dband_method: str = ""
    """The labeller(s) of the d-band centres it learned, when not ``method``."""
    targets: list[str] = []
    """The adsorbate states it was trained on."""
    test_metals: list[str] = []
    """Metals held out of training (leave-metal-out), so that ``evaluate`` reuses the split."""
    trained: str = ""
    """When it was trained (ISO time)."""
    mlflow_run: str = ""
    """The MLflow run that trained it."""
    references: dict[str, float] = {}
    """Reference energies (eV) of ``method``, for E_ads → ΔG (:mod:`dacscreen.thermo`)."""
    train_config: dict[str, Any] = {}
    """The training recipe (the :class:`~dacscreen.config.TrainConfig` without machine keys)."""
    correction: dict[str, Any] | None = None
    """The fidelity map for the screen's DFT-level columns (:mod:`dacscreen.models.correction`)."""
    std_scale: dict[str, float] = {}
    """σ-scaling factors fitted on the validation split (:meth:`Ensemble.recalibrate`)."""
    train_metals: list[str] = []
    """The metals of its training sites. A query with any other metal is a new-metal query,
    whose network correction is weighted by ``correction_weight`` (empty: every query is)."""
    correction_weight: dict[str, float] = {}
    """Per state, the share w of the network's mean correction to its energy reference that a
    new-metal prediction keeps (fitted on the validation split,
    :mod:`dacscreen.models.shrinkage`; 1 for a state not listed and for a query whose metals
    were all trained on)."""
    val_loss: float | None = None
    """Mean best validation loss of the members (ensembles fitted inside a cross-validation)."""

    def to_json(self) -> dict[str, Any]:
        """The keys as written to ``meta.json`` (unset optional keys left out)."""
        return self.model_dump(mode="json", exclude_none=True)
