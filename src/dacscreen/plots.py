"""Matplotlib figures written as PNG (Agg backend, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def parity_plot(
    series: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray | None]], path: Path, title: str
) -> Path:
    """Predicted vs reference (eV) for each named series (y, pred, std or None)."""
    fig, ax = plt.subplots(figsize=(5, 5))
    lo, hi = np.inf, -np.inf
    for name, (y, pred, std) in series.items():
        ok = np.isfinite(y) & np.isfinite(pred)
        if not ok.any():
            continue
        ax.errorbar(
            y[ok],
            pred[ok],
            yerr=None if std is None else std[ok],
            fmt="o",
            ms=4,
            alpha=0.7,
            label=name,
            elinewidth=0.8,
        )
        lo, hi = min(lo, y[ok].min(), pred[ok].min()), max(hi, y[ok].max(), pred[ok].max())
    if np.isfinite(lo):
        ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.set_xlabel("reference (eV)")
    ax.set_ylabel("predicted (eV)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
