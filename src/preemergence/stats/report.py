"""The stats stage's outputs: statistics.md, statistics.json, its figure and the DVC metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pathlib import Path

import numpy as np
import pandas as pd

from preemergence.core import paper
from preemergence.core.artifacts import save_figure
from preemergence.core.constants import sortable_time_label, time_bin_label
from preemergence.core.figures import new_figure
from preemergence.stats.analysis import method_name, method_title, paper_value, verdict_kind
from preemergence.stats.resampling import Interval

if TYPE_CHECKING:
    from preemergence.core.schema import Stats

BANDED = {"cnn": "C0", "da_mtot": "C1", "da_mtot_dm": "C2", "abs_field": "C4"}


def pct(value: float) -> str:
    return f"{100 * value:.1f}"


def p_text(p_value: float, permutations: int) -> str:
    """'p = 0.03', or 'p ≤ 0.001' at the smallest value the permutations can give."""
    floor = 2.0 / (permutations + 1)          # two-sided, no permutation as extreme
    if p_value <= floor * (1 + 1e-9):
        return f"p ≤ {floor:.1g}"
    return f"p = {p_value:.2g}"


VERDICT_WORDS = {"beats": "{a} beats {b}", "worse": "{a} is worse than {b}",
                 "apart": "{a} and {b} cannot be told apart"}


def verdict(row, settings: "Stats") -> str:
    """Plain-language reading of one paired difference: the verdict of the region bootstrap's
    interval (analysis.verdict_kind) with its p-value, and beside it the across-fold interval
    that includes the variance of training."""
    a, b = method_name(row["first"]), method_name(row["second"])
    level = f"{round(100 * settings.confidence)} % CI"
    numbers = (f"{100 * row['difference']:+.1f} points, {level} {pct(row['low'])} to "
               f"{pct(row['high'])} over regions "
               f"({p_text(row['p_value'], settings.permutations)}), {pct(row['fold_low'])} "
               f"to {pct(row['fold_high'])} across folds (training included)")
    says = VERDICT_WORDS[verdict_kind(row)].format(a=a, b=b)
    return f"At {row['time_h']} h {says}: {numbers}."


def details(tss: pd.DataFrame, differences: pd.DataFrame, guard: Interval, guard_95: Interval,
            guard_time_h: float) -> dict:
    """statistics.json: per time bin, each method's TSS and interval, each difference with
    its interval and p-value; the leakage guard's TSS, interval and the half-width of its
    95 % interval (its power: issue 25 asks for at most 5 points)."""
    out: dict = {}
    for row in tss.itertuples():
        out.setdefault(time_bin_label(row.time_h), {})[row.method] = {
            "tss": row.tss, "low": row.low, "high": row.high}
    for row in differences.itertuples():
        out.setdefault(time_bin_label(row.time_h), {})[f"{row.first}_minus_{row.second}"] = {
            "difference": row.difference, "low": row.low, "high": row.high,
            "p_value": row.p_value, "fold_difference": row.fold_difference,
            "fold_low": row.fold_low, "fold_high": row.fold_high}
    out["leakage_guard"] = {"time_h": guard_time_h, "tss": guard.estimate, "low": guard.low,
                            "high": guard.high, "passed": guard.contains(0.0),
                            "halfwidth_95": half_width(guard_95)}
    return out


def guard_lines(guard: Interval, guard_95: Interval, settings: "Stats") -> list[str]:
    """The leakage guard's paragraph of statistics.md."""
    words = ("passed: its interval contains 0" if guard.contains(0.0)
             else "FAILED: its interval excludes 0")
    return [f"CNNs trained on a random label per region at {settings.leakage_guard.time_h} h "
            f"({settings.leakage_guard.config} schedule, one per fold) scored a pooled TSS of "
            f"{pct(guard.estimate)} % on the random labels of the regions they never saw "
            f"({round(100 * settings.leakage_guard.confidence)} % region-bootstrap interval "
            f"{pct(guard.low)} to {pct(guard.high)} %): {words}. Without a leak the expected "
            "TSS is 0 whatever the networks detect; a leak of evaluation regions into "
            "training raises it. Its power: the 95 % interval's half-width is "
            f"{pct(half_width(guard_95))} points (docs/statistics.md)."]


def half_width(interval: Interval) -> float:
    """Half the width of an interval (fractions, as the interval)."""
    return (interval.high - interval.low) / 2


