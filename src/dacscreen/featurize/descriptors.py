"""Descriptor vectors for the scikit-learn baselines.

A site × adsorbate is described by the element descriptors of both metals (symmetrised as
sum and absolute difference, so M1M2 and M2M1 agree), |Δχ|, the as-built M–M distance, a
single/dual flag and an adsorbate one-hot.
"""

from __future__ import annotations

import numpy as np

from dacscreen.elements import ELEMENT_FEATURE_NAMES, delta_chi, element_features
from dacscreen.thermo import SRR_SPECIES


def site_descriptor(m1: str, m2: str | None, adsorbate: str) -> np.ndarray:
    """Descriptor vector of one site (m2 empty/None for a single atom) and adsorbate."""
    f1 = np.array(element_features(m1))
    f2 = np.array(element_features(m2)) if m2 else f1
    ads = np.array([float(adsorbate == x) for x in SRR_SPECIES])
    return np.concatenate([f1 + f2, np.abs(f1 - f2), [delta_chi(m1, m2), float(bool(m2))], ads])


def descriptor_names() -> list[str]:
    """Column names of :func:`site_descriptor`."""
    return (
        [f"sum_{n}" for n in ELEMENT_FEATURE_NAMES]
        + [f"diff_{n}" for n in ELEMENT_FEATURE_NAMES]
        + ["delta_chi", "is_pair"]
        + [f"ads_{x}" for x in SRR_SPECIES]
    )
