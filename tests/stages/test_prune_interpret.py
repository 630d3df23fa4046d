"""prune and interpret stages end to end on a tiny configuration (2 folds, -3.2 h)."""

import json
import os
import re

import numpy as np
import pandas as pd
import pytest

from preemergence.core.config import with_overrides
from preemergence.model import cnn
from preemergence.interpret import probes as interpret
from preemergence.interpret import report as interpret_report
from preemergence.stages.prepare import run_prepare
from preemergence.stages.prune import run_prune
from preemergence.stages.train_cv import run_train_cv


@pytest.fixture(scope="module")
def tiny(tiny_params, tiny_store_dir, tmp_path_factory, output_guard):
    """Tiny data (2 folds), train-cv at -3.2 h, then prune (tiny schedule)."""
    work = tmp_path_factory.mktemp("prune")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"
    p = with_overrides(tiny_params, {
        "time_bins": [-3.2], "prepare.n_folds": 2,
        "train.configs.default.epochs": 1, "train.configs.default.samples_per_epoch": 48,
        "train.configs.default.max_val_samples": 16,
        "prune.schedules.default.first_epochs": 1,
        "prune.schedules.default.epochs": {128: 0, 64: 1, 32: 0, 16: 0, 8: 1},
        "prune.schedules.default.finetune_samples_per_epoch": 32,
        "prune.score_samples": 40,
        "interpret.max_samples": 200, "interpret.fold": 0,
        "interpret.bipole.radius_step_mm": 20.0,
        "interpret.depth_sweep.depths": [2, 3],
        "interpret.occlusion.stride_px": 20, "interpret.occlusion.regions_per_kind": 1})
    run_prepare(p, tiny_store_dir, work / "segments", work / "reports", progress=False)
    run_train_cv(p, tiny_store_dir, work / "segments", work / "train_cv", work / "reports")
    guard = output_guard(work)
    metrics = run_prune(p, tiny_store_dir, work / "segments", work / "prune", work / "reports")
    guard.check("prune", work / "reports", work / "prune")
    return p, tiny_store_dir, work, metrics


@pytest.mark.slow
def test_prune_stage_reaches_four_filters_with_controls(tiny):
    p, store, work, metrics = tiny
    assert set(metrics) == {"pruned", "random", "n4", "pruned_n2"}
    for entry in metrics.values():
        assert set(entry) == {"t-3.2h"} and -1 <= entry["t-3.2h"]["tss_mean"] <= 1
    folder = work / "prune" / "pruned" / "depth5" / "t-3.2h" / "fold0"
    result = json.loads((folder / "result.json").read_text())
    kept = result["kept_filters"]
    assert len(kept) == 4 and len(set(kept)) == 4 and all(0 <= k < 256 for k in kept)
    assert len(result["n2"]["kept_filters"]) == 2 and set(result["n2"]["kept_filters"]) <= set(kept)
    # History: 1 epoch at 256, 1 at 64 (256 -> 128 -> 64 at once), 1 at 8.
    assert result["history"]["filters"] == [256, 64, 8]
    steps = result["pruning_steps"]
    assert [(s["epoch"], s["before"], s["after"]) for s in steps] == [
        (1, 256, 128), (1, 128, 64), (2, 64, 32), (2, 32, 16), (2, 16, 8), (3, 8, 4)]
    # validation loss after the last step of each chain (before training, or final)
    assert [s["val_loss"] is not None for s in steps] == [False, True, False, False, True, True]
    assert all(s["val_loss"] > 0 for s in steps if s["val_loss"] is not None)
    import keras
    model = keras.models.load_model(folder / "model.keras")
    assert cnn.last_conv(model).filters == 4
    # The first stage is train-cv's run (reused from the run store, not retrained).
    cv = json.loads((work / "train_cv/depth5/t-3.2h/fold0/result.json").read_text())
    assert result["history"]["loss"][0] == cv["history"]["loss"][0]
    n4 = json.loads((work / "prune/n4/depth5/t-3.2h/fold0/result.json").read_text())
    assert n4["history"]["filters"] == [4, 4, 4] and n4["kept_filters"] == [0, 1, 2, 3]
    report = (work / "reports" / "prune.md").read_text()
    assert "82.5 ± 4.52" in report and "**synthetic** data" in report
    assert (work / "reports" / "figures" / "prune_loss.png").stat().st_size > 10_000
    # A rerun trains nothing.
    before = (folder / "model.keras").stat().st_mtime_ns
    assert run_prune(p, store, work / "segments", work / "prune", work / "reports",
                     force=True) == metrics
    assert (folder / "model.keras").stat().st_mtime_ns == before


