"""Typed run configurations (pydantic, ``extra="forbid"``) loaded from YAML.

Each CLI stage reads one config model. Unknown keys and wrong types raise a
:class:`~dacscreen.errors.ConfigError` that names the key and the file. CLI flags override
config values (:func:`load_config` takes them as ``overrides``). Environment variables with the
``DACSCREEN_`` prefix set the project-wide :class:`Settings`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dacscreen.elements import DEFAULT_METALS, check_element
from dacscreen.errors import ConfigError


class Strict(BaseModel):
    """Base model that rejects unknown keys."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Settings(BaseSettings):
    """Project-wide settings from ``DACSCREEN_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="DACSCREEN_", extra="forbid")

    db: str = "data/cache/dacscreen.db"
    """Dataset store: a SQLite path or a ``postgresql://`` URL."""
    shards: Path = Path("data/labels")
    """Directory of the shipped, append-only extxyz.gz shards."""
    tracking_uri: str = "sqlite:///runs/mlflow.db"
    """MLflow tracking store."""
    artifact_root: Path = Path("runs/mlartifacts")
    model: Path = Path("data/models/default")
    """The shipped default model (ensemble directory)."""
    cache_dir: Path = Path("data/cache")
    """Featurised-graph cache."""


class CalculatorConfig(Strict):
    """An ASE calculator chosen by name (``chgnet``, ``tblite``, ``gpaw``, ``emt``) or by
    import path ``package.module:ClassName``, with keyword arguments."""

    name: str = "chgnet"
    kwargs: dict[str, Any] = Field(default_factory=dict)


class BuildConfig(Strict):
    """``dacscreen build``: one structure."""

    host: Literal["heptazine", "melon"] = "heptazine"
    metals: list[str] = Field(default_factory=lambda: ["Cu", "Ni"])
    adsorbate: str | None = None
    placement: int = 0
    orientation: str | None = None
    supercell: tuple[int, int] | None = None
    allow_non_transition: bool = False

    @field_validator("metals")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        for s in v:
            check_element(s)
        return v


class LabelConfig(Strict):
    """``dacscreen label``: relax sites and intermediates and store them."""

    db: str | None = None
    host: Literal["heptazine", "melon"] = "melon"
    supercell: tuple[int, int] | None = None
    metals: list[str] = Field(default_factory=lambda: list(DEFAULT_METALS))
    allow_non_transition: bool = False
    include_single: bool = True
    include_pairs: bool = True
    calculator: CalculatorConfig = Field(default_factory=CalculatorConfig)
    dband_calculator: CalculatorConfig | None = Field(default_factory=lambda: CalculatorConfig(name="tblite"))
    fmax: float = Field(0.05, gt=0)
    steps: int = Field(300, gt=0)
    fix_radius: float = Field(6.0, gt=0)
    """Host atoms further than this (Å) from the metals are fixed."""
    optimizer: Literal["LBFGS", "FIRE", "BFGS"] = "LBFGS"
    templates: bool = True
    """Start adsorbates from the relaxed geometry of the same state on an already labelled site."""
    states: list[str] = Field(default_factory=lambda: ["clean", "Li2S2", "Li2S"])
    all_states_sites: int = Field(120, ge=0)
    """How many sites (first in priority order) also get all six intermediates."""
    placements: Literal["first", "all"] = "first"
    max_orientations: int = Field(2, ge=1)
    workers: int = Field(1, ge=1)
    scheduler: str | None = None
    limit: int | None = None
    """Stop after this many sites (for trials)."""
    references: bool = True


class ImportConfig(Strict):
    """``dacscreen dataset import``: bring your own DFT data into the store."""

    source: Path
    """A tree of VASP run folders, an extxyz file, or a CSV of labels (format csv)."""
    format: Literal["vasp-tree", "extxyz", "csv"] = "vasp-tree"
    method: str
    """Method string stored with every record, e.g. ``vasp-pbe-d2``."""
    db: str | None = None
    energies_csv: Path | None = None
    """CSV of final energies keyed by folder name (else vasprun.xml, OSZICAR or OUTCAR)."""
    key_column: str = "folder"
    energy_column: str = "energy"
    file_column: str = "file"
    """format csv: column with structure file paths (any ASE format), relative to the CSV."""
    metal_column: str | None = None
    host_column: str | None = None
    state_column: str | None = None
    host_prefix: str = "user"
    clean_states: list[str] = Field(default_factory=lambda: ["clean", "substrate", "slab"])
    adsorbate_elements: list[str] = Field(default_factory=lambda: ["H", "O", "Li", "S"])
    structure_files: list[str] = Field(default_factory=lambda: ["CONTCAR", "POSCAR"])


class SplitConfig(Strict):
    """How data are split for evaluation."""

    kind: Literal["leave-metal-out", "random"] = "leave-metal-out"
    test_metals: list[str] | None = None
    n_test_metals: int = 5
    val_fraction: float = 0.15
    seed: int = 0


