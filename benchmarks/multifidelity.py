"""Multi-fidelity learning against DFT labels: fidelity maps and fine-tuning versus single-fidelity training.

Leave-metal-out k-fold over the metals of the sites with GPAW single points. In each fold, with
every sample of a held-out metal removed from all training and validation data:

* ``dft-only``: the GNN ensemble trained on the DFT labels alone;
* ``chgnet-only``: the GNN ensemble trained on the CHGNet/xTB labels, used as if they were DFT;
* ``gnn + map``: the CHGNet-only ensemble's prediction mapped to DFT by the fidelity map
  (:mod:`dacscreen.models.correction`), fitted on the DFT training sites and their CHGNet
  labels; its kind (NARGP or Δ) is chosen by leave-metal-out cross-validation over those sites;
* ``fine-tuned``: the CHGNet-only ensemble trained further on the DFT training sites at a fifth
  of the learning rate (pretraining on the low fidelity, then fine-tuning);
* ``baseline (dft)``: the best descriptor baseline on the DFT labels, for reference;

and, with one CHGNet relaxation of the held-out candidate (as ``export-dft`` runs before DFT):

* ``chgnet label``: the candidate's CHGNet label, used as if it were DFT;
* ``label + map``: that label through the same fidelity map (Δ-ML).

All are scored against the DFT labels of the held-out sites: E_ads(Li2S2), E_ads(Li2S),
ΔG5 (Li2S2* → Li2S*) and the d-band centres. Writes ``benchmarks/results/multifidelity.{json,md}``.

    python benchmarks/multifidelity.py [--config configs/train.yaml] [--dft gpaw-lcao-pbe-d3]
        [--low chgnet-0.4.2] [--folds 5] [--members 3] [--store data/models/default/evaluation/members]

Every GNN member goes to the member store, which is committed, so the run resumes across
sessions. The CHGNet-only members of each fold are the members ``dacscreen evaluate`` trains for
the same fold (same held-out metals, data and recipe): whichever runs first trains them.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from dacscreen.config import TrainConfig, load_config
from dacscreen.models.dataset import prepare
from dacscreen.models.multifidelity import compare_fidelities, markdown

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=Path("configs/train.yaml"))
    ap.add_argument("--dft", default="gpaw-lcao-pbe-d3")
    ap.add_argument("--low", default="chgnet-0.4.2")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--members", type=int, default=3)
    ap.add_argument("--store", type=Path, default=Path("data/models/default/evaluation/members"))
    ap.add_argument("--report-only", action="store_true", help="rewrite the markdown from the JSON")
    args = ap.parse_args()
    if args.report_only:
        write_markdown(json.loads((RESULTS / "multifidelity.json").read_text()), args.folds)
        return
    cfg = load_config(TrainConfig, args.config, {})
    cfg.model = cfg.model.model_copy(update={"ensemble": args.members})
    high = prepare(cfg.model_copy(update={"method": args.dft}))
    low = prepare(cfg.model_copy(update={"method": args.low}))
    t0 = time.perf_counter()
    result = compare_fidelities(cfg, high, low, args.folds, store=args.store)
    sites = {(s.m1, s.m2) for s in high.samples}
    result.update(
        dft=args.dft,
        low=args.low,
        n_dft_sites=len(sites),
        n_low_samples=len(low.samples),
        members=args.members,
        input_mode=cfg.input_mode,
        seconds=round(time.perf_counter() - t0, 1),
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "multifidelity.json").write_text(json.dumps(result, indent=2, default=float))
    write_markdown(result, args.folds)


def write_markdown(result: dict, folds: int) -> None:
    """``results/multifidelity.md`` from a result of :func:`compare_fidelities` and its settings."""
    text = (
        "# Multi-fidelity learning against DFT labels\n\n"
        f"{folds}-fold leave-metal-out over {result['n_dft_sites']} sites with {result['dft']} single "
        f"points; {result['n_low_samples']} {result['low']} samples; {result['members']} GNN members per "
        f"fold; input mode {result['input_mode']}. MAE in eV against the DFT labels of held-out metals. "
        "Tier *structure*: the model sees only the candidate's structure (what `screen` has); "
        "*+ CHGNet relaxation*: it also sees the candidate's own CHGNet label. Fidelity-map kind "
        "chosen per fold on its training sites: "
        + ", ".join(str(f.get("map_kind", "?")) for f in result["folds"])
        + ".\n\n"
        + markdown(result)
    )
    (RESULTS / "multifidelity.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
