"""The `preemergence` command line: one command per pipeline stage (thin shells)."""

from __future__ import annotations

import errno
import functools
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from preemergence.core.catalog import stage_help
from preemergence.core.config import DEFAULT_PARAMS, ParamsError, load_params
from preemergence.core.constants import time_from_label
from preemergence.core.paths import (HMI_QUIET_DIR, REGIONS_DIR, REPORTS_DIR, SEGMENTS_DIR,
                                     STAGE_MODELS_DIRS)

app = typer.Typer(help="Pre-emergence magnetic-field patterns (Dhuri et al. 2020): "
                       "the pipeline's stages, one command each.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  rich_markup_mode=None)

PARAMS_OPTION = typer.Option(DEFAULT_PARAMS, "--params", help="Parameters file (YAML).")
FORCE_OPTION = typer.Option(False, "--force", help="Replace existing outputs.")
REGIONS_OPTION = typer.Option(REGIONS_DIR, help="Region store.")
SEGMENTS_OPTION = typer.Option(SEGMENTS_DIR, help="Segment sets folder.")
REPORTS_OPTION = typer.Option(REPORTS_DIR, help="Reports folder.")


def models_option(stage: str, help_text: str = "Models folder."):
    """The --models option of a training stage (default: its folder in core.paths)."""
    return typer.Option(STAGE_MODELS_DIRS[stage], help=help_text)


EXECUTOR_HELP = ("Where training runs go: inprocess, local[:N] (a Dask cluster here) or a Dask "
                 "scheduler address; default $PREEMERGENCE_EXECUTOR, else "
                 "DASK_SCHEDULER_ADDRESS, else inprocess. Never changes a result "
                 "(docs/cluster.md).")
EXECUTOR_OPTION = typer.Option(None, "--executor", help=EXECUTOR_HELP)
JSOC_EMAIL_ENV = "JSOC_EMAIL"
# The options every training stage takes, as annotated types (default in the signature).
Regions = Annotated[Path, typer.Option(help="Region store.")]
Segments = Annotated[Path, typer.Option(help="Segment sets folder.")]
Reports = Annotated[Path, typer.Option(help="Reports folder.")]
ParamsFile = Annotated[Path, typer.Option("--params", help="Parameters file (YAML).")]
Force = Annotated[bool, typer.Option("--force", help="Replace existing outputs.")]
ExecutorChoice = Annotated[str | None, typer.Option("--executor", help=EXECUTOR_HELP)]


def use_executor(option: str | None) -> None:
    """Check the --executor choice (exit 2 on a bad one) and hand it to the training code
    through $PREEMERGENCE_EXECUTOR (the progress bars name the executor)."""
    from preemergence.core.executor import EXECUTOR_ENV, resolve
    resolve(option)
    if option:
        os.environ[EXECUTOR_ENV] = option


def _clear_errors(func):
    """Bad input ends with one line on stderr naming the file and problem, and exit code 2.

    Set PREEMERGENCE_DEBUG=1 to get the full traceback instead.
    """
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from preemergence.core.errors import RegionStoreError, ValidationFailed
        from preemergence.core.executor import TaskFailed
        try:
            return func(*args, **kwargs)
        except TaskFailed as exc:                # a training run failed on an executor
            if os.environ.get("PREEMERGENCE_DEBUG"):
                raise
            typer.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except (RegionStoreError, ParamsError, ValidationFailed, FileExistsError,
                FileNotFoundError, ValueError) as exc:
            if os.environ.get("PREEMERGENCE_DEBUG"):
                raise
            typer.echo(f"error: {' '.join(str(exc).split())}", err=True)
            sys.exit(2)
        except OSError as exc:                   # a full disk (or quota): one line, exit 2
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT) or os.environ.get(
                    "PREEMERGENCE_DEBUG"):
                raise
            typer.echo(f"error: {exc.filename or 'writing an output'}: no space left on the "
                       "device; nothing was kept (free space and run again)", err=True)
            sys.exit(2)
    return wrapper


