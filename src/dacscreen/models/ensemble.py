"""Deep ensembles of :class:`MultiTaskGNN`: mean and standard deviation of K members.

A saved model is a directory with ``meta.json`` (config, featuriser settings, target scaling,
provenance) and ``weights.pt`` (tensors only, loaded with ``weights_only=True``): a model file
is data, never code.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import ValidationError
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

from dacscreen.allocator import tune_allocator
from dacscreen.config import ModelConfig
from dacscreen.errors import ModelError
from dacscreen.featurize.descriptors import one_hot
from dacscreen.featurize.graphs import FEATURIZER_VERSION, GraphSettings
from dacscreen.models.ensemble_meta import EnsembleMeta
from dacscreen.models.layers import field_subgraph
from dacscreen.models.multitask import MultiTaskGNN
from dacscreen.models.reference import (
    AUTO_REFERENCE,
    JOINT_REFERENCE,
    Reference,
    fit_reference,
    out_of_fold,
    reference_std,
    reference_value,
    with_state,
)

OWN_KEYS = {"model", "featurizer", "scaling", "n_members", "format"}
"""``meta.json`` keys the ensemble keeps as its own fields; the rest is its :class:`EnsembleMeta`."""
MIN_STATE_SAMPLES = 3
"""Fewest labelled graphs of a state for it to get its own standardisation."""
MIN_STATE_STD = 0.1
"""Floor (eV) on a state's standard deviation, so a near-constant state cannot blow up its loss."""


