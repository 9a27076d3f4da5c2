"""The ``dacscreen`` command line: one subcommand per stage of the platform."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from dacscreen.allocator import tune_allocator
from dacscreen.cli_common import (
    State,
    check_output_dir,
    check_output_format,
    console,
    emit,
    progress,
    reports_errors,
    setup_logging,
)
from dacscreen.config import BuildConfig, ImportConfig, LabelConfig, Settings, default_model, load_config
from dacscreen.errors import DacscreenError

app = typer.Typer(
    help="Screen dual-atom catalysts on polymeric carbon nitride for Li–S sulfur reduction.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # usage errors as click's one "Error: ..." line, not a wrapped panel
)
dataset_app = typer.Typer(
    help="Inspect, export and import the labelled dataset.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(dataset_app, name="dataset")

EXTRA = {"allow_extra_args": True}
"""Lets ``--metals Cu Ni`` take several values (the extras land in ``ctx.args``)."""

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="YAML config file.")]
DbOpt = Annotated[str | None, typer.Option("--db", help="Dataset store: SQLite path or postgresql:// URL.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the summary as JSON (same as the global flag).")]


@app.callback()
def main(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or tables.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    log_level: Annotated[str, typer.Option("--log-level", help="Logging level.")] = "WARNING",
) -> None:
    """Global options."""
    State.quiet, State.json = quiet, json_out
    setup_logging(log_level)
    # SIGTERM unwinds like Ctrl-C, so that staged outputs are cleaned up (dacscreen.atomic)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    tune_allocator()


def metal_list(ctx: typer.Context, metals: list[str] | None) -> list[str] | None:
    """Metals from ``--metals A --metals B`` or ``--metals A B`` (extra words); an option
    name where a metal should be (``--metals --out x``) is a usage error."""
    if any(m.startswith("-") for m in metals or []):
        raise typer.BadParameter("needs one or more element symbols", param_hint="--metals")
    extra = [a for a in ctx.args if not a.startswith("-")]
    if ctx.args and len(extra) != len(ctx.args):
        raise typer.BadParameter(f"unexpected arguments {ctx.args}")
    if metals is None and not extra:
        return None
    return [*(metals or []), *extra]


@app.command(context_settings=EXTRA)
@reports_errors
def build(
    ctx: typer.Context,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output file; format from its extension.")
    ] = None,
    host: Annotated[str | None, typer.Option(help="heptazine or melon.")] = None,
    metals: Annotated[list[str] | None, typer.Option(help="One (single atom) or two metals.")] = None,
    adsorbate: Annotated[
        str | None,
        typer.Option(help="SRR species (S8 ... Li2S), H, O, OH, OOH, an ASE molecule (CO2, NH3) or a file."),
    ] = None,
    placement: Annotated[
        int | None, typer.Option(help="Symmetry-distinct metal placement (0: the first).")
    ] = None,
    orientation: Annotated[str | None, typer.Option(help="bridge, top1, top2, flat or li_n.")] = None,
    supercell: Annotated[tuple[int, int] | None, typer.Option(help="Supercell nx ny.")] = None,
    allow_non_transition: Annotated[bool, typer.Option(help="Allow non-transition metals.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Build one site (optionally with an adsorbate) and write it with ASE.

    Extra positional metals are allowed: --metals Cu Ni.
    """
    import ase.io

    from dacscreen.data.adsorbates import orientations, place_adsorbate
    from dacscreen.data.sites import build_site
    from dacscreen.data.validate import validate_site
    from dacscreen.elements import check_metals

    chosen = metal_list(ctx, metals)
    if out is None:
        raise typer.BadParameter("give the output file, e.g. --out site.xyz", param_hint="--out")
    cfg = load_config(
        BuildConfig,
        config,
        {
            "host": host,
            "metals": chosen,
            "adsorbate": adsorbate,
            "placement": placement,
            "orientation": orientation,
            "supercell": supercell,
            "allow_non_transition": allow_non_transition or None,
        },
    )
    check_metals(cfg.metals, allow_non_transition=cfg.allow_non_transition)
    check_output_format(out)
    atoms = build_site(cfg.host, cfg.metals, cfg.placement, cfg.supercell)
    validate_site(atoms, cfg.host)
    if cfg.adsorbate:
        mode = cfg.orientation or orientations(len(cfg.metals), cfg.adsorbate)[0]
        atoms = place_adsorbate(atoms, cfg.adsorbate, mode)
    out.parent.mkdir(parents=True, exist_ok=True)
    # extxyz cannot hold an empty value (``m2=`` reads back as the next key): leave it out
    atoms.info = {k: v for k, v in atoms.info.items() if v != ""}
    ase.io.write(out, atoms)
    emit(
        {
            "file": str(out),
            "formula": atoms.get_chemical_formula(),
            "atoms": len(atoms),
            "host": cfg.host,
            "metals": cfg.metals,
            "adsorbate": cfg.adsorbate or "clean",
        },
        "built",
    )