def malformed_tables(markdown: str) -> list[str]:
    """Table rows whose cell count differs from their header's (an unescaped | in a cell
    splits it: "|B|" must be written "\\|B\\|")."""
    bad, width = [], None
    for line in markdown.splitlines():
        if not line.startswith("|"):
            width = None
            continue
        cells = len(re.split(r"(?<!\\)\|", line.strip())) - 2
        width = cells if width is None else width
        if cells != width:
            bad.append(line)
    return bad


def test_malformed_tables_finds_an_unescaped_pipe():
    good = "| time | TSS \\|B\\| (%) |\n|---:|---:|\n| -3.2 | 70 |"
    assert malformed_tables(good) == []
    assert malformed_tables(good.replace("\\|", "|")) == ["|---:|---:|", "| -3.2 | 70 |"]


@pytest.mark.slow
def test_interpret_stage_writes_every_figure_and_verdict(tiny, output_guard):
    from preemergence.stages.interpret import run_interpret
    p, store, work, _ = tiny
    models = {"train_cv": work / "train_cv", "prune": work / "prune",
              "depth_study": work / "depth_study", "own": work / "interpret"}
    guard = output_guard(work)
    run_interpret(p, store, work / "segments", models, work / "reports")
    guard.check("interpret", work / "reports", work / "interpret")
    report = (work / "reports" / "interpretation.md").read_text()
    assert "**synthetic** data" in report and "findings reproduced on our data" in report
    assert malformed_tables(report) == []
    for name in re.findall(r"\]\((figures/interpret/[^)]+)\)", report):
        assert (work / "reports" / name).stat().st_size > 5_000, name
    metrics = json.loads((work / "reports" / "interpret_metrics.json").read_text())
    assert len(metrics["findings"]) == 9
    # interpret-validate has not run here: no probe is validated, so no finding has a verdict
    assert set(metrics["findings"].values()) == {"unvalidated"}
    assert "interpret-validate has not run" in report
    rests_on = re.findall(r"^- Rests on: (.+)\.$", report, re.M)       # every finding says
    assert len(rests_on) == 9 and all(re.search(r"\d", r) for r in rests_on)  # on how much
    assert "2 pruned network(s), one per fold" in report       # Figs. 12-16: every fold
    intervals = re.findall(r"([+-]\d+\.\d+) \[([+-]\d+\.\d+), ([+-]\d+\.\d+)\]", report)
    assert len(intervals) >= 8                 # Figs. 3, 10-11, 18, 24, Table 5 intervals
    for estimate, low, high in intervals:      # every interval holds the number it is for
        assert float(low) <= float(estimate) <= float(high), (estimate, low, high)
    assert "pooled TSS(|B|) - TSS(B)" in report
    occlusion = pd.read_csv(work / "reports" / "interpret_occlusion_regions.csv")
    assert set(occlusion.kind) == {"EAR", "CR"} and occlusion.region.is_unique
    assert np.allclose(occlusion.box_minus_outside,
                       occlusion.occlusion_in_box - occlusion.occlusion_outside_box)
    assert set(metrics["table5"]) == {"t-3.2h"}
    assert (work / "interpret" / "abs_field" / "depth5" / "t-3.2h" / "fold1" /
            "result.json").exists()
    import mlflow                                  # |B| networks named apart from B ones
    runs = mlflow.search_runs(experiment_names=["interpret"],
                              filter_string="params.`config.abs_field` = 'True'")
    assert len(runs) == 2 and all(n.endswith(" · |B|") for n in runs["tags.mlflow.runName"])


