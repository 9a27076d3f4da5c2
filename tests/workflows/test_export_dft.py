"""DFT export for verification: VASP inputs for the top candidates, with the reference settings."""

from __future__ import annotations

import json
from pathlib import Path

import ase.io
import pandas as pd
import pytest
from typer.testing import CliRunner

from dacscreen.cli import app

runner = CliRunner()


def test_export_top_candidates(tmp_path: Path) -> None:
    cand = tmp_path / "candidates.csv"
    pd.DataFrame(
        [
            {
                "host": "melon",
                "m1": "Cu",
                "m2": "Ni",
                "placement": 0,
                "acquisition": 1.0,
                "orientation_li2s2": "bridge",
            },
            {
                "host": "melon",
                "m1": "Fe",
                "m2": "",
                "placement": 0,
                "acquisition": 0.5,
                "orientation_li2s2": "top1",
            },
            {
                "host": "melon",
                "m1": "Zn",
                "m2": "Zn",
                "placement": 0,
                "acquisition": -1.0,
                "orientation_li2s2": "bridge",
            },
        ]
    ).to_csv(cand, index=False)
    res = runner.invoke(
        app, ["export-dft", "--candidates", str(cand), "--top", "2", "--out", str(tmp_path / "jobs")]
    )
    assert res.exit_code == 0, res.output
    jobs = sorted(p.parent for p in (tmp_path / "jobs").rglob("INCAR"))
    assert len(jobs) == 10  # 2 candidates × clean, Li2S2, Li2S + 4 references
    cuni = tmp_path / "jobs" / "melon_CuNi_p0" / "Li2S2"
    incar = (cuni / "INCAR").read_text()
    for setting in ("ENCUT = 400", "IVDW = 11", "ISPIN = 2", "LORBIT = 11", "EDIFFG = -0.01", "MAGMOM"):
        assert setting in incar
    assert "Gamma" in (cuni / "KPOINTS").read_text()
    atoms = ase.io.read(cuni / "POSCAR")
    assert sorted(set(atoms.get_chemical_symbols())) == ["C", "Cu", "H", "Li", "N", "Ni", "S"]
    assert (cuni / "POTCAR.spec").read_text().split() == list(dict.fromkeys(atoms.get_chemical_symbols()))
    assert not list((tmp_path / "jobs").rglob("POTCAR"))
    manifest = json.loads((tmp_path / "jobs" / "manifest.json").read_text())
    assert len(manifest["jobs"]) == 10 and manifest["settings"]["ENCUT"] == 400
    assert "--array=0-9" in (tmp_path / "jobs" / "submit_array.slurm").read_text()
    assert not list((tmp_path / "jobs").glob(".staging-*"))


def _one_candidate(tmp_path: Path) -> Path:
    cand = tmp_path / "candidates.csv"
    cand.write_text("host,m1,m2,placement,acquisition\nmelon,Cu,Ni,0,1.0\n")
    return cand


def test_export_references_and_selective_dynamics(tmp_path: Path) -> None:
    out = tmp_path / "jobs"
    res = runner.invoke(app, ["export-dft", "--candidates", str(_one_candidate(tmp_path)), "--out", str(out)])
    assert res.exit_code == 0, res.output
    refs = out / "references"
    assert sorted(p.name for p in refs.iterdir()) == ["Li_bcc", "host_melon", "mol_Li2S", "mol_Li2S2"]
    assert "12 12 12" in (refs / "Li_bcc" / "KPOINTS").read_text()
    assert "ISIF = 3" in (refs / "Li_bcc" / "INCAR").read_text()
    site = ase.io.read(out / "melon_CuNi_p0" / "Li2S2" / "POSCAR")
    fixed = site.constraints[0].index
    assert 0 < len(fixed) < len(site)  # far host atoms fixed, the site and adsorbate free
    assert not set(fixed) & {i for i, a in enumerate(site) if a.symbol in {"Cu", "Ni", "Li", "S"}}
    job = json.loads((out / "melon_CuNi_p0" / "Li2S2" / "job.json").read_text())
    assert job["geometry"] == "built (unrelaxed)"  # the store is empty


def test_export_uses_relaxed_labels(tmp_path: Path, tiny_store: Path) -> None:
    from dacscreen.data.store import Store, record_to_atoms

    out = tmp_path / "jobs"
    args = [
        "export-dft",
        "--candidates",
        str(_one_candidate(tmp_path)),
        "--out",
        str(out),
        "--db",
        str(tiny_store),
    ]
    assert runner.invoke(app, args).exit_code == 0
    job = json.loads((out / "melon_CuNi_p0" / "clean" / "job.json").read_text())
    assert job["geometry"].startswith("relaxed (chgnet")
    label = next(Store(tiny_store).rows(kind="site", m1="Cu", m2="Ni", adsorbate="clean", best=True))
    written = ase.io.read(out / "melon_CuNi_p0" / "clean" / "POSCAR")
    assert sorted(written.positions[:, 2].round(3)) == sorted(record_to_atoms(label).positions[:, 2].round(3))


