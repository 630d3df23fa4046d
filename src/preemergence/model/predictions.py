"""Out-of-fold predictions: every evaluation tile's score and class, per method.

Every stage that scores a method on the evaluation tiles (baseline, train-cv, depth-study,
prune, interpret's |B| networks) keeps one long table (reports/predictions/<stage>.csv):
one row per (method, time bin, evaluation tile) with the tile's region, kind, fold, label,
the method's score (CNN: its output y in [0, 1]; discriminant analysis: the log ratio of the
PE and NE densities; higher = more PE-like) and its class at the method's own decision rule
(CNN: y >= train.threshold; DA: PE density > NE density). A tile is identified by
(time_h, region_id, x0, y0). Every statistic of the stats stage is computed from these
tables, without retraining.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from preemergence.core.artifacts import atomic_write_text

COLUMNS = ["method", "time_h", "fold", "region_id", "kind", "x0", "y0", "label", "score",
           "predicted"]
TILE_KEY = ["time_h", "region_id", "x0", "y0"]


def classify(outputs, threshold: float) -> np.ndarray:
    """Class labels (1 = PE) of CNN outputs: PE where y >= threshold (train.threshold)."""
    return (np.asarray(outputs) >= threshold).astype(int)


def fold_tiles(table: pd.DataFrame, fold: int) -> pd.DataFrame:
    """The evaluation tiles of one fold, in the order every method scores them."""
    return table[(table.subset == "tile") & (table.fold == fold)]


def tile_rows(tiles: pd.DataFrame, method: str, scores, predicted) -> pd.DataFrame:
    """Prediction rows of one method on a set of tiles (scores and classes in row order)."""
    scores, predicted = np.asarray(scores, float), np.asarray(predicted, int)
    if len(scores) != len(tiles) or len(predicted) != len(tiles):
        raise ValueError(f"{method}: {len(scores)} scores and {len(predicted)} classes for "
                         f"{len(tiles)} tiles")
    out = tiles[["time_h", "fold", "region_id", "kind", "x0", "y0", "label"]].copy()
    out.insert(0, "method", method)
    out["score"], out["predicted"] = scores, predicted
    return out.reset_index(drop=True)[COLUMNS]


def run_rows(table: pd.DataFrame, result: dict, method: str, threshold: float) -> pd.DataFrame:
    """Prediction rows of one CNN run (result.json of runs.train_fold or a pruning run):
    its tile outputs on its fold's tiles, classified at the threshold."""
    if "tile_outputs" not in result:
        raise ValueError(f"run {result.get('run_key')}: its result has no tile outputs "
                         "(trained by an older version; run the stage again)")
    tiles = fold_tiles(table, result["fold"])
    outputs = np.asarray(result["tile_outputs"], float)
    return tile_rows(tiles, method, outputs, classify(outputs, threshold))


def runs_table(data: dict, results: list[dict], method: str, threshold: float) -> pd.DataFrame:
    """Prediction rows of many runs (data: time bin -> runs.TimeBinData)."""
    frames = [run_rows(data[r["time_h"]].table, r, method, threshold) for r in results]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)


def write_predictions(path: Path, frames) -> Path:
    """Prediction tables, concatenated, as CSV (atomically; scores to 7 significant digits)."""
    frame = pd.concat(list(frames), ignore_index=True)[COLUMNS]
    return atomic_write_text(path, frame.to_csv(index=False, float_format="%.7g"))


def read_predictions(paths) -> pd.DataFrame:
    """Prediction tables from CSV files; a missing column or a method scored twice on one
    tile is a ValueError naming the file."""
    frames = []
    for path in paths:
        frame = pd.read_csv(path, dtype={"region_id": str, "kind": str, "method": str})
        missing = [c for c in COLUMNS if c not in frame]
        if missing:
            raise ValueError(f"{path}: prediction table without column(s) {missing}")
        duplicated = frame.duplicated(["method", *TILE_KEY])
        if duplicated.any():
            row = frame[duplicated].iloc[0]
            raise ValueError(f"{path}: method {row.method} scored twice on tile "
                             f"{row.region_id} ({row.x0}, {row.y0}) at {row.time_h} h")
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