def test_characteristic_radius():
    radii = np.array([0, 10, 20, 30, 40])
    assert interpret.characteristic_radius(radii, [0.1, 0.9, 0.7, 0.2, 0.1]) == 20
    assert np.isnan(interpret.characteristic_radius(radii, [0.1] * 5))        # never high
    assert np.isnan(interpret.characteristic_radius(radii, [0.9] * 5))        # never drops
    assert np.isnan(interpret.characteristic_radius(radii, [0.45, 0.55, 0.52, 0.48, 0.47]))


def test_verdicts_can_fail():
    folds = [0.70, 0.72, 0.68, 0.74, 0.66]
    signed = {"t-3.2h": {**{f"tss_fold{k}": v for k, v in enumerate(folds)},
                         "tss_mean": 0.70, "tss_std": 0.03}}
    lower = {"t-3.2h": {**{f"tss_fold{k}": v - 0.3 for k, v in enumerate(folds)},
                        "tss_mean": 0.40, "tss_std": 0.03}}
    one_collapsed = {"t-3.2h": {**signed["t-3.2h"], "tss_fold0": 0.02}}
    all_collapsed = {"t-3.2h": {**{f"tss_fold{k}": 0.0 for k in range(5)},
                                "tss_mean": 0.0, "tss_std": 0.0}}
    verdict = lambda t5: interpret_report._table5({"table5": t5}, signed)["verdict"]  # noqa
    assert verdict(lower) == "no"
    assert verdict(signed) == "yes"
    assert verdict(one_collapsed) == "yes"
    assert verdict(all_collapsed) == "inconclusive"
    radii = list(range(0, 61, 5))
    nan = float("nan")
    growing = {f"depth{d}": {"100G": r} for d, r in zip(range(2, 9), [nan, 10, 12, 20, 40, 25, 20])}
    early = {f"depth{d}": {"100G": r} for d, r in zip(range(2, 9), [10, 20, 30, 5, 5, 5, 5])}
    no_scale_at_3 = {**growing, "depth3": {"100G": nan}}
    depth = lambda r: interpret_report._depth(  # noqa
        {"depth_sweep": {"characteristic_radius_mm": r, "radii_mm": radii}})["verdict"]
    assert depth(growing) == "yes"
    assert depth(early) == "no"
    assert depth(no_scale_at_3) == "no"
    by_fold = lambda folds: interpret_report._depth({"depth_sweep": {  # noqa
        "characteristic_radius_mm": folds[0], "radii_mm": radii,
        "characteristic_radius_mm_by_fold": {f"fold{k}": r for k, r in enumerate(folds)}}}
    )["verdict"]
    assert by_fold([growing, growing]) == "yes"
    assert by_fold([growing, early]) == "inconclusive"        # the folds disagree
    assert by_fold([early, no_scale_at_3]) == "no"


def test_occlusion_verdict_rests_on_every_region_and_its_interval():
    def summary(gap_low, occ_low, n=36):
        entry = lambda low: {"estimate": low + 0.1, "low": low, "high": low + 0.2}  # noqa
        return {"fold": 0, "summary": {
            "n_ear": n, "n_cr": n, "ear_box_output": entry(0.5), "cr_box_output": entry(0.1),
            "ear_minus_cr_box_output": entry(gap_low), "ear_box_minus_outside": entry(0.1),
            "ear_minus_cr_box_minus_outside": entry(occ_low),
            "cr_box_minus_outside": entry(-0.1), "fraction_ear_box_above_threshold": 0.7,
            "fraction_cr_box_below_threshold": 0.9}}
    verdict = lambda occ: interpret_report._occlusion({"occlusion": occ})  # noqa
    assert verdict(summary(0.2, 0.05))["verdict"] == "yes"
    assert "over 36 EARs and 36 CRs of fold 0" in verdict(summary(0.2, 0.05))["ours"]
    assert verdict(summary(-0.05, 0.05))["verdict"] == "no"    # interval reaches 0
    assert verdict(summary(0.2, -0.01))["verdict"] == "no"
    assert verdict(summary(0.2, 0.05, n=1))["verdict"] == "inconclusive"
    assert verdict(summary(float("nan"), 0.05))["verdict"] == "inconclusive"


