"""The active-learning loop: train → screen → pick by acquisition → verify → ingest → retrain.

Verification runs the chosen sites with the configured ASE calculator (DFT, or an MLIP standing
in for it) through the labeller, under its own method string. Training then uses the fidelity
list [verifier, base]: a verified site takes all its labels from the verifier, so the higher
fidelity wins and energies of two methods never meet in one difference. VASP inputs for the
same picks are written too, for runs outside dacscreen (ingest them with ``dacscreen ingest``).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from dacscreen.config import LoopConfig
from dacscreen.data.labelling import Labeller, Task
from dacscreen.data.store import Store, default_store
from dacscreen.models.fit import train_ensemble
from dacscreen.screening.runner import run_screen
from dacscreen.site_key import SiteKey
from dacscreen.workflows.export_dft import export_frame


def pick_batch(df: pd.DataFrame, verified: set[SiteKey], batch: int) -> pd.DataFrame:
    """The ``batch`` unverified pairs with the highest acquisition value (single atoms are the
    screen's reference rows, not candidates)."""
    if "reference_row" in df:
        df = df[~df["reference_row"].astype(bool)]
    fresh = df[[SiteKey.of_record(r) not in verified for r in df.itertuples()]]
    return fresh.sort_values("acquisition", ascending=False).head(batch)


def verified_sites(store: Store, method: str) -> set[SiteKey]:
    """Every site with a verified clean record."""
    return {SiteKey.of_record(r) for r in store.rows(kind="site", method=method, adsorbate="clean")}


def verify(labeller: Labeller, picks: pd.DataFrame) -> int:
    """Run every state of the verifier config on the picked sites; returns the tasks that gave
    records (an ML+SP task without a relaxed source gives none)."""
    metals = sorted({m for a, b in zip(picks.m1, picks.m2, strict=True) for m in (a, b) if m})
    if labeller.cfg.references:
        labeller.run_references(metals)
    tasks = []
    states = ["clean", *[s for s in labeller.cfg.states if s != "clean"]]
    for r in picks.itertuples():
        site = SiteKey.of_record(r)
        tasks += [Task(site.host, site.metals, site.placement, st, labeller.method) for st in states]
    return sum(1 for t in labeller.pending(tasks) if labeller.run_task(t))


def run_loop(cfg: LoopConfig, db: str | None = None) -> list[dict[str, Any]]:
    """Run ``cfg.rounds`` rounds; returns one summary per round."""
    store = default_store(db, cfg.train.db)
    verify_cfg = cfg.verify.model_copy(update={"db": store.url})
    labeller = Labeller(verify_cfg, store)
    history = []
    for k in range(cfg.rounds):
        rdir = cfg.out / f"round-{k}"
        train_cfg = cfg.train.model_copy(
            update={"db": store.url, "method": [labeller.method, cfg.base_method], "out": rdir / "model"}
        )
        _, report = train_ensemble(train_cfg)
        df = run_screen(cfg.screen.model_copy(update={"model": rdir / "model"}), rdir / "screen")
        picks = pick_batch(df, verified_sites(store, labeller.method), cfg.batch)
        export_frame(picks, rdir / "jobs")
        ran = verify(labeller, picks)
        history.append(
            {
                "round": k,
                "picked": [f"{a}{b}" for a, b in zip(picks.m1, picks.m2, strict=True)],
                "verified_tasks": ran,
                "verified_sites_total": len(verified_sites(store, labeller.method)),
                "val_mae_e_ads": report.get("val", {}).get("gnn_e_ads", {}).get("mae"),
            }
        )
    return history