def test_export_refuses_to_overwrite_a_run_job(tmp_path: Path) -> None:
    out = tmp_path / "jobs"
    args = ["export-dft", "--candidates", str(_one_candidate(tmp_path)), "--out", str(out)]
    assert runner.invoke(app, args).exit_code == 0
    job = out / "melon_CuNi_p0" / "Li2S2"
    (job / "OUTCAR").write_text("finished run\n")
    (job / "INCAR").write_text("ENCUT = 520  # edited by hand\n")
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and "OUTCAR" not in res.output.split(":")[0]
    assert "holds VASP output" in res.output and "melon_CuNi_p0" in res.output
    assert (job / "INCAR").read_text().startswith("ENCUT = 520")
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0
    assert "ENCUT = 400" in (job / "INCAR").read_text() and (job / "OUTCAR").exists()


def test_interrupted_export_keeps_the_previous_jobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dacscreen.workflows import export_dft

    out = tmp_path / "jobs"
    args = ["export-dft", "--candidates", str(_one_candidate(tmp_path)), "--out", str(out)]
    assert runner.invoke(app, args).exit_code == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    calls = []

    def interrupted(*a, **k):  # type: ignore[no-untyped-def]
        calls.append(a)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return write_job(*a, **k)

    write_job = export_dft.write_job
    monkeypatch.setattr(export_dft, "write_job", interrupted)
    runner.invoke(app, args)
    assert len(calls) == 3
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_export_missing_candidates(tmp_path: Path) -> None:
    res = runner.invoke(app, ["export-dft", "--candidates", str(tmp_path / "no.csv"), "--out", str(tmp_path)])
    assert res.exit_code == 2 and "no.csv" in res.output


@pytest.mark.parametrize("code", ["cp2k"])
def test_export_unknown_code(tmp_path: Path, code: str) -> None:
    cand = tmp_path / "c.csv"
    cand.write_text("host,m1,m2,acquisition\nmelon,Cu,Ni,1\n")
    res = runner.invoke(
        app, ["export-dft", "--candidates", str(cand), "--code", code, "--out", str(tmp_path)]
    )
    assert res.exit_code == 2 and code in res.output


def test_ml_plus_single_point_verification(tiny_store: Path, tmp_path: Path) -> None:
    """--code ase --single-point tblite: the CHGNet-relaxed Cu–Ni (already in the store) gets
    GFN1-xTB single points, and the AdsorbML success rate compares them with the predictions
    (--code gpaw runs the same with GPAW). Valid stored relaxations are reused; a state whose
    stored starts are all invalid resumes with its untried orientations."""
    from dacscreen.config import CalculatorConfig, LabelConfig
    from dacscreen.data.labelling import Labeller, Task
    from dacscreen.data.store import Store
    from dacscreen.workflows.verify_dft import success_rate

    relaxer = Labeller(
        LabelConfig(host="melon", calculator=CalculatorConfig(name="chgnet")), Store(tiny_store)
    )
    retried = sum(
        relaxer.retryable(Task("melon", ("Cu", "Ni"), 0, st, relaxer.method)) for st in ("Li2S2", "Li2S")
    )

    cand = tmp_path / "candidates.csv"
    row = {"host": "melon", "m1": "Cu", "m2": "Ni", "placement": 0, "acquisition": 1.0}
    pd.DataFrame([{**row, "e_ads_li2s2": -2.0, "e_ads_li2s": -1.5}]).to_csv(cand, index=False)
    args = [
        "export-dft",
        "--candidates",
        str(cand),
        "--top",
        "1",
        "--code",
        "ase",
        "--single-point",
        "tblite",
    ]
    res = runner.invoke(app, [*args, "--db", str(tiny_store), "--out", str(tmp_path / "v")])
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "v" / "verification.json").read_text())
    assert report["method"] == "tblite-GFN1-xTB" and report["relaxations_run"] == retried
    # clean + the states whose CHGNet relaxation was valid (an anomalous one has no source)
    assert report["single_points_run"] == 1 + report["compared"] and report["compared"] >= 1
    dft = {p["state"]: p["dft"] for p in report["pairs"]}
    offsets = dict(zip(dft, (0.05, -0.15), strict=False))  # one within 0.1 eV, one within 0.2 eV
    pred = {f"e_ads_{x.lower()}": dft.get(x, float("nan")) + offsets.get(x, 0.0) for x in ("Li2S2", "Li2S")}
    rates = success_rate(pd.DataFrame([{**row, **pred}]), Store(tiny_store), report["method"])
    assert rates["compared"] == len(dft)
    assert rates["success_within_0.1_eV"] == pytest.approx(1 / len(dft))
    assert rates["success_within_0.2_eV"] == pytest.approx(1.0)


