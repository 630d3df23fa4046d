"""The convergence study's report: convergence.md and convergence.png from convergence.json
(written by benchmarks/convergence.py; seeds.json, when present, by benchmarks/seeds.py).

Plateau of a depth: the folds' mean TSS over the last PLATEAU_TAIL checkpoints of the long
constant-rate run, or the best longest cosine run's, whichever is higher. A candidate
schedule (constant rate for E epochs: the long run's checkpoint at E; cosine over E epochs)
qualifies when, for every depth, its folds' mean TSS is within TOLERANCE of that depth's
plateau; the default is the cheapest qualifying one (fewest sample-steps). A depth whose
TSS still moves by more than SWING_LIMIT (std of the folds' mean over the constant-rate
run's last 6 checkpoints) has no plateau to state to 2 points; if no schedule qualifies at
every depth, the choice is made on the others, and the report says so.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from frontier_report import depth_tss, frontier_markdown

ROOT = Path(__file__).resolve().parents[1]
PLATEAU_TAIL = 3
TOLERANCE = 0.02          # 2 TSS points
SWING_LIMIT = 0.04        # a depth whose TSS moves more (std) late in training has no plateau
                          # that 2 folds can state to 2 points


def fold_means(rows: list[dict]) -> dict:
    """{(depth, schedule, schedule_epochs, epoch): (mean TSS over folds, n folds)}."""
    groups, seen = defaultdict(list), set()
    for r in rows:
        # constant rate: a checkpoint does not depend on the run's length (count it once)
        length = 0 if r["schedule"] == "constant" else r["schedule_epochs"]
        if (r["depth"], r["fold"], r["schedule"], length, r["epoch"]) in seen:
            continue
        seen.add((r["depth"], r["fold"], r["schedule"], length, r["epoch"]))
        groups[(r["depth"], r["schedule"], length, r["epoch"])].append(r["tss"])
    return {k: (float(np.mean(v)), len(v)) for k, v in groups.items()}


def plateaus(means: dict) -> dict[int, float]:
    """Each depth's plateau TSS (see the module docstring)."""
    out = {}
    for depth in sorted({k[0] for k in means}):
        constant = sorted((k[3], v[0]) for k, v in means.items()
                          if k[0] == depth and k[1] == "constant")
        tail = float(np.mean([tss for _, tss in constant[-PLATEAU_TAIL:]]))
        cosine = sorted((k[2], v[0]) for k, v in means.items()
                        if k[0] == depth and k[1] == "cosine")
        out[depth] = max(tail, cosine[-1][1]) if cosine else tail
    return out


def candidates(means: dict, samples_per_epoch: int) -> list[dict]:
    """Every schedule measured at every depth: its sample-steps and TSS per depth."""
    by_schedule = defaultdict(dict)
    for (depth, schedule, _, epoch), (tss, _) in means.items():
        by_schedule[(schedule, epoch)][depth] = tss     # cosine: epoch = its length
    return sorted(({"schedule": s, "epochs": e, "sample_steps": e * samples_per_epoch,
                    "tss": tss} for (s, e), tss in by_schedule.items()),
                  key=lambda c: (c["sample_steps"], c["schedule"]))


def choose(cands: list[dict], plateau: dict[int, float], depths=None) -> dict | None:
    """The cheapest candidate within TOLERANCE of the plateau at every depth (of depths)."""
    depths = sorted(plateau) if depths is None else depths
    for cand in cands:
        if all(d in cand["tss"] and cand["tss"][d] >= plateau[d] - TOLERANCE for d in depths):
            return cand
    return None


def swings(rows: list[dict], tail: int = 6) -> dict[int, float]:
    """Per depth: std (over checkpoints) of the folds' mean TSS over the last ``tail``
    checkpoints of the long constant-rate run: how much TSS moves while training goes on."""
    means = fold_means(rows)
    out = {}
    for depth in sorted({k[0] for k in means}):
        curve = sorted((k[3], v[0]) for k, v in means.items()
                       if k[0] == depth and k[1] == "constant" and v[1] > 1)
        out[depth] = float(np.std([tss for _, tss in curve[-tail:]]))
    return out