REGIONS_NEEDS = """
Needs, with data.source=hmi: the catalogue acquire.catalogue (docs/real-data.md), and
  either a folder of frames (acquire.frames_dir) or the network and a JSOC-registered
  e-mail (--email or $JSOC_EMAIL); downloads are cached in acquire.cache_dir.
  With data.source=simulated: nothing."""


@app.command("regions", epilog=stage_help("regions") + REGIONS_NEEDS)
@_clear_errors
def regions(out: Path = typer.Option(REGIONS_DIR, help="Region store to write."),
            reports: Reports = REPORTS_DIR, params: ParamsFile = DEFAULT_PARAMS,
            force: Force = False,
            email: str = typer.Option(None, envvar=JSOC_EMAIL_ENV, help="JSOC-registered "
                                      f"e-mail for exports (data.source=hmi; or ${JSOC_EMAIL_ENV}); "
                                      "never written to a file."),
            dry_run: bool = typer.Option(False, "--dry-run", help="data.source=hmi: print the "
                                         "frames and bytes to fetch per region and in all; "
                                         "fetch and write nothing.")):
    """The region store: simulated (data.source=simulated) or from SDO/HMI (hmi), checked."""
    p = load_params(params)
    if dry_run:
        from preemergence.acquire.pipeline import print_plan
        print_plan(p.acquire, p.time_bins, email, typer.echo)
        return
    from preemergence.stages.regions import run_regions
    summary = run_regions(p, out, reports, force, email=email)
    missing = len(summary["missing_time_bins"])
    typer.echo(f"wrote {summary['n_ear']} EARs and {summary['n_cr']} CRs ({summary['source']}) "
               f"x {len(p.time_bins)} time bins to {out}"
               f"{f' ({missing} bins missing)' if missing else ''}; checks in "
               f"{reports / 'regions.md'}")


@app.command("prepare", epilog=stage_help("prepare"))
@_clear_errors
def prepare(regions: Path = typer.Option(None, help="Region store (default: data.regions_dir)."),
            out: Path = SEGMENTS_OPTION, reports: Path = REPORTS_OPTION,
            params: Path = PARAMS_OPTION, force: bool = FORCE_OPTION):
    """Region store -> validated segment tables per time bin, folds, Table 1."""
    from preemergence.stages.prepare import run_prepare
    p = load_params(params)
    result = run_prepare(p, regions or Path(p.data.regions_dir), out, reports,
                         force=force)
    typer.echo(f"wrote {len(result.tables)} segment tables to {out}; Table 1 in "
               f"{reports / 'table1.md'}")


@app.command("baseline", epilog=stage_help("baseline"))
@_clear_errors
def baseline(segments: Path = SEGMENTS_OPTION, reports: Path = REPORTS_OPTION,
             params: Path = PARAMS_OPTION,
             force: bool = FORCE_OPTION):
    """Kernel-density discriminant analysis of MTOT and of (MTOT, DM), k-fold TSS."""
    from preemergence.stages.baseline import run_baseline
    summary = run_baseline(load_params(params), segments, reports, force)
    first = next(iter(summary["mtot"]))
    mtot = summary["mtot"][first]["tss_mean"]
    typer.echo(f"DA TSS at {time_from_label(first)} h: MTOT {100 * mtot:.1f}"
               f" %, MTOT+DM {100 * summary['mtot_dm'][first]['tss_mean']:.1f} %; report in "
               f"{reports / 'baseline.md'}")

@app.command("train-cv", epilog=stage_help("train-cv"))
@_clear_errors
def train_cv(regions: Regions = REGIONS_DIR, segments: Segments = SEGMENTS_DIR,
             models: Path = models_option("train-cv"), reports: Reports = REPORTS_DIR,
             params: ParamsFile = DEFAULT_PARAMS, force: Force = False,
             executor: ExecutorChoice = None):
    """Train the CNN with k-fold cross-validation (prepare.n_folds) at every time bin."""
    use_executor(executor)
    from preemergence.stages.train_cv import run_train_cv
    summary = run_train_cv(load_params(params), regions, segments, models, reports, force)
    first = next(iter(summary))
    typer.echo(f"CNN TSS at {time_from_label(first)} h: {100 * summary[first]['tss_mean']:.1f} ± "
               f"{100 * summary[first]['tss_std']:.1f} %; Table 3 in {reports / 'table3.md'}")


