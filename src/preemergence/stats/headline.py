"""The headline results: our TSS at -3.2 h next to the paper's, the paired verdicts, the
leakage guard and the interpretation's findings, with the data, schedule, machine and
commit that produced them (reports/results.md, and the README's results block).

Everything is read from the reports the pipeline wrote (statistics_tss.csv,
statistics.json, interpret_metrics.json); nothing is typed in by hand.
"""

from __future__ import annotations

import re

import pandas as pd

from preemergence.core.constants import time_bin_label
from preemergence.core.paper import FINDING_FIGURES
from preemergence.stats.analysis import method_order, method_title, paper_value
from preemergence.stats.report import pct, verdict

BEGIN = "<!-- results: written by `preemergence results --readme` from reports/; do not edit -->"
END = "<!-- /results -->"
CAVEAT = ("These numbers are one run on the machine named above. The verdicts read the "
          "interval over regions, which holds the trained networks fixed; the interval across "
          "folds includes the variance of training (each fold's network is a training of its "
          "own). A verdict whose interval over regions ends near 0, or whose interval across "
          "folds contains 0, can change with the training seed and the CPU model (README, "
          "\"How far these numbers travel\").")
VERDICT_BINS_H = (-3.2, -8.5)          # the bins whose paired verdicts the block states
HEADLINE_BIN_H = -3.2


def method_label(method: str) -> str:
    """'the MTOT analysis' -> 'MTOT analysis', '|B|' escaped for a table cell."""
    return method_title(method).replace("|", "\\|")


def tss_table(tss: pd.DataFrame, confidence: float, depth: int, folds: int) -> list[str]:
    """Every method scored at -3.2 h: pooled TSS with its interval, fold mean ± std, paper
    (the depth study's network of train-cv's depth is train-cv's CNN: one row)."""
    at = tss[(tss["time_h"].round(1) == HEADLINE_BIN_H)
             & (tss["method"] != f"cnn_depth{depth}")].set_index("method")
    level = f"{round(100 * confidence)} % CI"
    lines = [f"| method (−3.2 h, {folds} folds) | ours: pooled TSS, {level} (%) | "
             "ours: fold mean ± std (%) | paper: fold mean ± std |",
             "|---|---:|---:|---:|"]
    for method in method_order(list(at.index)):
        r = at.loc[method]
        lines.append(f"| {method_label(method)} | {pct(r.tss)} ({pct(r.low)} to "
                     f"{pct(r.high)}) | {pct(r.fold_mean)} ± {pct(r.fold_std)} | "
                     f"{paper_value(method, HEADLINE_BIN_H)} |")
    return lines


def difference_rows(statistics: dict) -> list[dict]:
    """The paired differences of statistics.json at the verdict bins, as report rows."""
    rows = []
    for t in VERDICT_BINS_H:
        for key, entry in statistics.get(time_bin_label(t), {}).items():
            if "_minus_" in key:
                first, second = key.split("_minus_", 1)
                rows.append({"time_h": t, "first": first, "second": second, **entry})
    return rows


def findings_line(findings: dict) -> str:
    """'5 of 9 ... reproduced: Fig. 3, ...; not: ...; inconclusive: ...'."""
    by = {v: "; ".join(FINDING_FIGURES.get(k, k) for k, x in findings.items() if x == v)
          for v in ("yes", "no", "inconclusive", "unvalidated")}
    counts = {v: sum(x == v for x in findings.values()) for v in by}
    text = (f"{counts['yes']} of {len(findings)} of the paper's findings reproduced on these "
            f"data ({by['yes'] or 'none'}); not reproduced: {by['no'] or 'none'}")
    if by["inconclusive"]:
        text += f"; inconclusive: {by['inconclusive']}"
    if by["unvalidated"]:
        text += (f"; no verdict, the probe not validated on planted truth: "
                 f"{by['unvalidated']}")
    return text + " (`reports/interpretation.md`)."


def block(tss: pd.DataFrame, statistics: dict, findings: dict, settings,
          context: dict) -> str:
    """The results block (markdown, between BEGIN and END). context: data, schedule,
    machine, commit and date strings, train-cv's depth and number of folds."""
    guard = statistics["leakage_guard"]
    halfwidth = (f", 95 % half-width {pct(guard['halfwidth_95'])} points"
                 if "halfwidth_95" in guard else "")
    guard_text = (f"Leakage guard (CNNs trained on a random label per region, at "
                  f"{guard['time_h']} h): TSS {pct(guard['tss'])} %, "
                  f"{round(100 * settings.leakage_guard.confidence)} % CI "
                  f"{pct(guard['low'])} to {pct(guard['high'])}{halfwidth}: "
                  + ("passes (the interval contains 0)." if guard["passed"] else
                     "FAILS (the interval excludes 0: something about the evaluation regions "
                     "reaches training)."))
    lines = [BEGIN, "",
             f"Data: **{context['data']}**. Schedule: {context['schedule']}. "
             f"Machine: {context['machine']}. Commit {context['commit']}, {context['date']}.",
             "", *tss_table(tss, settings.confidence, context["depth"], context["folds"]),
             "",
             "Paired differences, over regions and across folds (`reports/statistics.md`):", "",
             *(f"- {verdict(row, settings)}" for row in difference_rows(statistics)),
             f"- {guard_text}", f"- {findings_line(findings)}", "", CAVEAT, "", END]
    return "\n".join(lines) + "\n"


def replace_block(text: str, new_block: str, path: str = "README.md") -> str:
    """text with its results block (BEGIN ... END) replaced; a ValueError naming the file
    when it has none."""
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END) + r"\n?", re.S)
    if not pattern.search(text):
        raise ValueError(f"{path}: no results block (a line '{BEGIN}' ... '{END}')")
    return pattern.sub(lambda _: new_block, text, count=1)
