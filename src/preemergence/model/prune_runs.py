"""Pruning runs: the paper's pruned CNN and its two controls, one (variant, bin, fold) each.

Variants (one folder each under models/prune/<variant>/depth<d>/<t-3.2h>/fold<k>/):
  * ``pruned``: App. C rule (model/pruning.py) from N = 256 to 4, training E(N) epochs per
    stage;
  * ``random``: the same schedule, removing N/2 random filters per step (paper control);
  * ``n4``: N = 4 filters from the outset, trained for the same epochs (paper control).
The pruned network is also pruned once more to N = 2 (no retraining; the paper's "further
pruning", App. C) and scored. The first stage (N = 256, E(256) epochs) is exactly a
train-cv run when the schedule's first stage equals the train-cv configuration: it has the
same run key and is reused from the run store instead of being trained again.

A (variant, bin, fold) run lives in the run store under a key that hashes everything that
determines it (``prune_key``, its code included) and writes model.keras and result.json
last, atomically. An interrupted stage redoes only unfinished runs; an interrupted pruning
chain restarts after its first stage (which, as a training run, resumes by epoch).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import expit

from preemergence.core.artifacts import write_json
from preemergence.core.filters import filter_counts, pruning_stages
from preemergence.core.fingerprint import code_fingerprint
from preemergence.core.paths import MODEL_FILE, RESULT_FILE, run_store
from preemergence.model import cnn, predict, pruning, training, windows
from preemergence.model.runs import (TrainConfig, fold_tables, run_folder, save_model, score_tiles,
                                     standardisation, stored_run, subsample, train_fold)

VARIANTS = ("pruned", "random", "n4")


@dataclass(frozen=True)
class PruneSchedule:
    """Epochs per stage: E(N0) for the first stage (N0 = the network's last-layer filters,
    256 at depth 5) and E(N) for the stages after each pruning step."""

    name: str
    first_epochs: int                 # E(N0): the first stage, whatever N0 is
    epochs: dict                      # N -> E(N) for the later stages (0: prune again at once)
    final_filters: int = 4
    finetune_samples_per_epoch: int | None = None
    learning_rate: float | None = None   # None: the training configuration's
    score_samples: int | None = None     # training samples scored for S_i (None: all)

    def stages(self, start_filters: int) -> list[tuple[int, int]]:
        """[(N, E(N))] for N = start_filters, start/2, ..., 2 * final_filters (the schema
        checks that every E(N) of the selected schedule is there)."""
        counts = pruning_stages(start_filters, self.final_filters)
        return [(counts[0], int(self.first_epochs))] + [(n, self.epochs[n]) for n in counts[1:]]


def start_filters(config: TrainConfig) -> int:
    """N0: the last layer's filters before pruning."""
    return filter_counts(config.depth, final_filters=config.final_filters)[-1]


RESULT_VERSION = 3   # bump when a run's result.json gains or changes fields