@app.command(context_settings=EXTRA)
@reports_errors
def label(
    ctx: typer.Context,
    config: ConfigOpt = None,
    db: DbOpt = None,
    metals: Annotated[list[str] | None, typer.Option(help="Metals (default: the 28 of the config).")] = None,
    workers: Annotated[int | None, typer.Option(help="Parallel workers (Dask LocalCluster).")] = None,
    scheduler: Annotated[str | None, typer.Option(help="Join a Dask cluster at tcp://HOST:PORT.")] = None,
    limit: Annotated[int | None, typer.Option(help="Label only the first N sites.")] = None,
    shard_every: Annotated[int, typer.Option(help="Write a data shard every N tasks (0: never).")] = 0,
    shard_dir: Annotated[Path | None, typer.Option(help="Where shards go (default data/labels).")] = None,
) -> None:
    """Relax sites and SRR intermediates with the labeller and store them (resumable)."""
    from dacscreen.data.labelling import Labeller
    from dacscreen.data.store import default_store, export_shard

    settings = Settings()
    cfg = load_config(
        LabelConfig,
        config,
        {
            "db": db,
            "metals": metal_list(ctx, metals),
            "workers": workers,
            "limit": limit,
            "scheduler": scheduler,
        },
    )
    shards = shard_dir or settings.shards
    store = default_store(cfg.db, shards=shards)
    labeller = Labeller(cfg, store)
    if cfg.references:
        labeller.run_references(cfg.metals)
    tasks = labeller.plan()
    todo = labeller.pending(tasks)
    done = 0

    def finished(_task: object) -> None:
        nonlocal done
        done += 1
        advance(1)
        if shard_every and done % shard_every == 0:
            export_shard(store, shards)

    with progress("labelling", len(todo)) as advance:
        if cfg.workers > 1 or cfg.scheduler:
            from dacscreen.data.labelling.on_dask import run_distributed

            run_distributed(labeller, tasks, finished)
        else:
            for task in labeller.schedule(todo):
                if labeller.run_claimed(task):
                    finished(task)
                else:
                    advance(1)  # done, or being done by another process
    if shard_every:
        export_shard(store, shards)
    emit(
        {
            "tasks": len(tasks),
            "ran": max(done, labeller.ran),
            "skipped": len(tasks) - len(todo),
            "scf_not_converged": labeller.failed,
            "db": store.url,
            "method": labeller.method,
        },
        "labelling",
    )


@app.command("select-host")
@reports_errors
def select_host(
    calculator: Annotated[str, typer.Option(help="Labeller used for the relaxations.")] = "chgnet",
    out: Annotated[Path | None, typer.Option(help="Write the trials as JSON here.")] = None,
) -> None:
    """Relax Cu–Ni on every host and placement; report the host closest to the 3.4 Å reference."""
    import json

    from dacscreen.data.calculators import get_calculator
    from dacscreen.data.host_selection import choose, measure

    host, trials = choose(measure(get_calculator(calculator)))
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"default_host": host, "trials": trials}, indent=2))
    emit(
        {
            "default_host": host,
            **{
                f"{t['host']} p{t['placement']} ({t['label']})": (
                    f"{t['initial_mm']:.2f} -> {t['relaxed_mm']:.2f} A {t['anomaly']}"
                )
                for t in trials
            },
        },
        "host selection",
    )


