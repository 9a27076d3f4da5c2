"""Data splits. Leave-metal-out: no sample containing a held-out metal is seen in training."""

from __future__ import annotations

import random
from collections.abc import Sequence

from dacscreen.featurize.samples import Sample


def leave_metal_out(
    samples: Sequence[Sample], test_metals: Sequence[str], val_fraction: float = 0.15, seed: int = 0
) -> tuple[list[int], list[int], list[int]]:
    """Indices (train, val, test). Test: every sample with a metal in ``test_metals``.

    Validation is a seeded random subset of the remaining *sites* (all states of a site stay
    together), used for early stopping and tuning; the test split is never used for either.
    """
    held = set(test_metals)
    test = [i for i, s in enumerate(samples) if held & set(s.metals)]
    rest = [i for i, s in enumerate(samples) if not held & set(s.metals)]
    sites = sorted({_site(samples[i]) for i in rest})
    random.Random(seed).shuffle(sites)
    n_val = max(1, round(val_fraction * len(sites))) if len(sites) > 1 else 0
    val_sites = set(sites[:n_val])
    val = [i for i in rest if _site(samples[i]) in val_sites]
    train = [i for i in rest if _site(samples[i]) not in val_sites]
    return train, val, test


def random_split(
    samples: Sequence[Sample], fractions: tuple[float, float] = (0.15, 0.15), seed: int = 0
) -> tuple[list[int], list[int], list[int]]:
    """Random split by site (train, val, test)."""
    sites = sorted({_site(s) for s in samples})
    random.Random(seed).shuffle(sites)
    n_val, n_test = round(fractions[0] * len(sites)), round(fractions[1] * len(sites))
    val_s, test_s = set(sites[:n_val]), set(sites[n_val : n_val + n_test])
    idx = {"train": [], "val": [], "test": []}
    for i, s in enumerate(samples):
        key = "val" if _site(s) in val_s else "test" if _site(s) in test_s else "train"
        idx[key].append(i)
    return idx["train"], idx["val"], idx["test"]


def pick_test_metals(samples: Sequence[Sample], n: int, seed: int = 0) -> list[str]:
    """A seeded choice of ``n`` metals to hold out, never Cu or Ni (the reference pair)."""
    metals = sorted({m for s in samples for m in s.metals} - {"Cu", "Ni"})
    return sorted(random.Random(seed).sample(metals, min(n, len(metals))))


def _site(s: Sample) -> str:
    return f"{s.host}|{s.m1}|{s.m2}|{s.placement}"
