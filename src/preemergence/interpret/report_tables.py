"""The markdown of the interpretation report: its layout (a table of the findings, a section
per finding), its tables (Table 4, Table 5) and number formats (intervals)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from preemergence.core import paper as reference
from preemergence.core.paths import INTERPRET_OCCLUSION_CSV

if TYPE_CHECKING:
    from preemergence.core.schema import Params


def number(value, fmt: str = ".2f", missing: str = "n/a") -> str:
    """A value as text; None or NaN (null in the JSON reports) as ``missing``."""
    if value is None or (isinstance(value, float) and value != value):
        return missing
    return format(value, fmt)


def interval_text(entry: dict, scale: float = 100.0, digits: int = 1) -> str:
    """'+0.41 [+0.38, +0.44]' from {"estimate", "low", "high"} (times scale); n/a for None."""
    def scaled(key):
        value = entry.get(key)
        return number(None if value is None else scale * value, f"+.{digits}f")
    return f"{scaled('estimate')} [{scaled('low')}, {scaled('high')}]"


def table4_markdown(occlusion: dict) -> list[str]:
    """Table 4 (ours) for the regions drawn in Fig. 18; every region probed is in the CSV."""
    shown = [r for r in occlusion["regions"] if r["region"] in set(occlusion["shown"])]
    lines = [f"Table 4 (ours): the regions drawn above, with the segments of the highest and "
             f"the lowest CNN output and their MTOT; all {len(occlusion['regions'])} regions "
             f"probed are in `reports/{INTERPRET_OCCLUSION_CSV}`.", "",
             "| region | segments | called PE | max y (MTOT 1e20 Mx) | min y (MTOT 1e20 Mx) | "
             "output in box | occlusion in box / outside |", "|---|---:|---:|---|---|---:|---|"]
    for r in shown:
        lines.append(f"| {r['kind']} {r['region']} | {r['n_segments']} | "
                     f"{100 * r['fraction_called_pe']:.0f} % | {r['max_output']:.2f} "
                     f"({r['mtot_max_output_segment_mx'] / 1e20:.1f}) | {r['min_output']:.2f} "
                     f"({r['mtot_min_output_segment_mx'] / 1e20:.1f}) | "
                     f"{r['output_in_box']:.2f} | {r['occlusion_in_box']:+.2f} / "
                     f"{r['occlusion_outside_box']:+.2f} |")
    return lines + [""]


def table5_markdown(table5: dict) -> list[str]:
    lines = ["| time (h) | TSS \\|B\\| CNN, ours (%) | paper (%) |", "|---:|---:|---:|"]
    for label, entry in table5.items():
        t = float(label[1:-1])
        paper = reference.TABLE5.get(t)
        lines.append(f"| {t} | {100 * entry['tss_mean']:.1f} ± {100 * entry['tss_std']:.1f} | "
                     f"{f'{paper[0]} ± {paper[1]}' if paper else '–'} |")
    return lines + [""]


FIGURES = {"fig03_bipole": ["fig03_composites.png"],
           "fig11_output_bins": ["fig11_output_bins.png", "fig10_examples_correct.png",
                                 "fig10_examples_wrong.png"],
           "fig12_filters_vs_mtot": ["fig12_filter_vs_mtot.png", "fig13_filter_maps_tp.png",
                                     "fig13_filter_maps_tn.png"],
           "fig15_bipole_scale": ["fig15_bipole_output.png", "fig14_bipole_filter_maps.png"],
           "fig16_filters_vs_radius": ["fig16_bipole_filters.png"],
           "fig17_depth_scale": ["fig17_depth_bipoles.png"],
           "fig18_occlusion": ["fig18_occlusion.png"],
           "table5_uniform_polarity": [],
           "fig24_output_vs_mtot": ["fig24_output_vs_mtot.png"]}


VERDICTS = {"yes": "reproduced", "no": "NOT reproduced",
            "inconclusive": "inconclusive (the folds disagree too much to decide)",
            "unvalidated": "probe not validated on planted truth (see below), so no verdict"}
SHOWN = {"yes": "yes", "no": "**no**", "inconclusive": "inconclusive",
         "unvalidated": "probe not validated"}


def report_markdown(metrics: dict, checks: list[dict], params: "Params",
                    planted: list[str] = ()) -> str:
    """The report; checks carry their probe's planted-truth status
    (validation_report.apply_validation), ``planted`` its sections."""
    section = params.interpret
    source = metrics["data_source"]
    n_ok = sum(c["reproduced"] for c in checks)
    n_open = sum(c["verdict"] == "inconclusive" for c in checks)
    n_unvalidated = sum(c["verdict"] == "unvalidated" for c in checks)
    lines = ["# Interpretation of the CNN (paper Sect. 4, App. B-G)", "",
             f"Our networks were trained on **{source}** data, not on SDO/HEAR: every "
             "number and figure below is ours, placed next to the paper's finding (Dhuri et "
             f"al. 2020). Time bin {metrics['time_h']} h; pruned network and depth sweep of "
             f"fold {section.fold}; out-of-fold outputs of {metrics['outputs']['n_samples']} "
             "samples. Each verdict is computed from the criterion stated with it.", "",
             f"**{n_ok} of {len(checks)} findings reproduced on our data"
             + (f", {n_open} inconclusive" if n_open else "")
             + (f"; {n_unvalidated} probes not validated on planted truth (no verdict)"
                if n_unvalidated else "") + ".**", "",
             "| finding | paper | reproduced on our data? | probe validated on planted "
             "truth? |", "|---|---|---|---|"]
    for c in checks:
        paper = c["paper"].replace("|", "\\|")          # |B| inside a table cell
        validated = "yes" if c.get("probe_validated") else "**no**"
        lines.append(f"| {c['figure']} | {paper} | {SHOWN[c['verdict']]} | {validated} |")
    lines.append("")
    for c in checks:
        lines += [f"## {c['figure']}", "", f"- Paper: {c['paper']}.",
                  f"- Criterion: {c['criterion']}.", f"- Ours ({source} data): {c['ours']}.",
                  f"- Rests on: {c.get('rests_on') or 'not recorded'}.",
                  f"- Probe on planted truth: {c.get('probe', 'not run')}.",
                  f"- Verdict: {VERDICTS[c['verdict']]}"
                  + (f" (criterion on our data: {VERDICTS[c['criterion_met']]})"
                     if c["verdict"] == "unvalidated" else "") + ".", ""]
        lines += [f"![{name}](figures/interpret/{name})" for name in FIGURES.get(c["id"], [])] + [""]
        if c["id"] == "fig18_occlusion":
            lines += table4_markdown(metrics["occlusion"])
        if c["id"] == "table5_uniform_polarity":
            lines += table5_markdown(metrics["table5"])
    return "\n".join([*lines, *planted]) + "\n"
