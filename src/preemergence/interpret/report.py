"""The interpretation report: each paper finding, its criterion, our numbers, a verdict.

Every verdict is computed from the stage's metrics with the criterion written next to it,
so the report stays true when the data or the parameters change.
"""

from __future__ import annotations

import numpy as np

from preemergence.core import paper as reference
from preemergence.core.constants import time_bin_label
from preemergence.interpret.binning import (FIG24_MIN_BIN_COUNT, fig24_bins, fig24_extremes,
                                            radius_correlations, slopes_split_by_score)
from preemergence.interpret.composite import box_ratio
from preemergence.interpret.report_tables import interval_text
from preemergence.core.paths import INTERPRET_OCCLUSION_CSV



def _check(id_, paper, criterion, ours, reproduced, inconclusive=False,
           rests_on: str = "") -> dict:
    """One finding; verdict 'yes', 'no' or 'inconclusive' (too noisy to decide); rests_on:
    the data and networks the verdict rests on, and its interval or why it has none."""
    verdict = "inconclusive" if inconclusive else ("yes" if reproduced else "no")
    return {"id": id_, "figure": reference.FINDING_FIGURES[id_], "paper": paper,
            "criterion": criterion, "ours": ours, "reproduced": verdict == "yes",
            "verdict": verdict, "rests_on": rests_on}


def _regions_text(regions: dict) -> str:
    return f"{regions['n_ear']} EARs and {regions['n_cr']} CRs"


def _every_fold(holds: list[bool]) -> dict:
    """The rule for a criterion read on several folds' networks: reproduced when it holds
    on every fold, not reproduced on none, inconclusive when the folds disagree."""
    return {"reproduced": bool(holds) and all(holds),
            "inconclusive": any(holds) and not all(holds)}


def _by_fold(m) -> dict:
    """The pruned networks' records per fold (experiments.pruned_network)."""
    return m["pruned"]["by_fold"]


def _fold_text(name: str, holds: bool, text: str) -> str:
    return f"{name} ({'holds' if holds else 'fails'}): {text}"


_NO_INTERVAL_PROBE = ("no interval: a synthetic-bipole probe is a deterministic function of "
                      "a network, so its spread is the folds' (shown)")


def findings(metrics: dict, train_cv: dict) -> list[dict]:
    """The paper's qualitative findings checked on our numbers."""
    return [_composites(metrics), _output_bins(metrics), _filters_vs_mtot(metrics),
            _bipole_output(metrics), _bipole_filters(metrics), _depth(metrics),
            _occlusion(metrics), _table5(metrics, train_cv), _output_vs_mtot(metrics)]


def _composites(m) -> dict:
    c = m["composites"]
    t = time_bin_label(m["time_h"])
    ear, cr = c[f"EAR_{t}"], c[f"CR_{t}"]
    # cycle 24: Hale's leading sign negative in the north
    ratio, found = hale_bipole_found(ear, cr, m.get("hale_leading_sign_north", -1))
    return _check("fig03_bipole",
                  "the average EAR map shows a bipole (Hale/Joy oriented) in the centre "
                  "before emergence; the average CR map does not",
                  "mean |B| in the central box of the average EAR map > 1.5 x the CR's, and "
                  "the west (leading) half of Hale's leading sign in the north "
                  "(simulate.emergence.hale_leading_sign_north; cycle 24: negative)",
                  f"EAR/CR box mean |B| = {ear['box_mean_abs_g']:.1f}/"
                  f"{cr['box_mean_abs_g']:.1f} G (ratio {ratio:.1f}); EAR west/east mean "
                  f"{ear['box_west_mean_g']:.1f}/{ear['box_east_mean_g']:.1f} G",
                  found, rests_on=_composite_basis(c))


def _composite_basis(c: dict) -> str:
    i = c["intervals"]
    ratio = i["ratio_range"]
    return (f"the composites of all {_regions_text(c['regions'])} of the store at this time "
            f"bin; EAR west/east mean {interval_text(i['ear_west_mean_g'], 1.0, 1)}/"
            f"{interval_text(i['ear_east_mean_g'], 1.0, 1)} G (region bootstrap); the box "
            f"|B| ratio's resampled values span {ratio['low']:.1f}-{ratio['high']:.1f} (2.5-97.5 "
            "%; below the estimate, as resampling with repeats raises the noise floor of "
            "the CR composite's |B|: no interval of the ratio itself)")


