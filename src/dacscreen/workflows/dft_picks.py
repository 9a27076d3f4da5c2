"""Which sites get a DFT label next: the screen's own acquisition, with a stratified share.

The acquisition (``candidates.csv``'s ``acquisition`` column: best predicted plus most uncertain,
:mod:`dacscreen.screening.acquisition`) alone would spend the DFT budget on the few metals the
model already likes (``benchmarks/results/active_learning.md``: it finds the top sites sooner but
leaves a larger error on the rest). So every other pick is *stratified*: first the 3d–3d hetero
pairs that have no DFT site yet (the pairs the paper's electronegativity matching is about),
then a site of the metal with the fewest DFT sites. Within a stratum the acquisition decides.
The result is a site list for :attr:`dacscreen.config.LabelConfig.sites`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from dacscreen.atomic import staged
from dacscreen.elements import METALS_3D
from dacscreen.errors import ConfigError
from dacscreen.site_key import SiteKey

COLUMNS = ["host", "m1", "m2", "placement", "pick", "acquisition"]
"""Columns of a pick list; ``pick`` is ``acquisition``, ``stratified`` or ``redo``."""


def is_3d_hetero(site: SiteKey) -> bool:
    """A pair of two different 3d metals."""
    return bool(site.m2) and site.m1 != site.m2 and {site.m1, site.m2} <= set(METALS_3D)


def pick_dft_sites(
    candidates: pd.DataFrame, done: Iterable[SiteKey], n: int, stratified_share: float = 0.5
) -> pd.DataFrame:
    """The next ``n`` sites to label with DFT, in order, none of them in ``done``.

    ``candidates`` is a screen's table (one row per site, with ``acquisition``; single-atom
    reference rows are candidates here too, as labels). Of every run of picks, the share
    ``stratified_share`` goes to :func:`stratified_key`'s best site, the rest to the highest
    acquisition; the two interleave so that a partial run keeps the mix.
    """
    if "acquisition" not in candidates:
        raise ConfigError("the candidates table has no acquisition column (run screen first)")
    done = set(done)
    candidates = candidates.fillna({"m2": ""})  # pandas reads a single atom's empty m2 as NaN
    acq = {SiteKey.of_record(r): float(r.acquisition) for r in candidates.itertuples()}
    pool = sorted((s for s in acq if s not in done), key=lambda s: -acq[s])
    per_metal = Counter(m for s in done for m in s.metals)
    hetero_done = {frozenset(s.metals) for s in done if is_3d_hetero(s)}
    rows, credit = [], 0.0
    while pool and len(rows) < n:
        credit += stratified_share
        stratified = credit >= 1.0
        if stratified:
            credit -= 1.0
            site = min(pool, key=lambda s: stratified_key(s, per_metal, hetero_done, acq[s]))
        else:
            site = pool[0]
        pool.remove(site)
        per_metal.update(site.metals)
        if is_3d_hetero(site):
            hetero_done.add(frozenset(site.metals))
        pick = "stratified" if stratified else "acquisition"
        rows.append([site.host, site.m1, site.m2, site.placement, pick, acq[site]])
    return pd.DataFrame(rows, columns=COLUMNS)


def with_redo(picks: pd.DataFrame, done: Iterable[SiteKey]) -> pd.DataFrame:
    """``picks`` after the sites already labelled (``pick`` = ``redo``): the labeller runs again
    only those single points whose source is no longer the site's label (the label definition
    moved), and skips the others."""
    redo = [[s.host, s.m1, s.m2, s.placement, "redo", float("nan")] for s in sorted(set(done))]
    return pd.concat([pd.DataFrame(redo, columns=COLUMNS), picks], ignore_index=True)


def stratified_key(
    site: SiteKey, per_metal: Counter[str], hetero_done: set[frozenset[str]], acquisition: float
) -> tuple[int, int, float]:
    """Sort key of the stratified picks (smallest first): a 3d–3d hetero pair without a DFT
    site, then the site whose rarest metal has the fewest DFT sites, then the acquisition."""
    new_hetero = is_3d_hetero(site) and frozenset(site.metals) not in hetero_done
    return (0 if new_hetero else 1, min(per_metal[m] for m in site.metals), -acquisition)


def write_picks(picks: pd.DataFrame, path: Path) -> None:
    """Write a pick list atomically (a site list for ``label``'s ``sites``)."""
    with staged(path.parent) as stage:
        picks.to_csv(stage / path.name, index=False)