class ModelConfig(Strict):
    """Architecture hyper-parameters of the GNN ensemble."""

    arch: Literal["schnet", "painn"] = "painn"
    hidden: int = 64
    layers: int = 3
    cutoff: float = 5.0
    n_rbf: int = 32
    dropout: float = 0.0
    ensemble: int = Field(5, ge=1)


class TargetSpec(Strict):
    """A target as a linear combination (eV): Σ coeff × E(term) + constant.

    A term is a state on the same site (``clean``, ``OH``, ``Li2S2`` ...) or a reference of the
    same method, written ``ref:<name>`` (``ref:mol_Li2S2``, ``ref:Li_bcc``).
    """

    terms: dict[str, float]
    constant: float = 0.0


def srr_target(state: str) -> TargetSpec:
    """The SRR preset: E_ads(X) = E(X*) − E(*) − E(X)."""
    return TargetSpec(terms={state: 1.0, "clean": -1.0, f"ref:mol_{state}": -1.0})


class TrainConfig(Strict):
    """``dacscreen train``: fit the multi-task ensemble on the store."""

    db: str | None = None
    method: str | None = None
    host: str | None = None
    targets: list[str] = Field(default_factory=lambda: ["Li2S2", "Li2S"])
    target_definitions: dict[str, TargetSpec] | None = None
    """None: the SRR preset for every target (E_ads against the isolated molecule)."""
    clean_target: Literal["e_bind", "none"] = "e_bind"
    input_mode: Literal["as-built", "relaxed-site", "relaxed"] = "as-built"
    """as-built: builder site + builder adsorbate (screening); relaxed-site: relaxed clean site +
    builder adsorbate; relaxed: the relaxed structure itself (property prediction)."""
    model: ModelConfig = Field(default_factory=ModelConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    epochs: int = 150
    batch_size: int = 16
    lr: float = 2e-3
    weight_decay: float = 1e-5
    patience: int = 30
    device: str = "auto"
    amp: bool = True
    num_workers: int = 0
    out: Path = Path("runs/model")
    experiment: str = "dacscreen"
    seed: int = 0


class TuneConfig(Strict):
    """``dacscreen tune``: Optuna search over :class:`ModelConfig` on the validation split."""

    train: TrainConfig = Field(default_factory=TrainConfig)
    n_trials: int = 20
    storage: str = "sqlite:///runs/optuna.db"
    study: str = "dacscreen"


class RankingConfig(Strict):
    """Screening filters and score (SCIENCE.md §8). Energies in eV."""

    max_delta_chi: float = 0.3
    li2s2_window: tuple[float, float] = (-4.0, -0.5)
    li2s_window: tuple[float, float] = (-4.0, -0.5)
    max_e_bind: float | None = None
    """Absolute E_bind threshold (eV); None: E_bind ≤ E_bind(reference pair) + margin."""
    stability_reference: tuple[str, str] = ("Cu", "Ni")
    """The experimentally made pair that defines 'stable enough' (CHGNet E_bind vs bulk is > 0)."""
    stability_margin: float = 0.5
    w_dg: float = 1.0
    w_binding: float = 0.2
    w_uncertainty: float = 0.0
    acquisition: Literal["ucb", "ei", "greedy"] = "ucb"
    kappa: float = 1.0


class ScreenConfig(Strict):
    """``dacscreen screen``: predict and rank every site of the space."""

    host: Literal["heptazine", "melon"] = "melon"
    metals: list[str] = Field(default_factory=lambda: list(DEFAULT_METALS))
    allow_non_transition: bool = False
    include_single: bool = True
    model: Path | None = None
    ranking: RankingConfig = Field(default_factory=RankingConfig)
    top: int = 15
    mu_li_offset_v: float = 0.0
    """Anode offset (V) reported alongside potentials vs Li/Li+ (Li–In: 0.62)."""
    chunk_size: int = 256


M = TypeVar("M", bound=BaseModel)


def load_config(model: type[M], path: Path | str | None, overrides: dict[str, Any] | None = None) -> M:
    """Load ``path`` (YAML) into ``model``; non-None ``overrides`` (CLI flags) win.

    Raises ConfigError naming the file and the offending key for unknown keys, wrong types or
    malformed YAML.
    """
    data: dict[str, Any] = {}
    where = str(path) if path else "<defaults>"
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"{where}: config file not found")
        try:
            loaded = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{where}: malformed YAML: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"{where}: top level must be a mapping of keys")
        data = loaded
    for key, value in (overrides or {}).items():
        if value is not None:
            data[key] = value
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, where)) from exc


def _describe(exc: ValidationError, where: str) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(x) for x in err["loc"]) or "<root>"
        if err["type"] == "extra_forbidden":
            lines.append(f"{where}: unknown key '{key}'")
        else:
            lines.append(f"{where}: key '{key}': {err['msg']}")
    return "\n".join(lines)
