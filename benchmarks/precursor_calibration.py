"""Calibrate (or check) the simulated precursor against its observable targets.

For one set of `simulate.emergence` parameters (params.yaml plus --set overrides), in a
work folder of its own: simulate the region store, prepare the segment sets (which scores
the MTOT discriminant analysis, `da_mtot_tss_mean`), and measure the targets written down
in docs/simulator.md ("Precursor models: calibration targets"):

* central-box |B| excess per time bin: mean |B| of the central 41 Mm box of each EAR minus
  the median over CRs of the same box (G); quartiles over EARs (real HMI, Kasapis et al.
  2025, 10 %-of-peak emergence: median 14.6 G at -3.2 h, quartiles 10-20 G; 5.4, 2.1, 1.1
  and 0.7 G at the earlier bins);
* the Fig. 3 composite: the average EAR at -3.2 h after the Hale flip of southern regions,
  its strongest positive and negative field in the central box (G; Fig. 3: ~ +-15 G);
* DA-MTOT TSS per time bin (paper: 65.8 +- 4.5 % at -3.2 h).

With --depths, it then trains the depth study at -3.2 h for those depths (the design goal
of issue 17: depth 1 at least 30 points below depth 5, depth 5 at least 5 above DA-MTOT).
Runs, MLflow and outputs stay in the work folder. Usage:

  .venv/bin/python benchmarks/precursor_calibration.py --work /tmp/cal1 \
      --set simulate.emergence.elements.flux_at_emergence_median_mx=8.0e+20 --depths 1 5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))          # this checkout's package, also in a copy


def overrides(assignments) -> dict:
    """The --set assignments (dotted.key=value, the value read as YAML) as
    core.config.with_overrides takes them."""
    changes = {}
    for text in assignments:
        key, _, value = text.partition("=")
        changes[key] = yaml.safe_load(value)
    return changes


def targets(regions_dir: Path, time_bins) -> dict:
    from preemergence.data.regionstore import load_region_store
    from preemergence.solar.precursor_check import precursor_stats
    return precursor_stats(load_region_store(regions_dir, time_bins))


def run(args) -> dict:
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    from preemergence.core.config import load_params, with_overrides
    changes = {**overrides(args.set), "prepare.data_docs": False}
    if args.depths:
        changes["depth_study.depths"] = args.depths
    params = with_overrides(load_params(ROOT / "params.yaml"), changes)
    (work / "params.yaml").write_text(yaml.safe_dump(params.model_dump(), sort_keys=False))
    env = {**os.environ, "PREEMERGENCE_RUN_STORE": str(work / "runs"),
           "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    common = ["--params", str(work / "params.yaml")]

    def cli(*words):
        subprocess.run(["preemergence", *words, *common], cwd=ROOT, env=env, check=True)
    if not (work / "regions").exists():
        cli("regions", "--out", str(work / "regions"), "--reports", str(work / "reports"))
    if not (work / "segments").exists():
        cli("prepare", "--regions", str(work / "regions"), "--out", str(work / "segments"),
            "--reports", str(work / "reports"))
    prepared = json.loads((work / "reports" / "prepare_metrics.json").read_text())
    result = {"set": args.set, "targets": targets(work / "regions", params.time_bins),
              "da_mtot_tss": {k: v["da_mtot_tss_mean"] for k, v in prepared.items()}}
    if args.depths:
        cli("depth-study", "--regions", str(work / "regions"), "--segments",
            str(work / "segments"), "--models", str(work / "models"), "--reports",
            str(work / "reports"), "--force")
        table = json.loads((work / "reports" / "depth_study_metrics.json").read_text())
        result["depth_tss"] = {k: v["tss_mean"] for k, v in table.items()}
    (work / "calibration.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--set", nargs="*", default=[], help="dotted.key=value overrides")
    parser.add_argument("--depths", type=int, nargs="*", default=[])
    result = run(parser.parse_args())
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
