"""Fixtures of the stats tests: synthetic out-of-fold predictions with a known TSS."""

import pandas as pd
import pytest

from preemergence.core.config import with_overrides


def predictions(rng, n_ear=180, n_cr=180, hit=0.75, false_alarm=0.10, spread=20.0,
                method="a", hits=None, alarms=None):
    """Tiles of n_ear EARs (1 PE + 8 NE tiles) and n_cr CRs (9 NE tiles), 5 folds.

    Each region has its own hit and false-alarm probabilities, drawn from Beta distributions
    with means ``hit`` and ``false_alarm`` (concentration ``spread``), so the tiles of a
    region are correlated; the population TSS is hit - false_alarm. ``hits`` / ``alarms``
    pass per-region probabilities instead (to give two methods the same regions)."""
    n = n_ear + n_cr
    if hits is None:
        hits = rng.beta(hit * spread, (1 - hit) * spread, n)
        alarms = rng.beta(false_alarm * spread, (1 - false_alarm) * spread, n)
    rows = []
    for i in range(n):
        kind = "EAR" if i < n_ear else "CR"
        labels = [1] + [0] * 8 if kind == "EAR" else [0] * 9
        for j, label in enumerate(labels):
            p = hits[i] if label else alarms[i]
            rows.append((method, -3.2, i % 5, f"R{i:04d}", kind, 85 * (j % 3), 85 * (j // 3),
                         label, 0.0, int(rng.random() < p)))
    frame = pd.DataFrame(rows, columns=["method", "time_h", "fold", "region_id", "kind", "x0",
                                        "y0", "label", "score", "predicted"])
    frame["score"] = frame["predicted"].astype(float)
    return frame, hits, alarms


@pytest.fixture(scope="session")
def synthetic():
    """predictions(rng, ...) -> (table, hits, alarms): see its docstring."""
    return predictions


@pytest.fixture(scope="session")
def settings(params):
    """params.yaml stats, with fewer resamples (the tests repeat them hundreds of times)."""
    return with_overrides(params, {"stats.bootstrap_resamples": 999,
                                   "stats.permutations": 499}).stats
