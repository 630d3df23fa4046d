"""The paper's interpretation experiments, figure by figure (Sect. 4, App. B-G).

At one time bin (``interpret.time_h``) they probe the cross-validated CNNs of train-cv, the
pruned networks of the prune stage and the depth-study networks, and train what the paper
adds (CNNs of depth 6-8 for Fig. 17, |B| CNNs for Table 5). Each returns its numbers (for
the metrics and the report) and draws its figures.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from preemergence.core.artifacts import read_json
from preemergence.core.constants import time_bin_label
from preemergence.core.executor import resolve as resolve_executor
from preemergence.core.filters import filter_counts
from preemergence.core.paths import MODEL_FILE, RESULT_FILE
from preemergence.core.progress import progress as show_progress
from preemergence.interpret import figures as figs
from preemergence.interpret import intervals, probes
from preemergence.data.hemisphere import flip_stack_to_north
from preemergence.interpret.binning import (bin_centres, binned_mean, class_fractions,
                                            equal_width_bins, example_indices,
                                            mtot_slopes, outcome, output_bins)
from preemergence.interpret.composite import box_numbers, store_composites
from preemergence.interpret.region_maps import region_maps, summarise_regions
from preemergence.model import fanout
from preemergence.model.crossval import cross_validate, summarise
from preemergence.model.predictions import runs_table
from preemergence.model.configs import prune_train_config, train_config
from preemergence.model.runs import (TrainConfig, load_time_bins, run_folder, subsample,
                                     train_fold)
from preemergence.model.windows import standardise

if TYPE_CHECKING:
    from preemergence.core.schema import Interpret, Params


@dataclasses.dataclass
class Context:
    """What every experiment needs: params, data of the time bin, folders, data note."""

    params: "Params"
    section: "Interpret"            # params.interpret
    data: object
    samples: pd.DataFrame
    models: dict           # name -> models folder (train_cv, prune, depth_study, own)
    figures_dir: Path
    source: str

    @property
    def threshold(self) -> float:
        """The classification threshold (params.yaml train.threshold)."""
        return float(self.params.train.threshold)

    @property
    def note(self) -> str:
        return f"data: {self.source}; {self.section.time_h} h"

    def figure(self, name: str) -> Path:
        return self.figures_dir / name


def load_model(folder: Path):
    import keras
    return keras.models.load_model(Path(folder) / MODEL_FILE)


def standardisation(folder: Path) -> tuple[float, float]:
    result = read_json(Path(folder) / RESULT_FILE)
    if result is None:
        raise FileNotFoundError(f"{folder}: no finished run ({RESULT_FILE}); run the stage "
                                "that trains it first")
    return result["standardisation"]["mean"], result["standardisation"]["std"]


# --- Fig. 3 ------------------------------------------------------------------------------

def composites(ctx: Context, regions_dir: Path) -> dict:
    """Fig. 3: average EAR and CR maps per time bin after Hale/Joy flips."""
    from preemergence.data.regionstore import load_region_store
    store = load_region_store(regions_dir, ctx.params.time_bins, on_missing="skip")
    maps = store_composites(store)
    figs.plot_composites(maps, ctx.figure("fig03_composites.png"), f"data: {ctx.source}")
    out = {f"{kind}_{time_bin_label(t)}": box_numbers(m) for (kind, t), m in maps.items()}
    t, regions = ctx.section.time_h, store.regions
    kinds = [r.kind for r in regions]
    out["regions"] = {"n_ear": kinds.count("EAR"), "n_cr": kinds.count("CR")}
    out["intervals"] = intervals.composite_numbers(
        flip_stack_to_north(store.maps[t], [r.latitude_deg for r in regions]), kinds,
        [r.region_id for r in regions], ctx.params.stats, ctx.params.seed)
    return out


# --- Figs. 10, 11, 24: CNN output against MTOT ----------------------------------------------

def output_statistics(ctx: Context) -> tuple[dict, pd.DataFrame]:
    """Out-of-fold CNN outputs of (a random subset of) the samples; Figs. 10, 11, 24."""
    config = train_config(ctx.params)
    table = subsample(ctx.samples, ctx.section.max_samples, config.seed + 11)
    table = table.reset_index(drop=True)
    folders = {k: run_folder(ctx.models["train_cv"], config, ctx.data.time_h, k)
               for k in sorted(table.fold.unique())}
    y = probes.out_of_fold_outputs(ctx.data, lambda k: load_model(folders[k]),
                                      lambda k: standardisation(folders[k]), table)
    table = table.assign(output=y)
    labels, mtot = table.label.to_numpy(), table.mtot_mx.to_numpy()
    figs.plot_output_bins(y, labels, mtot, ctx.figure("fig11_output_bins.png"), ctx.note,
                          threshold=ctx.threshold)
    _example_figures(ctx, table)
    lo, hi = ctx.section.output_mtot_range_mx
    n = ctx.section.output_mtot_bins
    bins = equal_width_bins(mtot, lo, hi, n)
    stats = {}
    for name, label in (("pe", 1), ("ne", 0)):
        mean_y, err, count = binned_mean(np.where(labels == label, y, np.nan)[labels == label],
                                         bins[labels == label], n)
        stats[name] = {"mean": mean_y.tolist(), "err": err.tolist(), "count": count.tolist()}
    centres = bin_centres(lo, hi, n)
    figs.plot_output_vs_mtot(centres, stats["pe"]["mean"], stats["pe"]["err"],
                             stats["ne"]["mean"], stats["ne"]["err"],
                             ctx.figure("fig24_output_vs_mtot.png"), ctx.note,
                             threshold=ctx.threshold)
    obins = output_bins(y)
    frac_pe, frac_ne = class_fractions(obins, labels.astype(bool), 6)
    mtot_bin, mtot_err, _ = binned_mean(mtot, obins, 6)
    predicted_pe = y >= ctx.threshold
    settings = (ctx.params.stats, ctx.params.seed)
    out = {"n_samples": int(len(table)),
           "fraction_pe_per_output_bin": frac_pe.tolist(),
           "fraction_ne_per_output_bin": frac_ne.tolist(),
           "mean_mtot_per_output_bin_mx": mtot_bin.tolist(),
           "mean_mtot_predicted_pe_mx": _mean_or_nan(mtot[predicted_pe]),
           "mean_mtot_predicted_ne_mx": _mean_or_nan(mtot[~predicted_pe]),
           "output_vs_mtot": {"bin_centres_mx": centres.tolist(), **stats},
           "regions": {"n_ear": int(table[table.kind == "EAR"].region_id.nunique()),
                       "n_cr": int(table[table.kind == "CR"].region_id.nunique())},
           "intervals": {**intervals.output_bin_numbers(table, ctx.threshold, *settings),
                         **intervals.output_vs_mtot_extremes(table, bins, centres,
                                                             *settings)}}
    return out, table


def _mean_or_nan(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else float("nan")


def _example_figures(ctx: Context, table: pd.DataFrame) -> None:
    """Fig. 10: example segments per output bin, accurate and inaccurate classifications."""
    y, labels, mtot = table.output.to_numpy(), table.label.to_numpy(), table.mtot_mx.to_numpy()
    kinds = outcome(labels, y, ctx.threshold)
    for correct, name in ((True, "fig10_examples_correct.png"),
                          (False, "fig10_examples_wrong.png")):
        keep = np.isin(kinds, ["TP", "TN"] if correct else ["FP", "FN"])
        picks = np.concatenate(example_indices(y, mtot, keep)).astype(int)
        rows = table.iloc[picks]
        names = [f"{r.region_id} {'PE' if r.label else 'NE'}" for r in rows.itertuples()]
        figs.plot_example_segments(probes.crop_fields(ctx.data, rows), y[picks],
                                   labels[picks], mtot[picks], ctx.figure(name), ctx.note,
                                   correct=correct, names=names, threshold=ctx.threshold)


# --- Figs. 12-16: the pruned network -----------------------------------------------------

def pruned_network(ctx: Context) -> dict:
    """Figs. 12-16 with the pruned CNN of every fold, each on its own fold's validation
    samples: the record of fold ``interpret.fold`` (whose figures are drawn) with the
    records of all folds under "by_fold" (the verdicts read every fold)."""
    folds = sorted(int(k) for k in ctx.samples.fold.unique())
    by_fold = {f"fold{k}": _pruned_fold(ctx, k, draw=k == ctx.section.fold) for k in folds}
    return {**by_fold[f"fold{ctx.section.fold}"], "by_fold": by_fold}


def _pruned_fold(ctx: Context, fold: int, draw: bool) -> dict:
    """Figs. 12-16 with the pruned CNN of one fold, on that fold's validation samples
    (draw: its figures)."""
    config = prune_train_config(ctx.params)
    folder = run_folder(Path(ctx.models["prune"]) / "pruned", config, ctx.data.time_h, fold)
    model = load_model(folder)
    mean, std = standardisation(folder)
    val = ctx.samples[ctx.samples.fold == fold].reset_index(drop=True)
    fields = probes.crop_fields(ctx.data, val)
    inputs = standardise(fields, mean, std)
    labels = val.label.to_numpy()
    contrib, y, order = probes.scored_filters(model, inputs, labels, ctx.threshold)
    kept = read_json(folder / RESULT_FILE)["kept_filters"]
    names = probes.filter_names(order, kept) if draw else None
    out = {"fold": fold, "kept_filters": [kept[k] for k in order],
           "regions": {"n_ear": int(val[val.kind == "EAR"].region_id.nunique()),
                       "n_cr": int(val[val.kind == "CR"].region_id.nunique())}}
    out["fig12"] = _filter_vs_mtot(ctx, val.mtot_mx.to_numpy(), contrib[:, order], names)
    out["fig12"]["split_margin"] = intervals.slope_margin(
        val, contrib[:, order], ctx.section.mtot_range_mx, ctx.section.mtot_bins,
        ctx.params.stats, ctx.params.seed)
    if draw:
        _filter_map_examples(ctx, model, fields, inputs, y, labels, order, names)
    out["bipoles"] = _bipoles(ctx, model, mean, std, order, names)
    return out


def _filter_vs_mtot(ctx, mtot, contrib, names) -> dict:
    """Fig. 12's numbers (names: the filters' legend names, None: no figure)."""
    lo, hi = ctx.section.mtot_range_mx
    n = ctx.section.mtot_bins
    fig12 = mtot_slopes(mtot, contrib, lo, hi, n)
    if names is not None:
        figs.plot_filter_contribution_vs_mtot(
            bin_centres(lo, hi, n), fig12["mean"], fig12["err"],
            ctx.figure("fig12_filter_vs_mtot.png"), ctx.note, labels=names,
            title=f"Pruned CNN: filter contributions vs MTOT (fold {ctx.section.fold} "
                  "validation)")
    return {"mean": fig12["mean"].tolist(), "err": fig12["err"].tolist(),
            "count": fig12["count"].tolist(), "slope_per_1e20_mx": fig12["slope_per_1e20_mx"]}


def _filter_map_examples(ctx, model, fields, inputs, y, labels, order, names) -> None:
    """Fig. 13 (examples): filter output maps of the most confident TP and TN."""
    predicted = y >= ctx.threshold
    for kind, pick in (("tp", np.argmax(np.where((labels == 1) & predicted, y, -1))),
                       ("tn", np.argmin(np.where((labels == 0) & ~predicted, y, 2)))):
        maps = probes.filter_maps(model, inputs[pick:pick + 1])[0][..., order]
        figs.plot_filter_maps(fields[pick], maps, ctx.figure(f"fig13_filter_maps_{kind}.png"),
                              ctx.note, filter_labels=names,
                              title=f"Pruned CNN filter outputs, example {kind.upper()} "
                                    f"(y = {y[pick]:.2f})")


def bipole_radii(section: "Interpret") -> np.ndarray:
    b = section.bipole
    return np.arange(0.0, b.radius_max_mm + 1e-9, b.radius_step_mm)


def _bipoles(ctx, model, mean, std, order, names) -> dict:
    """Figs. 14-16: synthetic bipoles through the pruned CNN (names: the filters' legend
    names, None: no figures)."""
    b = ctx.section.bipole
    radii, fields = bipole_radii(ctx.section), b.fields_g
    response = probes.bipole_response(model, radii, fields, mean, std)
    contrib = probes.bipole_contributions(model, radii, b.example_field_g, mean, std)[order]
    if names is not None:
        _bipole_figures(ctx, model, mean, std, order, names, radii, response, contrib)
    return {"radii_mm": radii.tolist(),
            "output": {f"{f:g}G": r.tolist() for f, r in zip(fields, response)},
            "characteristic_radius_mm": {f"{f:g}G": probes.characteristic_radius(radii, r)
                                         for f, r in zip(fields, response)},
            "filter_contributions_example_field": contrib.tolist()}


def _bipole_figures(ctx, model, mean, std, order, names, radii, response, contrib) -> None:
    """Figs. 14, 15 and 16 of one pruned network."""
    b = ctx.section.bipole
    figs.plot_bipole_response(radii, dict(zip(b.fields_g, response)),
                              ctx.figure("fig15_bipole_output.png"), ctx.note,
                              title="Pruned CNN output for synthetic bipoles",
                              threshold=ctx.threshold)
    example = probes.bipole_inputs([b.example_radius_mm], [b.example_field_g], mean, std)
    maps = probes.filter_maps(model, example)[0][..., order]
    figs.plot_filter_maps((example[0, ..., 0] * std + mean), maps,
                          ctx.figure("fig14_bipole_filter_maps.png"), ctx.note,
                          filter_labels=names,
                          title=f"Pruned CNN filter outputs for a {b.example_field_g:g} G, "
                                f"{b.example_radius_mm:g} Mm bipole")
    figs.plot_filter_response(radii, contrib, ctx.figure("fig16_bipole_filters.png"),
                              ctx.note, labels=names,
                              title=f"Pruned CNN filter contributions, "
                                    f"{b.example_field_g:g} G bipoles")


# --- Fig. 17: depth sweep ------------------------------------------------------------------

def depth_sweep(ctx: Context) -> dict:
    """Fig. 17: bipole response of unpruned CNNs of depth 2-8 on each fold of
    depth_sweep.folds (one network per depth and fold); the figure and the per-depth
    outputs are the first fold's, the characteristic radii are given for every fold."""
    sweep, radii = ctx.section.depth_sweep, bipole_radii(ctx.section)
    cells = [(fold, depth) for fold in sweep.folds for depth in sweep.depths]
    fanout.produce_runs([fanout.train_task(ctx.data, fold, _sweep_config(ctx, depth))
                         for fold, depth in cells], resolve_executor(), "depth sweep")
    by_fold = {fold: ({}, {}) for fold in sweep.folds}      # fold -> (responses, radii)
    with show_progress(cells, True, "depth sweep", "network") as bar:
        for fold, depth in bar:
            _sweep_depth(ctx, depth, fold, radii, *by_fold[fold])
    responses, radius = by_fold[sweep.folds[0]]
    figs.plot_depth_bipole(radii, responses, ctx.figure("fig17_depth_bipoles.png"), ctx.note,
                           threshold=ctx.threshold)
    return {"radii_mm": radii.tolist(), "folds": list(sweep.folds),
            "characteristic_radius_mm": radius,
            "characteristic_radius_mm_by_fold": {f"fold{fold}": r for fold, (_, r)
                                                 in by_fold.items()},
            "config": sweep.config, "max_filters": sweep.max_filters,
            "output": {f"depth{d}": {f"{f:g}G": r.tolist() for f, r in v.items()}
                       for d, v in responses.items()}}


