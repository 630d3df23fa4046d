"""Benchmarks that must run without a GPU: bench_gpu.py on the CPU (a short measurement), and
the MLflow UI browser check on a small store made from code (where Chromium is installed)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from preemergence.core.config import load_params

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def test_paper_scale_counts_follow_params_yaml():
    from bench_gpu import paper_sample_steps
    params = load_params(ROOT / "params.yaml")
    table1 = {"t-3.2h": {"n_pe": 18000, "n_ne": 18000}}
    steps = paper_sample_steps(params, table1)
    # Table 3: 25 runs x 200 epochs x 28,800 training samples = 144 M sample-steps
    assert steps["train-cv (Table 3)"]["sample_steps"] == pytest.approx(144e6)
    assert steps["prune (3 variants)"]["epochs"] == 32 + 7 * 32 + 50


@pytest.mark.slow
def test_bench_gpu_runs_on_the_cpu(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_gpu.py"), "--cpu",
                           "--concurrency", "1", "2", "--batches", "10", "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((tmp_path / "gpu_concurrency_cpu.json").read_text())
    assert [m["processes"] for m in result["measurements"]] == [1, 2]
    assert all(rate > 0 for m in result["measurements"] for rate in m["rates"])
    assert result["device"].startswith("CPU") and result["projected_h_1"] > 0
    assert "Projected wall time" in (tmp_path / "gpu_concurrency_cpu.md").read_text()


@pytest.mark.slow
@pytest.mark.skipif(not any(shutil.which(b) for b in ("chromium", "chromium-browser",
                                                       "google-chrome")),
                    reason="needs Chromium (apt-get install chromium)")
def test_mlflow_ui_opens_train_cv_with_tss_columns(tmp_path):
    """Through the launcher, train-cv's runs table shows the TSS columns as headers and the
    name search lists every matching child run; an experiment with one run ("1 matching run")
    is recognised as the model-training view too (benchmarks/mlflow_ui_check.py --fixture)."""
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "mlflow_ui_check.py"),
                           "--fixture", "--experiment", "train-cv", "--experiment", "stats",
                           "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    train_cv, stats = json.loads((tmp_path / "summary.json").read_text())["experiments"]
    assert train_cv["passed"] and train_cv["tss_columns"][0] == "tss"
    assert len(train_cv["search_expected"]) == 3
    assert stats["passed"] and stats["view"] == "machine_learning"
    assert stats["tss_columns"] == ["t-3.2h.cnn.tss", "t-8.5h.cnn.tss"]


def test_ui_check_reads_a_one_run_table_as_the_model_training_view():
    """The runs-table footer says "1 matching run" for one run: still the model-training
    view (the check read the real store's stats and realism experiments as 'unknown')."""
    from mlflow_ui_check import classify
    title = "Runs - Experiment 8 - MLflow"
    one = ["Model registry", "Run Name", "workspace · statistics", "1", "matching run"]
    assert classify(title, one, "8")[0] == "machine_learning"
    assert classify(title, one[:-1], "8")[0] == "unknown"
    assert classify(title, one + ["Judges"], "8")[0] == "genai"


def seed_run(folder: Path, cnn_hit_rate_by_fold) -> Path:
    """A reports/ folder with out-of-fold predictions of the CNN and the MTOT analysis at
    -3.2 h: 5 folds of 12 EARs (1 PE + 2 NE tiles) and 12 CRs (3 NE tiles); the MTOT
    analysis finds every other PE tile, the CNN the given share per fold; no false alarms
    but one per fold for both."""
    import pandas as pd
    rows = []
    for fold, rate in enumerate(cnn_hit_rate_by_fold):
        for i in range(24):
            kind, region = ("EAR", f"E{fold}-{i}") if i < 12 else ("CR", f"C{fold}-{i}")
            for tile in range(3):
                label = int(kind == "EAR" and tile == 0)
                alarm = int(i == 12 and tile == 0)
                for method, hit in (("cnn", i < round(12 * rate)), ("da_mtot", i % 2 == 0)):
                    rows.append({"method": method, "time_h": -3.2, "fold": fold,
                                 "region_id": region, "kind": kind, "x0": 85 * tile, "y0": 0,
                                 "label": label, "score": 0.0,
                                 "predicted": int(hit) if label else alarm})
    table = pd.DataFrame(rows)
    (folder / "predictions").mkdir(parents=True)
    for method, name in (("cnn", "train_cv"), ("da_mtot", "baseline")):
        table[table["method"] == method].to_csv(folder / "predictions" / f"{name}.csv",
                                                index=False)
    return folder


def test_seeds_compares_verdicts_over_regions_and_across_folds(tmp_path):
    """benchmarks/seeds.py scores both runs with the stats stage's code: a CNN that wins in
    every fold beats the MTOT analysis under both intervals; one that wins on average but
    loses in a fold wins over regions only, so the seeds agree on the report's verdict (the
    region bootstrap's) and disagree across folds."""
    import convergence_report
    import seeds
    steady = seed_run(tmp_path / "a", [1.0, 1.0, 11 / 12, 1.0, 1.0])
    erratic = seed_run(tmp_path / "b", [1.0, 1.0, 1.0, 1.0, 1 / 12])
    result = seeds.compare([steady, erratic], [42, 7], ["cnn - da_mtot"])
    [row] = result["rows"]
    assert row["comparison"] == "t-3.2h cnn_minus_da_mtot"
    assert row["seed42"]["verdict"] == row["seed42"]["fold_verdict"] == "beats"
    assert (row["seed7"]["verdict"], row["seed7"]["fold_verdict"]) == ("beats", "apart")
    assert row["seed7"]["fold_low"] < 0 < row["seed7"]["low"]
    assert row["agree"] == {"regions": True, "folds": False, "both": False}
    assert result["verdicts_agree"] and result["agreeing"] == {"regions": 1, "folds": 0,
                                                               "both": 0}
    # the steady run's difference lies inside the erratic run's wide across-fold interval
    assert result["other_seed_inside"]["of"] == 2 and result["other_seed_inside"]["folds"] >= 1
    text = convergence_report.seeds_markdown(result)
    assert ": apart) | yes | **no** | **no** |" in text
    assert ("Comparisons whose verdicts agree for every seed: 1 of 1 over regions, 0 across "
            "folds, 0 under both together; pairs of seeds and comparisons that agree: 1, 0 "
            "and 0 of 1") in text
    # the erratic seed misses 11 PE tiles of 60 that the steady one finds (1 of 60):
    # CNN - MTOT differs between them by 10/60 of TSS, a standard deviation of 10/60/sqrt(2)
    assert result["mean_difference_sd"] == pytest.approx(10 / 60 / 2 ** 0.5)
    # three seeds: every pair counted
    third = seeds.compare([steady, erratic, seed_run(tmp_path / "c", [1.0] * 5)],
                          [42, 7, 100], ["cnn - da_mtot"])
    assert third["pairs_agreeing"] == {"of": 3, "regions": 3, "folds": 1, "both": 1}
    assert third["other_seed_inside"]["of"] == 6
    assert "## Training seeds 42, 7 and 100" in convergence_report.seeds_markdown(third)
    with pytest.raises(ValueError, match="1 reports folders for seeds \\[42, 7\\]"):
        seeds.compare([steady], [42, 7])


def test_seeds_ensembles_average_the_networks_and_keep_the_analysis(tmp_path):
    """--members 2: runs taken two at a time, the CNN's outputs averaged per tile and
    classified at train.threshold (a soft vote); the MTOT analysis, the same in every run,
    kept as it is; the ensembles compared as seeds are."""
    import convergence_report
    import seeds
    runs = [seed_run(tmp_path / name, [1.0] * 5) for name in "abcd"]
    tables = [seeds.predictions(run) for run in runs]
    for table, score in zip(tables, (0.8, 0.1, 0.6, 0.5)):
        table.loc[table["method"] == "cnn", "score"] = score
    vote = seeds.ensemble(tables[:2], 0.5)
    cnn, mtot = vote[vote["method"] == "cnn"], vote[vote["method"] == "da_mtot"]
    assert cnn["score"].tolist() == pytest.approx([0.45] * len(cnn))
    assert (cnn["predicted"] == 0).all() and len(cnn) == len(mtot) == 5 * 24 * 3
    assert (seeds.ensemble(tables[2:], 0.5).query("method == 'cnn'")["predicted"] == 1).all()
    key = ["method", "time_h", "region_id", "x0", "y0"]
    assert mtot.sort_values(key)["predicted"].tolist() == \
        tables[0].query("method == 'da_mtot'").sort_values(key)["predicted"].tolist()
    # a method whose scores differ but are not a network's outputs: one clear error
    odd = [t.copy() for t in tables[:2]]
    odd[1].loc[odd[1]["method"] == "da_mtot", "score"] = 3.0
    with pytest.raises(ValueError, match="method da_mtot: its scores differ"):
        seeds.ensemble(odd, 0.5)
    with pytest.raises(ValueError, match="member 2 scored other tiles"):
        seeds.ensemble([tables[0], tables[1].iloc[1:]], 0.5)
    result = seeds.compare(runs, [42, 7, 100, 11], ["cnn - da_mtot", "pruned - cnn"],
                           members=2, machine="a test machine")
    assert result["seeds"] == ["42+7", "100+11"] and result["members"] == 2
    assert result["comparisons"] == ["cnn - da_mtot"]     # no run has a pruned network
    assert set(result["rows"][0]) == {"comparison", "seed42+7", "seed100+11", "agree"}
    with pytest.raises(ValueError, match="a multiple of 2"):
        seeds.compare(runs[:3], [42, 7, 100], members=2)
    with pytest.raises(ValueError, match="--members 0: an ensemble has at least one"):
        seeds.compare(runs, [42, 7, 100, 11], members=0)
    text = convergence_report.seeds_markdown(result)
    assert "## Ensembles of 2 training seeds: 42+7 and 100+11" in text
    assert "Trained on: a test machine." in text
    # the four runs are alike, so the two ensembles' differences are too
    assert result["mean_difference_sd"] == 0
    assert "A difference moves between ensembles by 0.0 points" in text


def test_profile_names_the_tensorflow_version_of_its_machine():
    """A profile entry says which TensorFlow computed it (entries before 2026-12-07 read
    "TensorFlow ?")."""
    import tensorflow as tf
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import profile_run
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    machine = profile_run.machine()
    assert machine["tensorflow"] == tf.__version__ and machine["cpus"] >= 1


def test_profile_splits_one_cross_validation_call_into_its_runs(monkeypatch, tmp_path):
    """Each profiled run lasts from the start of its training to the start of the next,
    within one cross_validate call (no run counted twice, none reused), and its phases are
    those booked in that span."""
    import time

    import profile_run
    from types import SimpleNamespace

    from preemergence.core import profiling
    from preemergence.model import crossval, runs
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setattr(runs, "load_time_bins", lambda *a: {-3.2: SimpleNamespace()})

    def fake_cross_validate(data, config, models_dir, n_folds, *args, **kwargs):
        out = []
        for fold in range(n_folds):
            out.append(crossval.train_fold(data[-3.2], fold, config))
            profiling.add("model registration", 0.01 * (fold + 1))
            time.sleep(0.02)
        return out

    def fake_train_fold(data, fold, config):
        profiling.add("training steps", 1.0 + fold)
        return {"reused": False}
    monkeypatch.setattr(crossval, "cross_validate", fake_cross_validate)
    monkeypatch.setattr(crossval, "train_fold", fake_train_fold)
    measured = profile_run.profile_runs(3, False, -3.2, "fast")
    assert [r["fold"] for r in measured] == [0, 1, 2]
    assert [r["phases"]["training steps"] for r in measured] == [1.0, 2.0, 3.0]
    assert [round(r["phases"]["model registration"], 2) for r in measured] == [0.01, 0.02, 0.03]
    assert all(0.02 <= r["wall_s"] < 1.0 for r in measured)     # the sleeps, not the bookings


def test_the_frontier_takes_each_stage_s_latest_profile_and_names_its_source():
    """A whole-pipeline profile, then interpret-validate and interpret profiled again: the
    frontier adds each stage's latest time, scales the training of the stages the quick look
    switches with the epochs, and says where each time comes from and what is missing."""
    from frontier_report import frontier_markdown
    from preemergence.core.catalog import pipeline
    machine = {"cpu": "AMD EPYC", "cpus": 2}

    def stage(name, wall, training=0.0):
        return {"stage": name, "wall_s": wall, "phases": {"training steps": training}}
    old = {"kind": "pipeline", "label": "old run", "machine": machine, "default_epochs": 24,
           "stages": [stage(s, 600.0, 480.0) if s == "interpret" else stage(s, 60.0)
                      for s in pipeline() if s != "interpret-validate"]}
    new = {"kind": "pipeline", "label": "new run", "machine": machine, "default_epochs": 24,
           "stages": [stage("interpret-validate", 2400.0, 1920.0),
                      stage("interpret", 1200.0, 960.0)]}
    run = {"kind": "run", "label": "a run", "machine": machine}
    cands = [{"schedule": "cosine", "epochs": 12, "tss": {2: 0.6, 5: 0.8}}]
    text = frontier_markdown([old, run, new], cands, {2: 0.62, 5: 0.81})
    n_other = len(pipeline()) - 2                       # every stage but the two re-profiled
    total_s = 60.0 * n_other + 2400.0 + 1200.0
    minutes = (total_s - 2880.0 + 2880.0 * 12 / 24) / 60
    assert f"| cosine | 12 | {minutes:.0f} |" in text
    assert "interpret-validate, interpret: new run" in text and "Partial" not in text
    assert "## Frontier: TSS against the time of make run" in text
    partial = frontier_markdown([old], cands, {2: 0.62, 5: 0.81})
    assert "no profile has a time for interpret-validate" in partial


def test_the_frontier_takes_a_quick_look_s_unswitched_stages_and_sets_it_beside_its_estimate():
    """A whole run on the quick look's schedule (3 of 24 epochs) after a default run: its
    stats stage (the leakage guard keeps the default schedule) replaces the default run's in
    the default's total, its train-cv (switched) does not; the measured row carries its time
    and depth-study TSS, the default's row the committed TSS, and the sentence below names
    the stages where the estimate parts from the measurement and those the run lacked."""
    from frontier_report import frontier_markdown, latest_stages
    from preemergence.core.catalog import pipeline
    machine = {"cpu": "AMD EPYC", "cpus": 2}

    def stage(name, wall, training=0.0):
        return {"stage": name, "wall_s": wall, "phases": {"training steps": training}}
    default = {"kind": "pipeline", "label": "default run", "machine": machine,
               "default_epochs": 24,
               "stages": [stage(s, 2400.0, 2400.0) if s == "train-cv" else stage(s, 60.0)
                          for s in pipeline()]}
    quick = {"kind": "pipeline", "label": "quick look", "machine": machine,
             "default_epochs": 24, "schedule": "fast", "schedule_epochs": 3,
             "tss_by_depth": {"1": 0.244, "5": 0.703},
             "stages": [stage("train-cv", 420.0, 300.0), stage("stats", 600.0, 500.0)]}
    stages, missing = latest_stages([default, quick])
    source = {s["stage"]: (s["source"], s["wall_s"]) for s in stages}
    assert source["train-cv"] == ("default run", 2400.0) and missing == []
    assert source["stats"] == ("quick look", 600.0)
    cands = [{"schedule": "cosine", "epochs": 3, "tss": {1: 0.2, 5: 0.79}}]
    text = frontier_markdown([default, quick], cands, {1: 0.4, 5: 0.82}, {1: 0.407, 5: 0.778})
    total_min = (2400.0 + 600.0 + 60.0 * (len(pipeline()) - 2)) / 60
    assert f"| the committed reports (times: the stage profiles above) | default | 24 | " \
           f"{total_min:.0f} | 40.7 | 77.8 |" in text
    assert "| quick look | fast | 3 | 17.0 | 24.4 | 70.3 |" in text
    # estimate: train-cv 2400 s scaled to 3 epochs = 300 s (5.0 min) against 7.0 measured
    assert "train-cv 5.0 estimated, 7.0 measured" in text
    assert "stats" not in text.split("apart by")[1].split(".")[0]   # its own time: no gap
    assert "Not in the run: regions," in text


def test_flux_only_window_statistics_and_where_the_rank_order_is_lost():
    """benchmarks/flux_only_maxpool.py: MTOT, energy and peak statistics of a window; region
    means against windows within a region; saturated outputs counted apart."""
    import numpy as np
    import pandas as pd
    from flux_only_maxpool import between_and_within, window_statistics
    fields = np.zeros((2, 9, 9), dtype=np.float32)
    fields[0, 4, 4] = -90.0                           # one strong pixel
    fields[1] = 10.0                                  # a uniform field, the same sum B^2
    stats = window_statistics(fields)
    assert stats["peak of |B| over 1 px boxes"].tolist() == [90.0, 10.0]
    assert stats["peak of |B| over 9 px boxes"][1] == pytest.approx(10.0)
    assert stats["sum B^2"].tolist() == [8100.0, 8100.0]
    # output follows the region's level, not its windows: region means rank, windows do not
    frame = pd.DataFrame({"region_id": ["a"] * 3 + ["b"] * 3 + ["c"] * 3,
                          "mtot_mx": [1.0, 2.0, 3.0, 11.0, 12.0, 13.0, 21.0, 22.0, 23.0]})
    output = np.array([0.3, 0.2, 0.1, 0.5, 0.45, 0.4, 0.9995, 0.7, 0.6])
    found = between_and_within(frame, output)
    assert found["rho_region_means"] == pytest.approx(1.0)
    assert found["rho_within_region_median"] == pytest.approx(-1.0)
    assert found["saturated_share"] == pytest.approx(1 / 9)
    # the report's table: |B| escaped, three cells a row
    from flux_only_maxpool import MTOT, markdown
    names = [MTOT, *stats]
    result = {**found, "machine": "test", "depth": 5, "config": "default", "n_windows": 9,
              "n_regions": 3, "criterion_rho": 0.8, "min_rank_correlation": 0.9,
              "rho_with_output": {k: 0.5 for k in names}, "rho_with_mtot": {k: 0.9 for k in names}}
    rows = [line for line in markdown(result).splitlines() if line.startswith("| ")]
    assert len(rows) == len(names) + 1                  # the header and one row a statistic
    assert all(line.replace("\\|", "").count("|") == 4 for line in rows)


def test_bf16_benchmark_trains_in_its_own_run_store(tmp_path):
    """bench_bf16_tss times both precisions from scratch: its train-cv calls use a run store
    and an MLflow store of their work folder, not the pipeline's (whose float32 runs it
    reused once, timing 5 folds at 13 s)."""
    import bench_bf16_tss
    from preemergence.core.paths import RUN_STORE_ENV
    env = bench_bf16_tss.work_env(tmp_path / "fp32")
    assert env[RUN_STORE_ENV] == str((tmp_path / "fp32" / "runs").resolve())
    assert env["MLFLOW_TRACKING_URI"] == f"sqlite:///{(tmp_path / 'fp32').resolve()}/mlflow.db"


JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0"
 failures="1" skipped="1" tests="4" time="42.5" timestamp="2026-12-07T19:41:02.5">
<testcase classname="tests.model.test_fanout" name="test_a" time="30.0"/>
<testcase classname="tests.model.test_fanout" name="test_b" time="2.5"/>
<testcase classname="tests.test_cli.TestForce" name="test_c" time="9.0"><failure/></testcase>
<testcase classname="tests.test_cli" name="test_d" time="0.5"><skipped/></testcase>
</testsuite></testsuites>"""


def test_test_suite_report_sums_each_module_and_says_if_the_budget_holds():
    """benchmarks/bench_test_suite.py: a JUnit report read per module (a test class counted in its
    module), the slowest tests first, counts and the 5-minute verdict in the table."""
    import bench_test_suite as test_suite
    junit = test_suite.read_junit(JUNIT)
    assert junit["modules"] == {"tests/model/test_fanout.py": {"seconds": 32.5, "tests": 2},
                                "tests/test_cli.py": {"seconds": 9.5, "tests": 2}}
    assert [t["test"] for t in junit["tests"][:2]] == [
        "tests/model/test_fanout.py::test_a", "tests/test_cli.py::test_c"]
    machine = {"cpu": "AMD EPYC", "cpus": 2, "isa": ["avx2"], "workers": 2, "python": "3.11"}
    report = test_suite.summarise(junit, 45.0, machine, "abc1234", 1, top=3)
    assert report["date"] == "2026-12-07 19:41" and report["worker_s"] == 42.0
    text = test_suite.markdown(report)
    assert "AMD EPYC, 2 cores (avx2)" in text and "2 passed, 1 failed, 1 skipped" in text
    assert "**0 min 42 s** (budget 5 min 0 s: within)" in text
    assert "| tests/model/test_fanout.py | 2 | 32.5 | 77.4 % |" in text
    assert text.index("test_fanout.py::test_a |") < text.index("test_cli.py::test_c |")
    assert "over)" in test_suite.markdown({**report, "pytest_s": 301.0})
    # a time just short of a minute rounds up into it (the report once read "7 min 60 s")
    late = test_suite.markdown({**report, "pytest_s": 477.7, "wall_s": 479.8})
    assert "**7 min 58 s**" in late and "start-up: 8 min 0 s" in late and "60 s" not in late


def test_test_suite_names_the_vector_instructions_that_tell_the_epycs_apart():
    import bench_test_suite as test_suite
    avx512 = "processor: 0\nflags\t\t: fpu avx2 fma avx512f avx512_bf16 sse\n"
    assert test_suite.cpu_flags(avx512) == ["avx2", "avx512f", "avx512_bf16"]
    assert test_suite.cpu_flags("flags : fpu avx2 fma\n") == ["avx2"]
    assert test_suite.cpu_flags("no flags line") == []


def test_test_suite_counts_the_test_processes_a_run_was_given(monkeypatch):
    import bench_test_suite as test_suite
    monkeypatch.setattr(test_suite.os, "cpu_count", lambda: 2)
    assert test_suite.process_count([]) == 2                 # make test: -n auto, at most 4
    assert test_suite.process_count(["-n", "3", "-k", "cli"]) == 3
    monkeypatch.setattr(test_suite.os, "cpu_count", lambda: 16)
    assert test_suite.process_count(["-x"]) == 4


def test_a_borderline_band_removes_conflicts_only_by_reading_verdicts_borderline():
    """seeds.band_agreement: with band 0 the conflicts are the pairs that disagree; a band
    reads a verdict whose interval bound lies within it of 0 'borderline', and two runs
    conflict only when both are clear of the band and differ (convergence_report's table)."""
    import convergence_report
    import seeds

    def entry(low, high):
        return {"low": low, "high": high, "difference": (low + high) / 2,
                "verdict": "beats" if low > 0 else "worse" if high < 0 else "apart"}
    rows = [{"seedA": entry(0.005, 0.10), "seedB": entry(-0.02, 0.09),    # beats, apart,
             "seedC": entry(0.06, 0.20)},                                  # beats: 2 conflicts
            {"seedA": entry(-0.30, -0.10), "seedB": entry(-0.25, -0.08),   # worse, worse,
             "seedC": entry(-0.20, 0.04)}]                                 # apart: 2 more
    keys = ["seedA", "seedB", "seedC"]
    none = seeds.band_agreement(rows, keys, 0.0)
    assert none == {"band": 0.0, "pairs": 6, "conflicts": 4, "verdicts": 6, "borderline": 0}
    one = seeds.band_agreement(rows, keys, 0.01)      # seedA's 0.5 points off 0: borderline
    assert (one["conflicts"], one["borderline"]) == (3, 1)
    five = seeds.band_agreement(rows, keys, 0.05)
    assert (five["conflicts"], five["borderline"]) == (0, 3)
    text = "\n".join(convergence_report.band_markdown(rows, keys))
    assert "| 0 | 4 of 6 | 0 of 6 |" in text and "| 5 | 0 of 6 | 3 of 6 |" in text
    # differences 5.25, 3.5, 13 and -20, -16.5, -8 points: variances 25.6 and 38.1, pooled
    # SD 5.6 points; a band of 2 SDs (11.3 points) reads every verdict borderline
    assert "is 5.6 points; a band of 2 of them (11.3 points" in text
    assert "leaves 0 of 6 pairs in conflict and reads 6 of 6 verdicts borderline" in text


def test_the_pooled_between_run_sd_is_the_root_of_the_comparisons_mean_variance():
    import seeds
    rows = [{"a": {"difference": 0.10}, "b": {"difference": 0.12}, "c": {"difference": 0.14}},
            {"a": {"difference": 0.00}, "b": {"difference": 0.06}, "c": {"difference": 0.03}}]
    # variances 0.0004 and 0.0009: mean 0.00065
    assert seeds.pooled_sd(rows, ["a", "b", "c"]) == pytest.approx(0.00065 ** 0.5)


def test_test_suite_runs_pytest_with_the_makefile_s_arguments():
    """bench_test_suite measures what `make test` runs: its pytest arguments are the
    Makefile's (plus no cache), so a change to one that misses the other fails here."""
    import bench_test_suite as test_suite
    recipe = next(line for line in (ROOT / "Makefile").read_text().splitlines()
                  if "-m pytest" in line and line.startswith("\t"))
    ours = [a for a in test_suite.MAKE_TEST if a not in ("-p", "no:cacheprovider")]
    assert recipe.split("-m pytest", 1)[1].split() == ours
    assert test_suite.commit_tested()[:7].isalnum()