def hale_bipole_found(ear: dict, cr: dict, leading_sign: int) -> tuple[float, bool]:
    """Fig. 3's criterion on composite.box_numbers of the EAR and CR maps: (EAR/CR box mean
    |B|, whether it is > 1.5 and the west half has Hale's leading sign, the east the other)."""
    ratio = box_ratio(ear, cr)
    hale = leading_sign * ear["box_west_mean_g"] > 0 > leading_sign * ear["box_east_mean_g"]
    return ratio, bool(ratio > 1.5 and hale)


def _output_bins(m) -> dict:
    o = m["outputs"]
    pe, ne = np.array(o["fraction_pe_per_output_bin"]), np.array(o["fraction_ne_per_output_bin"])
    mtot = o["mean_mtot_predicted_pe_mx"] / 1e20
    ok = pe[-1] > ne[-1] and ne[0] > pe[0] and 8.0 <= mtot <= 12.0
    return _check("fig11_output_bins",
                  "PE samples fill the high-output bins and NE the low ones; segments "
                  "identified as emerging have intermediate MTOT, on average 9-11e20 Mx",
                  "top output bin holds a larger share of PE than of NE, bottom bin the "
                  "reverse, and the mean MTOT of predicted-PE segments is within 8-12e20 Mx "
                  "(the paper's absolute flux scale: this part tests the data's calibration "
                  "as much as the CNN)",
                  f"share in top bin PE {pe[-1]:.2f} vs NE {ne[-1]:.2f}; bottom bin PE "
                  f"{pe[0]:.2f} vs NE {ne[0]:.2f}; mean MTOT of predicted PE {mtot:.1f}e20 Mx "
                  f"(predicted NE {o['mean_mtot_predicted_ne_mx'] / 1e20:.1f}e20 Mx)", ok,
                  rests_on=_outputs_basis(o, (("top-bin share PE - NE", "top_bin_pe_minus_ne",
                                               1.0, 2),
                                              ("bottom-bin share NE - PE",
                                               "bottom_bin_ne_minus_pe", 1.0, 2),
                                              ("mean MTOT of predicted PE (1e20 Mx)",
                                               "mean_mtot_called_pe_mx", 1e-20, 1))))


def _outputs_basis(o: dict, numbers) -> str:
    """The out-of-fold windows and regions, and the numbers' region-bootstrap intervals."""
    return (f"{o['n_samples']} out-of-fold windows of {_regions_text(o['regions'])} (each "
            "scored by the network of the "
            "fold that never saw it); " + "; ".join(
                f"{label} {interval_text(o['intervals'][key], scale, digits)}"
                for label, key, scale, digits in numbers))


def _filters_vs_mtot(m) -> dict:
    folds = _by_fold(m)
    return _split_by_score(
        m, "fig12_filters_vs_mtot",
        "the contributions of the two filters correlated with emergence grow with MTOT, those "
        "of the two anti-correlated filters fall",
        "on every fold's pruned network, on its own validation windows: linear slope of <F_i> "
        "against MTOT (4-16e20 Mx) positive for the first half of the filters and negative "
        "for the second (filters ordered by net score S_i); folds that disagree make it "
        "inconclusive", "slopes per 1e20 Mx",
        {name: r["fig12"]["slope_per_1e20_mx"] for name, r in folds.items()}, "+.3f",
        "per fold, the region-bootstrap interval of its margin (the smallest of the first "
        "half's slopes and of the second half's negated, per 1e20 Mx: > 0 exactly when the "
        "criterion holds): " + "; ".join(
            f"{name} {interval_text(r['fig12']['split_margin'], 1.0, 3)}"
            for name, r in folds.items()))


def _split_by_score(m, id_, paper, criterion, label, trends: dict, fmt: str,
                    interval: str) -> dict:
    """Figs. 12 and 16: per fold's pruned network, trends (slopes, correlations) ordered by
    net score that split by sign (binning.slopes_split_by_score), on every fold."""
    holds = {name: slopes_split_by_score(t) for name, t in trends.items()}
    return _check(id_, paper, criterion, f"{label}: " + "; ".join(
        _fold_text(name, holds[name], ", ".join(format(v, fmt) for v in t))
        for name, t in trends.items()), **_every_fold(list(holds.values())),
        rests_on=_pruned_basis(m, interval))


