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
import os
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
    from dvc_plots_check import dvc_executable
    return dvc_executable()


def flat_keys(entry, prefix=""):
    if isinstance(entry, dict):
        return [k for name, v in entry.items() for k in flat_keys(v, f"{prefix}{name}.")]
    return [prefix[:-1]]


def declared_metric_files() -> list[str]:
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    return [next(iter(m)) if isinstance(m, dict) else m
            for stage in stages.values() for m in stage.get("metrics", [])]


def summary_metrics(params: dict) -> dict:
    """The stats stage's DVC metrics as the pipeline scores the methods: the CNN and the DA
    at every time bin, the pruned and |B| CNNs at the first."""
    from preemergence.stats import report
    from preemergence.stats.resampling import Interval
    methods = params["stats"]["summary_methods"]
    tss = pd.DataFrame([{"time_h": t, "method": m, "tss": 0.70326}
                        for t in params["time_bins"] for m in methods
                        if m in ("cnn", "da_mtot") or t == params["time_bins"][0]])
    return report.summary(tss, Interval(0.11339, -0.2, 0.4), methods)


def test_the_declared_metrics_are_one_short_tss_table_in_percent_by_time():
    """`dvc exp show` leads with the metrics: they must fit a terminal (a few dozen columns,
    not the per-fold detail), share no name with a parameter, read in % as the reports do
    and sort by time before emergence (`dvc metrics show` sorts keys as text)."""
    assert declared_metric_files() == ["reports/stats_metrics.json"]
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    metrics = summary_metrics(params)
    columns = flat_keys(metrics)
    assert len(columns) <= 16, columns
    assert not set(columns) & set(flat_keys(params))
    assert list(metrics["cnn"]) == sorted(metrics["cnn"]) == \
        ["t-03.2h", "t-08.5h", "t-13.9h", "t-19.2h", "t-24.5h"]
    assert metrics["cnn"]["t-03.2h"] == 70.3 and metrics["leakage_guard_tss"] == 11.3


def make_command(target: str) -> list[str]:
    """The command a Makefile target runs (make -n), split as the shell would."""
    import os
    import shlex
    env = {k: v for k, v in os.environ.items()       # under `make test`: no nested make's
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}   # "Entering directory" lines
    printed = subprocess.run(["make", "--no-print-directory", "-n", "-o", ".venv/.installed",
                              target], cwd=ROOT, env=env, capture_output=True, text=True,
                             check=True).stdout
    return shlex.split(next(line for line in printed.splitlines() if "/dvc " in line))


@pytest.mark.slow
def test_make_exps_fits_120_columns_and_shows_a_queued_depth(tmp_path):
    """`make exps` (the README's short experiment table) on a repository with the real
    dvc.yaml and params.yaml and an experiment queued with -S depth=4: every line within 120
    columns, the depth column there with 4 for the experiment, the headline TSS in %."""
    import os
    repo = tmp_path / "repo"
    (repo / "reports").mkdir(parents=True)
    for name in ("dvc.yaml", "params.yaml", "dvc.lock"):    # the lock: a column per dep
        shutil.copy(ROOT / name, repo / name)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    (repo / "reports" / "stats_metrics.json").write_text(json.dumps(summary_metrics(params)))
    env = {**os.environ, "COLUMNS": "120", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    for command in (["git", "init", "-q"], [dvc(), "init", "-q"], ["git", "add", "-A"],
                    ["git", "commit", "-qm", "init"],
                    [dvc(), "exp", "run", "--queue", "-S", "depth=4", "-n", "deeper"]):
        subprocess.run(command, cwd=repo, env=env, check=True, capture_output=True)
    command = make_command("exps")
    command[0] = dvc()
    shown = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert max(len(line) for line in lines) <= 120, shown.stdout
    header = next(line for line in lines if "Experiment" in line).split()
    assert header[-1] == "depth" and "cnn.t-03.2h" in header, shown.stdout
    assert "…" not in shown.stdout
    assert next(line for line in lines if "deeper" in line).split()[-1] == "4"
    assert next(line for line in lines if "workspace" in line).split()[2] == "70.3"


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


def test_bipole_plot_colours_follow_the_figures_and_show_no_stray_legend():
    """Vega colours nominal series in text order with d3's category10 (= matplotlib's tab10):
    the fields must sort as text in field order (10 G, 100 G, 1000 G), as the matplotlib
    figures draw them; the single-y template draws no dash legend (DVC's 'field' column
    would add an 'output' entry)."""
    from preemergence.interpret.report_metrics import bipole_rows
    radii = [0.0, 5.0]
    metrics = {"pruned": {"bipoles": {"radii_mm": radii, "output": {
                   f"{b}G": [0.1, 0.2] for b in (1000, 10, 100)}}},
               "depth_sweep": {"output": {"depth2": {"10G": [0.3, 0.4]}}}}
    series = list(dict.fromkeys(bipole_rows(metrics)["series"]))
    assert sorted(series) == ["10 G", "100 G", "1000 G"]
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    plot = next(p["reports/plots/interpret_bipoles.csv"] for p in stages["interpret"]["plots"]
                if isinstance(p, dict) and "reports/plots/interpret_bipoles.csv" in p)
    template = json.loads((ROOT / ".dvc" / "plots" / f"{plot['template']}.json").read_text())
    assert "strokeDash" not in template["spec"]["encoding"]
    for name in ("series", "panels", "panels_one_y"):
        spec = json.loads((ROOT / ".dvc" / "plots" / f"{name}.json").read_text())
        encoding = spec.get("spec", spec)["encoding"]
        assert encoding["color"]["scale"] == {"scheme": "category10"}, name


def test_dvc_is_found_as_an_absolute_path_from_a_relative_path_entry(tmp_path, monkeypatch):
    """`PATH=.venv/bin:$PATH pytest` with another Python: the DVC found through the relative
    entry still runs from a test's own folder (it was handed on as '.venv/bin/dvc')."""
    from dvc_plots_check import dvc_executable
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))    # no DVC beside it
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("PATH", os.pathsep.join([".venv/bin", os.environ["PATH"]]))
    found = Path(dvc_executable())
    assert found.is_absolute() and found.exists()


def test_the_readme_quick_look_switches_every_training_schedule_but_the_guard(params):
    """The README's quick-look `dvc exp run` gives valid parameters in which every stage that
    trains runs `fast` (interpret-validate was missing and kept its 44-minute default),
    except the leakage guard, which `fast` cannot serve (docs/statistics.md)."""
    import re
    from preemergence.core.config import with_overrides
    text = (ROOT / "README.md").read_text()
    # the one command (lines continued with a backslash) whose last line says "# quick look"
    command = re.search(r"dvc exp run ((?:[^\n]*\\\n)*[^\n]*)# quick look", text).group(1)
    changes = dict(pair.split("=") for pair in re.findall(r"-S (\S+)", command))
    quick = with_overrides(params, changes).model_dump()
    # every `config` key of params.yaml, one or two levels down, with its quick-look value
    configs = {f"{section}.config": body["config"] for section, body in quick.items()
               if isinstance(body, dict) and "config" in body}
    configs |= {f"{section}.{sub}.config": inner["config"] for section, body in quick.items()
                if isinstance(body, dict) for sub, inner in body.items()
                if isinstance(inner, dict) and "config" in inner}
    assert configs == {**dict.fromkeys(["train.config", "depth_study.config",
                                        "interpret.depth_sweep.config",
                                        "interpret.abs_field.config",
                                        "interpret_validate.config"], "fast"),
                       "stats.leakage_guard.config": "default"}
    assert quick["prune"]["schedule"] == "fast"
