"""The convergence study's report: convergence.md and convergence.png from convergence.json
(written by benchmarks/convergence.py; seeds.json, when present, by benchmarks/seeds.py).

Plateau of a depth: the folds' mean TSS over the last PLATEAU_TAIL checkpoints of the long
constant-rate run, or the best longest cosine run's, whichever is higher. A candidate
schedule (constant rate for E epochs: the long run's checkpoint at E; cosine over E epochs)
qualifies when, for every depth, its folds' mean TSS is within TOLERANCE of that depth's
plateau; the default is the cheapest qualifying one (fewest sample-steps).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

PLATEAU_TAIL = 3
TOLERANCE = 0.02          # 2 TSS points


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
    depths = {k[0] for k in means}
    return sorted(({"schedule": s, "epochs": e, "sample_steps": e * samples_per_epoch,
                    "tss": tss} for (s, e), tss in by_schedule.items()
                   if set(tss) == depths), key=lambda c: (c["sample_steps"], c["schedule"]))


def choose(cands: list[dict], plateau: dict[int, float]) -> dict | None:
    """The cheapest candidate within TOLERANCE of the plateau at every depth."""
    for cand in cands:
        if all(cand["tss"][d] >= plateau[d] - TOLERANCE for d in plateau):
            return cand
    return None


def figure(study: dict, plateau: dict, chosen: dict | None, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    depths = sorted(plateau)
    fig, axes = plt.subplots(1, len(depths), figsize=(3.2 * len(depths), 3.4), sharey=True)
    colours = plt.get_cmap("viridis")(np.linspace(0, 0.85, len(depths)))
    for ax, depth, colour in zip(np.atleast_1d(axes), depths, colours):
        rows = [r for r in study["rows"] if r["depth"] == depth]
        for fold in sorted({r["fold"] for r in rows}):
            curve = sorted((r["sample_steps"], r["tss"]) for r in rows
                           if r["fold"] == fold and r["schedule"] == "constant")
            ax.plot(*zip(*[(s, 100 * t) for s, t in curve]), color=colour, alpha=0.8,
                    lw=1.2, marker=".", label=f"constant rate, fold {fold}")
            cos = sorted((r["sample_steps"], r["tss"]) for r in rows
                         if r["fold"] == fold and r["schedule"] == "cosine")
            ax.plot(*zip(*[(s, 100 * t) for s, t in cos]), ls="none", marker="x",
                    color="tab:red", label=f"cosine decay, fold {fold}")
        ax.axhline(100 * plateau[depth], color="0.3", ls="--", lw=1, label="plateau")
        ax.axhspan(100 * (plateau[depth] - TOLERANCE), 100 * plateau[depth], color="0.85")
        if chosen:
            ax.axvline(chosen["sample_steps"], color="tab:green", lw=1, label="default")
        ax.axvline(3600, color="tab:orange", lw=1, ls=":", label="earlier default (fast)")
        ax.set_xscale("log")
        ax.set_title(f"depth {depth}")
        ax.set_xlabel("training samples seen")
    axes[0].set_ylabel(f"TSS at {study['time_h']} h (%)")
    handles, labels = axes[-1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
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
    chosen = choose(cands, plateau)
    figure(study, plateau, chosen, out / "convergence.png")
    atomic_write_text(out / "convergence.md", markdown(study, plateau, cands, chosen))
    return {"plateau": plateau, "chosen": chosen}


def markdown(study: dict, plateau: dict, cands: list[dict], chosen: dict | None) -> str:
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
        ok = all(c["tss"][d] >= plateau[d] - TOLERANCE for d in depths)
        lines.append(f"| {c['schedule']} | {c['epochs']} | {c['sample_steps']:,} | "
                     + " | ".join(f"{100 * c['tss'][d]:.1f}" for d in depths)
                     + f" | {'yes' if ok else ''} |")
    lines.append("")
    if chosen:
        lines.append(f"**Cheapest schedule within 2 points of the plateau at every depth:** "
                     f"{chosen['schedule']} learning rate, {chosen['epochs']} epochs "
                     f"({chosen['sample_steps']:,} samples seen).")
    else:
        lines.append("**No measured schedule is within 2 points of the plateau at every "
                     "depth.**")
    return "\n".join(lines) + "\n"
