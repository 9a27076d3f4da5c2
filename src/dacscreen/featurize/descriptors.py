"""Descriptor vectors for the scikit-learn baselines.

A site × state is described by the element descriptors of both metals (symmetrised as sum and
absolute difference, so M1M2 and M2M1 agree), |Δχ|, a single/dual flag, and one-hots of the
state and of the host (vocabularies fixed when the baseline is fitted).
"""

from __future__ import annotations

import numpy as np

from dacscreen.elements import ELEMENT_FEATURE_NAMES, delta_chi, element_features


def metal_descriptor(m1: str, m2: str | None) -> np.ndarray:
    """Symmetrised element descriptors of a site's metals, |Δχ| and a pair flag."""
    f1 = np.array(element_features(m1))
    f2 = np.array(element_features(m2)) if m2 else f1
    return np.concatenate([f1 + f2, np.abs(f1 - f2), [delta_chi(m1, m2), float(bool(m2))]])


def one_hot(value: str, vocabulary: list[str]) -> np.ndarray:
    """One-hot of ``value`` over ``vocabulary`` (all zeros if unknown)."""
    return np.array([float(value == v) for v in vocabulary])


def site_descriptor(
    m1: str, m2: str | None, state: str, states: list[str], host: str = "", hosts: list[str] | None = None
) -> np.ndarray:
    """Descriptor vector of one site and state."""
    return np.concatenate([metal_descriptor(m1, m2), one_hot(state, states), one_hot(host, hosts or [])])


def descriptor_names(states: list[str], hosts: list[str] | None = None) -> list[str]:
    """Column names of :func:`site_descriptor`."""
    return (
        [f"sum_{n}" for n in ELEMENT_FEATURE_NAMES]
        + [f"diff_{n}" for n in ELEMENT_FEATURE_NAMES]
        + ["delta_chi", "is_pair"]
        + [f"state_{x}" for x in states]
        + [f"host_{h}" for h in hosts or []]
    )
