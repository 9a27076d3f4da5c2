"""Data splits. Leave-metal-out: no sample containing a held-out metal is seen in training."""

from __future__ import annotations

import random
from collections.abc import Sequence

from dacscreen.featurize.samples import Sample


def metal_folds(samples: Sequence[Sample], k: int, seed: int = 0) -> list[list[str]]:
    """The metals of ``samples`` in ``k`` seeded groups of (nearly) equal size."""
    metals = sorted({m for s in samples for m in s.metals})
    random.Random(seed).shuffle(metals)
    k = max(1, min(k, len(metals)))
    return [sorted(metals[j::k]) for j in range(k)]


def leave_metal_out(
    samples: Sequence[Sample],
    test_metals: Sequence[str],
    val_fraction: float = 0.15,
    seed: int = 0,
    val_by: str = "site",
) -> tuple[list[int], list[int], list[int]]:
    """Indices (train, val, test). Test: every sample with a metal in ``test_metals``.

    Validation, used for early stopping, σ-scaling, the choice of baseline and tuning (the test
    split is never used for any of them), takes about ``val_fraction`` of the remaining sites
    (all states of a site stay together): a seeded random subset of them (``val_by="site"``),
    or every site with one of a seeded set of validation metals (``val_by="metal"``), which
    mirrors the test condition: the validation score then measures the extrapolation to
    unseen metals that the test asks for, not the interpolation between known ones.
    """
    held = set(test_metals)
    test = [i for i, s in enumerate(samples) if held & set(s.metals)]
    rest = [i for i, s in enumerate(samples) if not held & set(s.metals)]
    sites = sorted({_site(samples[i]) for i in rest})
    n_val = max(1, round(val_fraction * len(sites))) if len(sites) > 1 and val_fraction > 0 else 0
    if val_by == "metal":
        val_sites = _metal_held_sites([samples[i] for i in rest], n_val, seed)
    else:
        random.Random(seed).shuffle(sites)
        val_sites = set(sites[:n_val])
    val = [i for i in rest if _site(samples[i]) in val_sites]
    train = [i for i in rest if _site(samples[i]) not in val_sites]
    return train, val, test


def _metal_held_sites(samples: Sequence[Sample], n_val: int, seed: int) -> set[str]:
    """The sites of seeded validation metals, added one by one until they hold ``n_val`` sites
    (at least one metal is always left for training)."""
    metals = sorted({m for s in samples for m in s.metals})
    random.Random(seed).shuffle(metals)
    chosen: set[str] = set()
    held: set[str] = set()
    for m in metals[:-1]:
        if len(chosen) >= n_val:
            break
        held.add(m)
        chosen = {_site(s) for s in samples if held & set(s.metals)}
    return chosen


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
    return str(s.site)
