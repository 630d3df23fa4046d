"""Training runs (SCIENCE.md stage 3): one (time bin, fold) network, keyed and resumable.

For fold k of a time bin the CNN trains on the samples of the other folds and is scored on
the 9 evaluation tiles of every region of fold k (TSS at train.threshold).

Runs are content-addressed. A run's key (``run_key``) hashes everything its result depends
on: the training configuration, the data it reads (segment table, region maps and
standardisation constants: ``TimeBinData.data_key``), the time bin and fold, and the code
that trains and scores it (``core.fingerprint.code_fingerprint`` of this module's import
closure). The run lives in the run store (``core.paths.run_store()``, models/runs/<key>/)
with a checkpoint after every epoch and its result written last, atomically; a finished
run is reused whenever its key comes up again (from any stage or experiment), an
interrupted one resumes from its last checkpoint, and runs of different keys never share a
folder, so nothing finished is overwritten. A stage's model folder
(models/<stage>/depth<d>/<t-3.2h>/fold<k>/) holds a copy of the current parameters' run.
Every stage that trains (train-cv, depth-study, prune, interpret) trains through
``train_fold``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from preemergence.core.artifacts import (atomic_output, read_json, remove_leftovers, run_lock,
                                         write_json)
from preemergence.core import compute
from preemergence.core.constants import time_bin_label
from preemergence.core.fingerprint import code_fingerprint
from preemergence.core.metrics import confusion, tss
from preemergence.core.profiling import timed
from preemergence.core.paths import (CHECKPOINT_FILE, MODEL_FILE, PROGRESS_FILE, RESULT_FILE,
                                     STANDARDISATION_FILE, run_store, segment_table_file)

RUN_KEY_VERSION = 2   # bump when the recipe of run_key changes
CHECKPOINT_ENV = "PREEMERGENCE_CHECKPOINT_S"   # seconds of training between resume points
CHECKPOINT_DEFAULT_S = 30.0                     # (0: after every epoch)
_JUST_TRAINED: dict[str, object] = {}           # run key -> the network this process saved last


@dataclass(frozen=True)
class TrainConfig:
    """One training schedule (recorded with every run). Losses in nats, rates per step."""

    name: str
    learning_rate: float
    batch_size: int
    epochs: int
    samples_per_epoch: int | None = None   # a fresh random subset of the training samples
    max_val_samples: int | None = None     # subsample for the per-epoch validation loss
    lr_schedule: str = "constant"          # constant | cosine (training.epoch_learning_rate)
    depth: int = 5
    final_filters: int | None = None
    abs_field: bool = False
    mixed_precision: bool = False
    threshold: float | None = None         # train.threshold: required
    seed: int = 42
    max_filters: int | None = None         # cap on filters per layer (depth > 5 sweeps)

    def __post_init__(self):
        if self.threshold is None:
            raise ValueError("TrainConfig needs the classification threshold "
                             "(train.threshold; model.configs.train_config sets it)")

    def as_dict(self) -> dict:
        """All fields (recorded with the run, part of its key)."""
        return dict(self.__dict__)


@dataclass
class TimeBinData:
    """One time bin's data: region cube, region index, segment table (all folds) and the
    standardisation constants (G); data_key: digest of all of them (see load_time_bins)."""

    time_h: float
    cube: np.ndarray = field(repr=False)
    index: dict = field(repr=False)
    table: pd.DataFrame = field(repr=False)
    mean_g: float = 0.0
    std_g: float = 1.0
    data_key: str = ""


def derived_data(data: TimeBinData, table: pd.DataFrame, change: str) -> TimeBinData:
    """The same maps with another segment table (e.g. permuted labels, other folds); its
    data_key hashes the original's with ``change``, a text that says what was changed
    (and its seed), so runs on derived data have keys of their own."""
    key = hashlib.sha256(json.dumps([data.data_key, change]).encode()).hexdigest()[:16]
    return TimeBinData(data.time_h, data.cube, data.index, table, data.mean_g, data.std_g,
                       data_key=key)


def training_code() -> str:
    """Fingerprint of the code that trains and scores a run (this module's import closure)."""
    return code_fingerprint(__name__)


def run_key(config: TrainConfig, data: TimeBinData, fold: int) -> str:
    """Hash of everything that determines a run's result: configuration, data (segment
    table, maps, constants), time bin, fold, code and how it is computed (oneDNN and XLA,
    core/compute.py)."""
    text = json.dumps([RUN_KEY_VERSION, config.as_dict(), data.data_key, data.time_h, fold,
                       training_code(), compute.settings()], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def finished_run(folder: Path, key: str) -> dict | None:
    """The result of the finished run with this key in folder, or None."""
    done = read_json(Path(folder) / RESULT_FILE)
    if done and done.get("run_key") == key and (Path(folder) / MODEL_FILE).exists():
        return done
    return None


def subsample(table: pd.DataFrame, n: int | None, seed: int) -> pd.DataFrame:
    """At most n rows, drawn uniformly at random without repetition (deterministic for seed)."""
    if n is None or len(table) <= n:
        return table
    rng = np.random.default_rng(seed)
    keep = rng.choice(len(table), size=n, replace=False)
    return table.iloc[np.sort(keep)]


def fold_tables(table: pd.DataFrame, fold: int, config: TrainConfig):
    """Training samples (other folds), validation samples and tiles (this fold)."""
    samples = table[table.subset == "sample"]
    train = samples[samples.fold != fold]
    val = subsample(samples[samples.fold == fold], config.max_val_samples,
                    config.seed + 1000 * fold + 1)
    tiles = table[(table.subset == "tile") & (table.fold == fold)]
    return train, val, tiles


def standardisation(data: TimeBinData, config: TrainConfig) -> tuple[float, float]:
    """Mean and std (G) the run standardises with: prepare's for B, exact ones for |B|."""
    if not config.abs_field:
        return data.mean_g, data.std_g
    from preemergence.model.windows import field_standardisation
    samples = data.table[data.table.subset == "sample"]
    const = field_standardisation(data.cube, data.index, samples, abs_field=True)
    return const["mean_g"], const["std_g"]


@timed("checkpoints and model saving")
def save_model(model, path: Path) -> Path:
    """A Keras model (with optimizer state) saved atomically."""
    with atomic_output(path, suffix=".keras") as tmp:
        model.save(tmp)
    return Path(path)


def just_trained(key: str):
    """The network this process trained and saved last, if its run key is ``key`` (what
    registration logs, without reading model.keras back: issue 24); else None."""
    return _JUST_TRAINED.get(key)


def checkpoint_name(epochs_done: int) -> str:
    """The checkpoint after a number of epochs, e.g. checkpoint-3.keras."""
    stem, suffix = CHECKPOINT_FILE.rsplit(".", 1)
    return f"{stem}-{epochs_done}.{suffix}"


def checkpoint_interval_s() -> float:
    """Seconds of training between resume points ($PREEMERGENCE_CHECKPOINT_S, default 30)."""
    return float(os.environ.get(CHECKPOINT_ENV, CHECKPOINT_DEFAULT_S))


def checkpoint_callback(folder: Path, key: str, history: dict):
    """Keras callback: after an epoch that ends at least checkpoint_interval_s() after the
    last resume point, a new one: the model as checkpoint-<epochs>.keras, then
    progress.json naming it, then older checkpoints go. A resumed run trains on from any
    epoch to the same result, so which epochs get one does not change a result; saving
    after every epoch cost a 24-epoch run 1.9 s.

    A kill between any two steps leaves progress.json naming a complete checkpoint of the
    epochs it counts (never a newer model under an older count)."""
    import time
    import keras
    interval = checkpoint_interval_s()

    class Checkpoint(keras.callbacks.Callback):
        last = time.monotonic()

        def on_epoch_end(self, epoch, logs=None):
            for name in ("loss", "val_loss", "accuracy", "val_accuracy"):
                history.setdefault(name, []).append(float((logs or {}).get(name, np.nan)))
            history.setdefault("epoch", []).append(int(epoch))
            if time.monotonic() - self.last < interval:
                return
            self.last = time.monotonic()
            name = checkpoint_name(epoch + 1)
            save_model(self.model, folder / name)
            write_json(folder / PROGRESS_FILE, {"run_key": key, "epochs_done": epoch + 1,
                                                "checkpoint": name, "history": history})
            remove_checkpoints(folder, keep=name)
    return Checkpoint()


def remove_checkpoints(folder: Path, keep: str | None = None) -> None:
    """Delete the checkpoints in folder, except ``keep``."""
    stem = CHECKPOINT_FILE.rsplit(".", 1)[0]
    for path in Path(folder).glob(f"{stem}-*.keras"):
        if path.name != keep:
            path.unlink(missing_ok=True)


def train_fold(data: TimeBinData, fold: int, config: TrainConfig,
               folder: Path | None = None, callbacks=()) -> dict:
    """Train, resume or reuse one (time bin, fold) run; a copy goes to ``folder``.

    The run lives in the run store under its key: a finished run is reused (nothing is
    trained, ``"reused": True``), an interrupted one resumes from its last checkpoint.
    ``callbacks``: extra Keras callbacks while it trains (e.g. live MLflow metrics); they
    do not change the run or its key. Returns the result dict (as in its result.json).
    """
    key = run_key(config, data, fold)
    return stored_run(key, lambda home: _train(data, fold, config, home, key, callbacks),
                      folder)


def stored_run(key: str, produce, folder: Path | None = None) -> dict:
    """The run-store life of one run: under its lock, reuse the finished run with this key
    or clean the leftovers of an interrupted write and ``produce(home)`` it (which writes
    result.json last); then copy it to ``folder``. Returns the result, with "reused"."""
    home = run_store() / key
    with run_lock(home):                         # one process per run at a time
        done = finished_run(home, key)
        reused = done is not None
        if not reused:
            remove_leftovers(home)               # temporary files of an interrupted write
            done = produce(home)
    if folder is not None:
        publish_run(home, folder)
    return {**done, "reused": reused}


def _train(data: TimeBinData, fold: int, config: TrainConfig, home: Path, key: str,
           callbacks=()) -> dict:
    """Train (from scratch or the checkpoint in home) and score; result.json written last."""
    import keras
    from preemergence.model import training, windows
    home.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed + fold)
    if config.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    train, val, tiles = fold_tables(data.table, fold, config)
    mean, std = standardisation(data, config)
    model, history, start = _resume_or_build(home, key, config, fold)
    source = windows.source_from_table(data.cube, data.index, train, mean, std, config.abs_field)
    val_source = windows.source_from_table(data.cube, data.index, val, mean, std,
                                           config.abs_field)
    training.fit_model(model, source, val_source, config.epochs, config.learning_rate,
                       config.batch_size, seed=config.seed + fold,
                       callbacks=[checkpoint_callback(home, key, history), *callbacks],
                       initial_epoch=start, samples_per_epoch=config.samples_per_epoch,
                       lr_schedule=config.lr_schedule)
    result = {"run_key": key, "time_h": data.time_h, "fold": fold, "config": config.as_dict(),
              "compute": compute.settings(),
              **score_tiles(model, data, tiles, mean, std, config),
              "n_train": len(train), "n_val": len(val), "n_tiles": len(tiles),
              "history": history,
              "standardisation": {"mean": mean, "std": std}}
    save_model(model, home / MODEL_FILE)
    write_json(home / RESULT_FILE, result)
    remove_checkpoints(home)
    _JUST_TRAINED.clear()
    _JUST_TRAINED[key] = model
    if config.mixed_precision:
        keras.mixed_precision.set_global_policy("float32")
    return result


def _resume_or_build(home: Path, key: str, config: TrainConfig, fold: int):
    """(model, history, first epoch): the checkpoint of an interrupted run, or a new CNN."""
    import keras
    from preemergence.model import training
    progress = read_json(home / PROGRESS_FILE)
    checkpoint = home / str((progress or {}).get("checkpoint"))
    if progress and progress.get("run_key") == key and checkpoint.is_file():
        return (keras.models.load_model(checkpoint), progress["history"],
                progress["epochs_done"])
    model = training.fresh_network(config.depth, config.seed + fold, config.final_filters,
                                   config.max_filters)
    return model, {}, 0


@timed("tile evaluation")
def score_tiles(model, data: TimeBinData, tiles: pd.DataFrame, mean: float, std: float,
                config: TrainConfig) -> dict:
    """TSS and confusion counts of a model on evaluation tiles (threshold of the config),
    and its output on every tile ("tile_outputs", in the order of the tiles' rows: the
    out-of-fold predictions that model/predictions.py tabulates)."""
    from preemergence.model import predict
    from preemergence.model.predictions import classify
    outputs = predict.probabilities(model, table_windows(data, tiles, mean, std,
                                                         config.abs_field))
    predicted = classify(outputs, config.threshold)
    return {"tss": tss(tiles.label, predicted), **confusion(tiles.label, predicted),
            "tile_outputs": [float(y) for y in outputs]}


def table_windows(data: TimeBinData, table: pd.DataFrame, mean: float, std: float,
                  abs_field: bool = False):
    """The standardised windows of a table's rows (a lazily cropped WindowSource)."""
    from preemergence.model.windows import source_from_table
    rows = table if "label" in table else table.assign(label=0)
    return source_from_table(data.cube, data.index, rows, mean, std, abs_field)


def publish_run(home: Path, folder: Path) -> Path:
    """Copy a finished run's model and result (result last) from the store to folder,
    unless folder holds that run already."""
    import shutil
    folder = Path(folder)
    key = read_json(Path(home) / RESULT_FILE)["run_key"]
    if finished_run(folder, key):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    remove_leftovers(folder)
    (folder / RESULT_FILE).unlink(missing_ok=True)   # no old result over the new model
    for name in (MODEL_FILE, RESULT_FILE):
        with atomic_output(folder / name, suffix=Path(name).suffix) as tmp:
            shutil.copyfile(Path(home) / name, tmp)
    return folder


def run_folder(models_dir: Path, config: TrainConfig, time_h: float, fold: int) -> Path:
    """Where a run lives: models/<...>/depth<d>/<t-3.2h>/fold<k>/."""
    return Path(models_dir) / f"depth{config.depth}" / time_bin_label(time_h) / f"fold{fold}"


@timed("data loading")
def load_time_bins(regions_dir: Path, segments_dir: Path, time_bins,
                   n_folds: int | None = None) -> dict[float, TimeBinData]:
    """Region cubes, segment tables and standardisation constants of every time bin.

    n_folds: when given, every table must have been prepared with exactly these folds
    (params.yaml prepare.n_folds); otherwise a ValueError names the table.
    """
    from preemergence.data.regionstore import load_region_store
    from preemergence.data.segments import read_segment_tables
    tables = read_segment_tables(segments_dir, time_bins)
    constants = json.loads((Path(segments_dir) / STANDARDISATION_FILE).read_text())
    store = load_region_store(regions_dir, time_bins, on_missing="skip")
    index = {r.region_id: i for i, r in enumerate(store.regions)}
    out = {}
    for t in time_bins:
        path = Path(segments_dir) / segment_table_file(t)
        if n_folds is not None:
            check_folds(tables[t], n_folds, path)
        const = constants[time_bin_label(t)]
        out[t] = TimeBinData(t, store.maps[t], index, tables[t], const["mean_g"],
                             const["std_g"], data_key=data_digest(path, tables[t],
                                                                  store.maps[t], index, const))
    return out


def check_folds(table: pd.DataFrame, n_folds: int, path: Path) -> None:
    """A segment table must hold exactly the folds 0 ... n_folds - 1."""
    folds = sorted(int(f) for f in table["fold"].unique())
    if folds != list(range(n_folds)):
        raise ValueError(f"{path}: prepared with folds {folds}, but params.yaml "
                         f"prepare.n_folds is {n_folds}; run prepare again (dvc repro)")


def data_digest(table_path: Path, table: pd.DataFrame, cube: np.ndarray, index: dict,
                constants: dict) -> str:
    """Hash (16 hex) of what a run reads: the segment table, the maps of the regions in it
    (sorted by id; the other regions of the cube do not count) and the standardisation
    constants."""
    ids = sorted(set(table["region_id"]))
    digest = hashlib.sha256(Path(table_path).read_bytes())
    digest.update(json.dumps([ids, constants], sort_keys=True).encode())
    for region_id in ids:
        digest.update(np.ascontiguousarray(cube[index[region_id]], dtype=np.float32).tobytes())
    return digest.hexdigest()[:16]
