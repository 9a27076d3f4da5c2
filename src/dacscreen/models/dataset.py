"""Dataset preparation for ``train`` and ``evaluate``: samples of one method from the store,
their split (leave-metal-out or random) and their graphs, featurised once and cached.

The test split is used only for the final report, never for early stopping or tuning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dacscreen.config import Settings, TrainConfig
from dacscreen.data.store import Store, open_store
from dacscreen.errors import DacscreenError
from dacscreen.featurize.graphs import GraphSettings
from dacscreen.featurize.samples import (
    Sample,
    build_graphs,
    collect_samples,
    orientation_variants,
    reference_table,
)
from dacscreen.models import ddp
from dacscreen.models.correction import Correction
from dacscreen.models.splits import leave_metal_out, pick_test_metals, random_split

MIN_SAMPLES = 4


@dataclass
class Prepared:
    """Samples, graphs and split indices for one config."""

    samples: list[Sample]
    graphs: list[Any]
    train: list[int]
    val: list[int]
    test: list[int]
    test_metals: list[str]
    settings: GraphSettings
    references: dict[str, float]
    correction: Correction | None = None
    dband_method: str = ""
    variants: list[list[Any]] = field(default_factory=list)
    """Per sample, the graphs of its other orientations (``orientations: all``), else empty."""

    def training_graphs(self, idx: list[int]) -> list[Any]:
        """The graphs of samples ``idx`` with their orientation variants."""
        return [g for i in idx for g in [self.graphs[i], *(self.variants[i] if self.variants else [])]]


def prepare_once(cfg: TrainConfig) -> Prepared:
    """:func:`prepare` in rank 0 first, so that data-parallel processes read its graph cache
    instead of racing to write it."""
    p = prepare(cfg) if ddp.rank() == 0 else None
    ddp.barrier()
    return p or prepare(cfg)


def prepare(cfg: TrainConfig, settings: Settings | None = None, graphs: bool = True) -> Prepared:
    """Load samples of one method from the store, split them and featurise them (cached;
    ``graphs=False`` for the descriptor baselines alone)."""
    s = settings or Settings()
    store = open_store(cfg.db or s.db, s.shards)
    samples = [
        x
        for x in collect_samples(store, cfg.method, cfg.host, cfg.target_definitions, cfg.clean_target)
        if x.state == "clean"
        or (x.state in cfg.targets and (x.search_complete or x.state not in cfg.complete_search_only))
    ]
    if len(samples) < MIN_SAMPLES:
        raise DacscreenError(f"{store.url}: only {len(samples)} labelled samples; label more data first")
    if cfg.split.kind == "leave-metal-out":
        held = cfg.split.test_metals or pick_test_metals(samples, cfg.split.n_test_metals, cfg.split.seed)
        tr, va, te = leave_metal_out(samples, held, cfg.split.val_fraction, cfg.split.seed, cfg.split.val_by)
    else:
        held = []
        tr, va, te = random_split(samples, (cfg.split.val_fraction, cfg.split.val_fraction), cfg.split.seed)
    gs = GraphSettings(cutoff=cfg.model.cutoff)
    method = samples[0].method if isinstance(cfg.method, list) or cfg.method is None else cfg.method
    refs = reference_table(store, method)
    if not graphs:
        return Prepared(samples, [], tr, va, te, held, gs, refs, None, dband_method(store, method))
    check_structures(samples, cfg.input_mode, store.url)
    built = build_graphs(samples, cfg.input_mode, gs, s.cache_dir / "graphs")
    corr = _correction(store, cfg, samples)
    variants = variant_graphs(samples, cfg, gs, s.cache_dir / "graphs")
    return Prepared(samples, built, tr, va, te, held, gs, refs, corr, dband_method(store, method), variants)


def check_structures(samples: list[Sample], mode: str, where: str) -> None:
    """Refuse GNN training on samples without a structure the model can be given: records of an
    energies-only import that the platform could not build, or (``input_mode: relaxed``)
    platform-built records that were never relaxed."""
    from dacscreen.data.hosts import HOSTS

    usable = ("relaxed",) if mode == "relaxed" else ("relaxed", "built")
    bad = [s for s in samples if s.structure not in usable]
    if bad:
        first = bad[0]
        raise DacscreenError(
            f"{where}: {len(bad)} of {len(samples)} samples have no structure for a GNN in input mode "
            f"{mode} (e.g. {first.host}|{first.m1}|{first.m2}|{first.state}: {first.structure}); "
            "`dacscreen evaluate --config ...` without --model scores the descriptor baselines on them"
        )
    rebuilds = {"as-built": lambda s: True, "relaxed-site": lambda s: s.relaxed_clean is None}
    rebuilt = [s for s in samples if s.host not in HOSTS and rebuilds.get(mode, lambda s: False)(s)]
    if rebuilt:
        raise DacscreenError(
            f"{where}: input mode {mode} rebuilds sites from the host name, and the platform cannot "
            f"build host '{rebuilt[0].host}'; use input_mode: relaxed (your structures as they are)"
            + (" or relaxed-site (your relaxed bare sites)" if mode == "as-built" else "")
        )


def variant_graphs(
    samples: list[Sample], cfg: TrainConfig, gs: GraphSettings, cache: Path
) -> list[list[Any]]:
    """Per sample, the graphs of its :func:`orientation_variants` (cached) when ``cfg`` trains on
    every orientation; else no lists."""
    if cfg.orientations != "all" or cfg.input_mode == "relaxed":
        return []
    per = [orientation_variants(s) for s in samples]
    flat = build_graphs([v for vs in per for v in vs], cfg.input_mode, gs, cache)
    out, k = [], 0
    for vs in per:
        out.append(flat[k : k + len(vs)])
        k += len(vs)
    return out


def dband_method(store: Store, method: str) -> str:
    """The method(s) of the d-band centres on the clean sites of ``method`` (often another
    calculator than the energies, e.g. GFN1-xTB on CHGNet geometries)."""
    rows = store.rows(kind="site", method=method, adsorbate="clean")
    return ", ".join(sorted({str(r.get("dband_method")) for r in rows if r.get("dband_method")}))


def _correction(store: Store, cfg: TrainConfig, low: list[Sample]) -> Correction | None:
    """The fidelity map of ``cfg.correction_method`` from the training samples ``low``."""
    if not cfg.correction_method:
        return None
    high = collect_samples(store, cfg.correction_method, cfg.host, cfg.target_definitions, cfg.clean_target)
    try:
        return Correction.build(high, low, reference_table(store, cfg.correction_method), cfg.correction_kind)
    except (ValueError, IndexError) as exc:
        raise DacscreenError(f"{store.url}: correction_method {cfg.correction_method!r}: {exc}") from exc