@pytest.mark.slow
def test_stats_stage_reports_intervals_and_passes_the_leakage_guard(tiny, output_guard):
    """stats on the tiny data: every method's interval, the paired differences, the guard;
    the saved predictions reproduce train-cv's fold TSS; a rerun gives the same numbers."""
    from preemergence.stages.baseline import run_baseline
    from preemergence.stages.depth_study import run_depth_study
    from preemergence.stages.interpret import run_interpret
    from preemergence.stages.stats import run_stats
    from preemergence.stats.resampling import fold_mean_std
    from preemergence.model.predictions import read_predictions
    p, store, work, _ = tiny
    p = with_overrides(p, {"depth_study.depths": [2, 5], "stats.bootstrap_resamples": 200,
                           "stats.permutations": 200})
    reports = work / "reports"
    run_baseline(p, work / "segments", reports, force=True)
    run_depth_study(p, store, work / "segments", work / "depth_study", reports, force=True)
    if not (reports / "predictions" / "interpret.csv").exists():
        run_interpret(p, store, work / "segments", {"train_cv": work / "train_cv",
                      "prune": work / "prune", "own": work / "interpret"}, reports)
    guard = output_guard(work)
    metrics = run_stats(p, store, work / "segments", reports, progress=False)
    guard.check("stats", reports)
    entry = metrics["t-3.2h"]
    for method in ("cnn", "da_mtot", "da_mtot_dm", "cnn_depth2", "pruned", "abs_field"):
        assert entry[method]["low"] <= entry[method]["tss"] <= entry[method]["high"], method
    gap = entry["cnn_minus_da_mtot"]
    assert set(gap) == {"difference", "low", "high", "p_value", "fold_difference", "fold_low",
                        "fold_high"}
    assert 0 < gap["p_value"] <= 1
    # the across-fold interval (training included) holds the folds' mean difference
    assert gap["fold_low"] <= gap["fold_difference"] <= gap["fold_high"]
    assert metrics["leakage_guard"]["passed"] is True
    # the DVC metrics: the summary methods' TSS per time bin and the guard's, nothing else
    summary = json.loads((reports / "stats_metrics.json").read_text())
    assert set(summary) == {*p.stats.summary_methods, "leakage_guard_tss"}
    assert summary["cnn"]["t-03.2h"] == round(100 * entry["cnn"]["tss"], 1)      # in %
    assert summary["leakage_guard_tss"] == round(100 * metrics["leakage_guard"]["tss"], 1)
    details = json.loads((reports / "statistics.json").read_text())
    assert details["t-3.2h"]["cnn_minus_da_mtot"] == pytest.approx(entry["cnn_minus_da_mtot"])
    report = (reports / "statistics.md").read_text()
    assert "At -3.2 h the CNN" in report and "**synthetic** data" in report
    guard_entry = metrics["leakage_guard"]       # its power: the 95 % interval's half-width
    assert guard_entry["low"] <= guard_entry["tss"] <= guard_entry["high"]
    assert guard_entry["halfwidth_95"] > 0
    assert f"half-width is {100 * guard_entry['halfwidth_95']:.1f} points" in report
    guard_rows = read_predictions([reports / "predictions" / "leakage_guard.csv"])
    assert (guard_rows.groupby("region_id")["label"].nunique() == 1).all()   # region labels
    assert (reports / "figures" / "stats_tss_vs_time.png").stat().st_size > 10_000
    # the saved predictions give train-cv's own fold TSS
    cv = json.loads((reports / "train_cv_metrics.json").read_text())["t-3.2h"]
    cnn = read_predictions([reports / "predictions" / "train_cv.csv"])
    assert fold_mean_std(cnn) == pytest.approx((cv["tss_mean"], cv["tss_std"]))
    # deterministic, and the guard's runs are reused
    assert run_stats(p, store, work / "segments", reports, force=True, progress=False) == metrics
    # a second cross-validation with other folds: split variance next to sampling variance
    again = with_overrides(p, {"stats.repeats": 2})
    run_stats(again, store, work / "segments", reports, force=True, progress=False)
    report = (reports / "statistics.md").read_text()
    assert "## Split variance: repeated cross-validation" in report
    assert "| -3.2 | cnn | 2 |" in report and "| -3.2 | da_mtot | 2 |" in report
    unscored = with_overrides(p, {"stats.summary_methods": ["cnn", "cnn_depth3"]})
    with pytest.raises(ValueError, match=r"stats.summary_methods \['cnn_depth3'\]"):
        run_stats(unscored, store, work / "segments", reports, force=True, progress=False)
    p = with_overrides(p, {"stats.comparisons": ["cnn_depth3 - cnn"]})
    with pytest.raises(ValueError, match="stats.comparisons 'cnn_depth3 - cnn'"):
        run_stats(p, store, work / "segments", reports, force=True, progress=False)