def _pruned_basis(m, interval: str) -> str:
    """The pruned networks and the validation regions their filters were scored on."""
    regions = [r["regions"] for r in _by_fold(m).values()]
    return (f"{len(regions)} pruned network(s), one per fold, each scored on its own fold's "
            f"validation regions ({sum(r['n_ear'] for r in regions)} EARs and "
            f"{sum(r['n_cr'] for r in regions)} CRs in all); {interval}")


def _bipole_output(m) -> dict:
    r_max = max(m["pruned"]["bipoles"]["radii_mm"])
    folds, holds = {}, {}
    for name, record in _by_fold(m).items():
        b = record["bipoles"]
        radius = b["characteristic_radius_mm"]
        out10 = max(b["output"]["10G"]) if "10G" in b["output"] else float("nan")
        r100 = _nan(radius.get("100G"))
        holds[name] = bool(np.isfinite(r100) and 15.0 <= r100 <= 45.0 and out10 < 0.5)
        folds[name] = (f"characteristic radius {_radii_text(radius, r_max)}; max output at "
                       f"10 G {out10:.2f}")
    unpruned = m["depth_sweep"]["characteristic_radius_mm"].get(f"depth{m.get('depth', 5)}",
                                                                {})
    return _check("fig15_bipole_scale",
                  "a 100 G bipole gives a high output up to a characteristic radius of "
                  "~30 Mm and ~0 beyond it; a 10 G bipole stays low (y ~ 0.2)",
                  "on every fold's pruned network: a clear drop of the 100 G output (from >= "
                  "0.7 to <= 0.3, crossing 0.5) at a radius within 15-45 Mm, and the 10 G "
                  "output < 0.5 at every radius; folds that disagree make it inconclusive",
                  "; ".join(_fold_text(name, holds[name], text) for name, text in folds.items())
                  + f" (for comparison, the unpruned network of fold {m['pruned']['fold']}: "
                  f"{_radii_text(unpruned, r_max)})",
                  **_every_fold(list(holds.values())),
                  rests_on=_pruned_basis(m, _NO_INTERVAL_PROBE))


def _nan(value) -> float:
    return float("nan") if value is None else float(value)


def _radii_text(radius: dict, r_max: float) -> str:
    """'name: 12.5 Mm' per entry, or 'none' where there is no clear drop in range."""
    return ", ".join(f"{k}: {_nan(v):.1f} Mm" if np.isfinite(_nan(v))
                     else f"{k}: none (no clear drop within 0-{r_max:g} Mm)"
                     for k, v in radius.items())


def _bipole_filters(m) -> dict:
    return _split_by_score(
        m, "fig16_filters_vs_radius",
        "filters 1-2 contribute more as the bipole grows (to ~30 Mm), filters 3-4 less",
        "on every fold's pruned network, filters ordered by net score S_i on its validation "
        "windows: correlation of F_i with radius (0-30 Mm, 100 G) positive for filters 1-2, "
        "negative for 3-4; folds that disagree make it inconclusive", "correlations",
        {name: radius_correlations(r["bipoles"]["radii_mm"],
                                   r["bipoles"]["filter_contributions_example_field"])
         for name, r in _by_fold(m).items()}, "+.2f", _NO_INTERVAL_PROBE)