def summary(tss: pd.DataFrame, guard: Interval, methods) -> dict:
    """The DVC metrics, one short table for `dvc exp show`: each of `methods`' pooled TSS
    in % (one decimal) per time bin ({method: {"t-03.2h": 70.3}}, keys that sort by time,
    bins where it was scored) and the leakage guard's TSS in %."""
    missing = [m for m in methods if m not in set(tss["method"])]
    if missing:
        raise ValueError(f"params.yaml: stats.summary_methods {missing}: no out-of-fold "
                         "predictions of these methods")
    out: dict = {method: {} for method in methods}
    for row in tss[tss["method"].isin(methods)].sort_values("time_h", ascending=False) \
            .itertuples():
        out[row.method][sortable_time_label(row.time_h)] = percent(row.tss)
    out["leakage_guard_tss"] = percent(guard.estimate)
    return out


def percent(value: float) -> float:
    """A TSS as a DVC metric: % with one decimal (the reports' precision)."""
    return round(100 * float(value), 1)


def tss_table(tss: pd.DataFrame, confidence: float) -> list[str]:
    level = f"{round(100 * confidence)} % CI"
    lines = [f"| time (h) | method | TSS, pooled (%) | {level} (%) | fold mean ± std (%) "
             "| paper, fold mean ± std | EARs / CRs |", "|---:|---|---:|---:|---:|---:|---:|"]
    for r in tss.itertuples():
        lines.append(f"| {r.time_h} | {r.method} | {pct(r.tss)} | {pct(r.low)} to "
                     f"{pct(r.high)} | {pct(r.fold_mean)} ± {pct(r.fold_std)} | "
                     f"{paper_value(r.method, r.time_h)} | {r.n_ear} / {r.n_cr} |")
    return lines


def difference_table(differences: pd.DataFrame, settings: "Stats") -> list[str]:
    level = f"{round(100 * settings.confidence)} % CI"
    lines = [f"| time (h) | difference | points | {level} over regions | paired permutation "
             f"test | {level} across folds (training included) |",
             "|---:|---|---:|---:|---:|---:|"]
    for r in differences.itertuples():
        lines.append(f"| {r.time_h} | {r.first} − {r.second} | {100 * r.difference:+.1f} | "
                     f"{pct(r.low)} to {pct(r.high)} | "
                     f"{p_text(r.p_value, settings.permutations)} | {pct(r.fold_low)} to "
                     f"{pct(r.fold_high)} |")
    return lines


def repeats_section(spread: pd.DataFrame | None) -> list[str]:
    if spread is None or spread.empty:
        return ["Repeated cross-validation is off (`stats.repeats: 1`): the intervals above "
                "are for one split of the regions into folds.", ""]
    lines = ["## Split variance: repeated cross-validation", "",
             "Pooled TSS over repeats with other fold seeds, its std across repeats (the "
             "variance due to the split) and the bootstrap standard error of the first "
             "repeat (the variance due to the sample of regions).", "",
             "| time (h) | method | repeats | mean (%) | std across repeats (%) "
             "| bootstrap s.e. (%) |", "|---:|---|---:|---:|---:|---:|"]
    lines += [f"| {r.time_h} | {r.method} | {r.repeats} | {pct(r.mean)} | {pct(r.split_std)} "
              f"| {pct(r.bootstrap_se)} |" for r in spread.itertuples()]
    return lines + [""]


def markdown(tss: pd.DataFrame, differences: pd.DataFrame, guard: tuple[Interval, Interval],
             settings: "Stats", source: str, spread: pd.DataFrame | None = None) -> str:
    """reports/statistics.md (guard: its interval at its confidence, and at 95 %)."""
    confidence = settings.confidence
    lines = ["# Statistics: intervals, paired tests, leakage guard", "",
             f"Our numbers come from the **{source}** data set; the paper's (SDO/HEAR, Dhuri "
             "et al. 2020) are fold mean ± std and come with no interval or test. "
             "Every number below is computed from the out-of-fold predictions of the "
             "evaluation tiles (`reports/predictions/`); TSS is pooled over all tiles of "
             f"all folds. Intervals: {settings.interval_method} bootstrap over regions "
             f"({settings.bootstrap_resamples} resamples, EARs and CRs resampled "
             "separately, all tiles of a region together); p-values: paired permutation "
             f"test ({settings.permutations} permutations, methods swapped region by "
             "region). The region bootstrap holds the trained networks fixed; each "
             "difference also has a corrected resampled t interval across the folds, whose "
             "networks are separate trainings, so it includes the variance of training. The "
             "verdicts read the region bootstrap (between training seeds they agree more often "
             "than verdicts read from the across-fold interval). What they mean: "
             "`docs/statistics.md`.", "",
             "## Verdicts", ""]
    lines += [f"- {verdict(r, settings)}" for _, r in differences.iterrows()]
    lines += ["", "## TSS per time bin and method", "", *tss_table(tss, confidence), "",
              "## Paired differences on the same tiles", "",
              *difference_table(differences, settings), "",
              "![TSS against time with intervals](figures/stats_tss_vs_time.png)", "",
              "## Leakage guard", "",
              *guard_lines(*guard, settings), "", *repeats_section(spread)]
    return "\n".join(lines)


