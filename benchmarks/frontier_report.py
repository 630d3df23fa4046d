"""The frontier of convergence.md: TSS against the time of `make run`, schedule by schedule.

Times come from the pipeline profiles in profile.json (``benchmarks/profile_run.py
pipeline``): each stage's latest profiled time. A stage whose schedule the README's quick
look switches (SWITCHED_STAGES) is taken only from a profile of the default schedule; the
others do not depend on the schedule, so the latest profile of any schedule measures them.
The training phases of SCALED_STAGES are scaled linearly with a schedule's epochs: an
estimate, set beside the whole runs that were measured with another schedule (their own
5-fold depth study, ``tss_by_depth``), with the stages where estimate and measurement part.
"""

from __future__ import annotations

import json
from pathlib import Path

BUDGET_MIN = 15                                           # make run's budget (minutes)
# stages the README's quick look gives another schedule (train.config, depth_study.config,
# prune.schedule, interpret.*.config, interpret_validate.config); the leakage guard (stats)
# keeps the default
SWITCHED_STAGES = ("train-cv", "depth-study", "prune", "interpret-validate", "interpret")
# of those, the stages whose training phases the estimate scales with the epochs
SCALED_STAGES = ("train-cv", "depth-study", "interpret", "interpret-validate")
TRAINING_PHASES = ("training steps", "validation", "graph tracing", "input pipeline",
                   "checkpoints and model saving")
DEFAULT_SCHEDULE = "default"   # profiles before 2026-12-08 name none: all ran the default
PARTED_MIN = 1.0               # estimate and measurement of a stage part by this much (min)


def schedule_of(profile: dict) -> str:
    return profile.get("schedule", DEFAULT_SCHEDULE)


def depth_tss(reports: Path) -> dict[int, float]:
    """Fold-mean TSS per depth of a run's depth study (its depth_study_metrics.json)."""
    metrics = json.loads((Path(reports) / "depth_study_metrics.json").read_text())
    return {int(name.removeprefix("depth")): entry["tss_mean"]
            for name, entry in metrics.items()}


def latest_stages(profiles: list) -> tuple[list[dict], list[str]]:
    """Each pipeline stage's latest measurement over the profiled runs (`kind` pipeline, in
    the order measured; a switched stage only from default-schedule runs), in pipeline
    order, each with the label of its run; and the pipeline's stages no run measured."""
    from preemergence.core.catalog import pipeline
    latest = {}
    for run in (p for p in profiles if p["kind"] == "pipeline"):
        for stage in run["stages"]:
            if stage["stage"] in SWITCHED_STAGES and schedule_of(run) != DEFAULT_SCHEDULE:
                continue
            latest[stage["stage"]] = {**stage, "source": run["label"],
                                      "machine": run["machine"]}
    order = pipeline()
    return ([latest[s] for s in order if s in latest],
            [s for s in order if s not in latest])


def scaled_training_s(stage: dict) -> float:
    """Seconds of a stage's training phases that scale with the schedule's epochs."""
    if stage["stage"] not in SCALED_STAGES:
        return 0.0
    return sum(stage["phases"].get(k, 0.0) for k in TRAINING_PHASES)


def estimate_s(stage: dict, epochs: int, default_epochs: int) -> float:
    """A stage's estimated seconds on a schedule of ``epochs`` (its training scaled)."""
    scaled = scaled_training_s(stage)
    return stage["wall_s"] - scaled + scaled * epochs / default_epochs