@dataclass
class Scaling:
    """Standardisation of the targets (eV).

    ``per_state`` maps a graph's state key (:func:`dacscreen.featurize.graphs.state_key`: the
    adsorbate formula, or ``clean``) to the ``[mean, std]`` of its graph-level target. E_bind of
    a clean site and the E_ads of each adsorbate lie eV apart, so one global standardisation
    would spend most of the loss on those offsets and leave the differences between sites,
    the quantity screening ranks, a small share of it. States with too few labels fall back
    to the global ``ads_mean``/``ads_std``.

    ``reference`` (``energy_reference: descriptor-ridge`` or ``descriptor-gp``) maps a state
    to a regression of its targets on the graph's ``site_x`` (:mod:`dacscreen.models.reference`:
    ridge coefficients or a Gaussian process's numbers, eV); the per-graph mean is then that
    prediction and the state's std that of the training residuals. With ``descriptor-gp-joint``
    one Gaussian process over every state (``joint``, its inputs ``site_x`` and the state's
    one-hot) is the reference, and each state's entry is ``{"kind": "joint", "suffix": one-hot}``;
    with ``descriptor-gp-auto`` each state's entry is that or its own GP, whichever has the lower
    MAE on the validation graphs (:func:`_state_reference`).
    """

    ads_mean: float = 0.0
    ads_std: float = 1.0
    db_mean: float = 0.0
    db_std: float = 1.0
    per_state: dict[str, list[float]] = field(default_factory=dict)
    reference: dict[str, Reference] = field(default_factory=dict)
    joint: dict[str, Any] | None = None

    @classmethod
    def fit(cls, graphs: list[Data], energy_reference: str = "state-mean") -> Scaling:
        """Mean and std of the finite targets of ``graphs``, globally and per state (or, with
        a descriptor reference, that reference and the residual std per state)."""
        return cls._fit(graphs, energy_reference, 0)[0]

    @classmethod
    def for_training(
        cls,
        graphs: list[Data],
        energy_reference: str = "state-mean",
        folds: int = 0,
        val: list[Data] | None = None,
    ) -> tuple[Scaling, list[Data]]:
        """The scaling of :meth:`fit` and the training graphs to train on. With ``folds`` > 1 and
        a descriptor reference, cross-fitted: each graph (a shallow copy) carries ``ref_shift``,
        its out-of-fold reference minus the stored one (eV,
        :func:`~dacscreen.models.reference.out_of_fold`), so the network learns the residual
        the reference leaves on sites it was not fitted to, and each state's std is that of
        those residuals; validation and inference use the stored reference alone. ``val``
        (validation graphs) chooses each state's reference with ``descriptor-gp-auto``."""
        scaling, shift = cls._fit(graphs, energy_reference, folds, val)
        if shift is None:
            return scaling, graphs
        copies = [copy.copy(g) for g in graphs]
        for g, value in zip(copies, shift, strict=True):
            g.ref_shift = torch.tensor([value], dtype=torch.float32)
        return scaling, copies

    @classmethod
    def _fit(
        cls, graphs: list[Data], energy_reference: str, folds: int, val: list[Data] | None = None
    ) -> tuple[Scaling, np.ndarray | None]:
        """The scaling and, cross-fitted, each graph's reference shift (eV; None otherwise)."""
        ads = torch.cat([g.y_ads for g in graphs]).numpy()
        db = torch.cat([g.y_dband for g in graphs]).numpy()
        states = np.array([getattr(g, "state", "") for g in graphs])
        site_x = np.concatenate([g.site_x.numpy() for g in graphs]) if graphs else np.zeros((0, 0))
        ok = np.isfinite(ads)
        cross = folds > 1 and energy_reference != "state-mean"
        shift = np.zeros(len(graphs)) if cross else None
        per_state, reference = {}, {}
        counts = {str(k): int((ok & (states == k)).sum()) for k in np.unique(states[ok]) if k}
        fitted = [k for k, n in counts.items() if n >= MIN_STATE_SAMPLES]
        joint = None
        if energy_reference in (JOINT_REFERENCE, AUTO_REFERENCE) and fitted:
            use = ok & np.isin(states, fitted)
            joint, _ = fit_reference("descriptor-gp", with_state(site_x[use], states[use], fitted), ads[use])
        held = _labelled(val or [])
        for k in fitted:
            sel = ok & (states == k)
            values = ads[sel]
            if energy_reference != "state-mean":
                on_val = tuple(a[held[2] == k] for a in held[:2])
                reference[k] = _state_reference(
                    energy_reference, k, (site_x[sel], values), joint, fitted, on_val
                )
                values = values - _reference_value(reference[k], joint, site_x[sel])
            if shift is not None:
                oof = out_of_fold(energy_reference, site_x[sel], ads[sel], folds)
                shift[sel] = oof - (ads[sel] - values)
                values = ads[sel] - oof
            per_state[str(k)] = [float(values.mean()), max(float(values.std()), MIN_STATE_STD)]
        ads, db = ads[ok], db[np.isfinite(db)]
        scaling = cls(
            float(ads.mean()) if len(ads) else 0.0,
            float(ads.std() + 1e-3) if len(ads) > 1 else 1.0,
            float(db.mean()) if len(db) else 0.0,
            float(db.std() + 1e-3) if len(db) > 1 else 1.0,
            per_state,
            reference,
            joint if any(_is_joint(r) for r in reference.values()) else None,
        )
        return scaling, shift

    def ads_stats(self, batch: Data) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-graph mean and std (eV) of the graph-level target of ``batch``."""
        states = getattr(batch, "state", None)
        n = int(getattr(batch, "num_graphs", 1))
        keys = [states] if isinstance(states, str) else list(states or [""] * n)
        fallback = [self.ads_mean, self.ads_std]
        stats = torch.tensor([self.per_state.get(k, fallback) for k in keys], dtype=torch.float32)
        mean = stats[:, 0] + self._reference(keys, batch)
        shift = getattr(batch, "ref_shift", None)  # cross-fitted training graphs (for_training)
        if shift is not None:
            mean = mean + shift.cpu()
        return mean.to(batch.tags.device), stats[:, 1].to(batch.tags.device)

    def _reference(self, keys: list[str], batch: Data) -> torch.Tensor:
        """Per-graph descriptor reference (eV; 0 for states without one)."""
        return torch.from_numpy(self._per_state(reference_value, keys, batch.site_x)).float()

    def reference_std(self, graphs: list[Data]) -> np.ndarray:
        """Per-graph predictive σ (eV) of the state's descriptor reference (0 without one)."""
        keys = [getattr(g, "state", "") for g in graphs]
        if not graphs or not self.reference:
            return np.zeros(len(graphs))
        return self._per_state(reference_std, keys, torch.cat([g.site_x for g in graphs]))

    def _per_state(
        self, fn: Callable[[Reference, np.ndarray], np.ndarray], keys: list[str], site_x: torch.Tensor
    ) -> np.ndarray:
        """``fn(reference, site_x rows)`` of each graph's state reference (0 where it has none)."""
        out = np.zeros(len(keys))
        if not self.reference:
            return out
        x = site_x.detach().cpu().double().numpy()
        for k in set(keys) & set(self.reference):
            rows = [i for i, key in enumerate(keys) if key == k]
            distinct, inverse = np.unique(x[rows], axis=0, return_inverse=True)  # a site's orientations
            out[rows] = fn(*_resolved(self.reference[k], self.joint, distinct))[inverse.reshape(-1)]
        return out


