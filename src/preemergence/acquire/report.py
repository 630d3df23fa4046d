"""reports/regions.md: what the region store holds and how it checks (acquire.checks)."""

from __future__ import annotations

import pandas as pd

from preemergence.core.constants import time_bin_label

MAX_LISTED = 60     # missing bins spelled out in the report (all are in the JSON)


def _frames_lines(frames: pd.DataFrame, missing: list[str]) -> list[str]:
    if frames.isna().all().all():
        return ["Simulated maps: no frames were averaged (no `NFRAMES` keyword).", ""]
    lines = ["| region | " + " | ".join(frames.columns) + " |",
             "|---|" + "---:|" * len(frames.columns)]
    for region, row in frames.iterrows():
        cells = ["–" if pd.isna(v) else str(int(v)) for v in row]
        lines.append(f"| {region} | " + " | ".join(cells) + " |")
    lines.append("")
    if not missing:
        return lines + ["No time bin is missing.", ""]
    lines += [f"{len(missing)} missing time bins (too few good frames):", ""]
    lines += [f"- {reason}" for reason in missing[:MAX_LISTED]]
    if len(missing) > MAX_LISTED:
        lines.append(f"- and {len(missing) - MAX_LISTED} more (reports/regions_checks.json)")
    return lines + [""]


def _control_lines(control: pd.DataFrame, tolerance_g: float) -> list[str]:
    if control.empty:
        return ["No CR with its EAR in the store: the criterion could not be checked.", ""]
    failed = control[~control.ok]
    lines = [f"{len(control)} CR-time bins checked, {len(failed)} outside ±{tolerance_g:g} G "
             f"(median |difference| {control.difference_g.abs().median():.2f} G)."]
    for row in failed.itertuples():
        lines.append(f"- {row.cr} (EAR {row.ear}) at {time_bin_label(row.time_h)}: "
                     f"{row.cr_g:.1f} G against {row.ear_g:.1f} G ({row.difference_g:+.1f} G)")
    return lines + [""]


def markdown(source: str, n_regions: dict, frames: pd.DataFrame, missing: list[str],
             control: pd.DataFrame, tolerance_g: float, summary: pd.DataFrame,
             quiet: list[dict], figure_name: str) -> str:
    """The report text."""
    lines = ["# The region store", "",
             f"Data: **{source}**; {n_regions.get('EAR', 0)} EARs and "
             f"{n_regions.get('CR', 0)} CRs. Simulated data are never the paper's SDO/HEAR "
             "data (docs/simulator.md); real data come from the public HMI archive "
             "(docs/real-data.md).", "",
             "## Frames averaged per region and time bin", "", *_frames_lines(frames, missing),
             "## Control criterion (HEAR)", "",
             "A CR's mean |B| over the central 10° × 10° (85 × 85 px) must lie within "
             f"{tolerance_g:g} G of its EAR's (Schunker et al. 2016).", "",
             *_control_lines(control, tolerance_g),
             "## Flux build-up in the emergence box", "",
             "Unsigned flux of the central 42 × 42-px (59 Mm) emergence box, 10^20 Mx.", "",
             "| time bin | kind | n | q25 | median | q75 |", "|---|---|---:|---:|---:|---:|"]
    for row in summary.itertuples():
        lines.append(f"| {time_bin_label(row.time_h)} | {row.kind} | {int(row.n)} | "
                     f"{row.q25_1e20mx:.2f} | {row.median_1e20mx:.2f} | {row.q75_1e20mx:.2f} |")
    lines += ["", f"![flux build-up]({figure_name})", "",
              "## Quiet Sun (CRs)", "", "| time bin | mean abs(B) (G) | noise core (G) |",
              "|---|---:|---:|"]
    lines += [f"| {time_bin_label(q['time_h'])} | {q['mean_abs_b_g']:.2f} | "
              f"{q['noise_sigma_g']:.2f} |" for q in quiet]
    return "\n".join(lines) + "\n"