def _depth(m) -> dict:
    """Fig. 17 on every fold of the sweep: reproduced when the criterion holds on all,
    not reproduced when it holds on none, inconclusive when the folds disagree."""
    sweep = m["depth_sweep"]
    by_fold = sweep.get("characteristic_radius_mm_by_fold",
                        {"fold?": sweep["characteristic_radius_mm"]})
    r_max = max(sweep.get("radii_mm", [60.0]))
    radii = {fold: {int(k[5:]): _nan(v.get("100G")) for k, v in by_depth.items()}
             for fold, by_depth in by_fold.items()}
    holds = [_depth_scale_holds(r) for r in radii.values()]
    cap = sweep.get("max_filters")
    return _check("fig17_depth_scale",
                  "no length scale for 2 layers; with more layers the output drops beyond a "
                  "characteristic radius that grows with depth up to 6 layers (~40 Mm), "
                  "then falls (7-8 layers, ~25 Mm)",
                  "at 100 G, on every fold of the sweep: no clear drop at depth 2, a clear "
                  "drop at every depth 3-6 at a radius that does not shrink with depth and is "
                  "larger at 6 than at 3 (the fall at 7-8 is reported, not tested); folds "
                  "that disagree make it inconclusive",
                  "characteristic radius at 100 G by depth: " + "; ".join(
                      _fold_text(fold, ok, _radii_text(r, r_max))
                      for (fold, r), ok in zip(radii.items(), holds))
                  + f" ({len(radii)} fold(s), schedule `{sweep.get('config', '?')}`"
                  + (f", at most {cap} filters per layer where the paper doubles to 2048 "
                     "(fits in memory; capped for time on CPU, `max_filters: null` lifts it)"
                     if cap else "") + ")", **_every_fold(holds),
                  rests_on=f"{sum(len(r) for r in radii.values())} unpruned networks "
                           f"({len(radii)} fold(s) x depths {min(min(r) for r in radii.values())}"
                           f"-{max(max(r) for r in radii.values())}); "
                           + _NO_INTERVAL_PROBE)


def _depth_scale_holds(r: dict) -> bool:
    middle = [r.get(d, float("nan")) for d in (3, 4, 5, 6)]
    return bool(2 in r and not np.isfinite(r[2]) and np.all(np.isfinite(middle))
                and all(b >= a for a, b in zip(middle, middle[1:])) and middle[-1] > middle[0])


def box_contrast_found(summary: dict, either_sign: bool = False) -> bool:
    """Fig. 18's criterion: the EAR - CR contrasts of box output and of occlusion (box -
    outside) both have intervals above 0 (either_sign: both exclude 0, whatever the sign)."""
    contrasts = (summary["ear_minus_cr_box_output"], summary["ear_minus_cr_box_minus_outside"])
    if either_sign:
        return all(c["low"] > 0 or c["high"] < 0 for c in contrasts)
    return all(c["low"] > 0 for c in contrasts)


def _occlusion(m) -> dict:
    occ = m["occlusion"]
    s = occ["summary"]
    gap, occ_gap = s["ear_minus_cr_box_output"], s["ear_minus_cr_box_minus_outside"]
    ok = box_contrast_found(s)
    return _check("fig18_occlusion",
                  "recombined output maps are high where emergence follows (EAR centres) and "
                  "low elsewhere, with false positives at compact bipolar flux; occlusion "
                  "highlights those areas",
                  "over the fold's validation regions: mean recombined output in the central "
                  "box higher for EARs than for CRs, and the occlusion map's box - outside "
                  "contrast higher for EARs than for CRs (region-bootstrap 95 % intervals of "
                  "both EAR - CR differences above 0)",
                  f"over {s['n_ear']} EARs and {s['n_cr']} CRs of fold {occ['fold']}: box "
                  f"output EAR {interval_text(s['ear_box_output'], 1.0, 2)}, CR "
                  f"{interval_text(s['cr_box_output'], 1.0, 2)}, difference "
                  f"{interval_text(gap, 1.0, 2)}; occlusion box - outside EAR "
                  f"{interval_text(s['ear_box_minus_outside'], 1.0, 2)}, CR "
                  f"{interval_text(s['cr_box_minus_outside'], 1.0, 2)}, difference "
                  f"{interval_text(occ_gap, 1.0, 2)}; "
                  f"{100 * s['fraction_ear_box_above_threshold']:.0f} % of EARs called PE in "
                  f"the box, {100 * s['fraction_cr_box_below_threshold']:.0f} % of CRs not "
                  f"(per region: {INTERPRET_OCCLUSION_CSV})", ok,
                  rests_on=f"the {s['n_ear']} EARs and {s['n_cr']} CRs of fold {occ['fold']}'s "
                           "validation regions, each probed by the train-cv network that never "
                           "saw it; region-bootstrap intervals above",
                  inconclusive=min(s["n_ear"], s["n_cr"]) < 2 or not np.isfinite(
                      [_nan(gap["low"]), _nan(occ_gap["low"])]).all())   # a region's NaN