@app.command("depth-study", epilog=stage_help("depth-study"))
@_clear_errors
def depth_study(regions: Regions = REGIONS_DIR, segments: Segments = SEGMENTS_DIR,
                reports: Reports = REPORTS_DIR, params: ParamsFile = DEFAULT_PARAMS,
                force: Force = False, executor: ExecutorChoice = None,
                models: Path = models_option("depth-study")):
    """TSS against CNN depth at one time bin (paper Table 2), k-fold cross-validation."""
    use_executor(executor)
    from preemergence.stages.depth_study import run_depth_study
    table = run_depth_study(load_params(params), regions, segments, models, reports, force)
    typer.echo("TSS by depth: " + ", ".join(f"{k[5:]}: {100 * v['tss_mean']:.1f} %"
                                            for k, v in table.items()))


@app.command("interpret", epilog=stage_help("interpret"),
             short_help="The paper's interpretation: Figs. 3, 10-18, 24, Tables 4-5.")
@_clear_errors
def interpret(regions: Path = REGIONS_OPTION, segments: Path = SEGMENTS_OPTION,
              train_cv_models: Path = models_option("train-cv", "train-cv models."),
              prune_models: Path = models_option("prune", "prune models."),
              models: Path = models_option("interpret", "Models this stage trains."),
              reports: Path = REPORTS_OPTION, params: Path = PARAMS_OPTION,
              force: bool = FORCE_OPTION,
              executor: str = EXECUTOR_OPTION):
    """The paper's interpretation: Figs. 3, 10-18, 24, Tables 4-5, reports/interpretation.md."""
    use_executor(executor)
    from preemergence.stages.interpret import run_interpret
    metrics = run_interpret(load_params(params), regions, segments,
                            {"train_cv": train_cv_models, "prune": prune_models,
                             "own": models}, reports, force)
    typer.echo(f"wrote {reports / 'interpretation.md'} (time bin {metrics['time_h']} h)")


@app.command("interpret-validate", epilog=stage_help("interpret-validate"),
             short_help="Each interpretation probe on data with a planted answer.")
@_clear_errors
def interpret_validate(reports: Path = REPORTS_OPTION, params: Path = PARAMS_OPTION,
                       force: bool = FORCE_OPTION, executor: str = EXECUTOR_OPTION):
    """Each probe of interpret (bipoles, occlusion, output vs MTOT, |B| vs B) on planted-truth
    data: reports/interpret_validation.json, read by interpret."""
    use_executor(executor)
    from preemergence.stages.interpret_validate import run_interpret_validate
    record = run_interpret_validate(load_params(params), reports, force)
    for name, result in record["sets"].items():
        typer.echo(f"{name}: probe {'passed' if result['passed'] else 'NOT validated'} "
                   f"(planted-set TSS {100 * result['tss']['estimate']:.1f} %)")


@app.command("prune", epilog=stage_help("prune"),
             short_help="Prune the last convolution 256 -> 4 with the paper's controls.")
@_clear_errors
def prune(regions: Path = REGIONS_OPTION, segments: Path = SEGMENTS_OPTION,
          models: Path = models_option("prune"),
          reports: Path = REPORTS_OPTION, params: Path = PARAMS_OPTION,
          force: bool = FORCE_OPTION,
          executor: str = EXECUTOR_OPTION):
    """Prune the last convolution 256 -> 4 (paper App. C) with random and N = 4 controls."""
    use_executor(executor)
    from preemergence.stages.prune import run_prune
    metrics = run_prune(load_params(params), regions, segments, models, reports, force)
    for variant, by_time in metrics.items():
        typer.echo(f"{variant}: " + ", ".join(
            f"{time_from_label(k)} h {100 * v['tss_mean']:.1f} ± {100 * v['tss_std']:.1f} %"
            for k, v in by_time.items()))


