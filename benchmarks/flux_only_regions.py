"""Benchmark: does the flux-only probe fail for want of training regions? (issue 25)

interpret-validate's flux_only set plants PE = NE plus a uniform excess of unsigned flux, so
the CNN should do no better and no worse than the MTOT discriminant. At the default size
(interpret_validate.n_ear = n_cr = 40, 2 region folds, so each network trains on 20 EARs +
20 CRs) the CNN scored 13.7 TSS points below the discriminant, interval excluding 0, and the
probe was "not validated". Hypothesis: the CNN fits the textures of its few training regions
where the discriminant fits one threshold. This reruns only the flux_only set at several
region counts, everything else as params.yaml, with the fixed criterion unchanged, and
writes the CNN's TSS, CNN - DA with its interval, Spearman rho(output, MTOT) and the verdict
for each count to flux_only_regions.json / .md in --out.

Networks go to the run store (models/runs or $PREEMERGENCE_RUN_STORE): a rerun reuses them.
Usage: python benchmarks/flux_only_regions.py [--regions 40 120] [--out reports/benchmarks]
"""

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_size(params, n_regions: int, figures: Path) -> dict:
    from preemergence.core.config import with_overrides
    from preemergence.interpret.experiments import bipole_radii
    from preemergence.interpret.planted_probes import validate_all
    sized = with_overrides(params, {"interpret_validate.sets": ["flux_only"],
                                    "interpret_validate.n_ear": n_regions,
                                    "interpret_validate.n_cr": n_regions})
    start = time.monotonic()
    record = validate_all(sized, bipole_radii(sized.interpret), figures)["flux_only"]
    m = record["measured"]
    return {"regions_per_kind": n_regions,
            "training_regions_per_network": n_regions // sized.interpret_validate.n_folds,
            "cnn_tss": record["tss"], "cnn_minus_da_mtot": m["cnn_minus_da_mtot"],
            "spearman_output_mtot": m["spearman_output_mtot"],
            "output_bins_sorted": m["output_bins_sorted"],
            "criterion": record["criterion"],
            "control_finds_planted": record["control"]["finds_planted"],
            "probe_validated": record["passed"], "wall_s": round(time.monotonic() - start)}


def markdown(result: dict) -> str:
    pct = lambda v: f"{100 * v:+.1f}"                                      # noqa: E731
    lines = ["# Flux-only probe against the number of training regions", "",
             f"Machine: {result['machine']}. Written by benchmarks/flux_only_regions.py; "
             "reading in docs/prune-and-interpret.md (\"The flux-only probe and the number "
             "of regions\").", "",
             f"Criterion (fixed before any run): {result['rows'][0]['criterion']}.", "",
             "| regions per kind | training regions per network | CNN TSS (%) | "
             "CNN − DA MTOT (points) [95 % interval] | Spearman ρ | output bins sorted | "
             "probe validated |",
             "|---|---|---|---|---|---|---|"]
    for row in result["rows"]:
        d = row["cnn_minus_da_mtot"]
        lines.append(f"| {row['regions_per_kind']} | {row['training_regions_per_network']} "
                     f"+ {row['training_regions_per_network']} | "
                     f"{100 * row['cnn_tss']['estimate']:.1f} | {pct(d['estimate'])} "
                     f"[{pct(d['low'])}, {pct(d['high'])}] | "
                     f"{row['spearman_output_mtot']:.2f} | "
                     f"{'yes' if row['output_bins_sorted'] else 'no'} | "
                     f"{'yes' if row['probe_validated'] else 'no'} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, nargs="+", default=[40, 120])
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "benchmarks")
    args = parser.parse_args()
    from preemergence.core import hardware
    from preemergence.core.artifacts import atomic_write_text, write_json
    from preemergence.core.config import load_params
    params = load_params(ROOT / "params.yaml")
    rows = []
    with tempfile.TemporaryDirectory() as figures:
        for n in args.regions:
            rows.append(run_size(params, n, Path(figures)))
            print(json.dumps(rows[-1]), flush=True)
    result = {"machine": f"{hardware.cpu_name()}, {os.cpu_count()} cores", "rows": rows}
    write_json(args.out / "flux_only_regions.json", result)
    atomic_write_text(args.out / "flux_only_regions.md", markdown(result))


if __name__ == "__main__":
    main()
