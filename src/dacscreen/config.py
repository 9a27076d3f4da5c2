"""Typed run configurations (pydantic, ``extra="forbid"``) loaded from YAML.

Each CLI stage reads one config model. Unknown keys and wrong types raise a
:class:`~dacscreen.errors.ConfigError` that names the key and the file. CLI flags override
config values (:func:`load_config` takes them as ``overrides``). Environment variables with the
``DACSCREEN_`` prefix set the project-wide :class:`Settings`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dacscreen.elements import DEFAULT_METALS, check_element
from dacscreen.errors import ConfigError


class Strict(BaseModel):
    """Base model that rejects unknown keys."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, use_attribute_docstrings=True)


class Settings(BaseSettings):
    """Project-wide settings from ``DACSCREEN_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="DACSCREEN_", extra="forbid", use_attribute_docstrings=True)

    db: str = "data/cache/dacscreen.db"
    """Dataset store: a SQLite path or a ``postgresql://`` URL."""
    shards: Path = Path("data/labels")
    """Directory of the shipped, append-only extxyz.gz shards."""
    tracking_uri: str = "sqlite:///runs/mlflow.db"
    """MLflow tracking store."""
    artifact_root: Path = Path("runs/mlartifacts")
    """MLflow artefact directory."""
    model: Path = Path("data/models/default")
    """The shipped default model (ensemble directory)."""
    cache_dir: Path = Path("data/cache")
    """Featurised-graph cache."""
    home: Path | None = None
    """Folder that holds the shipped ``data/`` (default: the working folder when it has
    ``data/labels``, else the checkout the package was installed from with ``pip install -e``).
    The defaults of ``db``, ``shards``, ``model`` and ``cache_dir`` are relative to it, so that
    ``dacscreen`` run from any folder finds the shipped data and model; a value set through the
    environment is taken as given."""

    @model_validator(mode="after")
    def _anchor_defaults(self) -> Settings:
        home = self.home or shipped_home()
        for name in ("shards", "model", "cache_dir"):
            if name not in self.model_fields_set:
                setattr(self, name, home / getattr(self, name))
        if "db" not in self.model_fields_set:
            self.db = str(home / self.db)
        return self


def shipped_home() -> Path:
    """The working folder when it holds ``data/labels``, else the source checkout of the
    installed package when that holds it, else the working folder."""
    cwd = Path.cwd()
    checkout = Path(__file__).resolve().parents[2]
    for root in (cwd, checkout):
        if (root / "data" / "labels").is_dir():
            return root
    return cwd


