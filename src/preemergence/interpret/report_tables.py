"""Tables and number formats of the interpretation report (Table 4, Table 5, intervals)."""

from __future__ import annotations

from preemergence.core import paper as reference
from preemergence.core.paths import INTERPRET_OCCLUSION_CSV


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