def frontier_markdown(profiles: list, cands: list[dict], plateau: dict,
                      default_tss: dict | None = None) -> str:
    """TSS against `make run` time: the estimate table, then the measured whole runs."""
    stages, missing = latest_stages(profiles)
    if not stages:
        return ""
    total = sum(s["wall_s"] for s in stages)
    scaled = sum(scaled_training_s(s) for s in stages)
    epochs = next(p.get("default_epochs", 24) for p in reversed(profiles)
                  if p["kind"] == "pipeline" and schedule_of(p) == DEFAULT_SCHEDULE)
    depths = sorted(plateau)
    what = "make run" if not missing else \
        f"the stages {', '.join(s['stage'] for s in stages)}"
    sources = {}
    for s in stages:
        sources.setdefault(s["source"], []).append(s["stage"])
    machine = stages[-1]["machine"]
    lines = ["", f"## Frontier: TSS against the time of {what}", "",
             f"Each stage's latest profiled time ({machine.get('cpu')}, "
             f"{machine.get('cpus')} CPUs; " + "; ".join(
                 f"{', '.join(names)}: {label}" for label, names in sources.items())
             + f"; the stages a schedule switches ({', '.join(SWITCHED_STAGES)}) only from "
             f"runs of the `{DEFAULT_SCHEDULE}` schedule): {total / 60:.0f} min in the stage "
             f"processes, {scaled / 60:.0f} min of it training on the default schedule in "
             f"the stages whose training the estimate scales with the epochs "
             f"({', '.join(SCALED_STAGES)}; prune kept at the default's time). That "
             "training time scaled linearly with the schedule's epochs (an estimate; "
             "only the default's row is measured), next to the study's TSS (mean of 2 "
             "folds, -3.2 h)."
             + (f" **Partial:** no profile has a time for {', '.join(missing)}; not in the "
                "table." if missing else ""), "",
             f"| schedule | epochs | {what} (min, estimated) | "
             + " | ".join(f"depth {d}" for d in depths) + " |",
             "|---|---:|---:|" + "---:|" * len(depths)]
    within_budget = []
    for c in cands:
        if c["schedule"] != "cosine" or not all(d in c["tss"] for d in depths):
            continue
        minutes = sum(estimate_s(s, c["epochs"], epochs) for s in stages) / 60
        lines.append(f"| cosine | {c['epochs']} | {minutes:.0f} | "
                     + " | ".join(f"{100 * c['tss'][d]:.1f}" for d in depths) + " |")
        if minutes <= BUDGET_MIN:
            gap = max(plateau[d] - c["tss"][d] for d in depths if d > 1)
            within_budget.append(f"cosine over {c['epochs']} epochs (up to "
                                 f"{100 * gap:.1f} points below the plateau at depths 2-5)")
    lines += ["", f"Within {BUDGET_MIN} minutes on this machine ({what}): "
              + ("; ".join(within_budget) or "none of the measured schedules")
              + ". The default is the converged schedule, at the time its row states; "
              "`fast` remains for a quick look.", ""]
    lines += measured_markdown(profiles, stages, epochs, default_tss, depths)
    return "\n".join(lines)


def measured_markdown(profiles: list, stages: list[dict], default_epochs: int,
                      default_tss: dict | None, depths: list[int]) -> list[str]:
    """The whole runs measured on another schedule (with their depth study's TSS), beside
    the default's stage times and committed TSS; where the estimate parts from each."""
    runs = [p for p in profiles if p["kind"] == "pipeline" and p.get("tss_by_depth")
            and schedule_of(p) != DEFAULT_SCHEDULE]
    if not runs:
        return []
    tss_depths = sorted({int(d) for r in runs for d in r["tss_by_depth"]} | set(depths))
    lines = ["Measured whole runs: each run's own depth study (5 folds, -3.2 h), not the "
             "study's 2 folds; minutes in the stage processes.", "",
             "| run | schedule | epochs | make run (min) | "
             + " | ".join(f"depth {d}" for d in tss_depths) + " |",
             "|---|---|---:|---:|" + "---:|" * len(tss_depths)]
    if default_tss:
        total = sum(s["wall_s"] for s in stages) / 60
        lines.append(f"| the committed reports (times: the stage profiles above) | "
                     f"{DEFAULT_SCHEDULE} | {default_epochs} | {total:.0f} | "
                     + " | ".join(_percent(default_tss.get(d)) for d in tss_depths) + " |")
    notes = []
    for run in runs:
        measured = sum(s["wall_s"] for s in run["stages"]) / 60
        tss = {int(d): v for d, v in run["tss_by_depth"].items()}
        lines.append(f"| {run['label']} | {schedule_of(run)} | {run['schedule_epochs']} | "
                     f"{measured:.1f} | "
                     + " | ".join(_percent(tss.get(d)) for d in tss_depths) + " |")
        notes.append(_parted(run, stages, default_epochs))
    return [*lines, "", *notes, ""]


def _parted(run: dict, stages: list[dict], default_epochs: int) -> str:
    """One sentence: the run's time against the estimate for its epochs, stage by stage
    where they part by PARTED_MIN or more, and the stages it did not run."""
    own = {s["stage"]: s["wall_s"] for s in run["stages"]}
    estimate = {s["stage"]: estimate_s(s, run["schedule_epochs"], default_epochs)
                for s in stages}
    both = [name for name in estimate if name in own]
    parted = [f"{name} {estimate[name] / 60:.1f} estimated, {own[name] / 60:.1f} measured"
              for name in both if abs(own[name] - estimate[name]) >= 60 * PARTED_MIN]
    absent = [name for name in estimate if name not in own]
    return (f"{run['label']}: {sum(own.values()) / 60:.1f} min measured against "
            f"{sum(estimate[n] for n in both) / 60:.1f} estimated for its stages by the "
            f"method above ({run['schedule_epochs']} epochs)"
            + (f"; apart by {PARTED_MIN:.0f} min or more: " + "; ".join(parted)
               if parted else "") + "."
            + (f" Not in the run: {', '.join(absent)}." if absent else ""))


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"