@dataclass
class Ensemble:
    """K trained members plus everything needed to use them."""

    members: list[MultiTaskGNN]
    config: ModelConfig
    settings: GraphSettings
    scaling: Scaling
    meta: EnsembleMeta = field(default_factory=EnsembleMeta)

    def to(self, device: str | torch.device) -> Ensemble:
        """Move members to ``device``."""
        for m in self.members:
            m.to(device)
        return self

    @torch.no_grad()
    def predict(
        self,
        graphs: list[Data],
        batch_size: int = 128,
        device: str = "cpu",
        weights: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """Per-graph E_ads mean/std (eV) and per-graph d-band mean/std of up to two metals;
        ``weights`` (per graph; default 1) scale the members' mean correction to the energy
        reference (:meth:`correction_weights`).

        Returns arrays ``e_ads``, ``e_ads_std`` (n,), ``dband``, ``dband_std`` (n, 2), and the
        per-member values ``e_ads_members`` (K, n) and ``dband_members`` (K, n, 2).
        """
        tune_allocator()
        self.to(device)
        layers = self.config.layers
        # collated and pruned to the site's receptive field once, for every member
        batches = [field_subgraph(b, layers).to(device) for b in DataLoader(graphs, batch_size=batch_size)]
        stats = [self.scaling.ads_stats(b) for b in batches]
        per_member_e, per_member_d = [], []
        for model in self.members:
            model.eval()
            es, ds = [], []
            for batch, (mean, std) in zip(batches, stats, strict=True):
                e, d, _ = model(batch, inference=True)
                es.append((e.float() * std + mean).cpu())
                ds.append(_metal_pairs(d.float().cpu() * self.scaling.db_std + self.scaling.db_mean, batch))
            per_member_e.append(torch.cat(es))
            per_member_d.append(torch.cat(ds))
        states = [getattr(g, "state", "") for g in graphs]
        members_e = torch.stack(per_member_e).numpy()
        if weights is not None and np.any(weights != 1.0):
            reference = torch.cat([mean.cpu() for mean, _ in stats]).numpy()
            members_e = members_e - (1.0 - weights) * (members_e.mean(axis=0) - reference)
        e = _spread(
            members_e,
            self.e_ads_scale(states),
            self.scaling.reference_std(graphs),
        )
        d = _spread(torch.stack(per_member_d).numpy(), self.std_scale.get("dband", 1.0))
        return {
            "e_ads": e.mean(0),
            "e_ads_std": e.std(0),
            "dband": d.mean(0),
            "dband_std": d.std(0),
            "e_ads_members": e,
            "dband_members": d,
        }

    def correction_weights(self, states: Sequence[str], metals: Sequence[Sequence[str]]) -> np.ndarray:
        """Per query (its state and metals), the share of the members' mean correction to the
        energy reference that its prediction keeps: the state's fitted weight for a query with
        a metal outside ``meta.train_metals``, else 1 (:mod:`dacscreen.models.shrinkage`). Each
        member keeps its deviation from the mean, so σ is unchanged."""
        seen, w = set(self.meta.train_metals), self.meta.correction_weight
        return np.array(
            [w.get(st, 1.0) if set(m) - seen else 1.0 for st, m in zip(states, metals, strict=True)]
        )

    def e_ads_scale(self, states: list[str]) -> np.ndarray:
        """Per graph, the σ-scale of its state (``e_ads:<state>``: E_bind of a clean site and
        E_ads of each adsorbate err on their own scales), else the overall ``e_ads`` factor."""
        s = self.std_scale
        return np.array([s.get(f"e_ads:{st}", s.get("e_ads", 1.0)) for st in states])

    @property
    def std_scale(self) -> dict[str, float]:
        """Factors on the members' spread about their mean, fitted by
        :func:`dacscreen.models.calibration.recalibrate`."""
        return self.meta.std_scale

    def save(self, path: Path) -> None:
        """Write ``meta.json`` and ``weights.pt`` into directory ``path`` (atomically)."""
        path.mkdir(parents=True, exist_ok=True)
        weights = {
            f"{k}.{name}": t.detach().cpu()
            for k, m in enumerate(self.members)
            for name, t in m.state_dict().items()
        }
        meta = {
            "format": "dacscreen-ensemble-1",
            "n_members": len(self.members),
            "model": self.config.model_dump(),
            "featurizer": asdict(self.settings),
            "scaling": asdict(self.scaling),
            **self.meta.to_json(),
        }
        tmp_w, tmp_m = path / "weights.pt.tmp", path / "meta.json.tmp"
        torch.save(weights, tmp_w)
        tmp_m.write_text(json.dumps(meta, indent=2, default=str))
        tmp_w.rename(path / "weights.pt")
        tmp_m.rename(path / "meta.json")

    @classmethod
    def load(cls, path: Path | str) -> Ensemble:
        """Load a saved ensemble from a directory or a registry URI (``models:/NAME/VERSION``);
        raise ModelError naming the path on any problem."""
        from dacscreen.models.registry import resolve

        path = resolve(path)
        meta_p, w_p = Path(path) / "meta.json", Path(path) / "weights.pt"
        if not meta_p.is_file() or not w_p.is_file():
            raise ModelError(f"{path}: not a dacscreen model (needs meta.json and weights.pt)")
        try:
            meta = json.loads(meta_p.read_text())
        except json.JSONDecodeError as exc:
            raise ModelError(f"{meta_p}: corrupt model metadata: {exc}") from exc
        version = meta.get("featurizer", {}).get("version")
        if version != FEATURIZER_VERSION:
            raise ModelError(
                f"{path}: trained with featuriser version {version}, this dacscreen has "
                f"{FEATURIZER_VERSION}; retrain the model (dacscreen train)"
            )
        try:
            weights = torch.load(w_p, weights_only=True, map_location="cpu")
        except Exception as exc:
            raise ModelError(f"{w_p}: cannot load weights safely: {exc}") from exc
        config = ModelConfig.model_validate(meta["model"])
        members = []
        for k in range(meta["n_members"]):
            m = MultiTaskGNN(config)
            prefix = f"{k}."
            m.load_state_dict({n[len(prefix) :]: t for n, t in weights.items() if n.startswith(prefix)})
            members.append(m)
        own = {k: v for k, v in meta.items() if k not in OWN_KEYS}
        try:
            extra = EnsembleMeta.model_validate(own)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(map(str, err["loc"]))
            raise ModelError(f"{meta_p}: invalid model metadata: {where}: {err['msg']}") from exc
        return cls(members, config, GraphSettings(**meta["featurizer"]), Scaling(**meta["scaling"]), extra)


def _is_joint(ref: Reference) -> bool:
    return isinstance(ref, dict) and ref.get("kind") == "joint"


def _resolved(ref: Reference, joint: dict[str, Any] | None, x: np.ndarray) -> tuple[Reference, np.ndarray]:
    """The reference to evaluate and its inputs: a state's own, or the joint GP with the
    state's one-hot appended to the rows of ``x``."""
    if _is_joint(ref):
        return joint or {}, np.hstack([x, np.tile(ref["suffix"], (len(x), 1))])  # type: ignore[index]
    return ref, x


def _reference_value(ref: Reference, joint: dict[str, Any] | None, x: np.ndarray) -> np.ndarray:
    return reference_value(*_resolved(ref, joint, x))


def _labelled(graphs: list[Data]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``site_x``, target (eV) and state of the labelled ``graphs``."""
    if not graphs:
        return np.zeros((0, 0)), np.zeros(0), np.zeros(0, dtype=str)
    y = torch.cat([g.y_ads for g in graphs]).numpy()
    ok = np.isfinite(y)
    x = np.concatenate([g.site_x.numpy() for g in graphs])
    return x[ok], y[ok], np.array([getattr(g, "state", "") for g in graphs])[ok]


def _state_reference(
    kind: str,
    state: str,
    train: tuple[np.ndarray, np.ndarray],
    joint: dict[str, Any] | None,
    states: list[str],
    val: tuple[np.ndarray, ...],
) -> Reference:
    """The ``kind`` reference of ``state`` from its training ``(site_x, targets)``: its own
    ridge or GP, its entry in the ``joint`` GP, or with ``descriptor-gp-auto`` whichever of its
    own GP and the joint one has the lower MAE on its validation ``(site_x, targets)`` (its own
    where it has no validation labels)."""
    shared = {"kind": "joint", "suffix": one_hot(state, states).tolist()}
    if kind == JOINT_REFERENCE:
        return shared
    own = fit_reference("descriptor-gp" if kind == AUTO_REFERENCE else kind, *train)[0]
    if kind != AUTO_REFERENCE or not len(val[1]):
        return own
    mae = [np.mean(np.abs(_reference_value(r, joint, val[0]) - val[1])) for r in (own, shared)]
    return shared if mae[1] < mae[0] else own


def _spread(
    members: np.ndarray, scale: float | np.ndarray, extra_std: np.ndarray | None = None
) -> np.ndarray:
    """Members' values with their deviation from the ensemble mean (axis 0) widened so that
    their spread is ``scale`` × √(σ_members² + extra_std²) (``scale``: one factor, or one per
    entry of axis 1; ``extra_std``: per entry of axis 1, the σ the members cannot show, the
    shared reference's). Each member keeps its own deviations, so quantities derived member by
    member (ΔG) widen with it. Entries whose members agree exactly keep the plain factor."""
    mean = members.mean(axis=0, keepdims=True)
    factor = np.broadcast_to(np.asarray(scale, dtype=float), members.shape[1 : 1 + np.ndim(scale)]).copy()
    if extra_std is not None and np.any(extra_std > 0):
        sd = members.std(axis=0)
        ok = sd > 1e-12
        factor[ok] *= np.sqrt(sd[ok] ** 2 + extra_std[ok] ** 2) / sd[ok]
    if np.all(factor == 1.0):
        return members
    factor = factor.reshape(factor.shape + (1,) * (members.ndim - 1 - factor.ndim))
    return mean + factor * (members - mean)


def _metal_pairs(node_values: torch.Tensor, batch: Data) -> torch.Tensor:
    """(n_graphs, 2) values of the first two metal nodes of each graph (M1, M2; M2 = M1 for a
    single atom; NaN for a graph without a metal). Nodes of a batch are ordered by graph."""
    n = int(batch.num_graphs)
    out = torch.full((n, 2), float("nan"))
    metal = (batch.tags == 1).nonzero().flatten().cpu()
    if len(metal) == 0:
        return out
    owner = batch.batch.cpu()[metal]
    counts = torch.bincount(owner, minlength=n)
    starts = torch.cumsum(counts, 0) - counts
    has = counts > 0
    first = metal[starts[has]]
    second = metal[torch.where(counts[has] > 1, starts[has] + 1, starts[has])]
    values = node_values.cpu()
    out[has, 0] = values[first]
    out[has, 1] = values[second]
    return out