@dataset_app.command("info")
@reports_errors
def dataset_info(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Summarise the dataset store (records, sites, states, convergence, anomalies)."""
    State.json = State.json or json_out
    from dacscreen.data.store import default_store
    from dacscreen.data.summary import summarize

    store = default_store(db)
    emit(summarize(store), f"dataset {store.url}")


@dataset_app.command("export")
@reports_errors
def dataset_export(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file.")],
    fmt: Annotated[str, typer.Option("--format", help="extxyz or csv.")] = "extxyz",
    db: DbOpt = None,
) -> None:
    """Write the whole dataset as extxyz (structures) or CSV (keys and energies)."""
    from dacscreen.data.store import default_store
    from dacscreen.data.summary import export

    store = default_store(db)
    n = export(store, out, fmt)
    emit({"file": str(out), "records": n, "format": fmt}, "export")


@dataset_app.command("import")
@reports_errors
def dataset_import(
    config: ConfigOpt = None,
    source: Annotated[Path | None, typer.Option(help="VASP folder tree, extxyz file or CSV table.")] = None,
    method: Annotated[str | None, typer.Option(help="Method string, e.g. vasp-pbe-d2.")] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="vasp-tree, extxyz, csv or energies (default: from --source)."),
    ] = None,
    db: DbOpt = None,
) -> None:
    """Import your own DFT data: VASP folders (CONTCAR + energies CSV/OSZICAR/vasprun), extxyz,
    a CSV joined to structure files, or an energies-only table (--format energies)."""
    if fmt is None and source is not None and source.is_file():
        fmt = {".extxyz": "extxyz", ".xyz": "extxyz", ".csv": "csv"}.get(source.suffix.lower())
    _import(load_config(ImportConfig, config, {"source": source, "method": method, "db": db, "format": fmt}))


def _import(cfg: ImportConfig) -> None:
    """Run one import and report it; nothing imported is an error that names the source."""
    from dacscreen.data.importers import run_import
    from dacscreen.data.store import default_store

    store = default_store(cfg.db)
    report = run_import(store, cfg)
    for e in report.errors:
        console.print(f"[yellow]skipped:[/] {e}", soft_wrap=True)
    emit(
        {
            "written": report.written,
            "already_present": report.skipped_existing,
            "errors": len(report.errors),
            **({"without_structure": report.without_structure} if cfg.format == "energies" else {}),
            "db": store.url,
            "method": cfg.method,
        },
        "import",
    )
    if not report.written and not report.skipped_existing:
        raise DacscreenError(f"{cfg.source}: nothing imported ({len(report.errors)} errors)")


@dataset_app.command("shard")
@reports_errors
def dataset_shard(db: DbOpt = None, shard_dir: Annotated[Path | None, typer.Option()] = None) -> None:
    """Append the records not yet shipped to a new compressed shard in data/labels."""
    from dacscreen.data.store import default_store, export_shard

    settings = Settings()
    store = default_store(db, shards=False)
    path = export_shard(store, shard_dir or settings.shards)
    emit({"shard": str(path) if path else "nothing new"}, "shard")


@app.command()
@reports_errors
def train(
    config: ConfigOpt = None,
    db: DbOpt = None,
    out: Annotated[Path | None, typer.Option(help="Where the trained ensemble goes.")] = None,
    arch: Annotated[str | None, typer.Option(help="schnet or painn.")] = None,
    epochs: Annotated[int | None, typer.Option(help="Maximum epochs per member.")] = None,
    ensemble: Annotated[int | None, typer.Option(help="Ensemble size K.")] = None,
    input_mode: Annotated[
        str | None,
        typer.Option(
            help="as-built (the builder's site: shipped hosts only), relaxed-site (your relaxed bare "
            "site + a placed adsorbate) or relaxed (your structures as they are)."
        ),
    ] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu or cuda.")] = None,
    devices: Annotated[
        int | None, typer.Option(help="Data-parallel processes via torchrun (one per GPU; gloo on CPU).")
    ] = None,
) -> None:
    """Train the multi-task GNN ensemble (tracked in MLflow, resumable from checkpoints)."""
    import sys

    from dacscreen.config import TrainConfig
    from dacscreen.models import ddp
    from dacscreen.models.dataset import prepare_once
    from dacscreen.models.evaluation import target_summary
    from dacscreen.models.fit import train_ensemble

    cfg = load_config(
        TrainConfig,
        config,
        {
            "db": db,
            "out": out,
            "epochs": epochs,
            "input_mode": input_mode,
            "device": device,
            "devices": devices,
        },
    )
    if cfg.devices > 1 and not ddp.is_worker():
        raise typer.Exit(ddp.launch(cfg.devices, sys.argv[1:]))
    if ddp.is_worker():
        ddp.setup()
        State.quiet = State.quiet or ddp.rank() != 0
    if arch or ensemble:
        cfg.model = cfg.model.model_copy(
            update={k: v for k, v in {"arch": arch, "ensemble": ensemble}.items() if v}
        )
    try:
        prepared = prepare_once(cfg)
        with progress("training members", cfg.model.ensemble) as advance:
            _, report = train_ensemble(cfg, prepared, advance)
    finally:
        ddp.teardown()
    if ddp.rank() == 0 and "rank" not in report:
        keys = ("test_metals", "baseline", "train_seconds", "registered")
        summary = {"model": str(cfg.out), **{k: report[k] for k in keys if k in report}}
        emit(
            {**summary, "held_out": target_summary(report), "metrics": str(cfg.out / "metrics.json")},
            "training",
        )


@app.command()
@reports_errors
def evaluate(
    model: Annotated[
        Path | None,
        typer.Option(
            help="Trained ensemble directory; without it, the descriptor baselines of --config only."
        ),
    ] = None,
    config: ConfigOpt = None,
    db: DbOpt = None,
    split: Annotated[str | None, typer.Option(help="leave-metal-out (k-fold) or random.")] = None,
    folds: Annotated[
        int, typer.Option(help="Metal groups k of the leave-metal-out cross-validation; 0 skips it.")
    ] = 5,
    members: Annotated[
        int | None, typer.Option(help="Ensemble size per fold (default: the model's).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Report directory (default: MODEL/evaluation).")] = None,
    json_file: Annotated[Path | None, typer.Option("--json", help="Also write the report JSON here.")] = None,
) -> None:
    """Evaluate a model: k-fold leave-metal-out cross-validation of its architecture against the
    best descriptor baseline (MAE, RMSE, R², ρ, top-20 recall, calibration), a random split for
    reference, and the trained model itself on its own held-out metals. The folds are trained
    with the model's own recipe (``train_config`` in its meta.json) unless --config is given.
    Without --model, every descriptor baseline of the --config's data is cross-validated (the
    road for data without structures, such as an energies-only import)."""
    import json

    from dacscreen.config import TrainConfig
    from dacscreen.models.crossval import evaluation_report
    from dacscreen.models.dataset import prepare
    from dacscreen.models.ensemble import Ensemble

    if model is None and config is None:
        raise typer.BadParameter("give --model, or --config to evaluate the baselines alone")
    ens = Ensemble.load(model) if model is not None else None
    overrides: dict = {"db": db}
    if ens is not None:
        if members:
            ens.config = ens.config.model_copy(update={"ensemble": members})
        overrides |= {
            **({} if config else ens.meta.train_config),  # the model's own recipe by default
            "db": db,  # given last: a --db beats the recipe's
            "input_mode": ens.meta.input_mode,
            "orientations": ens.meta.orientations,
        }
    cfg = load_config(TrainConfig, config, overrides)
    if split:
        cfg.split = cfg.split.model_copy(update={"kind": split})
        folds = folds if split == "leave-metal-out" else 0
    if ens is not None and cfg.split.kind == "leave-metal-out" and not cfg.split.test_metals:
        cfg.split = cfg.split.model_copy(update={"test_metals": ens.meta.test_metals})
    home = Path(model) if model is not None else cfg.out
    target = out or home / "evaluation"
    card = None if out or model is None else home / "model_card.md"  # a report elsewhere leaves the card
    with progress("cross-validation folds", folds + 1 if folds else 0) as advance:
        prepared = prepare(cfg, graphs=ens is not None)
        report = evaluation_report(ens, cfg, prepared, folds, target, advance, card)
    if json_file:
        json_file.write_text(json.dumps(report, indent=2, default=float))
    emit({"report": str(target / "evaluation.md"), **report}, "evaluation")


@app.command(context_settings=EXTRA)
@reports_errors
def screen(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path("out/screen"),
    config: ConfigOpt = None,
    model: Annotated[Path | None, typer.Option(help="Trained ensemble (default: the shipped model).")] = None,
    metals: Annotated[
        list[str] | None, typer.Option(help="Metal set (default: 28 transition metals).")
    ] = None,
    top: Annotated[int | None, typer.Option(help="Rows in the top-K table.")] = None,
    host: Annotated[str | None, typer.Option(help="heptazine or melon.")] = None,
    workers: Annotated[int | None, typer.Option(help="Dask worker processes (0: one per core).")] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Screen on a Dask cluster at tcp://HOST:PORT.")
    ] = None,
) -> None:
    """Predict and rank every site; write candidates.csv/.parquet, report.html and PNGs."""
    from rich.table import Table

    from dacscreen.config import ScreenConfig
    from dacscreen.screening.runner import log_screen, run_screen
    from dacscreen.screening.space import space_from_config

    cfg = load_config(
        ScreenConfig,
        config,
        {
            "model": model,
            "metals": metal_list(ctx, metals),
            "top": top,
            "host": host,
            "workers": workers,
            "scheduler": scheduler,
        },
    )
    check_output_dir(out)
    n = sum(1 for _ in space_from_config(cfg))
    with progress("screening sites", n) as advance:
        df = run_screen(cfg, out, advance)
    run_id = log_screen(df, cfg, out) if cfg.track else None
    if not (State.quiet or State.json):
        table = Table(title=f"top {cfg.top} candidates (ΔG in eV, 0 V vs Li/Li+)")
        for c in ("rank", "site", "|Δχ|", "ΔG_RDS ± σ", "RDS", "E_ads Li2S2", "E_ads Li2S", "pass"):
            table.add_column(c)
        for _, r in df.head(cfg.top).iterrows():
            table.add_row(
                str(r["rank"]),
                f"{r.m1}{r.m2}",
                f"{r.delta_chi:.2f}",
                f"{r.dg_rds:.2f} ± {r.dg_rds_std:.2f}",
                str(r.rds_step),
                f"{r.e_ads_li2s2:.2f}",
                f"{r.e_ads_li2s:.2f}",
                "yes" if r.passes_filters else "no",
            )
        console.print(table)
    emit(
        {
            "sites": len(df),
            "pairs": int((~df["reference_row"]).sum()),
            "pairs_passing": int(df.loc[~df["reference_row"], "passes_filters"].sum()),
            "out": str(out),
            "best": f"{df.iloc[0].m1}{df.iloc[0].m2}",
            "mlflow_run": run_id,
        },
        "screening",
    )


@app.command("export-dft")
@reports_errors
def export_dft(
    candidates: Annotated[Path, typer.Option(help="candidates.csv from dacscreen screen.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the job folders and reports.")],
    top: Annotated[int, typer.Option(help="Number of candidates (by acquisition value).", min=1)] = 10,
    code: Annotated[
        str, typer.Option(help="vasp (write inputs), gpaw (ML+SP with GPAW now) or ase (run now).")
    ] = "vasp",
    calculator: Annotated[str, typer.Option(help="Relaxing calculator (name or module:Class).")] = "chgnet",
    single_point: Annotated[
        str | None, typer.Option(help="With --code ase: single-point calculator on the relaxed geometries.")
    ] = None,
    db: DbOpt = None,
    all_states: Annotated[bool, typer.Option(help="All seven states, not only clean/Li2S2/Li2S.")] = False,
    force: Annotated[
        bool, typer.Option(help="--code vasp: overwrite the inputs of job folders that hold VASP output.")
    ] = False,
) -> None:
    """Verify candidates with DFT. --code vasp writes VASP input sets (POSCAR with selective
    dynamics, INCAR, KPOINTS, POTCAR.spec; the store's relaxed geometries where it has them) and
    the reference jobs (bcc Li, gas molecules, bare host), a manifest and a SLURM array;
    --code gpaw relaxes them with --calculator and runs GPAW PBE+D3 single points on those
    geometries (ML+SP) and reports the AdsorbML success rate of the screening prediction and of
    the Δ-ML estimate (the relaxation's own label through the fidelity map of the store's other
    sites); --code ase runs the relaxations (and --single-point, if given) with any ASE
    calculator."""
    import json

    import pandas as pd

    from dacscreen.config import CalculatorConfig
    from dacscreen.data.labelling import Labeller
    from dacscreen.data.store import default_store
    from dacscreen.thermo import SRR_SPECIES
    from dacscreen.workflows.export_dft import export_candidates
    from dacscreen.workflows.loop import verify
    from dacscreen.workflows.verify_dft import ml_sp_verify

    if code not in {"vasp", "gpaw", "ase"}:
        raise DacscreenError(f"--code {code!r}: choose vasp, gpaw or ase")
    check_output_dir(out)
    if code == "vasp":
        store = default_store(db)
        folders = export_candidates(candidates, out, top, all_states, code, store, force)
        emit({"jobs": len(folders), "out": str(out)}, "DFT export")
        return
    if not candidates.is_file():
        raise DacscreenError(f"{candidates}: candidates file not found (run dacscreen screen first)")
    picks = (
        pd.read_csv(candidates, keep_default_na=False).sort_values("acquisition", ascending=False).head(top)
    )
    states = ["clean", *SRR_SPECIES] if all_states else ["clean", "Li2S2", "Li2S"]
    store = default_store(db)
    sp_name = "gpaw" if code == "gpaw" else single_point
    if sp_name:
        report = ml_sp_verify(
            picks, store, CalculatorConfig(name=sp_name), CalculatorConfig(name=calculator), states
        )
        out.mkdir(parents=True, exist_ok=True)
        (out / "verification.json").write_text(json.dumps(report, indent=2, default=float))
        delta_ml = {f"delta_ml_{k}": v for k, v in (report["delta_ml"] or {}).items() if k != "pairs"}
        summary = {k: v for k, v in report.items() if k not in {"pairs", "delta_ml"}}
        emit({**summary, **delta_ml}, "ML+SP verification")
        return
    cfg = LabelConfig(
        host=str(picks.host.iloc[0]),
        calculator=CalculatorConfig(name=calculator),
        states=states,
        method_label=f"{calculator}-verify",
        max_orientations=2,
    )
    ran = verify(Labeller(cfg, store), picks)
    emit({"tasks_run": ran, "method": cfg.method_label}, "verification")


@app.command()
@reports_errors
def ingest(
    root: Annotated[Path, typer.Argument(help="Directory tree of finished VASP runs.")],
    method: Annotated[str, typer.Option(help="Method string stored with every record.")] = "vasp-pbe-d3",
    db: DbOpt = None,
    allow_unconverged: Annotated[bool, typer.Option(help="Keep runs that did not converge.")] = False,
) -> None:
    """Read finished DFT runs back into the dataset: an alias of ``dataset import --format
    vasp-tree`` that reads the jobs of ``export-dft`` (their job.json names each site)."""
    overrides = {"source": root, "method": method, "db": db, "format": "vasp-tree"}
    _import(ImportConfig.model_validate(overrides | {"allow_unconverged": allow_unconverged}))


@app.command()
@reports_errors
def tune(
    config: ConfigOpt = None,
    n_trials: Annotated[
        int | None, typer.Option("--trials", "--n-trials", help="Finished trials the study should hold.")
    ] = None,
    storage: Annotated[str | None, typer.Option(help="Optuna RDB storage URL.")] = None,
) -> None:
    """Optuna search over the GNN hyper-parameters on the validation split (resumable)."""
    from dacscreen.config import TuneConfig
    from dacscreen.models.tune import run_study

    cfg = load_config(TuneConfig, config, {"n_trials": n_trials, "storage": storage})
    with progress("trials", cfg.n_trials) as advance:
        summary = run_study(cfg, advance)
    emit(summary, "tuning")


@app.command()
@reports_errors
def register(
    model: Annotated[
        Path | None, typer.Option(help="Ensemble directory (default: the shipped model).")
    ] = None,
    name: Annotated[str, typer.Option(help="Registered model name.")] = "dacscreen",
    alias: Annotated[
        str | None, typer.Option(help="Alias for the version, as in models:/NAME@ALIAS.")
    ] = "shipped",
) -> None:
    """Register a trained ensemble in the project's MLflow registry (once per set of weights), so
    that ``--model models:/dacscreen@shipped`` and ``mlflow.pyfunc.load_model`` find it."""
    from dacscreen.models.registry import register_once

    model_dir = Path(default_model(model))
    version, new = register_once(model_dir, name, alias)
    uri = f"models:/{name}@{alias}" if alias else f"models:/{name}/{version}"
    emit({"model": str(model_dir), "version": version, "new": new, "uri": uri}, "registry")


@app.command()
@reports_errors
def dashboard(
    port: Annotated[int, typer.Option(help="MLflow UI port.")] = 5000,
    host: Annotated[
        str, typer.Option(help="Interface to bind (127.0.0.1 = this machine only).")
    ] = "127.0.0.1",
    optuna_storage: Annotated[
        str | None, typer.Option(help="Also serve optuna-dashboard on this storage.")
    ] = None,
    optuna_port: Annotated[int, typer.Option(help="optuna-dashboard port.")] = 8080,
) -> None:
    """Serve the MLflow UI on the project's tracking store (Ctrl-C stops it)."""
    from dacscreen.dashboard import exposure_warning, mlflow_command, optuna_command, serve

    warning = exposure_warning(host)
    if warning:
        console.print(f"[bold yellow]warning:[/] {warning}")
    commands = [mlflow_command(host, port)]
    console.print(f"MLflow UI: http://{host}:{port}")
    if optuna_storage:
        commands.append(optuna_command(optuna_storage, host, optuna_port))
        console.print(f"Optuna dashboard: http://{host}:{optuna_port}")
    raise typer.Exit(serve(commands))


@app.command("dft-picks")
@reports_errors
def dft_picks(
    candidates: Annotated[Path, typer.Argument(help="A screen's candidates.csv (with acquisition).")],
    out: Annotated[Path, typer.Option(help="Site list to write (CSV, for label's sites).")],
    n: Annotated[int, typer.Option(help="Sites to pick.")] = 100,
    method: Annotated[str, typer.Option(help="DFT method whose sites count as done.")] = "gpaw-lcao-pbe-d3",
    stratified_share: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of picks made for coverage, not acquisition.")
    ] = 0.5,
    redo: Annotated[
        bool, typer.Option(help="List the sites already done first (stale single points rerun).")
    ] = True,
    db: DbOpt = None,
) -> None:
    """Pick the next sites for DFT: the screen's acquisition, with a stratified share for the
    3d–3d hetero pairs and the metals with the fewest DFT sites."""
    import pandas as pd

    from dacscreen.data.store import default_store
    from dacscreen.errors import ConfigError
    from dacscreen.workflows.dft_picks import pick_dft_sites, with_redo, write_picks
    from dacscreen.workflows.loop import verified_sites

    try:
        table = pd.read_csv(candidates)
    except (OSError, pd.errors.ParserError) as exc:
        raise ConfigError(f"{candidates}: cannot read the candidates table ({exc})") from exc
    done = verified_sites(default_store(db), method)
    picks = pick_dft_sites(table, done, n, stratified_share)
    write_picks(with_redo(picks, done) if redo else picks, out)
    counts = picks["pick"].value_counts().to_dict()
    emit({"picked": len(picks), "already_done": len(done), **counts, "out": str(out)}, "DFT picks")


@app.command()
@reports_errors
def loop(
    config: ConfigOpt = None,
    db: DbOpt = None,
    rounds: Annotated[int | None, typer.Option(help="Rounds to run.")] = None,
) -> None:
    """Active learning: train, screen, pick by acquisition, verify with a calculator, ingest, repeat."""
    from dacscreen.config import LoopConfig
    from dacscreen.workflows.loop import run_loop

    cfg = load_config(LoopConfig, config, {"rounds": rounds})
    history = run_loop(cfg, db)
    emit({f"round {h['round']}": h for h in history}, "active learning")


if __name__ == "__main__":  # pragma: no cover
    app()
