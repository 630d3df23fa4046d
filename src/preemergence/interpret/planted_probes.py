"""The interpretation probes on their planted truths, one function per planted set.

Each returns a record (JSON-ready) with the planted set's CNN skill, the probe's number,
its criterion (stated before running, interpret_validate.criteria), pass/fail, the same
probe on the negative control (a network trained on random region labels, which must not
find the planted answer) and the findings of the main report whose probe it validates.
Definitions in interpret/validate.py; the sets in interpret/planted_sets.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import stats as scipy_stats

from preemergence.interpret import figures as figs
from preemergence.interpret import probes
from preemergence.interpret.binning import (N_OUTPUT_BINS, bin_centres, binned_mean,
                                            class_fractions, equal_width_bins, output_bins)
from preemergence.interpret.composite import box_numbers, store_composites
from preemergence.interpret.planted_pruning import FIGURE as PRUNED_FIGURE
from preemergence.interpret.planted_pruning import (RADIUS_FIGURE, filters_vs_mtot,
                                                    filters_vs_radius)
from preemergence.interpret.region_maps import region_maps, summarise_regions
from preemergence.interpret.report import box_contrast_found, hale_bipole_found
from preemergence.interpret.validation_report import FINDINGS
from preemergence.interpret.validate import (PlantedSet, da_mtot_rows, difference, load_run,
                                             planted_config, pooled_tss, predictions,
                                             control_record, random_label_runs,
                                             train_folds)


def _record(planted: PlantedSet, tss, criterion: str, measured: dict, passed: bool,
            control: dict, learned: bool, figures: list[str]) -> dict:
    """passed: the network learned the planted set, the probe found the planted answer
    (probe_found) and the negative control did not (a probe that also "finds" the answer in
    a network trained on random labels says nothing about the network)."""
    return {"set": planted.name, "findings": FINDINGS[planted.name],
            "n_regions": {"EAR": planted.section.n_ear, "CR": planted.section.n_cr},
            "n_windows": int((planted.data.table.subset == "tile").sum()),
            "tss": tss.as_dict(), "learned": learned, "criterion": criterion,
            "measured": measured, "probe_found": bool(passed),
            "passed": bool(learned and passed and not control["finds_planted"]),
            "control": control, "control_folds": list(planted.section.control_folds),
            "figures": figures}


def _percent(planted: PlantedSet) -> str:
    return f"{100 * planted.params.stats.confidence:g}"


def _learned(planted: PlantedSet, tss) -> bool:
    return tss.estimate >= planted.section.criteria.min_planted_tss


# --- length_scale: Figs. 14-15, 17 -------------------------------------------------------

def length_scale(planted: PlantedSet, radii_mm, figures_dir: Path) -> dict:
    s, crit = planted.section.length_scale, planted.section.criteria
    config = planted_config(planted.params)
    results = train_folds(planted.data, config, planted.section.n_folds, "length_scale")
    tss = pooled_tss(planted, predictions(planted, results, "cnn"))
    low = s.radius_mm - crit.radius_tolerance_mm
    high = min(lo for lo, _ in s.ne_radii_mm if lo > s.radius_mm)
    radii = [_characteristic_radius(r, radii_mm, s.field_g, planted, figures_dir, k == 0)
             for k, r in enumerate(results)]

    def inside(value):
        return bool(np.isfinite(value) and low <= value < high)
    controls = [{"fold": run["fold"], "characteristic_radius_mm": r, "finds_planted": inside(r)}
                for run in random_label_runs(planted, config)[1]
                for r in [_characteristic_radius(run, radii_mm, s.field_g, planted, None,
                                                 False)]]
    criterion = (f"at the planted field B* = {s.field_g:g} G, the bipole probe's "
                 f"characteristic radius R_c of every fold's network within "
                 f"[{low:g}, {high:g}) Mm (R* = {s.radius_mm:g} Mm; the larger NE radii "
                 f"start at {high:g} Mm)")
    return _record(planted, tss, criterion,
                   {"characteristic_radius_mm": radii, "planted_radius_mm": s.radius_mm},
                   all(inside(r) for r in radii), control_record(controls),
                   _learned(planted, tss), ["planted_length_scale_bipoles.png"])


def _characteristic_radius(result, radii_mm, field_g, planted, figures_dir, draw) -> float:
    model, mean, std = load_run(result)
    fields = sorted({float(field_g), *planted.params.interpret.bipole.fields_g})
    response = probes.bipole_response(model, radii_mm, fields, mean, std)
    if draw:
        figs.plot_bipole_response(radii_mm, dict(zip(fields, response)),
                                  figures_dir / "planted_length_scale_bipoles.png",
                                  _note(planted), threshold=planted.threshold,
                                  title=f"Planted R* = {planted.section.length_scale.radius_mm:g}"
                                        " Mm: output vs bipole (fold 0)")
    return probes.characteristic_radius(radii_mm, response[fields.index(float(field_g))])


def _note(planted: PlantedSet) -> str:
    return f"data: planted set {planted.name} (interpret/planted_sets.py); {planted.data.time_h} h"


# --- location: Fig. 18 / Table 4, Fig. 3 ---------------------------------------------------

def location(planted: PlantedSet, figures_dir: Path) -> tuple[dict, list[dict]]:
    """(record, the B networks' results, for the |B| converse of the polarity set)."""
    config = planted_config(planted.params)
    results = train_folds(planted.data, config, planted.section.n_folds, "location")
    tss = pooled_tss(planted, predictions(planted, results, "cnn"))
    occ = _occlusion(planted, results[0], figures_dir, draw=True)
    trained = {0: occ}                      # the trained network's occlusion per fold
    controls = [_location_control(planted, results, run, trained)
                for run in random_label_runs(planted, config)[1]]
    composite = _composite(planted, figures_dir)
    criterion = ("the main report's Fig. 18 criterion on the fold-0 held-out regions: mean "
                 "box output and mean occlusion (box - outside) both higher for the regions "
                 "labelled PE (EARs) than for those labelled NE (CRs), region-bootstrap "
                 f"{_percent(planted)} % "
                 "intervals above 0; and the main report's Fig. 3 criterion on the planted "
                 "composites (EAR/CR box mean |B| > 1.5, west half of Hale's leading sign)")
    passed = box_contrast_found(occ) and composite["passed"]
    return _record(planted, tss, criterion, {**occ, "composite": composite}, passed,
                   control_record(controls), _learned(planted, tss),
                   ["planted_location_occlusion.png", "planted_location_composites.png"]
                   ), results


def _location_control(planted: PlantedSet, results: list[dict], control_run: dict,
                      trained: dict) -> dict:
    """One fold's control for the location probe: the random-label network's occlusion on
    its fold's held-out regions, against the trained network of the same fold there
    (trained: fold -> its occlusion, filled in as needed)."""
    fold = control_run["fold"]
    control = _occlusion(planted, control_run, None, draw=False)
    if fold not in trained:
        trained[fold] = _occlusion(planted, results[fold], None, draw=False)
    return {"fold": fold, **occ_summary(control),
            "finds_planted": _control_matches(trained[fold], control)}


def occ_summary(occ: dict) -> dict:
    return {k: v for k, v in occ.items() if k != "regions"}


def _control_matches(occ: dict, control: dict) -> bool:
    """Whether the control singles out the box as the trained network does: its labels say
    nothing about the class, so an EAR - CR contrast of either sign counts, unless the
    trained network's contrasts are both clearly larger (interval above the control's
    largest |bound|): the probe's answer must depend on the labels the network learned."""
    keys = ("ear_minus_cr_box_output", "ear_minus_cr_box_minus_outside")
    clearly_larger = all(occ[k]["low"] > max(abs(control[k]["low"]), abs(control[k]["high"]))
                         for k in keys)
    return box_contrast_found(control, either_sign=True) and not clearly_larger


def _occlusion(planted: PlantedSet, result: dict, figures_dir, draw: bool) -> dict:
    """Output and occlusion maps of the first occlusion_regions held-out regions per kind
    of the run's fold (region_maps, as the main report), summarised with intervals."""
    model, mean, std = load_run(result)
    table = planted.data.table
    held_out = table[(table.subset == "tile") & (table.fold == result["fold"])]
    n = planted.section.occlusion_regions
    rows, panels = [], []
    for kind in ("EAR", "CR"):
        for rid in sorted(held_out[held_out.kind == kind].region_id.unique())[:n]:
            panel, row = region_maps(model, mean, std, planted.data,
                                     held_out[held_out.region_id == rid],
                                     planted.params.interpret.occlusion, planted.threshold)
            rows.append(row)
            panels.append(panel)
    if draw:
        n_ear = sum(r["kind"] == "EAR" for r in rows)
        figs.plot_occlusion_regions(panels[:2] + panels[n_ear:n_ear + 2],
                                    figures_dir / "planted_location_occlusion.png",
                                    _note(planted), title="Planted location: CNN output and "
                                    "occlusion maps, fold-0 held-out regions")
    return {"regions": rows, **summarise_regions(rows, planted.params.stats,
                                                 planted.params.seed, planted.threshold)}


def _composite(planted: PlantedSet, figures_dir: Path) -> dict:
    """The main report's Fig. 3 numbers and criterion on the planted set's composites."""
    t = planted.data.time_h
    maps = store_composites(planted.store)
    figs.plot_composites(maps, figures_dir / "planted_location_composites.png",
                         _note(planted), title="Planted location: average maps")
    ear, cr = box_numbers(maps[("EAR", t)]), box_numbers(maps[("CR", t)])
    ratio, found = hale_bipole_found(ear, cr,
                                     planted.params.simulate.emergence.hale_leading_sign_north)
    return {"box_ratio": ratio, "west_mean_g": ear["box_west_mean_g"],
            "east_mean_g": ear["box_east_mean_g"], "passed": found}


# --- flux_only: Fig. 24, Figs. 10-11 -----------------------------------------------------

def flux_only(planted: PlantedSet, figures_dir: Path) -> dict:
    crit = planted.section.criteria
    config = planted_config(planted.params)
    results = train_folds(planted.data, config, planted.section.n_folds, "flux_only")
    cnn_rows = predictions(planted, results, "cnn")
    tss = pooled_tss(planted, cnn_rows)
    measured = _flux_probe(planted, cnn_rows, figures_dir)
    control_rows = predictions(planted, random_label_runs(planted, config)[1], "cnn")
    control = _flux_probe(planted, control_rows, None)     # pooled over the control folds
    criterion = ("TSS(CNN) - TSS(MTOT discriminant) on the same held-out windows: "
                 f"region-bootstrap {_percent(planted)} % interval contains 0; Spearman rho(CNN "
                 "output, MTOT) "
                 f">= {crit.min_rank_correlation:g}; the top output bin holds a larger share "
                 "of PE than of NE and the bottom bin the reverse")
    return _record(planted, tss, criterion, measured, measured["passed"],
                   {**control, "finds_planted": control["passed"]}, _learned(planted, tss),
                   ["planted_flux_only_output_vs_mtot.png"])


def _flux_probe(planted: PlantedSet, cnn_rows, figures_dir) -> dict:
    crit = planted.section.criteria
    table = planted.data.table
    tiles = table[table.subset == "tile"]
    da_rows = da_mtot_rows(planted)
    da_rows = da_rows[da_rows.fold.isin(cnn_rows.fold.unique())]   # the control's folds
    diff = difference(planted, cnn_rows, da_rows)
    merged = cnn_rows.merge(tiles[["region_id", "x0", "y0", "mtot_mx"]],
                            on=["region_id", "x0", "y0"])
    y, mtot, labels = (merged.score.to_numpy(), merged.mtot_mx.to_numpy(),
                       merged.label.to_numpy())
    rho = float(scipy_stats.spearmanr(y, mtot).statistic)
    frac_pe, frac_ne = class_fractions(output_bins(y, N_OUTPUT_BINS), labels, N_OUTPUT_BINS)
    sorted_bins = bool(frac_pe[-1] > frac_ne[-1] and frac_ne[0] > frac_pe[0])
    if figures_dir is not None:
        lo, hi = np.quantile(mtot, [0.01, 0.99])
        bins = equal_width_bins(mtot, lo, hi, 8)
        stats = [binned_mean(y[labels == c], bins[labels == c], 8) for c in (1, 0)]
        figs.plot_output_vs_mtot(bin_centres(lo, hi, 8), stats[0][0], stats[0][1],
                                 stats[1][0], stats[1][1],
                                 figures_dir / "planted_flux_only_output_vs_mtot.png",
                                 _note(planted), threshold=planted.threshold,
                                 title="Planted flux only: mean CNN output vs MTOT")
    return {"cnn_minus_da_mtot": diff.as_dict(), "spearman_output_mtot": rho,
            "fraction_pe_top_bin": float(frac_pe[-1]), "fraction_ne_top_bin":
            float(frac_ne[-1]), "fraction_pe_bottom_bin": float(frac_pe[0]),
            "fraction_ne_bottom_bin": float(frac_ne[0]), "output_bins_sorted": sorted_bins,
            "passed": bool(diff.contains(0.0) and rho >= crit.min_rank_correlation
                           and sorted_bins)}


# --- flux_only_filters: Fig. 12 (the flux_only networks, pruned) ----------------------------

def flux_only_filters(planted: PlantedSet, figures_dir: Path) -> dict:
    measured, control, tss = filters_vs_mtot(planted, figures_dir)
    criterion = ("the flux_only networks pruned to "
                 f"{measured['n_filters']} filters (the prune stage's procedure): on every "
                 "fold's held-out windows, filters ordered by net score S_i, the slope of "
                 "<F_i> against MTOT positive for the first half and negative for the second "
                 "(Fig. 12's criterion; MTOT bins over the windows' 5th-95th percentiles)")
    found = all(f["split_by_score"] for f in measured["folds"])
    return _record(planted, tss, criterion, measured, found, control,
                   _learned(planted, tss), [PRUNED_FIGURE])


# --- size_trend: Fig. 16 (bipoles larger in EARs, the networks pruned) ------------------------

def size_trend(planted: PlantedSet, radii_mm, figures_dir: Path) -> dict:
    measured, control, tss = filters_vs_radius(planted, radii_mm, figures_dir)
    s = planted.section.size_trend
    criterion = (f"EAR bipoles {s.pe_radii_mm[0]:g}-{s.pe_radii_mm[1]:g} Mm, CR bipoles "
                 f"{s.ne_radii_mm[0]:g}-{s.ne_radii_mm[1]:g} Mm; the networks pruned to "
                 f"{measured['n_filters']} filters (the prune stage's procedure): on every "
                 "fold, filters ordered by net score S_i on its held-out windows, the "
                 f"correlation of F_i with the radius of {measured['field_g']:g} G bipoles "
                 f"(0-{measured['max_radius_mm']:g} Mm) positive for the first half and "
                 "negative for the second (Fig. 16's criterion)")
    found = all(f["split_by_score"] for f in measured["folds"])
    return _record(planted, tss, criterion, measured, found, control,
                   _learned(planted, tss), [RADIUS_FIGURE])


# --- polarity: Table 5 (and its converse on the location set) -------------------------------

def polarity(planted: PlantedSet, location_set: PlantedSet, location_results) -> dict:
    config = planted_config(planted.params)
    n = planted.section.n_folds
    signed = predictions(planted, train_folds(planted.data, config, n, "polarity"), "cnn")
    unsigned = predictions(planted, train_folds(
        planted.data, planted_config(planted.params, abs_field=True), n, "polarity |B|"),
        "abs_field")
    tss, tss_abs = pooled_tss(planted, signed), pooled_tss(planted, unsigned)
    gap = difference(planted, signed, unsigned)
    loc_abs = predictions(location_set, train_folds(
        location_set.data, planted_config(planted.params, abs_field=True), n,
        "location |B|"), "abs_field")
    converse = difference(location_set, loc_abs,
                          predictions(location_set, location_results, "cnn"))
    shuffled, control_runs = random_label_runs(planted, config)
    control_tss = pooled_tss(planted, predictions(planted, control_runs, "cnn", shuffled))
    criterion = ("polarity set: TSS(B) - TSS(|B|) interval above 0 and the |B| network's "
                 "TSS interval contains 0; location set (|B| suffices): TSS(|B|) - TSS(B) "
                 "interval contains 0")
    passed = gap.low > 0 and tss_abs.contains(0.0) and converse.contains(0.0)
    return _record(planted, tss, criterion,
                   {"tss_abs_field": tss_abs.as_dict(),
                    "b_minus_abs_field": gap.as_dict(),
                    "location_abs_field_minus_b": converse.as_dict()}, passed,
                   {"tss": control_tss.as_dict(),
                    "finds_planted": bool(control_tss.low > 0)},
                   _learned(planted, tss), [])


# --- all sets ------------------------------------------------------------------------------

def validate_all(params, radii_mm, figures_dir: Path, progress: bool = True) -> dict:
    """Every planted set of interpret_validate.sets through its probe: {set: record}. The
    polarity set's converse needs the location set's networks (trained here if the
    location set is not among the sets)."""
    from preemergence.core.progress import progress as show_progress
    from preemergence.interpret.validate import planted_set
    figures_dir = Path(figures_dir)
    figures_dir.mkdir(parents=True, exist_ok=True)
    out, loc, location_runs = {}, None, None
    names = sorted(params.interpret_validate.sets, key=lambda n: n != "location")
    with show_progress(names, progress, "planted truths", "set") as bar:
        for name in bar:
            planted = planted_set(name, params)
            if name == "length_scale":
                out[name] = length_scale(planted, radii_mm, figures_dir)
            elif name == "location":
                loc = planted
                out[name], location_runs = location(planted, figures_dir)
            elif name == "flux_only":
                out[name] = flux_only(planted, figures_dir)
            elif name == "flux_only_filters":
                out[name] = flux_only_filters(planted, figures_dir)
            elif name == "size_trend":
                out[name] = size_trend(planted, radii_mm, figures_dir)
            else:
                if loc is None:                   # the location set is not among the sets
                    loc = planted_set("location", params)
                    location_runs = train_folds(loc.data, planted_config(params),
                                                params.interpret_validate.n_folds, "location")
                out[name] = polarity(planted, loc, location_runs)
    return {name: out[name] for name in params.interpret_validate.sets}
