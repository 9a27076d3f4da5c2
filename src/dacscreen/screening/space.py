"""The screening space: every single-atom site and every metal pair of a metal set, named by
:class:`dacscreen.site_key.SiteKey` and enumerated as the labeller enumerates it
(:func:`dacscreen.data.sites.site_keys`)."""

from __future__ import annotations

from dacscreen.config import ScreenConfig
from dacscreen.data.sites import site_keys
from dacscreen.site_key import SiteKey


def space_from_config(cfg: ScreenConfig) -> list[SiteKey]:
    """The screening space a config asks for (the default 28 metals: 434 sites)."""
    return site_keys(
        cfg.host,
        cfg.metals,
        include_single=cfg.include_single,
        allow_non_transition=cfg.allow_non_transition,
        placements=cfg.placements,
    )