def prune_key(variant: str, config: TrainConfig, schedule: PruneSchedule, data_key: str,
              time_h: float, fold: int) -> str:
    """Hash of everything a pruning run's result depends on, its code included."""
    text = json.dumps([RESULT_VERSION, code_fingerprint(__name__), variant, config.as_dict(),
                       dataclasses.asdict(schedule), data_key, time_h, fold], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def first_stage(data, fold: int, config: TrainConfig, filters: int, epochs: int,
                learning_rate: float | None):
    """Model and result after the first stage (N filters, E epochs from scratch).

    A training run like any other (runs.train_fold): when it has exactly a train-cv run's
    configuration, it is that run, reused from the run store.
    """
    import keras
    final = None if filters == start_filters(config) else filters
    stage_config = dataclasses.replace(config, epochs=epochs, final_filters=final,
                                       learning_rate=learning_rate or config.learning_rate)
    result = train_fold(data, fold, stage_config)
    return keras.models.load_model(run_store() / result["run_key"] / MODEL_FILE), result


def contributions(model, score_source) -> np.ndarray:
    """F_i = max(O_i) w_i of every scored training sample, (n, N) (paper Eq. C3)."""
    from preemergence.model.predict import max_features
    weights, _ = cnn.output_weights(model)
    return pruning.filter_contributions(max_features(model, score_source), weights)


def select_by_rule(contrib: np.ndarray, bias: float, labels, n_keep: int,
                   threshold: float) -> np.ndarray:
    """Filters kept by the App. C rule, from the contributions of the scored samples."""
    predicted = expit(contrib.sum(axis=1) + bias) >= threshold
    return pruning.select_by_score(pruning.net_scores(contrib, labels, predicted), n_keep)


def prune_fold(variant: str, data, fold: int, config: TrainConfig, schedule: PruneSchedule,
               folder: Path) -> dict:
    """One (variant, time bin, fold) run, reused from the run store when finished; a copy
    goes to folder.

    A stage with E(N) = 0 prunes again at once; the surviving filters' contributions are
    unchanged by pruning (same weights), so they are not recomputed.
    """
    key = prune_key(variant, config, schedule, data.data_key, data.time_h, fold)
    return stored_run(key, lambda home: _prune(variant, data, fold, config, schedule, home,
                                               key), folder)


def _prune(variant: str, data, fold: int, config: TrainConfig, schedule: PruneSchedule,
           home: Path, key: str) -> dict:
    """The pruning run itself: first stage, pruning chain, scores; saved in home."""
    stages = schedule.stages(start_filters(config))
    first_n = schedule.final_filters if variant == "n4" else stages[0][0]
    model, start = first_stage(data, fold, config, first_n, stages[0][1],
                               schedule.learning_rate)
    history = _history_with_filters(start["history"], first_n)
    train, val, tiles = fold_tables(data.table, fold, config)
    mean, std = standardisation(data, config)
    scored = subsample(train, schedule.score_samples, config.seed + 7 * fold + 3)
    sources = {name: windows.source_from_table(data.cube, data.index, table, mean, std,
                                               config.abs_field)
               for name, table in (("train", train), ("val", val), ("score", scored))}
    model, kept, steps, contrib = _pruning_chain(variant, model, first_n, stages, schedule,
                                                 config, sources, fold, history)
    result = {"run_key": key, "variant": variant, "time_h": data.time_h, "fold": fold,
              "config": config.as_dict(), "schedule": dataclasses.asdict(schedule),
              "kept_filters": kept.tolist(), "history": history, "pruning_steps": steps,
              "standardisation": {"mean": mean, "std": std},
              **score_tiles(model, data, tiles, mean, std, config)}
    if variant == "pruned":
        if contrib is None:
            contrib = contributions(model, sources["score"])
        keep = select_by_rule(contrib, cnn.output_weights(model)[1],
                              sources["score"].label, 2, config.threshold)
        n2 = score_tiles(pruning.prune_last_layer(model, keep), data, tiles, mean, std, config)
        result["n2"] = {**n2, "kept_filters": kept[keep].tolist()}
    save_model(model, home / MODEL_FILE)
    write_json(home / RESULT_FILE, result)
    return result


def _pruning_chain(variant: str, model, first_n: int, stages, schedule: PruneSchedule,
                   config: TrainConfig, sources: dict, fold: int, history: dict):
    """The pruning steps and training stages after the first stage, in order.

    Returns (model, kept filter indices, pruning steps, contributions of the kept filters
    or None when they must be recomputed); ``history`` is extended with every epoch.
    """
    rng = np.random.default_rng([config.seed, fold, 1])
    kept, contrib, steps = np.arange(first_n), None, []
    epoch = stages[0][1]
    targets = [n for n, _ in stages[1:]] + [schedule.final_filters]
    epochs_after = [e for _, e in stages[1:]] + [0]
    for n_filters, epochs in zip(targets, epochs_after):
        if variant == "random":
            keep = pruning.select_random(len(kept), n_filters, rng)
        elif variant == "pruned":
            if contrib is None:
                contrib = contributions(model, sources["score"])
            keep = select_by_rule(contrib, cnn.output_weights(model)[1],
                                  sources["score"].label, n_filters, config.threshold)
            contrib = contrib[:, keep]
        if variant != "n4":
            before = len(kept)
            model, kept = pruning.prune_last_layer(model, keep), kept[keep]
            last_of_chain = epochs > 0 or n_filters == schedule.final_filters
            steps.append({"epoch": epoch, "before": before, "after": len(kept),
                          "val_loss": predict.evaluate(model, sources["val"],
                                                       config.batch_size)[0]
                          if last_of_chain else None})
        if epochs:
            if variant == "n4":
                training.fresh_optimizer(model)   # as the pruned variants get after a step
            stage = training.fit_model(
                model, sources["train"], sources["val"], epoch + epochs,
                schedule.learning_rate or config.learning_rate, config.batch_size,
                seed=config.seed + fold, initial_epoch=epoch,
                samples_per_epoch=schedule.finetune_samples_per_epoch)
            _extend_history(history, stage, len(kept))
            epoch, contrib = epoch + epochs, None
    return model, kept, steps, contrib


def _history_with_filters(history: dict, n_filters: int) -> dict:
    out = {k: list(history.get(k, [])) for k in ("epoch", "loss", "val_loss")}
    out["filters"] = [n_filters] * len(out["epoch"])
    return out


def _extend_history(history: dict, stage: dict, n_filters: int) -> None:
    for k in ("epoch", "loss", "val_loss"):
        history[k] += [float(v) for v in stage[k]]
    history["filters"] += [n_filters] * len(stage["epoch"])


def variant_folder(models_dir: Path, variant: str, config: TrainConfig, time_h: float,
                   fold: int) -> Path:
    """models/prune/<variant>/depth<d>/<t-3.2h>/fold<k>/."""
    return run_folder(Path(models_dir) / variant, config, time_h, fold)
