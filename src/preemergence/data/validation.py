"""Data-quality gate for segment tables (Great Expectations 1.x).

A segment table holds one row per window of one time bin (see SCIENCE.md, "Data model"):
``region_id, kind, time_h, subset, x0, y0, label, fold, mtot_mx, dm_mx_mm``.
``subset`` is ``'sample'`` for training / cross-validation samples and ``'tile'`` for the
9 evaluation tiles of every region.

:func:`validate_segment_table` adds the derived columns to a copy of the table and runs the
expectation suite of ``data.expectations`` over it; the result is condensed into a
:class:`ValidationReport`.

Public API: :func:`validate_segment_table`, :class:`ValidationReport`, :func:`save_report`,
:func:`require_valid`, :class:`ValidationFailed`.
"""

from __future__ import annotations

import copy
import json
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from preemergence.core.artifacts import atomic_write_text
from preemergence.core.errors import ValidationFailed
from preemergence.core.constants import TIME_BINS_H
from preemergence.core.profiling import timed

__all__ = [
    "REQUIRED_COLUMNS",
    "ValidationFailed",
    "ValidationReport",
    "require_valid",
    "save_report",
    "validate_segment_table",
]

from preemergence.data.expectations import (INDEX_COLUMNS, REQUIRED_COLUMNS, build_suite,
                                           derive_columns, import_gx)

_N_EXAMPLES = 3
_N_CANDIDATES = 500   # offending rows fetched to pick examples from distinct regions



@dataclass
class ValidationReport:
    """Condensed outcome of validating one segment table.

    ``failed`` holds one readable line per failed expectation; ``results`` one compact dict per
    expectation (type, column(s), rule, success, unexpected count, examples / observed value).
    """

    name: str
    success: bool
    failed: list[str] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    n_rows: int = 0
    elapsed_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """A compact JSON-serialisable summary (not GX's raw result)."""
        return {
            "suite": f"segment_table[{self.name}]",
            "name": self.name,
            "success": bool(self.success),
            "n_rows": int(self.n_rows),
            "n_expectations": len(self.results),
            "n_failed": sum(not r["success"] for r in self.results),
            "failed": list(self.failed),
            "expectations": [_jsonable(r) for r in self.results],
        }


def save_report(report: ValidationReport, path) -> Path:
    """Write ``report.to_json()`` to ``path`` atomically (temp file + os.replace)."""
    return atomic_write_text(path, json.dumps(report.to_json(), indent=2) + "\n")


def require_valid(report: ValidationReport, details: Path | None = None) -> ValidationReport:
    """Return ``report`` if it passed, otherwise raise :class:`ValidationFailed` (one line;
    ``details``: where the full validation results were written)."""
    if report.success:
        return report
    shown = report.failed[:3] or ["(no expectation details)"]
    more = len(report.failed) - len(shown)
    msg = f"segment table {report.name} failed validation: " + "; ".join(shown)
    if more > 0:
        msg += f"; (+{more} more failed expectations)"
    if details is not None:
        msg += f" (details in {details})"
    raise ValidationFailed(msg.replace("\n", " "))


@timed("Great Expectations")
def validate_segment_table(table: pd.DataFrame, *, pe_per_ear: int, ne_per_ear: int,
                           ne_per_cr: int, n_folds: int, name: str,
                           time_bins=TIME_BINS_H) -> ValidationReport:
    """Validate one segment table (one time bin) against the data-model rules with GX.

    ``time_bins`` lists the configured time bins (h); time_h must be one of them.

    ``name`` labels the table in messages (e.g. ``'t-3.2h'``). Returns a
    :class:`ValidationReport`; use :func:`require_valid` to turn failure into an exception.
    """
    t_start = time.perf_counter()
    gx = import_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    frame = table if missing else derive_columns(table, time_bins)

    suite = build_suite(gx, f"segment_table_{name}", pe_per_ear=pe_per_ear,
                         ne_per_ear=ne_per_ear, ne_per_cr=ne_per_cr, n_folds=n_folds,
                         schema_only=bool(missing))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False,
                                                             metric_calculations=False)
        source = context.data_sources.add_pandas(name="segments")
        asset = source.add_dataframe_asset(name="segment_table")
        batch_def = asset.add_batch_definition_whole_dataframe("whole_table")

        def run(suite_, vname, result_format):
            suite_ = context.suites.add(suite_)
            vdef = context.validation_definitions.add(
                gx.ValidationDefinition(name=vname, data=batch_def, suite=suite_))
            return vdef.run(batch_parameters={"dataframe": frame}, result_format=result_format)

        # Pass 1: the whole suite with BASIC results (counts; cheapest format that has them).
        raw = run(suite, "segment_table_validation",
                  {"result_format": "BASIC", "partial_unexpected_count": _N_EXAMPLES})
        results = {_idx(r): _summarise(r) for r in raw.results}
        _add_examples(gx, run, raw, results, frame, name)

    results = [results[k] for k in sorted(results)]   # report in suite order
    failed = [_describe(r) for r in results if not r["success"]]
    if missing:
        failed.insert(0, f"missing required columns {missing}; rule checks skipped")
    return ValidationReport(name=name, success=bool(raw.success) and not missing, failed=failed,
                            results=results, n_rows=len(table),
                            elapsed_s=time.perf_counter() - t_start)


