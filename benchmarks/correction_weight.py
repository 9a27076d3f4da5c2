"""Where the GNN loses to the descriptor baseline on new metals: its reference or its correction?

The shipped model predicts reference + w × correction (eV): the reference a Gaussian process
per state on the elemental site descriptor, the correction the network's output, w the state's
correction weight (``model.correction_weight``, fitted on the validation metals; it applies to
sites with a metal the model was not trained on). On the model's own held-out metals (never
seen in training or validation) this scores, per state, the reference alone (w = 0), the full
correction (w = 1), the fitted weights (what ``screen`` reports for those sites) and the
descriptor baseline chosen on validation, which fits one model over all states (a state
one-hot among its inputs), so the sparse states borrow from Li2S2, Li2S and E_bind. Last, the
references ``energy_reference: descriptor-gp-joint`` (one GP over every state) and
``descriptor-gp-auto`` (per state, its own GP or the joint one, whichever has the lower
validation MAE; ``auto picks``) would give, fitted here on the model's training split: what a
GNN on them starts from.

    python benchmarks/correction_weight.py [--model data/models/default] [--config configs/train.yaml]

Writes ``benchmarks/results/correction_weight.{json,md}``.
"""

from __future__ import annotations

import argparse
import subprocess
import time
from pathlib import Path

import numpy as np
import torch
from results_io import publish

from dacscreen.config import TrainConfig, load_config
from dacscreen.models.dataset import prepare_once
from dacscreen.models.ensemble import Ensemble, Scaling
from dacscreen.models.evaluation import baseline_predictions, blind_predictions, fit_baseline
from dacscreen.models.reference import reference_value


def run(model: Path, config: Path) -> dict:
    ens = Ensemble.load(model)
    cfg = load_config(TrainConfig, config, {})
    p = prepare_once(cfg)
    if sorted(p.test_metals) != sorted(ens.meta.test_metals):
        raise SystemExit(f"{model}: held-out metals {ens.meta.test_metals}, the config's {p.test_metals}")
    test = [p.samples[i] for i in p.test]
    mode = ens.meta.input_mode or cfg.input_mode
    fitted = dict(ens.meta.correction_weight)
    states = sorted({s.state for s in test})
    preds = {"fitted weights": blind_predictions(ens, test, mode).e_ads}
    for name, w in (("reference (w = 0)", 0.0), ("full correction (w = 1)", 1.0)):
        ens.meta.correction_weight = dict.fromkeys(states, w)
        preds[name] = blind_predictions(ens, test, mode).e_ads
    ens.meta.correction_weight = fitted
    baseline = fit_baseline(p)
    preds[f"baseline ({baseline.name})"] = baseline_predictions(baseline, test).e_ads
    site_x = torch.cat([p.graphs[i].site_x for i in p.test])
    chosen = {}
    for kind in ("descriptor-gp-joint", "descriptor-gp-auto"):
        ref, _ = Scaling.for_training(p.training_graphs(p.train), kind, val=p.training_graphs(p.val))
        preds[f"{kind} reference"] = ref._per_state(reference_value, [s.state for s in test], site_x)
        chosen = {k: r["kind"] for k, r in ref.reference.items()}
    y = np.array([s.e_ads for s in test])
    st = np.array([s.state for s in test])
    rows = {}
    for state in states:
        i = (st == state) & np.isfinite(y)
        rows[state] = {"n": int(i.sum()), "weight": fitted.get(state, 1.0), "auto": chosen.get(state, "")}
        rows[state] |= {name: float(np.mean(np.abs(e[i] - y[i]))) for name, e in preds.items()}
    commit = subprocess.run(
        ["git", "log", "-1", "--format=%h", "--", str(model / "meta.json")],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "model": str(model),
        "commit": commit,
        "energy_reference": ens.config.energy_reference,
        "test_metals": p.test_metals,
        "train_metals": ens.meta.train_metals,
        "measured": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "models": list(preds),
        "states": rows,
    }


def markdown(res: dict) -> str:
    names = res["models"]
    lines = [
        "# Reference or correction: where the GNN loses on new metals",
        "",
        f"`{res['model']}` (commit {res['commit']}, `energy_reference: {res['energy_reference']}`) on its "
        f"own held-out metals ({', '.join(res['test_metals'])}), measured "
        f"{res['measured']}. MAE in eV (E_bind for `clean`, E_ads otherwise); `weight` is the",
        "correction weight fitted on the validation metals; `auto picks` the reference",
        "`descriptor-gp-auto` chooses on the same validation metals (`gp`: the state's own).",
        "",
        "| state | n | weight | auto picks | " + " | ".join(names) + " |",
        "|---|---|---|---|" + "---|" * len(names),
    ]
    for state, row in res["states"].items():
        cells = " | ".join(f"{row[n]:.3f}" for n in names)
        lines.append(f"| {state} | {row['n']} | {row['weight']:.1f} | {row['auto']} | {cells} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=Path("data/models/default"))
    ap.add_argument("--config", type=Path, default=Path("configs/train.yaml"))
    args = ap.parse_args()
    res = run(args.model, args.config)
    publish("correction_weight", res, markdown(res))


if __name__ == "__main__":
    main()