def test_delta_ml_estimates_never_fit_on_the_candidates() -> None:
    """The Δ-ML estimate of a candidate comes from its own low-fidelity label through a map of
    the *other* sites: a wild high-fidelity label on the candidate itself changes nothing, and
    with no other site carrying both labels there is no estimate."""
    from dataclasses import replace

    from dacscreen.featurize.samples import Sample
    from dacscreen.site_key import SiteKey
    from dacscreen.workflows.verify_dft import delta_ml_estimates

    metals = ["Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Zr", "Mo", "Ru", "Pd"]
    low = [
        Sample("melon", m, "", 0, st, "top", -3.0 + 0.3 * k + (st == "Li2S"), (float("nan"),) * 2)
        for k, m in enumerate(metals)
        for st in ("Li2S2", "Li2S")
    ]
    high = [replace(s, e_ads=s.e_ads + 0.4) for s in low]
    cu = SiteKey("melon", "Cu")
    picks = {cu}
    est = delta_ml_estimates(picks, high, low, {})
    assert set(est) == {(cu, "Li2S2"), (cu, "Li2S")}
    truth = {(s.site, s.state): s.e_ads for s in high}
    for k, v in est.items():
        assert v == pytest.approx(truth[k], abs=0.1)
    wild = [replace(s, e_ads=100.0) if s.m1 == "Cu" else s for s in high]
    assert delta_ml_estimates(picks, wild, low, {}) == pytest.approx(est)
    assert delta_ml_estimates(picks, [s for s in high if s.m1 == "Cu"], low, {}) == {}


def test_export_leaves_out_the_single_atom_reference_rows(tmp_path: Path) -> None:
    """A screen's single atoms are references: export-dft takes the top *pairs*."""
    cand = tmp_path / "candidates.csv"
    rows = [
        {"host": "melon", "m1": "Fe", "m2": "", "placement": 0, "acquisition": 9.0, "reference_row": True},
        {"host": "melon", "m1": "Cu", "m2": "Ni", "placement": 0, "acquisition": 1.0, "reference_row": False},
    ]
    pd.DataFrame(rows).to_csv(cand, index=False)
    res = runner.invoke(
        app, ["export-dft", "--candidates", str(cand), "--top", "1", "--out", str(tmp_path / "jobs")]
    )
    assert res.exit_code == 0, res.output
    sites = [p.name for p in (tmp_path / "jobs").iterdir() if p.is_dir() and p.name != "references"]
    assert sites == ["melon_CuNi_p0"]


OSZICAR = (
    "       N       E                     dE             d eps       ncg     rms          rms(c)\n"
    "DAV:   1    -0.100000E+03   -0.10000E+03   -0.10000E+03   100   0.100E+02\n"
    "   1 F= {e:.8E} E0= {e:.8E}  d E =-.100000E+03  mag=     1.0000\n"
)


def test_ingest_reads_back_the_exported_jobs(tmp_path: Path) -> None:
    """``ingest`` (the alias of ``dataset import --format vasp-tree``) stores an export's
    finished jobs under the identity and tags of their job.json, and its reference jobs as
    references."""
    from dacscreen.data.store import Store

    out = tmp_path / "jobs"
    res = runner.invoke(app, ["export-dft", "--candidates", str(_one_candidate(tmp_path)), "--out", str(out)])
    assert res.exit_code == 0, res.output
    folders = sorted(p.parent for p in out.rglob("job.json"))
    for k, folder in enumerate(folders):
        (folder / "OSZICAR").write_text(OSZICAR.format(e=-100.0 - k))
    db = tmp_path / "s.db"
    res = runner.invoke(app, ["ingest", str(out), "--method", "vasp-test", "--db", str(db)])
    assert res.exit_code == 0, res.output
    store = Store(db)
    sites = {r.adsorbate: r for r in store.rows(kind="site")}
    assert sorted(sites) == ["Li2S", "Li2S2", "clean"]
    li2s2 = sites["Li2S2"]
    assert (li2s2.host, li2s2.m1, li2s2.m2) == ("melon", "Cu", "Ni")
    assert li2s2.task == "melon|Cu|Ni|0|Li2S2|vasp-test"
    tags = json.loads((out / "melon_CuNi_p0" / "Li2S2" / "job.json").read_text())["tags"]
    assert li2s2.toatoms().get_tags().tolist() == tags
    refs = {r.ref for r in store.rows(kind="reference")}
    assert refs == {"Li_bcc", "host_melon", "mol_Li2S", "mol_Li2S2"}
    again = runner.invoke(app, ["ingest", str(out), "--method", "vasp-test", "--db", str(db)])
    assert again.exit_code == 0 and store.count() == len(folders)  # resumes without duplicates