@pytest.mark.slow
def test_stats_with_some_stages_missing_names_them_and_computes_the_rest(tiny, capsys):
    """After prepare, baseline and train-cv only: one line naming the stages whose
    predictions are missing, the statistics of the methods present; nothing ran at all:
    a ValueError (exit 2) naming the stages to run."""
    import shutil
    from preemergence.stages.baseline import run_baseline
    from preemergence.stages.stats import run_stats
    p, store, work, _ = tiny
    p = with_overrides(p, {"stats.bootstrap_resamples": 100, "stats.permutations": 100})
    partial = work / "partial_reports"
    run_baseline(p, work / "segments", partial)
    shutil.copy(work / "reports" / "predictions" / "train_cv.csv",
                partial / "predictions" / "train_cv.csv")
    metrics = run_stats(p, store, work / "segments", partial, progress=False)
    line = next(line for line in capsys.readouterr().err.splitlines()
                if line.startswith("stats: no predictions of "))
    assert line.startswith("stats: no predictions of depth-study, prune, interpret in ")
    assert "statistics of the methods present: cnn, da_mtot, da_mtot_dm" in line
    entry = metrics["t-3.2h"]
    assert {"cnn", "da_mtot", "cnn_minus_da_mtot"} <= set(entry)
    assert "pruned" not in entry and "cnn_depth2" not in entry
    summary = json.loads((partial / "stats_metrics.json").read_text())
    assert "cnn" in summary and "pruned" not in summary
    with pytest.raises(ValueError, match=r"no out-of-fold predictions; run the stages "
                                         r"train-cv, baseline, depth-study, prune, interpret"):
        run_stats(p, store, work / "segments", work / "no_reports", progress=False)


def test_pruned_network_verdicts_read_every_fold():
    """Figs. 12, 14-15 and 16 are read on every fold's pruned network, as their planted
    probes are: all folds -> reproduced, some -> inconclusive, none -> not reproduced."""
    radii = list(range(0, 61, 5))
    drop = [0.9] * 6 + [0.1] * 7                       # clear drop after 25 Mm
    flat = [0.9] * 13

    def fold(slopes, output_100g, trend):
        contrib = [[v * r for r in radii] for v in trend]
        return {"fold": 0, "regions": {"n_ear": 36, "n_cr": 36},
                "fig12": {"slope_per_1e20_mx": slopes, "split_margin": {
                    "estimate": min(slopes[0], slopes[1], -slopes[2], -slopes[3]),
                    "low": -1.0, "high": 1.0}},
                "bipoles": {"radii_mm": radii, "output": {"10G": [0.1] * 13, "100G": output_100g},
                            "characteristic_radius_mm": {
                                "100G": interpret.characteristic_radius(radii, output_100g)},
                            "filter_contributions_example_field": contrib}}
    good = fold([0.5, 0.4, -0.1, -0.2], drop, [1, 1, -1, -1])
    bad = fold([0.5, -0.4, 0.1, -0.2], flat, [1, -1, 1, -1])

    def verdicts(*records):
        m = {"pruned": {**records[0], "by_fold": {f"fold{k}": r for k, r in enumerate(records)}},
             "depth_sweep": {"characteristic_radius_mm": {}}}
        checks = (interpret_report._filters_vs_mtot(m), interpret_report._bipole_output(m),
                  interpret_report._bipole_filters(m))
        assert all(f"{len(records)} pruned network(s), one per fold" in c["rests_on"]
                   for c in checks)
        return [c["verdict"] for c in checks]
    assert verdicts(good, good) == ["yes"] * 3
    assert verdicts(good, bad) == ["inconclusive"] * 3
    assert verdicts(bad, bad) == ["no"] * 3