def _add_examples(gx, run, raw, results: dict, frame: pd.DataFrame, name: str) -> None:
    """Pass 2: only the failed row-wise expectations, with SUMMARY results, whose
    partial_unexpected_index_list points at offending rows (GX's own
    unexpected_index_column_names is avoided: it lists *every* unexpected row)."""
    redo = [copy.copy(r.expectation_config.to_domain_obj()) for r in raw.results
            if not r.success and "unexpected_count" in (r.result or {})]
    if not redo:
        return
    for e in redo:
        e.id = None
    detail = run(gx.ExpectationSuite(name=f"segment_table_{name}_detail", expectations=redo),
                 "segment_table_detail",
                 {"result_format": "SUMMARY", "partial_unexpected_count": _N_CANDIDATES})
    for r in detail.results:
        idx = (r.result or {}).get("partial_unexpected_index_list") or []
        if _idx(r) in results and idx:
            results[_idx(r)]["examples"] = _row_examples(
                frame, idx, _columns_of(r.expectation_config.kwargs))


def _idx(res) -> int:
    return int((res.expectation_config.meta or {}).get("_idx", 10**6))


def _columns_of(kwargs: dict) -> list[str]:
    if "column" in kwargs:
        return [kwargs["column"]]
    if "column_A" in kwargs:
        return [kwargs["column_A"], kwargs["column_B"]]
    return list(kwargs.get("column_list", []))


def _row_examples(frame: pd.DataFrame, index: list, columns: list[str]) -> list[dict]:
    """Up to _N_EXAMPLES offending rows (distinct regions first) as small dicts."""
    cols = list(dict.fromkeys([c for c in columns + INDEX_COLUMNS if c in frame.columns]))
    rows = frame.loc[[i for i in index if i in frame.index], cols]
    if "region_id" in rows.columns:
        first = ~rows["region_id"].duplicated()
        rows = pd.concat([rows[first], rows[~first]])
    return [_jsonable(rec) for rec in rows.head(_N_EXAMPLES).to_dict(orient="records")]


# --------------------------------------------------------------------------------------
# Result condensation
# --------------------------------------------------------------------------------------

def _summarise(res) -> dict[str, Any]:
    """Compact dict of one GX ExpectationValidationResult."""
    cfg = res.expectation_config
    meta = cfg.meta or {}
    out: dict[str, Any] = {
        "type": cfg.type,
        "column": _column_label(dict(cfg.kwargs)),
        "rule": meta.get("rule", ""),
        "success": bool(res.success),
    }
    if meta.get("where"):
        out["where"] = meta["where"]
    r = res.result or {}
    if "observed_value" in r:   # aggregate expectation (table / distinct values / counts)
        obs = r.get("observed_value")
        if obs is not None and (not res.success or np.isscalar(obs)):
            out["observed_value"] = _short(obs)
        if not res.success:
            if r.get("partial_unexpected_list"):
                out["unexpected_values"] = _short(r["partial_unexpected_list"])
            if r.get("partial_missing_list"):
                out["missing_values"] = _short(r["partial_missing_list"])
    elif "unexpected_count" in r:   # row-wise (map) expectation
        out["unexpected_count"] = int(r.get("unexpected_count") or 0)
        out["element_count"] = int(r.get("element_count") or 0)
        if not res.success and r.get("partial_unexpected_list"):
            out["examples"] = [_jsonable(v) for v in r["partial_unexpected_list"][:_N_EXAMPLES]]
    exc = res.exception_info or {}
    if isinstance(exc, dict) and exc.get("raised_exception"):
        out["exception"] = str(exc.get("exception_message", ""))[:300]
    return out


def _column_label(kwargs: dict) -> str:
    if "column" in kwargs:
        return str(kwargs["column"])
    if "column_A" in kwargs:
        return f"{kwargs['column_A']},{kwargs['column_B']}"
    if "column_list" in kwargs:
        return ",".join(map(str, kwargs["column_list"]))
    return "table"


def _describe(r: dict[str, Any]) -> str:
    """One readable line for a failed expectation."""
    head = f"{r['type']}({r['column']}) [{r['rule']}]"
    if "exception" in r:
        return f"{head}: raised {r['exception']}"
    if "unexpected_count" in r:
        text = f"{head}: {r['unexpected_count']} unexpected"
        if r.get("examples"):
            text += " (e.g. " + ", ".join(_fmt_example(e) for e in r["examples"]) + ")"
        return text
    parts = []
    if "observed_value" in r:
        parts.append(f"observed {r['observed_value']!r}")
    if r.get("unexpected_values"):
        parts.append(f"unexpected values {r['unexpected_values']}")
    if r.get("missing_values"):
        parts.append(f"missing values {r['missing_values']}")
    return f"{head}: " + ("; ".join(parts) or "failed")


def _fmt_example(e) -> str:
    if isinstance(e, dict):
        return "{" + " ".join(f"{k}={v}" for k, v in e.items()) + "}"
    return repr(e)


def _short(value, limit: int = 20):
    value = _jsonable(value)
    if isinstance(value, list) and len(value) > limit:
        return value[:limit] + [f"... ({len(value) - limit} more)"]
    return value


def _jsonable(value):
    """Recursively convert numpy / pandas scalars and containers to plain JSON types."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else str(f)
    if value is None or isinstance(value, str):
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)
