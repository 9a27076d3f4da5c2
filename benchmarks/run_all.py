"""Run every benchmark (``make bench``); results land in benchmarks/results/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    for script in (
        "speed.py",
        "real_dft_sac.py",
        "labeller_agreement.py",
        "accuracy.py",
        "multifidelity.py",
        "baseline_gap.py",
        "random_pair_baselines.py",
        "gp_calibration.py",
        "placement_search.py",
        "gpaw_generated_setups.py",
    ):
        subprocess.run([sys.executable, str(HERE / script)], check=True)