class CalculatorConfig(Strict):
    """An ASE calculator chosen by name (``chgnet``, ``tblite``, ``gpaw``, ``emt``) or by
    import path ``package.module:ClassName``, with keyword arguments."""

    name: str = "chgnet"
    """Calculator name (chgnet, tblite, emt) or import path module:Class."""
    kwargs: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments passed to the calculator."""


class BuildConfig(Strict):
    """``dacscreen build``: one structure."""

    host: Literal["heptazine", "melon"] = "melon"
    """Host sheet: melon PCN (the shipped dataset's host) or heptazine g-C3N4."""
    metals: list[str] = Field(default_factory=lambda: ["Cu", "Ni"])
    """One metal (single-atom site) or two (M1, M2)."""
    adsorbate: str | None = None
    """SRR intermediate to add (S8, Li2S8, Li2S6, Li2S4, Li2S2, Li2S) or none."""
    placement: int = 0
    """Index of the symmetry-distinct metal placement."""
    orientation: str | None = None
    """Adsorbate orientation (bridge, top1, top2, flat, li_n); default the first offered."""
    supercell: tuple[int, int] | None = None
    """Supercell (nx, ny); default 2×2 heptazine, 1×2 melon."""
    allow_non_transition: bool = False
    """Allow metals that are not transition metals."""

    @field_validator("metals")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("the metal list is empty: give one metal (single atom) or two (a pair)")
        if len(v) > 2:
            raise ValueError(f"{len(v)} metals {v}: a site holds one metal (single atom) or two (a pair)")
        for s in v:
            check_element(s)
        return v


class LabelConfig(Strict):
    """``dacscreen label``: relax sites and intermediates and store them."""

    db: str | None = None
    """Dataset store (SQLite path or postgresql:// URL); default DACSCREEN_DB."""
    host: Literal["heptazine", "melon"] = "melon"
    """Host to label."""
    supercell: tuple[int, int] | None = None
    """Supercell; default per host."""
    metals: list[str] = Field(default_factory=lambda: list(DEFAULT_METALS))
    """Metal set (default: the 28 transition metals Sc–Zn, Y–Cd, Hf–Au)."""
    allow_non_transition: bool = False
    """Allow non-transition metals in the set."""
    include_single: bool = True
    """Label single-atom sites."""
    include_pairs: bool = True
    """Label metal pairs (homo and hetero)."""
    calculator: CalculatorConfig = Field(default_factory=CalculatorConfig)
    """Labeller for relaxations and energies."""
    dband_calculator: CalculatorConfig | None = Field(default_factory=lambda: CalculatorConfig(name="tblite"))
    """Electronic-structure labeller for d-band centres (null: none)."""
    fmax: float = Field(0.05, gt=0)
    """Force convergence criterion (eV/Å)."""
    steps: int = Field(300, gt=0)
    """Maximum optimiser steps per relaxation."""
    fix_radius: float = Field(6.0, gt=0)
    """Host atoms further than this (Å) from the metals are fixed."""
    optimizer: Literal["LBFGS", "FIRE", "BFGS"] = "LBFGS"
    """ASE optimiser."""
    templates: bool = True
    """Start adsorbates from the relaxed geometry of the same state on an already labelled site."""
    template_donors: int = Field(2, ge=0)
    """Further template starts, from the valid records of other sites (either size), tried
    after the first template while no start is valid; not for ``full_search_states``."""
    states: list[str] = Field(default_factory=lambda: ["clean", "Li2S2", "Li2S"])
    """States every site gets (clean and intermediates)."""
    all_states_sites: int = Field(120, ge=0)
    """How many sites (first in priority order) also get all six intermediates."""
    fail_first: list[Literal["S8", "Li2S8", "Li2S6", "Li2S4", "Li2S2", "Li2S"]] = Field(default_factory=list)
    """Intermediates each site tries first, in this order, once its core ``states`` are done
    (the rest follow in SRR order): those least often valid, so that a site whose SRR profile
    cannot be completed is known early (see ``defer_incomplete``)."""
    defer_incomplete: bool = True
    """Run the further intermediates of a site last once one of its states is exhausted (no
    valid record and no start left): its SRR profile cannot be completed, so the compute goes
    first to sites that can still get all seven states. While a site's ``fail_first`` state is
    being relaxed by another process, its other intermediates wait and the process moves on to
    the next site. Core ``states`` are never deferred."""
    placements: Literal["first", "all"] = "first"
    """Label the first placement only, or all symmetry-distinct ones."""
    max_orientations: int = Field(2, ge=1)
    """Starting orientations relaxed per adsorbate (lowest valid kept)."""
    fallback_orientations: int | None = Field(None, ge=0)
    """Further starts relaxed while every start so far is invalid (anomalous or unconverged);
    null: every offered orientation. A stored task left without a valid record resumes with
    its untried orientations up to this limit."""
    full_search_states: list[Literal["S8", "Li2S8", "Li2S6", "Li2S4", "Li2S2", "Li2S"]] = Field(
        default_factory=list
    )
    """Intermediates whose every offered orientation is relaxed (after the template start),
    the lowest valid one kept: the AdsorbML search, for states whose first valid start often
    misses the minimum (``benchmarks/results/placement_search.md``). A stored task of such a
    state with untried orientations resumes with them; a lower valid minimum then supersedes
    its earlier label (a new record; the old one keeps its energy)."""

    continue_steps: int = Field(0, ge=0)
    """Extra optimiser steps for a stored adsorbate start that hit the ``steps`` cap without an
    anomaly: it resumes once from its final geometry as a new record (orientation ``<start>+``,
    ``continues`` = the rid it extends; the anomaly checks compare with the original start), and
    the lowest valid start is then the label. ``dataset info`` counts a continued relaxation
    once, by its continuation. 0: off."""

    @property
    def max_starts(self) -> int | None:
        """Most starts relaxed per adsorbate task (None: every offered orientation)."""
        if self.fallback_orientations is None:
            return None
        return self.max_orientations + self.fallback_orientations

    workers: int = Field(1, ge=1)
    """Dask workers (LocalCluster) when > 1."""
    scheduler: str | None = None
    """Address of an existing Dask scheduler (tcp://HOST:PORT)."""
    limit: int | None = None
    """Stop after this many sites (for trials)."""
    sites: Path | None = None
    """A CSV of the sites to label, in this order, instead of every site in the default
    priority order: columns ``m1``, ``m2`` (empty for a single atom) and optionally ``host`` and
    ``placement``, as ``candidates.csv`` and ``dacscreen dft-picks`` write them. Rows of another
    host are left out."""
    references: bool = True
    """Also relax the references (Li, molecules, bulk metals, host, H2)."""
    method_label: str | None = None
    """Method string stored on the records (default: derived from the calculator, e.g. chgnet-0.4.2)."""
    single_point_of: str | None = None
    """ML+SP (AdsorbML): instead of relaxing, run one single point with ``calculator`` on the best
    relaxed record of this method (e.g. chgnet-0.4.2) for every site, state and reference it has.
    ``limit`` then counts sites that have all of ``states`` under that method."""
    single_point_steps: int = Field(0, ge=0)
    """ML+SP: relaxation steps with ``calculator`` from the source geometry before the single
    point (AdsorbML's ML+RX, a short DFT relaxation; ``fmax``, ``fix_radius`` and ``optimizer``
    apply). The record's orientation is then ``rx``; give it its own ``method_label`` if ML+SP
    records of the same calculator share the store. 0: a single point on the source geometry."""
    single_point_references: Literal["all", "adsorption"] = "all"
    """ML+SP references: all of the source method's, or only those that adsorption energies need
    (Li, the molecules, the hosts), skipping the bulk metals of E_bind (slow in DFT)."""


class ImportConfig(Strict):
    """``dacscreen dataset import``: bring your own DFT data into the store."""

    source: Path
    """A tree of VASP run folders, an extxyz file, or a CSV (formats csv and energies)."""
    format: Literal["vasp-tree", "extxyz", "csv", "energies"] = "vasp-tree"
    """vasp-tree (folders), extxyz (frames with energies), csv (labels joined to structure
    files) or energies (a table of site, state and energy without structures, e.g. from a
    paper's SI; see ``docs/byod_tutorial.md``)."""
    method: str
    """Method string stored with every record, e.g. ``vasp-pbe-d2``."""
    db: str | None = None
    """Dataset store; default DACSCREEN_DB."""
    energies_csv: Path | None = None
    """CSV of final energies keyed by folder name (else vasprun.xml, OSZICAR or OUTCAR)."""
    key_column: str = "folder"
    """energies_csv column with the folder name."""
    energy_column: str = "energy"
    """Column with the final energy (eV)."""
    file_column: str = "file"
    """format csv: column with structure file paths (any ASE format), relative to the CSV."""
    metal_column: str | None = None
    """Column with the metal (else inferred); required by format energies."""
    metal2_column: str | None = None
    """format energies: column with the second metal of a pair (empty for a single atom)."""
    placement_column: str | None = None
    """format energies: column with the builder's placement index (default 0)."""
    zpe_column: str | None = None
    """format energies: zero-point energy (eV), added to the energy."""
    ts_column: str | None = None
    """format energies: the entropy term T·S (eV, positive), subtracted from the energy. A
    column that already holds −T·S is given as ``ts_column`` with ``ts_sign: -1``."""
    ts_sign: Literal[1, -1] = 1
    """format energies: +1 if ``ts_column`` holds T·S, −1 if it holds −T·S."""
    host_column: str | None = None
    """Column appended to host_prefix to name the host."""
    state_column: str | None = None
    """Column with the state (else inferred from adsorbate atoms); required by format energies."""
    host_prefix: str = "user"
    """Host name (prefix)."""
    clean_states: list[str] = Field(default_factory=lambda: ["clean", "substrate", "slab"])
    """State names that mean the bare site."""
    adsorbate_elements: list[str] = Field(default_factory=lambda: ["H", "O", "Li", "S"])
    """Elements that make up adsorbates."""
    structure_files: list[str] = Field(default_factory=lambda: ["CONTCAR", "POSCAR"])
    """Structure file names tried in each folder."""
    allow_unconverged: bool = False
    """format vasp-tree: keep runs whose vasprun.xml is not converged (electronic or ionic)."""

    @model_validator(mode="after")
    def _energies_columns(self) -> ImportConfig:
        if self.format == "energies" and not (self.metal_column and self.state_column):
            raise ValueError("format energies needs metal_column and state_column")
        return self


class SplitConfig(Strict):
    """How data are split for evaluation."""

    kind: Literal["leave-metal-out", "random"] = "leave-metal-out"
    """leave-metal-out (default) or random (by site)."""
    test_metals: list[str] | None = None
    """Metals held out for testing; default a seeded pick (never Cu, Ni)."""
    n_test_metals: int = 5
    """How many metals to hold out when test_metals is not given."""
    val_fraction: float = 0.15
    """Fraction of training sites used for early stopping and tuning."""
    val_by: Literal["site", "metal"] = "site"
    """How validation sites are drawn: ``site``, a random subset; ``metal``, every site of a few
    seeded validation metals, as the test split holds out metals (validation then scores
    extrapolation to unseen metals)."""
    seed: int = 0
    """Seed of the split."""


class ModelConfig(Strict):
    """Architecture hyper-parameters of the GNN ensemble."""

    arch: Literal["schnet", "painn"] = "painn"
    """Backbone: schnet (CGCNN/SchNet-style) or painn (equivariant, angle-aware)."""
    hidden: int = 64
    """Hidden feature size."""
    layers: int = 3
    """Message-passing layers."""
    cutoff: float = 5.0
    """Graph cutoff radius (Å)."""
    n_rbf: int = 32
    """Gaussians in the distance expansion."""
    dropout: float = 0.0
    """Dropout in the output heads."""
    site_descriptor: bool = True
    """Add the metal-pair descriptor (elemental χ, group, period, d count, radius, IE, mass of
    both metals, |Δχ|) to the energy readout next to the learned embeddings."""
    ensemble: int = Field(5, ge=1)
    """Ensemble members K (mean and standard deviation)."""
    displacement_weight: float = Field(0.0, ge=0.0)
    """Weight of the auxiliary relaxation loss: mean squared error (Å²) of each site and
    adsorbate atom's displacement from input to relaxed position, next to the standardised
    energy loss. 0 leaves the auxiliary head out."""
    energy_reference: Literal[
        "state-mean", "descriptor-ridge", "descriptor-gp", "descriptor-gp-joint", "descriptor-gp-auto"
    ] = "state-mean"
    """What the network's energy output is added to: the mean of each state's training targets,
    a ridge regression of each state's targets on the site descriptor (the analogue of
    fairchem's linear element references), or a Gaussian process on it (the strongest
    descriptor baseline on seen metals); fitted on the training split, so that the GNN learns
    the residual the elemental descriptors leave. ``descriptor-gp-joint`` fits one Gaussian
    process over every state (the descriptor and the state's one-hot, like the descriptor
    baseline), so a state labelled on few sites borrows the metals' trends from the others:
    on new metals the per-state reference of the sparse states (S8, Li2S4, Li2S6) was 0.3–0.45
    eV behind the baseline (``benchmarks/results/correction_weight.md``), while for Li2S2 and
    Li2S the per-state GP was ahead. ``descriptor-gp-auto`` takes, per state, whichever of its
    own GP and the joint one has the lower MAE on the validation split (its own without
    validation labels)."""
    reference_folds: int = Field(0, ge=0)
    """With a descriptor reference, k > 1 cross-fits it: the network trains on each site's
    residual from a reference fitted on the other k − 1 folds of training sites (its error on
    new sites), not on the in-sample residual, which a GP shrinks to its noise. 0 (or 1) trains
    on the in-sample residual. The stored reference, fitted on every training site, is used
    for validation and prediction either way."""
    correction_weight: Literal["validation", "full"] = "validation"
    """How much of the network's correction to its energy reference a prediction for a site
    with a metal the model was not trained on keeps, per state: ``validation`` fits a weight w
    in [0, 1] on the new-metal sites of the validation split after training (the ensemble mean
    becomes reference + w × the members' mean correction; each member keeps its deviation, so
    σ is unchanged), so that where the learned embedding of an unseen metal does not help the
    prediction falls back towards the reference; ``full`` keeps all of it (w = 1). Sites of
    trained metals always keep all of it. Fitted after training, it does not change the
    members."""

    @model_validator(mode="after")
    def _joint_not_cross_fitted(self) -> ModelConfig:
        if (
            self.energy_reference in ("descriptor-gp-joint", "descriptor-gp-auto")
            and self.reference_folds > 1
        ):
            raise ValueError(
                f"energy_reference {self.energy_reference} is not cross-fitted: set reference_folds 0"
            )
        return self


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
    """Dataset store; default DACSCREEN_DB."""
    method: str | list[str] | None = None
    """One method, or a fidelity list (highest first: each site uses its best method); default:
    the first method found."""
    host: str | None = None
    """Train on this host only (default: all)."""
    correction_method: str | None = None
    """A higher-fidelity method (e.g. ``gpaw-lcao-pbe-d3``) whose labels on sites shared with
    the training method are shipped in the model as a fidelity map (a Gaussian process);
    ``screen`` then adds ``*_dft`` columns for the states it covers."""
    correction_kind: Literal["nargp", "delta", "auto"] = "auto"
    """The fidelity map: ``nargp`` learns y_high = g(x, y_low) on the site descriptor x and the
    low-fidelity value; ``delta`` learns y_high − y_low from x alone; ``auto`` picks the one with
    the lower error in a leave-metal-out cross-validation over the shared sites (see
    ``benchmarks/results/multifidelity.md``)."""
    targets: list[str] = Field(default_factory=lambda: ["Li2S2", "Li2S"])
    """States whose graph-level target is learned."""
    target_definitions: dict[str, TargetSpec] | None = None
    """None: the SRR preset for every target (E_ads against the isolated molecule)."""
    complete_search_only: list[str] = Field(default_factory=list)
    """Targets learnt only from labels whose placement search started every offered
    orientation (:func:`dacscreen.data.label_rules.search_complete`); a label from fewer
    starts is an upper bound on the lowest state and is left out (training, validation, test
    and the baselines alike). Imported and single-point records count as complete."""
    clean_target: Literal["e_bind", "none"] = "e_bind"
    """Graph-level target of clean sites: E_bind (needs host, bulk and H2 references) or none."""
    input_mode: Literal["as-built", "relaxed-site", "relaxed"] = "as-built"
    """as-built: builder site + builder adsorbate (screening); relaxed-site: relaxed clean site +
    builder adsorbate; relaxed: the relaxed structure itself (property prediction)."""
    orientations: Literal["labelled", "all"] = "labelled"
    """Adsorbate placements a model is trained on and pools over. ``labelled``: the start whose
    relaxation gave the label; predictions keep the lowest E_ads over the offered orientations.
    ``all``: every offered orientation carries the site's label (the model learns E_ads as a
    property of the site, not of the start); predictions average over them. Not used with
    ``input_mode: relaxed``."""
    model: ModelConfig = Field(default_factory=ModelConfig)
    """Architecture hyper-parameters."""
    split: SplitConfig = Field(default_factory=SplitConfig)
    """Evaluation split."""
    epochs: int = 150
    """Maximum epochs per member."""
    batch_size: int = 16
    """Graphs per batch."""
    lr: float = 2e-3
    """AdamW learning rate."""
    weight_decay: float = 1e-5
    """AdamW weight decay."""
    patience: int = 30
    """Early-stopping patience (epochs without validation improvement)."""
    device: str = "auto"
    """auto (CUDA when present), cpu or cuda."""
    devices: int = Field(1, ge=1)
    """Data-parallel processes (torchrun + DistributedDataParallel): one per GPU, or gloo
    processes on a CPU machine. 1 trains in this process."""
    amp: bool = True
    """bfloat16 autocast on CUDA."""
    num_workers: int = 0
    """DataLoader worker processes."""
    out: Path = Path("runs/model")
    """Directory of the trained ensemble."""
    experiment: str = "dacscreen"
    """MLflow experiment name."""
    registered_model: str | None = "dacscreen"
    """MLflow registry name the trained ensemble is registered under (a new version per run;
    use it as ``--model models:/NAME/VERSION``); None skips the registry."""
    seed: int = 0
    """Seed of member 0 (member k uses seed + k)."""


class TuneConfig(Strict):
    """``dacscreen tune``: Optuna search over :class:`ModelConfig` on the validation split."""

    train: TrainConfig = Field(default_factory=TrainConfig)
    """The training config whose model section is searched."""
    n_trials: int = 20
    """Finished trials the study should hold."""
    storage: str = "sqlite:///runs/optuna.db"
    """Optuna storage URL."""
    study: str = "dacscreen"
    """Study name (resumed if it exists)."""
    heartbeat_s: int = Field(30, ge=1)
    """Trial heartbeat (s). A trial of a killed run stops beating; after two missed beats the
    next run marks it failed, so a resumed study never waits on it."""


class RankingConfig(Strict):
    """Screening filters and score (SCIENCE.md §8). Energies in eV. Pairs are ranked; single
    atoms are reference rows (``docs/science.md``, "Ranking")."""

    max_delta_chi: float = Field(0.3, ge=0.0, allow_inf_nan=False)
    """Electronegativity-match filter |Δχ| ≤ this."""
    li2s2_window: tuple[float, float] | None = None
    """Accepted E_ads(Li2S2) window (eV); None: derived from the data (``window_quantiles`` of
    the screened pairs, widened to hold the reference pair ± ``window_margin``)."""
    li2s_window: tuple[float, float] | None = None
    """Accepted E_ads(Li2S) window (eV); None: derived from the data like ``li2s2_window``."""
    window_quantiles: tuple[float, float] = (0.1, 0.9)
    """Quantiles of the screened pairs' E_ads that bound a derived window: the strongest tenth
    (Li2S hard to oxidise back) and the weakest tenth (too weak to anchor) fail by default."""
    window_margin: float = Field(0.3, ge=0.0, allow_inf_nan=False)
    """A derived window always holds the reference pair's value ± this (eV)."""
    max_e_bind: float | None = Field(None, allow_inf_nan=False)
    """Absolute E_bind threshold (eV); None: E_bind ≤ E_bind(reference pair) + margin."""
    stability_reference: tuple[str, str] = ("Cu", "Ni")
    """The experimentally made pair that defines 'stable enough' (CHGNet E_bind vs bulk is > 0)."""
    stability_margin: float = Field(0.5, ge=0.0, allow_inf_nan=False)
    """Margin (eV) above the reference pair's E_bind."""
    w_dg: float = Field(1.0, ge=0.0, allow_inf_nan=False)
    """Score weight of −ΔG_RDS."""
    w_binding: float = Field(0.2, ge=0.0, allow_inf_nan=False)
    """Score penalty per eV of E_ads(Li2S) outside its window."""
    w_uncertainty: float = Field(0.0, ge=0.0, allow_inf_nan=False)
    """Score penalty per eV of σ(ΔG_RDS)."""
    acquisition: Literal["ucb", "ei", "greedy"] = "ucb"
    """DFT-verification acquisition: ucb, ei or greedy."""
    kappa: float = Field(1.0, ge=0.0, allow_inf_nan=False)
    """UCB exploration weight κ."""

    @field_validator("li2s2_window", "li2s_window", "window_quantiles")
    @classmethod
    def _ordered(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and not (math.isfinite(v[0]) and math.isfinite(v[1]) and v[0] < v[1]):
            raise ValueError(f"must be two finite numbers, low < high (got {list(v)})")
        return v

    @field_validator("window_quantiles")
    @classmethod
    def _quantiles(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0.0 <= v[0] < v[1] <= 1.0:
            raise ValueError(f"quantiles must satisfy 0 <= low < high <= 1 (got {list(v)})")
        return v


class ScreenConfig(Strict):
    """``dacscreen screen``: predict and rank every site of the space."""

    host: Literal["heptazine", "melon"] = "melon"
    """Host to screen."""
    metals: list[str] = Field(default_factory=lambda: list(DEFAULT_METALS))
    """Metal set."""
    allow_non_transition: bool = False
    """Allow non-transition metals."""
    include_single: bool = True
    """Screen the single-atom sites too, as reference rows beside the pairs (never ranked)."""
    normalisation: Literal["per-product", "two-electron", "cumulative"] = "per-product"
    """How the SRR steps are written (``docs/science.md``): per product (the Li–S literature's
    form, default), two-electron, or cumulative per S8. Every output names it."""
    model: Path | None = None
    """Trained ensemble directory (default: the shipped model)."""
    ranking: RankingConfig = Field(default_factory=RankingConfig)
    """Filters, score and acquisition."""
    top: int = Field(15, ge=1)
    """Rows of the top-K table."""
    mu_li_offset_v: float = 0.0
    """Anode offset (V) reported alongside potentials vs Li/Li+ (Li–In: 0.62)."""
    chunk_size: int = Field(32, ge=1)
    """Sites predicted per chunk (bounds memory; the unit of work for Dask workers)."""
    placements: Literal["first", "all"] = "first"
    """Screen the first placement of every site, or every symmetry-distinct placement."""
    workers: int = Field(1, ge=0)
    """Dask LocalCluster worker processes (1: in this process; 0: one per CPU core)."""
    scheduler: str | None = None
    """Address of an existing Dask scheduler (tcp://HOST:PORT) to screen on."""
    track: bool = True
    """Log each ``dacscreen screen`` as an MLflow run (experiment ``screening``: the config,
    the counts, candidates.csv and report.html), viewable with ``dacscreen dashboard``."""


class LoopConfig(Strict):
    """``dacscreen loop``: rounds of train → screen → pick → verify → ingest."""

    rounds: int = Field(1, ge=1)
    """Active-learning rounds to run."""
    batch: int = Field(4, ge=1)
    """Sites verified per round (highest acquisition value, not yet verified)."""
    train: TrainConfig = Field(default_factory=TrainConfig)
    """Training config; its method becomes [verifier, base] so verified sites win."""
    screen: ScreenConfig = Field(default_factory=ScreenConfig)
    """Screening config (its model is replaced by each round's model)."""
    verify: LabelConfig = Field(default_factory=lambda: LabelConfig(method_label="verify"))
    """How verification jobs run: an ASE calculator (DFT, or an MLIP standing in for it)."""
    base_method: str = "chgnet-0.4.2"
    """The low-fidelity method of the existing dataset."""
    out: Path = Path("runs/loop")
    """Where each round's model, screening and jobs go."""


M = TypeVar("M", bound=BaseModel)


class UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that rejects a key given twice in one mapping (where plain YAML
    loaders silently keep the last value)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def default_model(given: Path | str | None = None) -> Path | str:
    """The model a command uses: ``given`` (a directory or a ``models:/`` URI), else the
    settings' shipped model (``DACSCREEN_MODEL``, or ``data/models/default``)."""
    return given or Settings().model


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
            loaded = yaml.load(p.read_text(), Loader=UniqueKeyLoader)  # a SafeLoader
        except yaml.YAMLError as exc:
            raise ConfigError(f"{where}: malformed YAML: {' '.join(str(exc).split())}") from exc
        if loaded is None:
            raise ConfigError(f"{where}: the config file is empty (leave out --config for the defaults)")
        if not isinstance(loaded, dict):
            raise ConfigError(f"{where}: top level must be a mapping of keys")
        data = loaded
    for key, value in (overrides or {}).items():
        if value is not None:
            data[key] = value
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        flags = {k for k, v in (overrides or {}).items() if v is not None}
        raise ConfigError(_describe(exc, where, flags)) from exc


def _describe(exc: ValidationError, where: str, flags: set[str] = frozenset()) -> str:
    """One line per error, naming the file and key, or the command-line option in ``flags``."""
    lines = []
    for err in exc.errors():
        key = ".".join(str(x) for x in err["loc"]) or "<root>"
        if err["loc"] and err["loc"][0] in flags:
            lines.append(
                f"--{str(err['loc'][0]).replace('_', '-')}: {err['msg'].removeprefix('Value error, ')}"
            )
        elif err["type"] == "extra_forbidden":
            lines.append(f"{where}: unknown key '{key}'")
        else:
            lines.append(f"{where}: key '{key}': {err['msg']}")
    return "\n".join(lines)


CONFIG_MODELS: dict[str, type[BaseModel]] = {
    "build (dacscreen build)": BuildConfig,
    "label (dacscreen label; configs/label.yaml)": LabelConfig,
    "import (dacscreen dataset import; configs/import_sac_hoer.yaml)": ImportConfig,
    "train (dacscreen train / evaluate; configs/train.yaml)": TrainConfig,
    "tune (dacscreen tune)": TuneConfig,
    "screen (dacscreen screen; configs/screen.yaml)": ScreenConfig,
    "settings (environment variables DACSCREEN_<NAME>)": Settings,
}


def _field_table(model: type[BaseModel]) -> list[str]:
    """Markdown table of a model's keys: type, default and meaning."""
    out = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        default = "required" if field.is_required() else repr(field.get_default(call_default_factory=True))
        ann = field.annotation
        typ = ann.__name__ if isinstance(ann, type) else str(ann).replace("typing.", "")
        typ = typ.replace("|", "\\|").replace("dacscreen.config.", "")
        doc = (field.description or "").replace("\n", " ").replace("|", "\\|")
        out.append(f"| `{name}` | `{typ}` | `{default}` | {doc} |")
    return [*out, ""]


def _nested_models(model: type[BaseModel]) -> list[tuple[str, type[BaseModel]]]:
    """(key, model) of the fields that are config sections themselves (``model``, ``split`` ...)."""
    out = []
    for name, field in model.model_fields.items():
        for t in (field.annotation, *get_args(field.annotation)):
            if isinstance(t, type) and issubclass(t, BaseModel):
                out.append((name, t))
    return out


def reference_markdown() -> str:
    """The configuration reference (docs/configuration.md), generated from the models."""
    out = [
        "# Configuration reference",
        "",
        "Generated from `dacscreen.config`:",
        "`python -c 'from dacscreen.config import reference_markdown as r; print(r())'`.",
        "Every YAML config rejects unknown keys with an error naming the key and the file; CLI flags",
        "override config values.",
        "",
    ]
    seen: set[type[BaseModel]] = set(CONFIG_MODELS.values())
    for title, model in CONFIG_MODELS.items():
        out += [f"## {title}", "", *_field_table(model)]
        for name, nested in _nested_models(model):
            if nested not in seen:
                seen.add(nested)
                out += [f"### `{name}` ({nested.__name__})", "", *_field_table(nested)]
    return "\n".join(out)
