"""Benchmark: why does the flux-only probe miss its rank criterion? (issue 25)

interpret-validate's flux_only set plants PE = NE plus a uniform excess of unsigned flux. Its
networks learn it (TSS as the MTOT discriminant's) and their output bins sort PE from NE,
but Spearman rho(output, MTOT) of the held-out windows is 0.87-0.88, under the fixed 0.9,
so the probe reads "not validated" (docs/prune-and-interpret.md). Hypothesis: the network
is linear up to its max-poolings and ends in a global max-pooling, so its output follows
the strongest filtered response in a window, not the window's total unsigned flux; the two
rank windows alike but not identically.

Test, on the networks interpret-validate trained (read from the run store; nothing is
trained here): for every held-out window, its MTOT (the criterion's statistic), sum B^2
(the noise energy), and the peak of |B| averaged over s x s px boxes (s = 1 is the
strongest pixel), and of |mean B| over the box (a smoothed signed field, as a linear filter
sees it); Spearman rho of the CNN output with each. The hypothesis holds if a peak
statistic ranks the output better than MTOT does. Writes flux_only_maxpool.json / .md to
--out (default reports/benchmarks).

Usage: python benchmarks/flux_only_maxpool.py [--out reports/benchmarks]
"""

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BOXES_PX = (1, 5, 9, 17, 33)
MTOT = "MTOT (sum |B|)"


def window_statistics(fields_g: np.ndarray) -> dict[str, np.ndarray]:
    """Per window (fields (n, h, w) in G): sum B^2 (G^2), and per box size s the peak of the
    box mean of |B| and of |box mean of B| (G). MTOT is the segment table's own."""
    from scipy.ndimage import uniform_filter
    stats = {"sum B^2": (fields_g.astype(float) ** 2).sum(axis=(1, 2))}
    for s in BOXES_PX:
        size = (1, s, s)
        stats[f"peak of |B| over {s} px boxes"] = uniform_filter(
            np.abs(fields_g), size, mode="nearest").max(axis=(1, 2))
        stats[f"peak of |mean B| over {s} px boxes"] = np.abs(uniform_filter(
            fields_g, size, mode="nearest")).max(axis=(1, 2))
    return stats


def finished_results(planted, config) -> list[dict]:
    """The flux_only networks' results from the run store; exit 2 if one is missing."""
    from preemergence.core.paths import run_store
    from preemergence.model.fanout import train_task
    from preemergence.model.runs import finished_run
    results = []
    for fold in range(planted.section.n_folds):
        key = train_task(planted.data, fold, config).key
        result = finished_run(run_store() / key, key)
        if result is None:
            print(f"{run_store() / key}: the flux_only network of fold {fold} is not in the "
                  "run store; run `dvc repro interpret-validate` first", file=sys.stderr)
            sys.exit(2)
        results.append(result)
    return results


def measure(params) -> dict:
    from scipy import stats as scipy_stats
    from preemergence.interpret.probes import crop_fields
    from preemergence.interpret.validate import planted_config, planted_set, predictions
    planted = planted_set("flux_only", params)
    rows = predictions(planted, finished_results(planted, planted_config(params)), "cnn")
    tiles = planted.data.table[planted.data.table.subset == "tile"]
    merged = rows.merge(tiles[["region_id", "x0", "y0", "mtot_mx"]],
                        on=["region_id", "x0", "y0"]).reset_index(drop=True)
    fields = crop_fields(planted.data, merged)
    output = merged.score.to_numpy()
    statistics = {MTOT: merged.mtot_mx.to_numpy(), **window_statistics(fields)}
    rho = {name: float(scipy_stats.spearmanr(output, values).statistic)
           for name, values in statistics.items()}
    rho_mtot = {name: float(scipy_stats.spearmanr(statistics[MTOT], values).statistic)
                for name, values in statistics.items()}
    return {"n_windows": int(len(merged)), "n_regions": int(merged.region_id.nunique()),
            **between_and_within(merged, output),
            "criterion_rho": rho[MTOT],
            "min_rank_correlation": params.interpret_validate.criteria.min_rank_correlation,
            "rho_with_output": rho, "rho_with_mtot": rho_mtot,
            "config": params.interpret_validate.config, "depth": params.depth}