@app.command("stats", epilog=stage_help("stats"),
             short_help="Bootstrap intervals, paired tests and the leakage guard.")
@_clear_errors
def stats(regions: Path = REGIONS_OPTION, segments: Path = SEGMENTS_OPTION,
          reports: Path = REPORTS_OPTION, params: Path = PARAMS_OPTION,
          force: bool = FORCE_OPTION, executor: str = EXECUTOR_OPTION):
    """TSS with region-bootstrap intervals, paired CNN - DA tests, the leakage guard."""
    use_executor(executor)
    from preemergence.stages.stats import run_stats
    from preemergence.stats.leakage import LeakageGuardFailed
    try:
        metrics = run_stats(load_params(params), regions, segments, reports, force)
    except LeakageGuardFailed as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    guard = metrics["leakage_guard"]
    typer.echo(f"leakage guard passed (TSS of the random-region-label CNNs "
               f"{100 * guard['tss']:.1f} %, interval {100 * guard['low']:.1f} to "
               f"{100 * guard['high']:.1f} %); report in {reports / 'statistics.md'}")


@app.command("results", epilog=stage_help("results"),
             short_help="The headline results block, from the reports.")
@_clear_errors
def results(segments: Path = SEGMENTS_OPTION, reports: Path = REPORTS_OPTION,
            readme: Path = typer.Option(None, help="Also replace this file's results block "
                                        "(README.md: do it when committing reports)."),
            params: Path = PARAMS_OPTION, force: bool = FORCE_OPTION):
    """Our TSS next to the paper's, the paired verdicts, the leakage guard and the findings,
    with the data, schedule, machine and commit that produced them."""
    from preemergence.stages.results import run_results
    run_results(load_params(params), segments, reports, readme, force)
    typer.echo(f"results in {reports / 'results.md'}" + (f" and {readme}" if readme else ""))


@app.command("mlflow-ui")
@_clear_errors
def mlflow_ui(port: int = typer.Option(5000, help="Port on 127.0.0.1."),
              host: str = typer.Option("127.0.0.1", help="Address to bind.")):
    """Serve the MLflow UI of this repository's store, opening in the Model-training view."""
    from preemergence.core.paths import repo_root
    from preemergence.core.tracking import ARTIFACTS_DIR, relocate_store
    from preemergence.core.mlflow_ui import serve
    root = repo_root()
    relocate_store(root)
    typer.echo(f"MLflow UI of {root / 'mlflow.db'}: http://{host}:{port}/ (Ctrl-C stops it)")
    serve(root / "mlflow.db", root / ARTIFACTS_DIR, host=host, port=port)


@app.command("realism", epilog=stage_help("realism"))
@_clear_errors
def realism(regions: Path = REGIONS_OPTION,
            patches: Path = typer.Option(HMI_QUIET_DIR, help="Real HMI quiet patches."),
            reports: Path = REPORTS_OPTION, params: Path = PARAMS_OPTION,
            force: bool = FORCE_OPTION):
    """Compare simulated CR maps with real HMI quiet-Sun patches (report + figure)."""
    from preemergence.stages.realism import run_realism
    p = load_params(params)
    stats = run_realism(p, regions, patches, reports, force)
    typer.echo(f"mean |B|: simulated {stats['sim_mean_abs_b_g']:.2f} G, real (720 s) "
               f"{stats['real_mean_abs_b_g']:.2f} G; report in "
               f"{reports / 'simulator_realism.md'}")


