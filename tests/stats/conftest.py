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
    import numpy as np
    n = n_ear + n_cr
    if hits is None:
        hits = rng.beta(hit * spread, (1 - hit) * spread, n)
        alarms = rng.beta(false_alarm * spread, (1 - false_alarm) * spread, n)
    region = np.repeat(np.arange(n), 9)                  # 9 tiles a region, in order
    tile = np.tile(np.arange(9), n)
    label = ((region < n_ear) & (tile == 0)).astype(int)  # an EAR's first tile is its PE
    p = np.where(label == 1, hits[region], alarms[region])
    predicted = (rng.random(len(region)) < p).astype(int)  # the draws of a loop, in order
    frame = pd.DataFrame({"method": method, "time_h": -3.2, "fold": region % 5,
                          "region_id": [f"R{i:04d}" for i in region],
                          "kind": np.where(region < n_ear, "EAR", "CR"),
                          "x0": 85 * (tile % 3), "y0": 85 * (tile // 3), "label": label,
                          "score": 0.0, "predicted": predicted})
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