def between_and_within(merged, output: np.ndarray) -> dict:
    """Where the rank order is lost: rho of the region means (output against MTOT), the
    median rho within a region over its windows, and the share of saturated outputs
    (within 1e-3 of 0 or 1, where the ranks are rounding) with rho on the others."""
    from scipy import stats as scipy_stats
    frame = merged.assign(output=output)
    means = frame.groupby("region_id")[["output", "mtot_mx"]].mean()
    within = [scipy_stats.spearmanr(g.output, g.mtot_mx).statistic
              for _, g in frame.groupby("region_id") if g.output.nunique() > 1]
    saturated = (output < 1e-3) | (output > 1 - 1e-3)
    rest = frame[~saturated]
    return {"rho_region_means": float(scipy_stats.spearmanr(means.output,
                                                            means.mtot_mx).statistic),
            "rho_within_region_median": float(np.median(within)),
            "rho_within_region_quartiles": [float(q) for q in np.quantile(within, [0.25, 0.75])],
            "saturated_share": float(saturated.mean()),
            "rho_unsaturated": float(scipy_stats.spearmanr(rest.output,
                                                           rest.mtot_mx).statistic)}


def markdown(result: dict) -> str:
    best = max(result["rho_with_output"], key=result["rho_with_output"].get)
    mtot = result["rho_with_output"][MTOT]
    holds = result["rho_with_output"][best] > mtot and best.startswith("peak")
    lines = ["# Flux-only probe: what the CNN output ranks windows by", "",
             f"Machine: {result['machine']}. Written by benchmarks/flux_only_maxpool.py (its "
             "docstring states the hypothesis and the test); reading in "
             "docs/prune-and-interpret.md.", "",
             f"The flux_only networks of interpret-validate (depth {result['depth']}, schedule "
             f"`{result['config']}`), every held-out window ({result['n_windows']} windows of "
             f"{result['n_regions']} regions), scored by the network of the fold that did not "
             f"see it. The probe's criterion: Spearman rho(output, MTOT) >= "
             f"{result['min_rank_correlation']:g}; measured {result['criterion_rho']:.3f}.", "",
             "| window statistic | rho with the CNN output | rho with MTOT |",
             "|---|---:|---:|"]
    for name, value in result["rho_with_output"].items():
        cell = name.replace("|", "\\|")                   # |B| inside a table cell
        lines.append(f"| {cell} | {value:.3f} | {result['rho_with_mtot'][name]:.3f} |")
    q1, q3 = result["rho_within_region_quartiles"]
    lines += ["", "Where the rank order is lost: rho of the region means (output against "
              f"MTOT) {result['rho_region_means']:.3f}; within a region, over its windows, "
              f"median rho {result['rho_within_region_median']:.3f} (quartiles {q1:.3f}, "
              f"{q3:.3f}); saturated outputs (within 1e-3 of 0 or 1) "
              f"{100 * result['saturated_share']:.1f} %, rho on the others "
              f"{result['rho_unsaturated']:.3f}."]
    lines += ["", f"Best ranked by the output: {best} (rho {result['rho_with_output'][best]:.3f}"
              f" against {mtot:.3f} for MTOT). The max-pooling hypothesis "
              + ("holds: a peak statistic ranks the output better than the total flux does."
                 if holds else "does not hold: no peak statistic ranks the output better "
                 "than the total flux does."), ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "benchmarks")
    args = parser.parse_args()
    from preemergence.core import hardware
    from preemergence.core.artifacts import atomic_write_text, write_json
    from preemergence.core.config import load_params
    result = {**measure(load_params(ROOT / "params.yaml")),
              "machine": hardware.describe().get("cpu", "?")}
    write_json(args.out / "flux_only_maxpool.json", result)
    atomic_write_text(args.out / "flux_only_maxpool.md", markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
