"""The results stage: the headline block (reports/results.md) from the reports the pipeline
wrote, naming the data, schedule, machine and commit; with ``readme`` the README's results
block too (what a maintainer runs before committing a pipeline's reports).

The machine and commit are those this stage runs on. Under `dvc repro` it runs whenever the
reports it reads change, in the same reproduction as the stages that wrote them, so they
name the run that produced the numbers; when nothing changed it does not run again and the
block keeps naming that run."""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from preemergence.core import hardware
from preemergence.core.artifacts import atomic_write_text, read_json, refuse_overwrite_any
from preemergence.core.catalog import stage_outputs
from preemergence.core.paths import (INTERPRET_METRICS, RESULTS_MD, STATISTICS_JSON,
                                     STATS_TSS_CSV, TRAIN_CV_METRICS)
from preemergence.data.segments import read_dataset_info
from preemergence.stats import headline

if TYPE_CHECKING:
    from preemergence.core.schema import Params


def machine() -> str:
    """'AMD EPYC, 2 CPUs, no GPU, TensorFlow 2.x': where this process runs."""
    import tensorflow as tf
    described = hardware.describe()
    gpus = "no GPU" if described["gpus"] == "none" else described["gpus"]
    return (f"{described['cpu']}, {os.cpu_count()} CPUs, {gpus}, "
            f"TensorFlow {tf.__version__}")


def context(params: "Params", segments_dir: Path, train_cv: dict) -> dict:
    """What produced the reports: data source, training schedule (the one train-cv's
    metrics name) and seed, machine, commit."""
    from preemergence.core.tracking import git_commit
    name = train_cv["config"]
    config = params.train.configs[name]
    source = read_dataset_info(segments_dir)["source"]
    samples = (f"{config.samples_per_epoch:,} samples" if config.samples_per_epoch
               else "every training window")
    return {"data": source,
            "schedule": (f"`{name}` ({config.epochs} epochs × {samples}, "
                         f"{config.lr_schedule} learning rate from "
                         f"{config.learning_rate:g}), training seed {params.training_seed}"),
            "machine": machine(), "commit": git_commit()[:10], "depth": train_cv["depth"],
            "folds": sum(k.startswith("tss_fold") for k in
                         next(v for v in train_cv.values() if isinstance(v, dict))),
            "date": datetime.date.today().isoformat()}


def run_results(params: "Params", segments_dir: Path, reports_dir: Path,
                readme: Path | None = None, force: bool = False) -> str:
    """Write reports/results.md (and, with ``readme``, that file's results block); the block."""
    reports_dir = Path(reports_dir)
    refuse_overwrite_any(stage_outputs("results", reports_dir), force)
    needed = [reports_dir / name for name in (STATS_TSS_CSV, STATISTICS_JSON,
                                              INTERPRET_METRICS, TRAIN_CV_METRICS)]
    missing = [str(p) for p in needed if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{missing[0]}: not found; run `dvc repro stats` and "
                                "`dvc repro interpret` first")
    text = headline.block(pd.read_csv(needed[0]), read_json(needed[1]),
                          read_json(needed[2])["findings"], params.stats,
                          context(params, segments_dir, read_json(needed[3])))
    new_readme = None
    if readme is not None:                   # checked before anything is written
        new_readme = headline.replace_block(Path(readme).read_text(), text, str(readme))
    atomic_write_text(reports_dir / RESULTS_MD, text)
    if new_readme is not None:
        atomic_write_text(Path(readme), new_readme)
    return text