COLLAPSED_TSS = 0.1   # a fold below this TSS, while its B twin is above 0.3, failed to train
PAIRED_TOLERANCE = 0.05


def _table5(m, train_cv) -> dict:
    """Paired per fold: |B| against B on the same folds (train-cv's runs)."""
    parts, diffs, collapsed = [], [], 0
    for label, entry in m["table5"].items():
        signed = train_cv.get(label)
        if signed is None:
            continue
        for key in sorted(k for k in entry if k.startswith("tss_fold")):
            if key not in signed:
                continue
            if entry[key] < COLLAPSED_TSS and signed[key] > 0.3:
                collapsed += 1
            else:
                diffs.append(entry[key] - signed[key])
        parts.append(f"{label}: |B| {100 * entry['tss_mean']:.1f} ± "
                     f"{100 * entry['tss_std']:.1f} % vs B {100 * signed['tss_mean']:.1f} ± "
                     f"{100 * signed['tss_std']:.1f} %")
    median = float(np.median(diffs)) if diffs else float("nan")
    ok = bool(diffs) and abs(median) <= PAIRED_TOLERANCE
    text = "; ".join(parts) or "no train-cv metrics to compare"
    if diffs:
        text += (f"; median paired fold difference {100 * median:+.1f} points over "
                 f"{len(diffs)} folds")
    if collapsed:
        text += f"; {collapsed} |B| fold(s) collapsed (TSS < {100 * COLLAPSED_TSS:.0f} %)"
    return _check("table5_uniform_polarity",
                  "a CNN trained on |B| scores as well as one trained on B (polarity not "
                  "needed)",
                  f"median over folds of TSS(|B|) - TSS(B) on the same folds within "
                  f"±{100 * PAIRED_TOLERANCE:.0f} points; folds where |B| training collapsed "
                  "are counted and left out; inconclusive when they are half or more",
                  text, ok, inconclusive=collapsed >= max(len(diffs), 1),
                  rests_on=_table5_basis(m.get("table5_paired"), len(diffs)))


def _table5_basis(paired: dict | None, n_folds: int) -> str:
    text = f"{n_folds} paired folds (the |B| and the B CNN of each fold)"
    if paired is None:
        return text + "; no pooled interval (train-cv's predictions differ in schedule or depth)"
    return (f"{text}, scored on the same tiles of {_regions_text(paired)}; pooled TSS(|B|) - "
            f"TSS(B) {interval_text(paired)} points (paired region bootstrap)")


def _output_vs_mtot(m) -> dict:
    o = m["outputs"]["output_vs_mtot"]
    ne_bins, pe_bins = fig24_bins(o["bin_centres_mx"], o["pe"]["count"], o["ne"]["count"])
    if not (ne_bins.any() and pe_bins.any()):
        return _check("fig24_output_vs_mtot", _FIG24_PAPER, _FIG24_CRITERION,
                      "too few samples per MTOT bin", False, inconclusive=True)
    ne_max, pe_mid = fig24_extremes(o["pe"]["mean"], o["ne"]["mean"], ne_bins, pe_bins)
    return _check("fig24_output_vs_mtot", _FIG24_PAPER, _FIG24_CRITERION,
                  f"max <y>_NE {ne_max:.2f} over {int(ne_bins.sum())} bins; min <y>_PE "
                  f"(5-20e20 Mx) {pe_mid:.2f} over {int(pe_bins.sum())} bins",
                  ne_max < 0.2 and pe_mid > 0.5, rests_on=_outputs_basis(m["outputs"], (
                      ("max <y>_NE", "max_ne_output", 1.0, 2),
                      ("min <y>_PE", "min_pe_output", 1.0, 2))))


_FIG24_PAPER = ("<y> of NE stays below 0.2 at every MTOT; <y> of PE exceeds 0.5 for MTOT "
                "between 5 and 20e20 Mx")
_FIG24_CRITERION = (f"over MTOT bins holding at least {FIG24_MIN_BIN_COUNT} samples: max <y>_NE < "
                    "0.2 and min <y>_PE over the bins centred in 5-20e20 Mx > 0.5")
