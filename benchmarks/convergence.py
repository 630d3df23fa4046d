"""Benchmark: does the default training schedule reach the plateau? (issue 24, point 4)

TSS at one time bin (default -3.2 h) against training sample-steps, for CNN depths 1-5 on
``--folds`` folds (default 0 and 1), on the pipeline's own data (data/regions and
data/segments, i.e. after `make run`'s prepare stage) and through the pipeline's own code:
the fold's training samples, the network of ``training.fresh_network`` (seed + fold), Adam
at batch 32 on ``samples_per_epoch`` random samples an epoch (``training.fit_model``), TSS on
the fold's evaluation tiles at train.threshold (``runs.score_tiles``).

Schedules: ``constant`` learning rate (1e-3), one long run per (depth, fold) scored after
the epochs in CHECKPOINTS (its curve does not depend on where it stops); ``cosine`` decay
from 1e-3 to 0 over E epochs, one run per E in COSINE_EPOCHS (scored at its end, its
schedule depends on E). Rows are appended to convergence.json as they come (a killed study
keeps what it measured; ``--resume`` skips measured runs); ``--report`` writes
convergence.md and convergence.png from it.
Usage: python benchmarks/convergence.py [--folds 0 1] [--epochs 36] [--depths 1 2 3 4 5]
       [--cosine 3 6 12 24] [--resume] [--report]
(a shallow network converges slowest: e.g. --resume --depths 1 --epochs 120 --cosine 48 96
extends depth 1; a longer constant-rate run repeats the shorter one's first checkpoints
bit for bit, and the report counts each checkpoint once)
"""

import preemergence  # noqa: F401  first: the package sets TensorFlow's defaults

import argparse
import json
import os
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "reports" / "benchmarks"
CHECKPOINTS = (1, 2, 3, 4, 6, 8, 10, 12, 16, 20, 24, 30, 36, 48, 60, 72, 96, 120)
COSINE_EPOCHS = (3, 6, 12, 24)
DEPTHS = (1, 2, 3, 4, 5)


def study_runs(folds, depths, max_epochs: int, cosine_epochs):
    """(depth, fold, schedule, epochs) of every run, cheap ones first."""
    for fold in folds:
        for depth in depths:
            yield depth, fold, "constant", max_epochs
            for epochs in cosine_epochs:
                yield depth, fold, "cosine", epochs


def measure(data, params, depth: int, fold: int, schedule: str, epochs: int,
            time_h: float) -> list[dict]:
    """Train one run; a row per scored checkpoint."""
    import dataclasses
    import keras
    from preemergence.model import training, windows
    from preemergence.model.configs import train_config
    from preemergence.model.runs import fold_tables, score_tiles, standardisation
    config = dataclasses.replace(train_config(params), depth=depth, epochs=epochs,
                                 lr_schedule=schedule)
    keras.utils.set_random_seed(config.seed + fold)
    train, _, tiles = fold_tables(data.table, fold, config)
    mean, std = standardisation(data, config)
    source = windows.source_from_table(data.cube, data.index, train, mean, std)
    model = training.fresh_network(depth, config.seed + fold, config.final_filters)
    scored_at = CHECKPOINTS if schedule == "constant" else (epochs,)
    rows, start = [], time.perf_counter()

    class Score(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 in scored_at:
                tss = score_tiles(model, data, tiles, mean, std, config)["tss"]
                rows.append({"depth": depth, "fold": fold, "schedule": schedule,
                             "schedule_epochs": epochs, "epoch": epoch + 1,
                             "sample_steps": (epoch + 1) * config.samples_per_epoch,
                             "tss": tss, "loss": logs["loss"],
                             "elapsed_s": time.perf_counter() - start})
                print(json.dumps(rows[-1]), flush=True)

    training.fit_model(model, source, None, epochs, config.learning_rate, config.batch_size,
                       seed=config.seed + fold, callbacks=[Score()],
                       samples_per_epoch=config.samples_per_epoch, lr_schedule=schedule)
    return rows


def run_study(args) -> None:
    from preemergence.core.artifacts import read_json, write_json
    from preemergence.core import hardware
    from preemergence.core.config import load_params
    from preemergence.model.configs import train_config
    from preemergence.model.runs import load_time_bins
    params = load_params(ROOT / "params.yaml")
    data = load_time_bins(ROOT / "data/regions", ROOT / "data/segments", [args.time_h],
                          params.prepare.n_folds)[args.time_h]
    path = OUT / "convergence.json"
    study = read_json(path) if args.resume else None
    if not study:
        config = train_config(params)           # what measure() varies the length of
        study = {"machine": {**hardware.describe(), "cpus": os.cpu_count(),
                             "python": platform.python_version()},
                 "time_h": args.time_h, "seed": config.seed,
                 "samples_per_epoch": config.samples_per_epoch,
                 "learning_rate": config.learning_rate, "rows": []}
    done = {(r["depth"], r["fold"], r["schedule"], r["schedule_epochs"]) for r in study["rows"]}
    for run in study_runs(args.folds, args.depths, args.epochs, args.cosine):
        if run in done:
            continue
        study["rows"] += measure(data, params, *run, args.time_h)
        write_json(path, study)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--epochs", type=int, default=36, help="of the constant-rate run")
    parser.add_argument("--depths", type=int, nargs="+", default=list(DEPTHS))
    parser.add_argument("--cosine", type=int, nargs="+", default=list(COSINE_EPOCHS),
                        help="lengths (epochs) of the cosine runs")
    parser.add_argument("--time-h", type=float, default=-3.2)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--report", action="store_true")
    args = parser.parse_args()
    if args.report:
        from convergence_report import write_report
        write_report(OUT)
    else:
        run_study(args)


if __name__ == "__main__":
    main()
