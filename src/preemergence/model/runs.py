"""Training runs (SCIENCE.md stage 3): one (time bin, fold) network, keyed and resumable.

For fold k of a time bin the CNN trains on the samples of the other folds and is scored on
the 9 evaluation tiles of every region of fold k (TSS at train.threshold). Each run lives
in its own folder with a checkpoint after every epoch and a result file written last, both
atomically; a rerun skips runs whose result matches the current configuration
(``run_key``) and resumes an interrupted run from its last checkpoint. Every stage that
trains (train-cv, depth-study, prune, interpret) trains through ``train_fold``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from preemergence.core.artifacts import atomic_output, read_json, write_json
from preemergence.core.constants import time_bin_label
from preemergence.core.metrics import confusion, tss
from preemergence.core.paths import (CHECKPOINT_FILE, MODEL_FILE, PROGRESS_FILE, RESULT_FILE,
                                     STANDARDISATION_FILE, segment_table_file)


@dataclass(frozen=True)
class TrainConfig:
    """One training schedule (recorded with every run). Losses in nats, rates per step."""

    name: str
    learning_rate: float
    batch_size: int
    epochs: int
    samples_per_epoch: int | None = None   # a fresh random subset of the training samples
    max_val_samples: int | None = None     # subsample for the per-epoch validation loss
    depth: int = 5
    final_filters: int | None = None
    abs_field: bool = False
    mixed_precision: bool = False
    threshold: float = 0.5
    seed: int = 42
    max_filters: int | None = None         # cap on filters per layer (depth > 5 sweeps)

    @classmethod
    def from_params(cls, params: dict, config: str | None = None, **overrides) -> "TrainConfig":
        train = params["train"]
        name = config or train["config"]
        if name not in train["configs"]:
            raise KeyError(f"train.configs.{name}")
        values = dict(train["configs"][name])
        values.update(depth=params["depth"], final_filters=train.get("final_filters"),
                      abs_field=train.get("abs_field", False),
                      mixed_precision=train.get("mixed_precision", False),
                      threshold=train.get("threshold", 0.5), seed=params["seed"])
        values.update(overrides)
        return cls(name=name, **values)

    def as_dict(self) -> dict:
        """All fields; max_filters only when set, so that older run keys stay valid."""
        values = dict(self.__dict__)
        if values["max_filters"] is None:
            del values["max_filters"]
        return values


@dataclass
class TimeBinData:
    """One time bin's data: region cube, region index, segment table (all folds) and the
    standardisation constants (G); data_key: digest of the segment table."""

    time_h: float
    cube: np.ndarray = field(repr=False)
    index: dict = field(repr=False)
    table: pd.DataFrame = field(repr=False)
    mean_g: float = 0.0
    std_g: float = 1.0
    data_key: str = ""


def run_key(config: TrainConfig, data_key: str, time_h: float, fold: int) -> str:
    """Hash of everything that determines a run's result (config, data, bin, fold)."""
    text = json.dumps([config.as_dict(), data_key, time_h, fold], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


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


def save_model(model, path: Path) -> Path:
    """A Keras model (with optimizer state) saved atomically."""
    with atomic_output(path, suffix=".keras") as tmp:
        model.save(tmp)
    return Path(path)


def checkpoint_callback(folder: Path, key: str, history: dict):
    """Keras callback: after every epoch, save model and history atomically (resume point)."""
    import keras

    class Checkpoint(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            for name in ("loss", "val_loss", "accuracy", "val_accuracy"):
                history.setdefault(name, []).append(float((logs or {}).get(name, np.nan)))
            history.setdefault("epoch", []).append(int(epoch))
            save_model(self.model, folder / CHECKPOINT_FILE)
            write_json(folder / PROGRESS_FILE, {"run_key": key, "epochs_done": epoch + 1,
                                                "history": history})
    return Checkpoint()


def train_fold(data: TimeBinData, fold: int, config: TrainConfig, folder: Path,
               reuse_from: Path | None = None) -> dict:
    """Train (or resume) one (time bin, fold) run; returns its result dict (also saved).

    reuse_from: another run folder (e.g. train-cv's for the depth study); when it holds a
    finished run with this exact key, its model and result are copied instead of training.
    """
    import keras
    from preemergence.model import cnn, training, windows
    folder = Path(folder)
    key = run_key(config, data.data_key, data.time_h, fold)
    done = read_json(folder / RESULT_FILE)
    if done and done.get("run_key") == key:
        return {**done, "reused": True}
    if reuse_from is not None and copy_run(Path(reuse_from), folder, key):
        return {**read_json(folder / RESULT_FILE), "reused": True}
    folder.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed + fold)
    if config.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    train, val, tiles = fold_tables(data.table, fold, config)
    mean, std = standardisation(data, config)
    progress = read_json(folder / PROGRESS_FILE)
    history: dict = {}
    if progress and progress.get("run_key") == key and (folder / CHECKPOINT_FILE).exists():
        model = keras.models.load_model(folder / CHECKPOINT_FILE)
        history, start = progress["history"], progress["epochs_done"]
    else:
        model = cnn.build_model(config.depth, final_filters=config.final_filters,
                                max_filters=config.max_filters,
                                seed=config.seed + fold)
        start = 0
    source = windows.source_from_table(data.cube, data.index, train, mean, std, config.abs_field)
    val_source = windows.source_from_table(data.cube, data.index, val, mean, std,
                                           config.abs_field)
    training.fit_model(model, source, val_source, config.epochs, config.learning_rate,
                      config.batch_size, seed=config.seed + fold,
                      callbacks=[checkpoint_callback(folder, key, history)],
                      initial_epoch=start, samples_per_epoch=config.samples_per_epoch)
    result = {"run_key": key, "time_h": data.time_h, "fold": fold, "config": config.as_dict(),
              **score_tiles(model, data, tiles, mean, std, config),
              "n_train": len(train), "n_val": len(val), "n_tiles": len(tiles),
              "history": history,
              "standardisation": {"mean": mean, "std": std}}
    save_model(model, folder / MODEL_FILE)
    write_json(folder / RESULT_FILE, result)
    (folder / CHECKPOINT_FILE).unlink(missing_ok=True)
    if config.mixed_precision:
        keras.mixed_precision.set_global_policy("float32")
    return result


def score_tiles(model, data: TimeBinData, tiles: pd.DataFrame, mean: float, std: float,
                config: TrainConfig) -> dict:
    """TSS and confusion counts of a model on evaluation tiles (threshold of the config)."""
    from preemergence.model import predict
    outputs = predict.probabilities(model, table_windows(data, tiles, mean, std,
                                                         config.abs_field))
    predicted = predict.classify(outputs, config.threshold)
    return {"tss": tss(tiles.label, predicted), **confusion(tiles.label, predicted)}


def table_windows(data: TimeBinData, table: pd.DataFrame, mean: float, std: float,
                  abs_field: bool = False):
    """The standardised windows of a table's rows (a lazily cropped WindowSource)."""
    from preemergence.model.windows import source_from_table
    rows = table if "label" in table else table.assign(label=0)
    return source_from_table(data.cube, data.index, rows, mean, std, abs_field)


def copy_run(source: Path, folder: Path, key: str) -> bool:
    """Copy a finished run (model, then result last) when its key is ``key``."""
    import shutil
    done = read_json(source / RESULT_FILE)
    if not (done and done.get("run_key") == key and (source / MODEL_FILE).exists()):
        return False
    folder.mkdir(parents=True, exist_ok=True)
    for name in (MODEL_FILE, RESULT_FILE):
        with atomic_output(folder / name, suffix=Path(name).suffix) as tmp:
            shutil.copyfile(source / name, tmp)
    return True


def run_folder(models_dir: Path, config: TrainConfig, time_h: float, fold: int) -> Path:
    """Where a run lives: models/<...>/depth<d>/<t-3.2h>/fold<k>/."""
    return Path(models_dir) / f"depth{config.depth}" / time_bin_label(time_h) / f"fold{fold}"


def load_time_bins(regions_dir: Path, segments_dir: Path, time_bins) -> dict[float, TimeBinData]:
    """Region cubes, segment tables and standardisation constants of every time bin."""
    from preemergence.data.regionstore import load_region_store
    from preemergence.data.segments import read_segment_tables
    tables = read_segment_tables(segments_dir, time_bins)
    constants = json.loads((Path(segments_dir) / STANDARDISATION_FILE).read_text())
    store = load_region_store(regions_dir, time_bins, on_missing="skip")
    index = {r.region_id: i for i, r in enumerate(store.regions)}
    out = {}
    for t in time_bins:
        label = time_bin_label(t)
        digest = hashlib.sha256(
            (Path(segments_dir) / segment_table_file(t)).read_bytes()).hexdigest()[:16]
        out[t] = TimeBinData(t, store.maps[t], index, tables[t], constants[label]["mean_g"],
                          constants[label]["std_g"], data_key=digest)
    return out