def figure(study: dict, plateau: dict, chosen: dict | None, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    depths = sorted(plateau)
    from matplotlib.ticker import NullFormatter
    fig, axes = plt.subplots(1, len(depths), figsize=(3.3 * len(depths), 3.6), sharey=True,
                             sharex=True)
    styles = ("-", "--", ":", "-.")
    markers = ("o", "s", "^", "D")
    for ax, depth in zip(np.atleast_1d(axes), depths):
        rows = [r for r in study["rows"] if r["depth"] == depth]
        for n, fold in enumerate(sorted({r["fold"] for r in rows})):
            curve = sorted({(r["sample_steps"], r["tss"]) for r in rows
                            if r["fold"] == fold and r["schedule"] == "constant"})
            ax.plot(*zip(*[(s, 100 * t) for s, t in curve]), color="tab:blue", alpha=0.7,
                    lw=1.0, ls=styles[n % 4], label=f"constant rate, fold {fold}")
            cos = sorted((r["sample_steps"], r["tss"]) for r in rows
                         if r["fold"] == fold and r["schedule"] == "cosine")
            ax.plot(*zip(*[(s, 100 * t) for s, t in cos]), ls=styles[n % 4],
                    marker=markers[n % 4], ms=4, lw=0.8, color="tab:red",
                    label=f"cosine decay (end of each run), fold {fold}")
        ax.axhline(100 * plateau[depth], color="0.3", ls="--", lw=1, label="plateau")
        ax.axhspan(100 * (plateau[depth] - TOLERANCE), 100 * plateau[depth], color="0.85")
        if chosen:
            ax.axvline(chosen["sample_steps"], color="tab:green", lw=1, label="default")
        ax.axvline(3600, color="tab:orange", lw=1, ls=":", label="earlier default (fast)")
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(f"depth {depth}")
        ax.set_xlabel("training samples seen")
    axes[0].set_ylabel(f"TSS at {study['time_h']} h (%)")
    handles, labels = axes[-1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    for ax in np.atleast_1d(axes):
        ax.grid(alpha=0.3)
    fig.suptitle("Convergence: TSS on a fold's evaluation tiles against training length "
                 "(simulated data)", fontsize=10)
    fig.tight_layout(rect=(0, 0.13, 1, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(out: Path) -> dict:
    from preemergence.core.artifacts import atomic_write_text
    study = json.loads((out / "convergence.json").read_text())
    means = fold_means(study["rows"])
    plateau = plateaus(means)
    cands = candidates(means, study["samples_per_epoch"])
    swing = swings(study["rows"])
    settled = [d for d in sorted(plateau) if swing[d] <= SWING_LIMIT]
    chosen = choose(cands, plateau) or choose(cands, plateau, settled)
    figure(study, plateau, chosen, out / "convergence.png")
    text = markdown(study, plateau, cands, chosen, swing, settled)
    profile = out / "profile.json"
    if profile.exists():
        committed = ROOT / "reports"
        default_tss = (depth_tss(committed) if (committed / "depth_study_metrics.json").exists()
                       else None)
        text += frontier_markdown(json.loads(profile.read_text()), cands, plateau, default_tss)
    for seeds in sorted(out.glob("seeds*.json"), key=lambda p: (p.name != "seeds.json", p)):
        text += seeds_markdown(json.loads(seeds.read_text()))
    atomic_write_text(out / "convergence.md", text)
    return {"plateau": plateau, "chosen": chosen, "settled": settled}


def markdown(study: dict, plateau: dict, cands: list[dict], chosen: dict | None,
             swing: dict, settled: list[int]) -> str:
    depths = sorted(plateau)
    m = study["machine"]
    folds = sorted({r["fold"] for r in study["rows"]})
    lines = ["# Convergence of the training schedule (simulated data)", "",
             f"Machine: {m.get('cpu')}, {m.get('cpus')} CPUs. Data: the pipeline's simulated "
             f"regions and segment sets (`make run`'s prepare stage), seed {study['seed']}, "
             f"time bin {study['time_h']} h, folds {folds}. Adam, batch 32, "
             f"{study['samples_per_epoch']} random training samples an epoch, learning rate "
             f"{study['learning_rate']:g} constant or cosine-decayed to 0. Method: "
             "`python benchmarks/convergence.py` then `--report` (see their docstrings).", "",
             "![TSS against training length](convergence.png)", "",
             f"Plateau per depth (mean of the folds; last {PLATEAU_TAIL} checkpoints of the "
             "long constant-rate run, or the longest cosine run if higher): "
             + ", ".join(f"depth {d} {100 * plateau[d]:.1f}%" for d in depths) + ".", "",
             "| schedule | epochs | samples seen | " + " | ".join(f"depth {d}" for d in depths)
             + " | within 2 points at every depth |",
             "|---|---:|---:|" + "---:|" * len(depths) + "---|"]
    for c in cands:
        ok = choose([c], plateau) is not None
        lines.append(f"| {c['schedule']} | {c['epochs']} | {c['sample_steps']:,} | "
                     + " | ".join(f"{100 * c['tss'][d]:.1f}" if d in c["tss"] else "–"
                                  for d in depths)
                     + f" | {'yes' if ok else ''} |")
    unsettled = [d for d in depths if d not in settled]
    lines += ["", "– : not measured at that depth (the longer runs only where they were cheap).",
              "", "How much TSS still moves at the end of the long constant-rate run (std of "
              "the folds' mean over its last 6 checkpoints, points): "
              + ", ".join(f"depth {d} {100 * swing[d]:.1f}" for d in depths) + ".", ""]
    every = choose(cands, plateau)
    if every:
        lines.append(f"**Cheapest schedule within 2 points of the plateau at every depth:** "
                     f"{every['schedule']} learning rate, {every['epochs']} epochs "
                     f"({every['sample_steps']:,} samples seen).")
    elif chosen:
        lines.append(f"**No measured schedule is within 2 points of the plateau at every "
                     f"depth.** Depth {', '.join(map(str, unsettled))} does not settle: its "
                     f"TSS at the 0.5 threshold moves by more than {100 * SWING_LIMIT:.0f} "
                     "points (std) late in training while its loss keeps falling, so no "
                     "plateau can be stated to 2 points. **Cheapest schedule within 2 points "
                     "of the plateau at depths "
                     f"{', '.join(map(str, settled))}:** {chosen['schedule']} learning rate, "
                     f"{chosen['epochs']} epochs ({chosen['sample_steps']:,} samples seen); "
                     "the default (`train.configs.default`).")
    else:
        lines.append("**No measured schedule is within 2 points of the plateau at the "
                     "depths that settle.**")
    return "\n".join(lines) + "\n"


def seeds_markdown(seeds: dict) -> str:
    """Training seeds side by side (benchmarks/seeds.py): each comparison's difference, its
    interval over regions and across folds, the two verdicts, and whether all seeds agree
    under each rule; then the pairs of seeds that agree and the cover counts."""
    keys = [f"seed{s}" for s in seeds["seeds"]]
    names = " and ".join([", ".join(map(str, seeds["seeds"][:-1])), str(seeds["seeds"][-1])])
    members = seeds.get("members", 1)
    title = (f"Training seeds {names}" if members == 1 else
             f"Ensembles of {members} training seeds: {names}")
    lines = ["", f"## {title}", ""]
    if members > 1:
        lines += [f"Each ensemble averages its {members} networks' outputs per tile (a soft "
                  "vote, classified at `train.threshold`; `benchmarks/seeds.py --members "
                  f"{members}`): the same comparisons with {members} trainings per fold.", ""]
    if seeds.get("machine"):
        lines += [f"Trained on: {seeds['machine']}.", ""]
    lines += ["Each comparison from each run's out-of-fold predictions, by the stats stage's "
              "code (`benchmarks/seeds.py`): points, 95 % CI over regions (its verdict, the "
              "report's) / across folds, training included (its verdict). Same verdict (all "
              "seeds): under the region rule, the across-fold rule, and both together. "
              "Comparisons: " + ", ".join(f"`{c}`" for c in seeds["comparisons"]) + ".", "",
              "| comparison | " + " | ".join(keys) + " | same: regions | folds | both |",
              "|---|" + "---|" * (len(keys) + 3)]
    mark = {True: "yes", False: "**no**"}
    for r in seeds["rows"]:
        cells = [f"{100 * r[k]['difference']:+.1f} ({100 * r[k]['low']:.1f} to "
                 f"{100 * r[k]['high']:.1f}: {r[k]['verdict']} / {100 * r[k]['fold_low']:.1f} "
                 f"to {100 * r[k]['fold_high']:.1f}: {r[k]['fold_verdict']})" for k in keys]
        lines.append(f"| {r['comparison']} | " + " | ".join(cells) + " | "
                     + " | ".join(mark[r["agree"][rule]] for rule in ("regions", "folds", "both"))
                     + " |")
    agreeing, n, pairs = seeds["agreeing"], len(seeds["rows"]), seeds["pairs_agreeing"]
    inside = seeds["other_seed_inside"]
    stds = ", ".join(f"{k} {100 * v:.1f}" for k, v in seeds["cnn_fold_std_t-3.2h"].items())
    lines += ["", f"CNN fold TSS std at -3.2 h: {stds} points (paper: "
              f"{100 * seeds['paper_fold_std']:.1f}; goal <= {100 * seeds['max_fold_std']:.0f}). "
              f"The report's verdicts agree: {'yes' if seeds['verdicts_agree'] else 'no'}. "
              f"Comparisons whose verdicts agree for every seed: {agreeing['regions']} of {n} "
              f"over regions, {agreeing['folds']} across folds, {agreeing['both']} under both "
              f"together; pairs of seeds and comparisons that agree: {pairs['regions']}, "
              f"{pairs['folds']} and {pairs['both']} of {pairs['of']}. One seed's difference "
              f"inside another seed's interval: over regions {inside['regions']} of "
              f"{inside['of']}, across folds {inside['folds']} of {inside['of']}."
              + (f" A difference moves between {'ensembles' if members > 1 else 'seeds'} "
                 f"by {100 * seeds['mean_difference_sd']:.1f} points (standard deviation, "
                 "mean over the comparisons)." if "mean_difference_sd" in seeds else ""), ""]
    return "\n".join(lines + band_markdown(seeds["rows"], keys))


def band_markdown(rows: list[dict], keys: list[str]) -> list[str]:
    """How the runs' verdicts would read with a borderline band (seeds.band_agreement):
    conflicts left against verdicts that say nothing, band by band."""
    from seeds import BAND_SDS, BANDS, band_agreement, pooled_sd
    lines = ["With a borderline band (a design for point 7, not the report's rule): a "
             "verdict whose region interval has a bound within the band of 0 reads "
             "'borderline'; two runs conflict only when neither is borderline and their "
             "verdicts differ.", "",
             "| band (points) | pairs in conflict | verdicts read borderline |",
             "|---:|---:|---:|"]
    for band in BANDS:
        a = band_agreement(rows, keys, band)
        lines.append(f"| {100 * band:.0f} | {a['conflicts']} of {a['pairs']} | "
                     f"{a['borderline']} of {a['verdicts']} |")
    sd = pooled_sd(rows, keys)
    a = band_agreement(rows, keys, BAND_SDS * sd)
    return lines + ["", f"A band sized from these runs' own spread: the between-run SD of a "
                    f"difference, pooled over the comparisons, is {100 * sd:.1f} points; a "
                    f"band of {BAND_SDS:g} of them ({100 * BAND_SDS * sd:.1f} points, "
                    "`seeds.pooled_sd`) leaves "
                    f"{a['conflicts']} of {a['pairs']} pairs in conflict and reads "
                    f"{a['borderline']} of {a['verdicts']} verdicts borderline (in-sample: "
                    "the band is measured on the runs it is tried on).", ""]