def plot(tss: pd.DataFrame, differences: pd.DataFrame, path: Path, confidence: float,
         note: str) -> Path:
    """Left: TSS against time with interval bands and the paper's points; right: paired
    differences with their intervals."""
    fig = new_figure(12.0, 4.8)
    left, right = fig.subplots(1, 2)
    level = f"{round(100 * confidence)} % CI"
    for method, colour in BANDED.items():
        rows = tss[tss["method"] == method].sort_values("time_h")
        if rows.empty:
            continue
        centre = 100 * rows["tss"].to_numpy()
        if len(rows) == 1:        # one time bin: a bar, as a band would not show
            left.errorbar(rows["time_h"], centre, capsize=3, marker="o", color=colour,
                          yerr=[centre - 100 * rows["low"], 100 * rows["high"] - centre],
                          label=f"{method_title(method)} (ours, {level})")
            continue
        left.plot(rows["time_h"], centre, marker="o", color=colour,
                  label=f"{method_title(method)} (ours, {level})")
        left.fill_between(rows["time_h"], 100 * rows["low"], 100 * rows["high"],
                          color=colour, alpha=0.2)
    reference = np.array(paper.CNN_TSS)
    left.errorbar(np.array(paper.TIME_BINS_H) - 0.3, reference[:, 0], yerr=reference[:, 1],
                  color="0.5", marker="s", linestyle=":", capsize=3,
                  label="paper: CNN (fold mean ± std)")
    left.errorbar([-3.5], [paper.DA_MTOT_TSS_3H[0]], yerr=[paper.DA_MTOT_TSS_3H[1]],
                  color="0.3", marker="v", linestyle="none", capsize=3, label="paper: DA MTOT")
    left.set(xlabel="time relative to emergence (h)", ylabel="TSS (%)",
             title="TSS pooled over folds, region-bootstrap bands")
    left.axhline(0, color="0.8", linewidth=0.8)
    left.legend(fontsize=8, loc="upper left")
    _plot_differences(right, differences, level)
    fig.text(0.99, 0.01, note, ha="right", va="bottom", fontsize=8, color="0.3")
    return save_figure(fig, path, dpi=110)


def _plot_differences(ax, differences: pd.DataFrame, level: str) -> None:
    """Each difference with its region-bootstrap interval (marker, thick) and, beside it,
    its across-fold interval (thin, no marker)."""
    names = list(dict.fromkeys(zip(differences["first"], differences["second"])))
    for i, (a, b) in enumerate(names):
        rows = differences[(differences["first"] == a) & (differences["second"] == b)]
        x = rows["time_h"] + 0.3 * (i - (len(names) - 1) / 2)
        for prefix, shift, style in (("", 0.0, {"marker": "o", "elinewidth": 2.0}),
                                     ("fold_", 0.1, {"marker": "none", "elinewidth": 0.8})):
            centre = 100 * rows[prefix + "difference"].to_numpy()
            error = [centre - 100 * rows[prefix + "low"].to_numpy(),
                     100 * rows[prefix + "high"].to_numpy() - centre]
            ax.errorbar(x + shift, centre, yerr=error, linestyle="none", capsize=3,
                        color=f"C{i}", label=None if prefix else
                        f"{method_title(a)} − {method_title(b)}", **style)
    ax.axhline(0, color="0.5", linewidth=0.8)
    ax.set(xlabel="time relative to emergence (h)", ylabel="TSS difference (points)",
           title=f"Paired differences ({level}; thick: over regions, thin: across folds)")
    ax.legend(fontsize=8)
