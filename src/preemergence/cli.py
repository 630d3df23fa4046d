"""The `preemergence` command line: one command per pipeline stage (thin shells)."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import typer

from .config import DEFAULT_PARAMS, ParamsError, load_params

app = typer.Typer(help="Pre-emergence magnetic-field patterns (Dhuri et al. 2020): "
                       "the pipeline's stages, one command each.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

PARAMS_OPTION = typer.Option(DEFAULT_PARAMS, "--params", help="Parameters file (YAML).")
FORCE_OPTION = typer.Option(False, "--force", help="Replace existing outputs.")


def _clear_errors(func):
    """Bad input ends with one line on stderr naming the file and problem, and exit code 2."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from .regionstore import RegionStoreError
        from .validation import ValidationFailed
        try:
            return func(*args, **kwargs)
        except (RegionStoreError, ParamsError, ValidationFailed, FileExistsError,
                ValueError, KeyError) as exc:
            message = str(exc) if not isinstance(exc, KeyError) else f"missing parameter {exc}"
            typer.echo(f"error: {message}", err=True)
            sys.exit(2)
    return wrapper


@app.command()
@_clear_errors
def simulate(out: Path = typer.Option(Path("data/regions"), help="Region store to write."),
             params: Path = PARAMS_OPTION, force: bool = FORCE_OPTION):
    """Simulate a HEAR-like region store (EARs and CRs at every time bin)."""
    from .artifacts import refuse_overwrite
    from .simulate import simulate_store
    p = load_params(params)
    refuse_overwrite(out, force)
    metas = simulate_store(p["simulate"], p["time_bins"], p["seed"], out)
    typer.echo(f"wrote {len(metas)} regions x {len(p['time_bins'])} time bins to {out}")


@app.command()
@_clear_errors
def prepare(regions: Path = typer.Option(None, help="Region store (default: data.regions_dir)."),
            out: Path = typer.Option(Path("data/segments"), help="Segment sets folder."),
            reports: Path = typer.Option(Path("reports"), help="Reports folder."),
            params: Path = PARAMS_OPTION, force: bool = FORCE_OPTION):
    """Region store -> validated segment tables per time bin, folds, Table 1."""
    from .artifacts import refuse_overwrite
    from .prepare import run_prepare
    p = load_params(params)
    refuse_overwrite(out, force)
    result = run_prepare(p, regions or Path(p["data"]["regions_dir"]), out, reports)
    typer.echo(f"wrote {len(result.tables)} segment tables to {out}; Table 1 in "
               f"{reports / 'table1.md'}")




if __name__ == "__main__":  # pragma: no cover - `python -m preemergence.cli`
    app()
