"""Fig. 12 on planted truth: the pruned network's filter contributions against MTOT.

The probe set ``flux_only_filters`` uses the flux_only set's data and networks (PE = NE
noise with a uniform excess of unsigned flux: the amount of flux is all a network can use)
and prunes each fold's network to ``prune.final_filters`` filters with the prune stage's own
procedure (model/prune_runs.prune_fold, schedule ``prune.schedule``; its first stage is the
planted network itself where the schedule's learning rate is the training configuration's,
as in the default and fast schedules). On every fold's held-out windows, filters ordered by
net score S_i, Fig. 12's criterion (binning.slopes_split_by_score) is read: the filters
voting PE contribute more as MTOT grows and those voting NE less. Nothing in the planted
truth fixes how many filters rise or fall with flux, so the set decides whether a network
that can only follow flux meets the criterion, not more. MTOT is binned over the held-out
windows' MTOT_PERCENTILES range in ``interpret.mtot_bins`` bins (``interpret.mtot_range_mx``
is the real Sun's range). The negative control prunes the random-label network of each
control fold the same way and reads its filters against the true labels: with linear convolutions and a
global max-pool, every filter's contribution w_i max(O_i) scales with the field's
amplitude with the sign of w_i (docs/prune-and-interpret.md).

Fig. 16 on planted truth, the same way: the probe set ``size_trend`` (EAR bipoles larger than
CR bipoles, one field distribution: the larger, the more likely PE up to 30 Mm) trains its
networks, prunes them as above and reads Fig. 16's criterion (binning.radius_correlations,
slopes_split_by_score) on 100 G bipoles, filters ordered by net score on each fold's
held-out windows; the pruned random-label network is the control.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from preemergence.interpret import figures as figs
from preemergence.interpret import probes
from preemergence.interpret.binning import (FIG16_MAX_RADIUS_MM, bin_centres, mtot_slopes,
                                            radius_correlations, slopes_split_by_score)
from preemergence.interpret.validate import (PlantedSet, control_record, load_run,
                                             planted_config, pooled_tss, predictions,
                                             random_label_runs, train_folds)
from preemergence.model.configs import prune_schedule
from preemergence.model.prune_runs import prune_fold
from preemergence.model.windows import standardise

MTOT_PERCENTILES = (5.0, 95.0)      # MTOT range of the bins: the held-out windows' own
FIGURE = "planted_flux_only_filters_vs_mtot.png"
RADIUS_FIGURE = "planted_size_trend_filters_vs_radius.png"


def prune_planted(planted: PlantedSet, data, config, folds) -> list[dict]:
    """Each fold's network of ``data`` pruned by the prune stage's procedure; the first
    stage is the planted network itself (reused from the run store)."""
    schedule = dataclasses.replace(prune_schedule(planted.params), first_epochs=config.epochs)
    return [prune_fold("pruned", data, k, config, schedule, None) for k in folds]


def mtot_range_mx(planted: PlantedSet) -> tuple[float, float]:
    """MTOT range (Mx) of the bins: MTOT_PERCENTILES of the held-out windows."""
    tiles = planted.data.table[planted.data.table.subset == "tile"]
    lo, hi = np.percentile(tiles.mtot_mx.to_numpy(), MTOT_PERCENTILES)
    return float(lo), float(hi)


def fold_slopes(planted: PlantedSet, result: dict, fold: int, range_mx: tuple[float, float],
                figures_dir: Path | None) -> dict:
    """Fig. 12 on one pruned network: its held-out windows (fold ``fold``, true labels),
    filters ordered by S_i; the slopes of <F_i> against MTOT (per 1e20 Mx), MTOT binned
    over range_mx (Mx)."""
    model, mean, std, rows, contrib, order = _held_out_filters(planted, result, fold)
    lo, hi = range_mx
    n_bins = planted.params.interpret.mtot_bins
    fig12 = mtot_slopes(rows.mtot_mx.to_numpy(), contrib[:, order], lo, hi, n_bins)
    if figures_dir is not None:
        figs.plot_filter_contribution_vs_mtot(
            bin_centres(lo, hi, n_bins), fig12["mean"], fig12["err"], figures_dir / FIGURE,
            f"data: planted set flux_only; {planted.data.time_h} h",
            labels=probes.filter_names(order, result["kept_filters"]),
            title=f"Planted flux only, pruned CNN (fold {fold}): filter contributions vs MTOT")
    return {"fold": fold, "slope_per_1e20_mx": fig12["slope_per_1e20_mx"],
            "split_by_score": slopes_split_by_score(fig12["slope_per_1e20_mx"])}


def _held_out_filters(planted: PlantedSet, result: dict, fold: int):
    """(model, mean, std, held-out rows of fold ``fold``, their F_i, filter order by net
    score S_i on the true labels) of a pruned network."""
    model, mean, std = load_run(result)
    table = planted.data.table
    rows = table[(table.subset == "tile") & (table.fold == fold)].reset_index(drop=True)
    inputs = standardise(probes.crop_fields(planted.data, rows), mean, std)
    contrib, _, order = probes.scored_filters(model, inputs, rows.label.to_numpy(),
                                              planted.threshold)
    return model, mean, std, rows, contrib, order


def fold_radius_trend(planted: PlantedSet, result: dict, fold: int, radii_mm,
                      figures_dir: Path | None) -> dict:
    """Fig. 16 on one pruned network: filters ordered by S_i on its held-out windows (true
    labels), the correlation of F_i with the radius (Mm) of example-field bipoles."""
    model, mean, std, _, _, order = _held_out_filters(planted, result, fold)
    field_g = planted.params.interpret.bipole.example_field_g
    contrib = probes.bipole_contributions(model, radii_mm, field_g, mean, std)[order]
    if figures_dir is not None:
        figs.plot_filter_response(radii_mm, contrib, figures_dir / RADIUS_FIGURE,
                                  f"data: planted set size_trend; {planted.data.time_h} h",
                                  labels=probes.filter_names(order, result["kept_filters"]),
                                  title=f"Planted size trend, pruned CNN (fold {fold}): "
                                        f"filter contributions, {field_g:g} G bipoles")
    correlations = radius_correlations(radii_mm, contrib)
    return {"fold": fold, "radius_correlation": correlations,
            "split_by_score": slopes_split_by_score(correlations)}


def filters_vs_radius(planted: PlantedSet, radii_mm, figures_dir: Path
                      ) -> tuple[dict, dict, object]:
    """The probe set size_trend: (measured, control, pooled TSS Interval of the pruned
    networks) for planted_probes.size_trend."""
    folds, control, tss, n_filters = _pruned_probe(
        planted, "size_trend", lambda result, fold, draw: fold_radius_trend(
            planted, result, fold, radii_mm, figures_dir if draw else None))
    measured = {"folds": folds, "field_g": planted.params.interpret.bipole.example_field_g,
                "max_radius_mm": FIG16_MAX_RADIUS_MM, "n_filters": n_filters}
    return measured, control, tss


def filters_vs_mtot(planted: PlantedSet, figures_dir: Path) -> tuple[dict, dict, object]:
    """The probe set flux_only_filters: (measured, control, pooled TSS Interval of the
    pruned networks) for planted_probes.flux_only_filters."""
    range_mx = mtot_range_mx(planted)
    folds, control, tss, n_filters = _pruned_probe(       # flux_only's networks, reused
        planted, "flux_only", lambda result, fold, draw: fold_slopes(
            planted, result, fold, range_mx, figures_dir if draw else None))
    measured = {"folds": folds, "mtot_range_mx": list(range_mx), "n_filters": n_filters}
    return measured, control, tss


def _pruned_probe(planted: PlantedSet, label: str, read) -> tuple[list, dict, object, int]:
    """A pruned-filter probe: the set's networks (trained, or reused from the run store)
    pruned by the prune stage's procedure and read(result, fold, draw) on each fold (draw:
    its figure, fold 0), then the pruned random-label networks of the control folds, the
    control, read the same way on their folds. (fold records, control record, pooled TSS Interval of the pruned
    networks, filters kept)."""
    config = planted_config(planted.params)
    n = planted.section.n_folds
    train_folds(planted.data, config, n, label)
    pruned = prune_planted(planted, planted.data, config, range(n))
    folds = [read(result, k, k == 0) for k, result in enumerate(pruned)]
    shuffled, _ = random_label_runs(planted, config)
    control_folds = planted.section.control_folds
    controls = [read(run, k, False) for k, run in
                zip(control_folds, prune_planted(planted, shuffled, config, control_folds))]
    return (folds, control_record([{**c, "finds_planted": c["split_by_score"]}
                                   for c in controls]),
            pooled_tss(planted, predictions(planted, pruned, "pruned")),
            len(pruned[0]["kept_filters"]))
