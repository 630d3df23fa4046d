"""Skill scores for binary PE (1) / NE (0) classification."""

import numpy as np


def confusion(y_true, y_pred) -> dict:
    """Counts of true/false positives/negatives (PE = 1 is the positive class)."""
    y_true, y_pred = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    return {"tp": int(np.sum(y_true & y_pred)), "fn": int(np.sum(y_true & ~y_pred)),
            "fp": int(np.sum(~y_true & y_pred)), "tn": int(np.sum(~y_true & ~y_pred))}


def tss(y_true, y_pred) -> float:
    """True Skill Statistic TP/(TP+FN) - FP/(FP+TN), in [-1, 1]."""
    c = confusion(y_true, y_pred)
    if c["tp"] + c["fn"] == 0 or c["fp"] + c["tn"] == 0:
        raise ValueError("TSS needs both PE and NE examples")
    return c["tp"] / (c["tp"] + c["fn"]) - c["fp"] / (c["fp"] + c["tn"])


def mean_std(values) -> tuple[float, float]:
    """Mean and (population) standard deviation over folds."""
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std())