@app.command("hmi-quiet")
@_clear_errors
def hmi_quiet(hmi: list[Path] = typer.Argument(..., help="Full-disk hmi.M_720s FITS files."),
              out: Path = typer.Option(HMI_QUIET_DIR, help="Folder for the patches."),
              n_per_file: int = typer.Option(3, help="Quiet patches per magnetogram."),
              force: bool = FORCE_OPTION):
    """Project quiet-Sun reference patches from real full-disk HMI magnetograms."""
    from preemergence.core.artifacts import refuse_overwrite
    from preemergence.solar.hmi_quiet import select_quiet_patches, write_patches
    refuse_overwrite(out, force)
    written = write_patches(select_quiet_patches(sorted(hmi), n_per_file), out)
    typer.echo(f"wrote {len(written)} quiet-Sun patches to {out}")


@app.command()
@_clear_errors
def project(magnetogram: Path = typer.Argument(..., help="Full-disk hmi.M_720s FITS file."),
            lon: float = typer.Option(..., help="Stonyhurst longitude of the centre (deg)."),
            lat: float = typer.Option(..., help="Stonyhurst latitude of the centre (deg)."),
            out: Path = typer.Option(..., help="Output FITS (256 x 256 Postel map, G)."),
            method: str = typer.Option("interpolation", help="interpolation | adaptive"),
            max_angle: float = typer.Option(60.0, help="Largest allowed heliocentric angle "
                                                       "of the centre (deg)."),
            region_id: str = typer.Option(None, help="Also write region-store keywords "
                                                     "with this REGIONID."),
            kind: str = typer.Option("EAR", help="Region kind with --region-id: EAR | CR."),
            time_h: float = typer.Option(None, help="Time relative to emergence (h), "
                                                    "with --region-id."),
            force: bool = FORCE_OPTION):
    """Postel-project a full-disk HMI magnetogram: 256 x 256 at 1.4 Mm/px around (lon, lat)."""
    from preemergence.core.artifacts import refuse_overwrite, require_file_path
    from preemergence.solar.projection import project_to_file
    require_file_path(out)
    refuse_overwrite(out, force)
    data = project_to_file(magnetogram, lon, lat, out, method, max_angle,
                           None if region_id is None else (region_id, kind, time_h))
    typer.echo(f"wrote {out}: mean |B| {abs(data).mean():.2f} G")


@app.command()
@_clear_errors
def scan(magnetogram: Path = typer.Argument(..., help="Full-disk hmi.M_720s FITS file."),
         model: Path = typer.Option(STAGE_MODELS_DIRS["train-cv"] / "depth5" / "t-3.2h" / "fold0",
                                    help="Trained run folder (model.keras + result.json), "
                                    "or a registered MLflow model such as "
                                    "models:/preemergence-cnn-t-03.2h@fold0."),
         out: Path = typer.Option(..., help="Output FITS: P(PE) on a Stonyhurst lon/lat grid."),
         png: Path = typer.Option(None, help="Also draw the map over the magnetogram (PNG)."),
         step_deg: float = typer.Option(2.5, help="Grid step of segment centres (deg)."),
         max_angle_deg: float = typer.Option(60.0, help="Largest heliocentric angle of a "
                                                        "segment centre (deg)."),
         segments: Path = typer.Option(SEGMENTS_DIR, help="Segment sets the model "
                                       "was trained on (for the training-data source)."),
         data_source: str = typer.Option(None, help="Training-data source (synthetic | real "
                                         "| mixed), overriding --segments."),
         batch_size: int = typer.Option(256, help="Segments per prediction batch."),
         force: bool = FORCE_OPTION):
    """Scan a full-disk magnetogram with a trained CNN: map of pre-emergence probability."""
    from preemergence.core.artifacts import refuse_overwrite, require_file_path
    from preemergence.solar.scan import caveat
    from preemergence.solar.scan_files import scan_file
    for path in (out, png):
        if path is not None:
            require_file_path(path)
            refuse_overwrite(path, force)
    result, source = scan_file(magnetogram, model, out, png, step_deg, max_angle_deg, segments,
                               data_source, batch_size, sys.stderr.isatty())
    typer.echo(f"wrote {out}{' and ' + str(png) if png else ''}: {result.n_scanned} segments "
               f"({result.n_skipped} skipped); {caveat(source)}")


if __name__ == "__main__":  # pragma: no cover - `python -m preemergence.cli`
    app()
