"""The interpret stage's metrics and plots: what MLflow, `dvc metrics show` and
`dvc plots show` read (interpret/report.py writes the report itself)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from preemergence.core.artifacts import read_json
from preemergence.core.paths import TRAIN_CV_METRICS
from preemergence.core.plotdata import with_series

if TYPE_CHECKING:
    from preemergence.core.schema import Params


def comparable_train_cv(params: "Params", reports_dir: Path) -> dict:
    """train-cv's metrics when they come from the |B| runs' schedule and depth, else {}."""
    signed = read_json(Path(reports_dir) / TRAIN_CV_METRICS) or {}
    same = (signed.get("config"), signed.get("depth")) == (
        params.interpret.abs_field.config, params.depth)
    return signed if same else {}


def finite_or_none(value):
    """NaN/inf -> None (null in JSON; strict JSON readers such as DVC's reject NaN)."""
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite_or_none(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def flat_numbers(metrics: dict) -> dict:
    """The scalar headline numbers for MLflow."""
    out = {f"table5_tss_mean_{k}": v["tss_mean"] for k, v in metrics["table5"].items()}
    for field, r in metrics["pruned"]["bipoles"]["characteristic_radius_mm"].items():
        if np.isfinite(r):
            out[f"pruned_char_radius_mm_{field}"] = r
    for depth, by_field in metrics["depth_sweep"]["characteristic_radius_mm"].items():
        for field, r in by_field.items():
            if np.isfinite(r):
                out[f"{depth}_char_radius_mm_{field}"] = r
    out["mean_mtot_predicted_pe_1e20mx"] = metrics["outputs"]["mean_mtot_predicted_pe_mx"] / 1e20
    return out


def summary_metrics(metrics: dict, checks: list[dict]) -> dict:
    """What `dvc metrics show` lists: Table 5, characteristic radii, the checks."""
    return {"time_h": metrics["time_h"], "table5": metrics["table5"],
            "pruned_characteristic_radius_mm": metrics["pruned"]["bipoles"][
                "characteristic_radius_mm"],
            "depth_characteristic_radius_mm": metrics["depth_sweep"][
                "characteristic_radius_mm"],
            "mean_mtot_predicted_pe_1e20mx": metrics["outputs"]["mean_mtot_predicted_pe_mx"]
            / 1e20,
            "findings": {c["id"]: c["verdict"] for c in checks},
            "probes_validated": {c["id"]: bool(c.get("probe_validated")) for c in checks}}


def bipole_rows(metrics: dict) -> pd.DataFrame:
    """CNN output against bipole radius per network and field (DVC plots: one panel per
    network, one line per field)."""
    b = metrics["pruned"]["bipoles"]
    rows = [{"network": "pruned", "field_g": f, "radius_mm": r, "output": y}
            for f, ys in b["output"].items() for r, y in zip(b["radii_mm"], ys)]
    rows += [{"network": depth, "field_g": f, "radius_mm": r, "output": y}
             for depth, by_field in metrics["depth_sweep"]["output"].items()
             for f, ys in by_field.items() for r, y in zip(b["radii_mm"], ys)]
    table = pd.DataFrame(rows)
    # "10 G" < "100 G" < "1000 G" as text too: Vega colours them in the order of the figures
    return with_series(table, table["field_g"].str.replace("G", " G"), table["network"])
