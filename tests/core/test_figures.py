"""What a reader sees in the figures: whole-number epoch ticks, method names (not code keys)
in legends (issue 26, point 6)."""

import numpy as np
import pandas as pd

from preemergence.core import figures


def test_epoch_ticks_are_whole_numbers():
    """Three epochs used to get ticks at 1.0, 1.5, 2.0, ... ."""
    fig = figures.new_figure(3.0, 3.0)
    ax = fig.add_subplot()
    ax.plot([1, 2, 3], [0.7, 0.6, 0.55])
    figures.epoch_axis(ax)
    fig.canvas.draw()
    low, high = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if low <= t <= high]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_the_statistics_figure_names_methods_not_code_keys(monkeypatch, tmp_path):
    from preemergence.stats import report
    drawn = {}
    monkeypatch.setattr(report, "save_figure", lambda fig, path, dpi=90: drawn.setdefault(
        "fig", fig))
    times = [-3.2, -8.5]
    tss = pd.DataFrame([{"method": m, "time_h": t, "tss": 0.6, "low": 0.5, "high": 0.7}
                        for m in ("cnn", "da_mtot", "da_mtot_dm", "abs_field")
                        for t in times])
    differences = pd.DataFrame([{"first": "cnn", "second": b, "time_h": t,
                                 "difference": 0.1, "low": 0.0, "high": 0.2,
                                 "fold_difference": 0.1, "fold_low": -0.1, "fold_high": 0.3}
                                for b in ("da_mtot", "da_mtot_dm") for t in times])
    report.plot(tss, differences, tmp_path / "f.png", 0.95, "note")
    legends = [text.get_text() for ax in drawn["fig"].axes
               for text in ax.get_legend().get_texts()]
    assert len(legends) >= 6, legends
    for key in ("da_mtot_dm", "abs_field", "da_mtot", "cnn"):
        assert not any(key in entry for entry in legends), (key, legends)
    assert np.all([entry.strip() for entry in legends])