def _sweep_config(ctx, depth: int) -> TrainConfig:
    """The depth sweep's schedule at one depth (filters capped where the cap bites)."""
    sweep = ctx.section.depth_sweep
    cap = sweep.max_filters
    caps = cap is not None and max(filter_counts(depth)) > cap
    return train_config(ctx.params, sweep.config, depth=depth,
                        max_filters=cap if caps else None)


def _sweep_depth(ctx, depth, fold, radii, responses, radius) -> None:
    b = ctx.section.bipole
    config = _sweep_config(ctx, depth)
    folder = run_folder(Path(ctx.models["own"]) / "depth_sweep", config, ctx.data.time_h,
                        fold)
    train_fold(ctx.data, fold, config, folder)    # depth-study's identical runs are reused
    mean, std = standardisation(folder)
    response = probes.bipole_response(load_model(folder), radii, b.fields_g,
                                         mean, std)
    responses[depth] = dict(zip(b.fields_g, response))
    radius[f"depth{depth}"] = {f"{f:g}G": probes.characteristic_radius(radii, r)
                               for f, r in zip(b.fields_g, response)}


# --- Fig. 18, Table 4: occlusion maps ------------------------------------------------------

def occlusion(ctx: Context) -> dict:
    """Fig. 18 / Table 4: output and occlusion maps recombined over each region's segments,
    for the validation regions of one fold (all of them, or the first regions_per_kind of
    each kind), each probed by the train-cv network that never saw it; the figure shows
    the first figure_regions_per_kind of each kind, the verdict rests on all."""
    occ = ctx.section.occlusion
    fold = ctx.section.fold
    folder = run_folder(ctx.models["train_cv"], train_config(ctx.params), ctx.data.time_h,
                        fold)
    model, (mean, std) = load_model(folder), standardisation(folder)
    val = ctx.samples[ctx.samples.fold == fold]
    regions = [rid for kind in ("CR", "EAR")
               for rid in sorted(val[val.kind == kind].region_id.unique())[
                   :occ.regions_per_kind]]
    panels, table4 = {}, []
    with show_progress(regions, True, "occlusion", "region") as bar:
        for rid in bar:
            panels[rid], row = region_maps(model, mean, std, ctx.data,
                                           val[val.region_id == rid], occ, ctx.threshold)
            table4.append(row)
    shown = [r["region"] for kind in ("CR", "EAR")
             for r in [r for r in table4 if r["kind"] == kind][:occ.figure_regions_per_kind]]
    figs.plot_occlusion_regions([panels[rid] for rid in shown],
                                ctx.figure("fig18_occlusion.png"), ctx.note,
                                title=f"CNN output and occlusion maps (Eqs. D7-D8), fold "
                                      f"{fold} validation regions, {occ.mask_px} px mask")
    return {"fold": fold, "regions": table4, "shown": shown,
            "summary": summarise_regions(table4, ctx.params.stats, ctx.params.seed,
                                         ctx.threshold)}


# --- Table 5: uniform polarity -------------------------------------------------------------

def uniform_polarity(ctx: Context, regions_dir: Path, segments_dir: Path):
    """Table 5: 5-fold TSS of CNNs trained on |B| (App. F); (summary, out-of-fold
    predictions of method abs_field)."""
    section = ctx.section.abs_field
    config = train_config(ctx.params, section.config, abs_field=True)
    data = load_time_bins(regions_dir, segments_dir, section.time_bins,
                          ctx.params.prepare.n_folds)
    results = cross_validate(data, config, Path(ctx.models["own"]) / "abs_field",
                             ctx.params.prepare.n_folds, "interpret",
                             ctx.source)           # child runs under the interpret parent
    return summarise(results), runs_table(data, results, "abs_field", config.threshold)
