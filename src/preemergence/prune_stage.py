"""The prune stage: the paper's pruned CNN and its two controls, 5-fold CV, tracked.

Variants (one folder each under models/prune/<variant>/depth<d>/<t-3.2h>/fold<k>/):
  * ``pruned``: App. C rule (prune.py) from N = 256 to 4, training E(N) epochs per stage;
  * ``random``: the same schedule, removing N/2 random filters per step (paper control);
  * ``n4``: N = 4 filters from the outset, trained for the same epochs (paper control).
The pruned network is also pruned once more to N = 2 (no retraining; the paper's "further
pruning", App. C) and scored. The first stage (N = 256, E(256) epochs) is exactly a
train-cv run when the schedule's first stage equals the train-cv configuration; its model
is then read from train-cv's folder instead of being trained again.

A (variant, bin, fold) run writes model.keras and result.json last, atomically, keyed by a
hash of everything that determines it, so an interrupted stage redoes only unfinished runs.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from . import cnn  # first: sets TensorFlow's CPU options before TensorFlow is imported

import numpy as np
import pandas as pd
from scipy.special import expit

from . import figures, prune
from .artifacts import atomic_write_text, save_figure, write_csv, write_json
from .constants import time_bin_label, time_from_label
from .progress import progress as show_progress
from .segments import read_dataset_info
from .train_cv import (MODEL_FILE, RESULT_FILE, TrainConfig, fold_tables, load_fold_data,
                       run_folder, save_model, score_tiles, subsample, summarise, train_fold,
                       _read_json, _standardisation)
from .train_cv_stage import _quiet_tensorflow, log_hardware

VARIANTS = ("pruned", "random", "n4")
# Paper (Dhuri et al. 2020, App. C), TSS % at -3.2 h: mean, std.
PAPER_PRUNE_TSS = {"pruned": (82.50, 4.52), "random": (34.71, 28.86), "n4": (78.38, 6.60),
                   "pruned_n2": (68.9, 17.1), "unpruned": (84.57, 6.40)}
LABELS = {"unpruned": "unpruned CNN, N = 256 (train-cv)", "pruned": "pruned 256 → 4 (App. C rule)",
          "random": "random pruning 256 → 4", "n4": "N = 4 from the outset",
          "pruned_n2": "pruned network pruned again to N = 2 (no retraining)"}


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

    @classmethod
    def from_params(cls, params: dict) -> "PruneSchedule":
        section = params["prune"]
        name = section["schedule"]
        if name not in section["schedules"]:
            raise KeyError(f"prune.schedules.{name}")
        values = dict(section["schedules"][name])
        values.pop("train_config", None)
        epochs = {int(n): int(e) for n, e in values.pop("epochs").items()}
        if int(values["first_epochs"]) < 1:
            raise ValueError(f"params.yaml: prune.schedules.{name}.first_epochs must be >= 1")
        return cls(name=name, epochs=epochs, final_filters=int(section["final_filters"]),
                   score_samples=section.get("score_samples"), **values)

    def stages(self, start_filters: int) -> list[tuple[int, int]]:
        """[(N, E(N))] for N = start_filters, start/2, ..., 2 * final_filters."""
        counts = prune.filter_schedule(start_filters, self.final_filters)
        missing = [n for n in counts[1:] if n not in self.epochs]
        if missing:
            raise ValueError(f"params.yaml: prune.schedules.{self.name}.epochs has no E(N) "
                             f"for N = {missing} (stages: {counts})")
        return [(counts[0], int(self.first_epochs))] + [(n, self.epochs[n]) for n in counts[1:]]


def train_config(params: dict) -> TrainConfig:
    """The training configuration of the prune schedule (first stage = a train-cv run)."""
    section = params["prune"]
    name = section["schedules"][section["schedule"]]["train_config"]
    return TrainConfig.from_params(params, name)


def start_filters(config: TrainConfig) -> int:
    return cnn.filter_counts(config.depth, final_filters=config.final_filters)[-1]


RESULT_VERSION = 3   # bump when a run's result.json gains or changes fields


@functools.cache
def code_key() -> str:
    """Hash of the code that decides a pruning run's result (the rule and the loop), so a
    changed rule is never answered with a stored result."""
    import inspect
    parts = [inspect.getsource(prune)] + [inspect.getsource(f) for f in (
        first_stage, contributions, select_by_rule, prune_fold, _fresh_optimizer, score_tiles)]
    return hashlib.sha256("".join(parts).encode()).hexdigest()[:16]


def prune_key(variant: str, config: TrainConfig, schedule: PruneSchedule, data_key: str,
              time_h: float, fold: int) -> str:
    text = json.dumps([RESULT_VERSION, code_key(), variant, config.as_dict(),
                       dataclasses.asdict(schedule), data_key, time_h, fold], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def first_stage(data, fold: int, config: TrainConfig, filters: int, epochs: int,
                learning_rate: float | None, folder: Path, train_cv_dir: Path | None):
    """Model and result after the first stage (N filters, E epochs from scratch).

    Copied from train-cv's run folder when that run has exactly this configuration.
    """
    import keras
    final = None if filters == start_filters(config) else filters
    stage_config = dataclasses.replace(config, epochs=epochs, final_filters=final,
                                       learning_rate=learning_rate or config.learning_rate)
    reuse = (run_folder(train_cv_dir, stage_config, data.time_h, fold)
             if train_cv_dir is not None else None)
    result = train_fold(data, fold, stage_config, folder, reuse_from=reuse)
    return keras.models.load_model(folder / MODEL_FILE), result


def contributions(model, score_source) -> np.ndarray:
    """F_i = max(O_i) w_i of every scored training sample, (n, N) (paper Eq. C3)."""
    from .dataset import max_features
    weights, _ = cnn.output_weights(model)
    return prune.filter_contributions(max_features(model, score_source), weights)


def select_by_rule(contrib: np.ndarray, bias: float, labels, n_keep: int,
                   threshold: float) -> np.ndarray:
    """Filters kept by the App. C rule, from the contributions of the scored samples."""
    predicted = expit(contrib.sum(axis=1) + bias) >= threshold
    return prune.select_by_score(prune.net_scores(contrib, labels, predicted), n_keep)


def prune_fold(variant: str, data, fold: int, config: TrainConfig, schedule: PruneSchedule,
               folder: Path, train_cv_dir: Path | None = None) -> dict:
    """One (variant, time bin, fold) run: stages, pruning steps, validation TSS; saved.

    A stage with E(N) = 0 prunes again at once; the surviving filters' contributions are
    unchanged by pruning (same weights), so they are not recomputed.
    """
    from . import dataset
    folder = Path(folder)
    key = prune_key(variant, config, schedule, data.data_key, data.time_h, fold)
    done = _read_json(folder / RESULT_FILE)
    if done and done.get("run_key") == key:
        return {**done, "reused": True}
    stages = schedule.stages(start_filters(config))
    first_n = schedule.final_filters if variant == "n4" else stages[0][0]
    model, start = first_stage(data, fold, config, first_n, stages[0][1],
                               schedule.learning_rate, folder / "stage1", train_cv_dir)
    history = _history_with_filters(start["history"], first_n)
    train, val, tiles = fold_tables(data.table, fold, config)
    mean, std = _standardisation(data, config)
    scored = subsample(train, schedule.score_samples, config.seed + 7 * fold + 3)
    sources = {name: dataset.source_from_table(data.cube, data.index, table, mean, std,
                                               config.abs_field)
               for name, table in (("train", train), ("val", val), ("score", scored))}
    rng = np.random.default_rng([config.seed, fold, 1])
    kept, contrib, steps = np.arange(first_n), None, []
    epoch = stages[0][1]
    targets = [n for n, _ in stages[1:]] + [schedule.final_filters]
    epochs_after = [e for _, e in stages[1:]] + [0]
    for n_filters, epochs in zip(targets, epochs_after):
        if variant == "random":
            keep = prune.select_random(len(kept), n_filters, rng)
        elif variant == "pruned":
            if contrib is None:
                contrib = contributions(model, sources["score"])
            keep = select_by_rule(contrib, cnn.output_weights(model)[1],
                                  sources["score"].label, n_filters, config.threshold)
            contrib = contrib[:, keep]
        if variant != "n4":
            before = len(kept)
            model, kept = prune.prune_last_layer(model, keep), kept[keep]
            last_of_chain = epochs > 0 or n_filters == schedule.final_filters
            steps.append({"epoch": epoch, "before": before, "after": len(kept),
                          "val_loss": _val_loss(model, sources["val"], config.batch_size)
                          if last_of_chain else None})
        if epochs:
            if variant == "n4":
                _fresh_optimizer(model)      # as the pruned variants get after each step
            stage = dataset.fit_model(
                model, sources["train"], sources["val"], epoch + epochs,
                schedule.learning_rate or config.learning_rate, config.batch_size,
                seed=config.seed + fold, initial_epoch=epoch,
                samples_per_epoch=schedule.finetune_samples_per_epoch)
            _extend_history(history, stage, len(kept))
            epoch, contrib = epoch + epochs, None
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
        n2 = score_tiles(prune.prune_last_layer(model, keep), data, tiles, mean, std, config)
        result["n2"] = {**n2, "kept_filters": kept[keep].tolist()}
    save_model(model, folder / MODEL_FILE)
    write_json(folder / RESULT_FILE, result)
    return result


def _fresh_optimizer(model) -> None:
    """Drop the optimizer state (a new Adam is made by dataset.ensure_optimizer)."""
    import keras
    model.compile(optimizer=keras.optimizers.Adam(), loss="binary_crossentropy",
                  metrics=["accuracy"])


def _val_loss(model, source, batch_size: int) -> float:
    """Validation loss (nats) right after a pruning step, before any retraining."""
    from . import dataset
    return dataset.evaluate(dataset.make_eval_step(model),
                            dataset.make_batches(source, batch_size, shuffle=False))[0]


def _history_with_filters(history: dict, n_filters: int) -> dict:
    out = {k: list(history.get(k, [])) for k in ("epoch", "loss", "val_loss")}
    out["filters"] = [n_filters] * len(out["epoch"])
    return out


def _extend_history(history: dict, stage: dict, n_filters: int) -> None:
    for k in ("epoch", "loss", "val_loss"):
        history[k] += [float(v) for v in stage[k]]
    history["filters"] += [n_filters] * len(stage["epoch"])


# --- Stage -------------------------------------------------------------------------------

def run_prune(params: dict, regions_dir: Path, segments_dir: Path, models_dir: Path,
              reports_dir: Path, train_cv_dir: Path | None = None) -> dict:
    """Every variant x time bin x fold; metrics, loss plot (Fig. 21), report."""
    from . import tracking
    config, schedule = train_config(params), PruneSchedule.from_params(params)
    source = read_dataset_info(segments_dir)["source"]
    data = load_fold_data(regions_dir, segments_dir, params["prune"]["time_bins"])
    n_folds = params["prepare"]["n_folds"]
    jobs = [(v, t, k) for v in VARIANTS for t in data for k in range(n_folds)]
    results = []
    _quiet_tensorflow()
    with tracking.start_run("prune", f"prune {schedule.name}", source) as mlflow:
        mlflow.log_params(tracking.flatten({"config": config.as_dict(),
                                            "schedule": dataclasses.asdict(schedule)}))
        log_hardware(mlflow, config)
        with show_progress(jobs, True, "prune", "run") as bar:
            for variant, t, fold in bar:
                folder = variant_folder(models_dir, variant, config, t, fold)
                result = prune_fold(variant, data[t], fold, config, schedule, folder,
                                    train_cv_dir)
                results.append(result)
                _log_run(result, folder, source)
        metrics = summarise_variants(results)
        for variant, by_time in metrics.items():
            for label, entry in by_time.items():
                mlflow.log_metrics({f"tss_mean_{variant}_{label}": entry["tss_mean"],
                                    f"tss_std_{variant}_{label}": entry["tss_std"]})
    write_reports(results, metrics, config, schedule, source, Path(reports_dir))
    return metrics


def variant_folder(models_dir: Path, variant: str, config: TrainConfig, time_h: float,
                   fold: int) -> Path:
    """models/prune/<variant>/depth<d>/<t-3.2h>/fold<k>/."""
    return run_folder(Path(models_dir) / variant, config, time_h, fold)


def _log_run(result: dict, folder: Path, source: str) -> None:
    from . import tracking
    name = f"prune {result['variant']} {time_bin_label(result['time_h'])} fold{result['fold']}"
    with tracking.start_run("prune", name, source, nested=True) as mlflow:
        mlflow.log_params({"variant": result["variant"], "time_h": result["time_h"],
                           "fold": result["fold"],
                           "kept_filters": ",".join(map(str, result["kept_filters"]))})
        history = result["history"]
        for step, epoch in enumerate(history["epoch"]):
            mlflow.log_metrics({"loss": history["loss"][step],
                                "val_loss": history["val_loss"][step],
                                "filters": history["filters"][step]}, step=int(epoch))
        mlflow.log_metrics({k: float(result[k]) for k in ("tss", "tp", "fn", "fp", "tn")})
        if "n2" in result:
            mlflow.log_metric("tss_n2", float(result["n2"]["tss"]))
        mlflow.set_tag("reused_result", str(result.get("reused", False)).lower())
        if not result.get("reused"):
            mlflow.log_artifact(str(folder / MODEL_FILE))


def summarise_variants(results: list[dict]) -> dict:
    """{variant: {t-3.2h: {tss_mean, tss_std, tss_fold<k>}}}, plus pruned_n2."""
    out = {}
    for variant in VARIANTS:
        runs = [r for r in results if r["variant"] == variant]
        if runs:
            out[variant] = summarise(runs)
    n2 = [{**r, "tss": r["n2"]["tss"]} for r in results if "n2" in r]
    if n2:
        out["pruned_n2"] = summarise(n2)
    return out


def write_reports(results: list[dict], metrics: dict, config: TrainConfig,
                  schedule: PruneSchedule, source: str, reports_dir: Path) -> None:
    write_json(reports_dir / "prune_metrics.json", {"schedule": schedule.name, **metrics})
    write_csv(reports_dir / "plots" / "prune_loss.csv", loss_rows(results))
    note = f"data: {source}; schedule: {schedule.name}"
    plot_pruning_losses([r for r in results if r["variant"] == "pruned"],
                        reports_dir / "figures" / "prune_loss.png", note)
    unpruned = _read_json(reports_dir / "train_cv_metrics.json") or {}
    if (unpruned.get("config"), unpruned.get("depth")) != (config.name, config.depth):
        unpruned = {}                 # train-cv ran another configuration: not comparable
    atomic_write_text(reports_dir / "prune.md",
                      prune_markdown(metrics, unpruned, results, config, schedule, source))


def loss_rows(results: list[dict]) -> pd.DataFrame:
    """Per-epoch losses and filter count of every run (DVC plots, Fig. 21)."""
    rows = [{"variant": r["variant"], "time_h": r["time_h"], "fold": r["fold"],
             "epoch": e + 1, "filters": r["history"]["filters"][i],
             "loss": r["history"]["loss"][i], "val_loss": r["history"]["val_loss"][i]}
            for r in results for i, e in enumerate(r["history"]["epoch"])]
    return pd.DataFrame(rows)


def plot_pruning_losses(runs: list[dict], path: Path, note: str) -> Path:
    """Paper Fig. 21: training and validation loss across the pruning stages.

    One panel per time bin, one line per fold; dashed lines mark pruning steps, labelled
    with the filter counts before and after (consecutive steps with no training between
    them, E(N) = 0, share a line); crosses give the validation loss just after the last
    step of each chain (the discontinuity); the last step (to N = 4) follows the last epoch.
    """
    times = sorted({r["time_h"] for r in runs}, reverse=True)
    fig = figures.new_figure(8.0 * len(times), 4.8)
    axes = np.atleast_1d(fig.subplots(1, len(times)))
    for ax, t in zip(axes, times):
        _plot_pruning_panel(ax, [r for r in runs if r["time_h"] == t])
    axes[0].text(0.01, 0.98, note, transform=axes[0].transAxes, va="top", fontsize=8,
                 color="0.3")
    return save_figure(fig, path, dpi=110)


def _plot_pruning_panel(ax, runs: list[dict]) -> None:
    for i, r in enumerate(sorted(runs, key=lambda r: r["fold"])):
        epochs = np.asarray(r["history"]["epoch"]) + 1
        ax.plot(epochs, r["history"]["loss"], color="C0", marker="o", markersize=3,
                alpha=0.75, label="training" if i == 0 else None)
        ax.plot(epochs, r["history"]["val_loss"], color="C1", marker="s", markersize=3,
                alpha=0.75, label="validation" if i == 0 else None)
    history = runs[0]["history"]
    filters, epochs = np.asarray(history["filters"]), np.asarray(history["epoch"]) + 1
    values = [v for r in runs for v in r["history"]["loss"] + r["history"]["val_loss"]
              + [s["val_loss"] for s in r["pruning_steps"] if s["val_loss"] is not None]]
    low, high = min(values), max(values)
    chains: dict = {}
    for step in runs[0]["pruning_steps"]:
        chains.setdefault(step["epoch"] + 0.5, [step["before"]]).append(step["after"])
    for x, counts in chains.items():
        ax.axvline(x, color="0.5", linestyle="--", linewidth=0.8)
        ax.text(x, high, "→".join(map(str, counts)), rotation=90, ha="right", va="top",
                fontsize=8, color="0.3")
    for i, r in enumerate(runs):
        after = [s for s in r["pruning_steps"] if s["val_loss"] is not None]
        ax.plot([s["epoch"] + 0.5 for s in after], [s["val_loss"] for s in after], "x",
                color="C3", markersize=7, label="validation, just after pruning" if i == 0
                else None)
    for n in np.unique(filters):
        stretch = epochs[filters == n]
        ax.text(stretch.mean(), low - 0.04 * (high - low), f"N={n}", ha="center", va="top",
                fontsize=9)
    ax.set(xlabel="epoch", ylabel="binary cross-entropy (nats)",
           ylim=(low - 0.15 * (high - low), high + 0.05 * (high - low)),
           xlim=(0.5, epochs[-1] + 1.0),
           title=f"Training with pruning of the last layer, {runs[0]['time_h']} h, "
                 f"{len(runs)} folds (dashed: pruning steps)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)


def prune_markdown(metrics: dict, unpruned: dict, results: list[dict], config: TrainConfig,
                   schedule: PruneSchedule, source: str) -> str:
    epochs = ", ".join(f"E({n}) = {e}" for n, e in schedule.stages(start_filters(config)))
    lines = ["# Pruning the last convolution (paper App. C)", "",
             f"Ours: **{source}** data, depth {config.depth}, schedule `{schedule.name}` "
             f"({epochs}; first stage: training configuration `{config.name}`, later stages "
             f"{schedule.finetune_samples_per_epoch or 'all'} random training samples per "
             f"epoch; S_i scored on {schedule.score_samples or 'all'} training samples), "
             "5-fold cross-validation, TSS on the validation tiles at threshold 0.5. "
             "Paper: SDO/HEAR, 32 epochs per stage (50 at N = 8), lr 5e-7 "
             "(Dhuri et al. 2020, App. C).", ""]
    for label in sorted({lab for by_time in metrics.values() for lab in by_time},
                        key=time_from_label, reverse=True):
        lines += [f"## {time_from_label(label)} h", "",
                  "| network | TSS ours (%) | TSS paper (%) |", "|---|---:|---:|"]
        rows = [("unpruned", unpruned.get(label))] + \
            [(v, metrics[v].get(label)) for v in ("pruned", "pruned_n2", "random", "n4")
             if v in metrics]
        for variant, entry in rows:
            paper = PAPER_PRUNE_TSS[variant] if label == "t-3.2h" else None
            ours = (f"{100 * entry['tss_mean']:.1f} ± {100 * entry['tss_std']:.1f}"
                    if entry else "–")
            lines.append(f"| {LABELS[variant]} | {ours} | "
                         f"{f'{paper[0]} ± {paper[1]}' if paper else '–'} |")
        lines.append("")
    lines += ["![Fig. 21](figures/prune_loss.png)", "",
              "Surviving filters (indices into the original 256) of the pruned networks:", ""]
    for r in sorted((r for r in results if r["variant"] == "pruned"),
                    key=lambda r: (-r["time_h"], r["fold"])):
        lines.append(f"- {r['time_h']} h, fold {r['fold']}: {r['kept_filters']}")
    return "\n".join(lines) + "\n"
