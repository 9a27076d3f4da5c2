"""A Δ-correction shipped inside a model (see :mod:`dacscreen.models.multifidelity`).

Δ = y_high − y_low of the same site and state (graph-level value and d-band centres, eV), for
sites labelled by both methods (the DFT single points sit on the CHGNet geometries, ML+SP).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from dacscreen.featurize.samples import Sample
from dacscreen.models.baseline import DescriptorBaseline


def _key(s: Sample) -> tuple:
    return (s.host, s.m1, s.m2, s.placement, s.state)


def delta_samples(high: Sequence[Sample], low: Sequence[Sample]) -> list[Sample]:
    """The high-fidelity samples with targets replaced by high − low of the same site and state
    (graph-level value and d-band centres, eV); samples without a low-fidelity twin are left
    out."""
    twins = {_key(s): s for s in low}
    out = []
    for s in high:
        t = twins.get(_key(s))
        if t is not None:
            db = (s.dband[0] - t.dband[0], s.dband[1] - t.dband[1])
            out.append(replace(s, e_ads=s.e_ads - t.e_ads, dband=db))
    return out


@dataclass
class Correction:
    """A Δ-correction shipped inside a model: the Δ samples (eV) of a higher-fidelity ``method``
    against the model's training method ``base``, and that method's references. The Gaussian
    process is refitted from the samples on first use (a few dozen rows, well under a second),
    so a model directory stays plain JSON and weights."""

    method: str
    base: str
    samples: list[Sample]
    references: dict[str, float]
    _model: DescriptorBaseline | None = field(default=None, repr=False)

    @classmethod
    def build(cls, high: Sequence[Sample], low: Sequence[Sample], references: dict[str, float]) -> Correction:
        """From the samples of the high- and low-fidelity method (ValueError without overlap)."""
        deltas = delta_samples(high, low)
        if not deltas:
            raise ValueError("no site carries labels of both methods; nothing to learn a correction from")
        return cls(high[0].method, low[0].method, deltas, references)

    @property
    def states(self) -> set[str]:
        """States with a finite graph-level Δ (the ones the correction covers)."""
        return {s.state for s in self.samples if np.isfinite(s.e_ads)}

    def model(self) -> DescriptorBaseline:
        """The Gaussian process on the Δ samples (fitted once)."""
        if self._model is None:
            self._model = DescriptorBaseline("gp", 0).fit(self.samples)
        return self._model

    def to_meta(self) -> dict[str, Any]:
        """JSON-ready form for a model's ``meta.json``."""
        keep = ("host", "m1", "m2", "placement", "state", "e_ads", "dband")
        rows = [{k: getattr(s, k) for k in keep} for s in self.samples]
        return {"method": self.method, "base": self.base, "references": self.references, "samples": rows}

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> Correction:
        """Inverse of :meth:`to_meta`."""
        keys = ("host", "m1", "m2", "placement", "state")
        rows = meta["samples"]
        samples = [Sample(*(r[k] for k in keys), "none", r["e_ads"], tuple(r["dband"])) for r in rows]
        return cls(meta["method"], meta["base"], samples, dict(meta["references"]))

    def label(self) -> str:
        """The fidelity of corrected numbers, e.g. ``gpaw-lcao-pbe-d3 (Δ on chgnet-0.3.0, 12 sites)``."""
        n = len({(s.host, s.m1, s.m2, s.placement) for s in self.samples})
        return f"{self.method} (Δ-learned on {self.base}, {n} sites)"
