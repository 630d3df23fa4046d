"""What a DVC user sees: `dvc exp show`'s table and `dvc plots show`'s charts.

* the declared metrics are one short table (TSS per method and time bin), with no name
  that is also a parameter;
* every declared plot draws one line per series: within a line (the template's colour,
  dash, detail and facet fields) no x value repeats, the zigzag of several runs drawn as
  one line;
* the plots page declares its charset.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from preemergence.core.plotdata import with_series

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))   # the offline render check's line counter


def dvc() -> str:
    return shutil.which("dvc") or str(Path(sys.executable).parent / "dvc")


def flat_keys(entry, prefix=""):
    if isinstance(entry, dict):
        return [k for name, v in entry.items() for k in flat_keys(v, f"{prefix}{name}.")]
    return [prefix[:-1]]


def declared_metric_files() -> list[str]:
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    return [next(iter(m)) if isinstance(m, dict) else m
            for stage in stages.values() for m in stage.get("metrics", [])]


def test_the_declared_metrics_are_one_short_tss_table():
    """`dvc exp show` leads with the metrics: they must fit a terminal (a few dozen columns,
    not the per-fold detail) and share no name with a parameter."""
    files = declared_metric_files()
    assert files == ["reports/stats_metrics.json"]
    metrics = json.loads((ROOT / files[0]).read_text())
    columns = flat_keys(metrics)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert len(columns) <= 16, columns
    assert not set(columns) & set(flat_keys(params))
    for method in params["stats"]["summary_methods"]:
        assert set(metrics[method]) <= {f"t{t}h" for t in params["time_bins"]}
    assert set(metrics["cnn"]) == {f"t{t}h" for t in params["time_bins"]}


def test_with_series_names_lines_and_orders_panels_as_they_come():
    table = pd.DataFrame({"x": [1, 2, 1, 2]})
    out = with_series(table, ["a", "a", "b", "b"], ["t-8.5h", "t-8.5h", "t-3.2h", "t-3.2h"])
    assert list(out["series"]) == ["a", "a", "b", "b"]
    assert list(out["panel_order"]) == [0, 0, 1, 1]
    assert "panel" not in with_series(table, "abcd")


@pytest.fixture(scope="module")
def rendered_plots():
    shown = subprocess.run([dvc(), "plots", "show", "--json"], cwd=ROOT, capture_output=True,
                           text=True)
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)["data"]


def test_every_declared_plot_draws_one_line_per_series(rendered_plots):
    from dvc_plots_check import lines_repeating_x
    assert len(rendered_plots) >= 5
    for name, entries in rendered_plots.items():
        repeated = lines_repeating_x(entries[0]["content"])
        assert not repeated.any(), f"{name}: lines {list(repeated[repeated].index)} zigzag"


def test_the_plots_page_declares_its_charset():
    config = (ROOT / ".dvc" / "config").read_text()
    assert "html_template = plots/page.html" in config
    page = (ROOT / ".dvc" / "plots" / "page.html").read_text()
    assert '<meta charset="utf-8">' in page and "{plot_divs}" in page
