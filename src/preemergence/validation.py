"""Data-quality gate for segment tables (Great Expectations 1.x).

A segment table holds one row per window of one time bin (see SCIENCE.md, "Data model"):
``region_id, kind, time_h, subset, x0, y0, label, fold, mtot_mx, dm_mx_mm``.
``subset`` is ``'sample'`` for training / cross-validation samples and ``'tile'`` for the
9 evaluation tiles of every region.

The geometric and per-region rules cannot be written as plain single-column expectations, so
:func:`validate_segment_table` first adds *derived columns* to a copy of the table, computed
with :mod:`preemergence.geometry` (``contains_box``, ``overlaps_box``, ``inside_region``,
``tile_origin_ok``, per-region sample / tile / fold counts, per-fold region counts, ...),
and then runs one GX expectation suite (with row conditions where a rule applies to a subset
of rows) over that frame. The result is condensed into a :class:`ValidationReport`.

Public API: :func:`validate_segment_table`, :class:`ValidationReport`, :func:`save_report`,
:func:`require_valid`, :class:`ValidationFailed`.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import geometry
from .artifacts import atomic_write_text
from .constants import KINDS, MTOT_MAX_MX, TILE_ORIGINS_PX, TIME_BIN_TOLERANCE_H, TIME_BINS_H

__all__ = [
    "REQUIRED_COLUMNS",
    "ValidationFailed",
    "ValidationReport",
    "require_valid",
    "save_report",
    "validate_segment_table",
]

REQUIRED_COLUMNS = ("region_id", "kind", "time_h", "subset", "x0", "y0", "label", "fold",
                    "mtot_mx", "dm_mx_mm")
SUBSETS = ("sample", "tile")
TILES_PER_REGION = len(TILE_ORIGINS_PX) ** 2
_CENTRAL_TILE = TILE_ORIGINS_PX[len(TILE_ORIGINS_PX) // 2]   # 85
_INDEX_COLUMNS = ["region_id", "subset", "x0", "y0"]   # identify a row in failure examples
_N_EXAMPLES = 3
_N_CANDIDATES = 500   # offending rows fetched to pick examples from distinct regions
_INT_TYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
              "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64"]

_GX = None   # lazily imported great_expectations module (import takes seconds)


class ValidationFailed(Exception):
    """Raised by :func:`require_valid` when a segment table breaks a data-model rule."""


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


def require_valid(report: ValidationReport) -> ValidationReport:
    """Return ``report`` if it passed, otherwise raise :class:`ValidationFailed` (one line)."""
    if report.success:
        return report
    shown = report.failed[:3] or ["(no expectation details)"]
    more = len(report.failed) - len(shown)
    msg = f"segment table {report.name} failed validation: " + "; ".join(shown)
    if more > 0:
        msg += f"; (+{more} more failed expectations)"
    raise ValidationFailed(msg.replace("\n", " "))


# --------------------------------------------------------------------------------------
# Derived columns
# --------------------------------------------------------------------------------------

def derive_columns(table: pd.DataFrame, time_bins=TIME_BINS_H) -> pd.DataFrame:
    """Copy of ``table`` (required columns only) with the derived rule columns added.

    Geometry: ``contains_box``, ``overlaps_box``, ``inside_region`` (from
    :mod:`preemergence.geometry`), ``tile_origin_ok``, ``tile_expected_label``.
    Per region (broadcast to every row of the region): ``region_n_pe`` / ``region_n_ne``
    (PE / NE *sample* rows), ``region_n_tiles``, ``region_n_folds``, ``region_n_kinds``.
    Per fold: ``fold_n_ear`` / ``fold_n_cr`` (distinct EAR / CR regions). Physics:
    ``mtot_finite``, ``dm_finite``; ``time_bin_known`` (time_h is one of TIME_BINS_H).
    """
    df = table.loc[:, list(REQUIRED_COLUMNS)].reset_index(drop=True)   # a new frame (copy)

    x0 = pd.to_numeric(df["x0"], errors="coerce").to_numpy(dtype=float)
    y0 = pd.to_numeric(df["y0"], errors="coerce").to_numpy(dtype=float)
    df["contains_box"] = geometry.contains_box(x0, y0)
    df["overlaps_box"] = geometry.overlaps_box(x0, y0)
    df["inside_region"] = geometry.inside_region(x0, y0)
    tile_set = np.asarray(TILE_ORIGINS_PX, dtype=float)
    df["tile_origin_ok"] = np.isin(x0, tile_set) & np.isin(y0, tile_set)
    is_ear = (df["kind"] == "EAR").to_numpy(dtype=bool)
    df["tile_expected_label"] = (is_ear & (x0 == _CENTRAL_TILE)
                                 & (y0 == _CENTRAL_TILE)).astype(np.int64)

    is_sample = (df["subset"] == "sample").to_numpy(dtype=bool)
    is_tile = (df["subset"] == "tile").to_numpy(dtype=bool)
    label = pd.to_numeric(df["label"], errors="coerce").to_numpy(dtype=float)
    rid = df["region_id"].astype(object).where(df["region_id"].notna(), "<null>")
    helper = pd.DataFrame({
        "rid": rid.to_numpy(),
        "pe": (is_sample & (label == 1)).astype(np.int64),
        "ne": (is_sample & (label == 0)).astype(np.int64),
        "tile": is_tile.astype(np.int64),
        "fold": df["fold"].to_numpy(),
        "kind": df["kind"].astype(object).to_numpy(),
    })
    grp = helper.groupby("rid", sort=False)
    df["region_n_pe"] = grp["pe"].transform("sum").to_numpy(dtype=np.int64)
    df["region_n_ne"] = grp["ne"].transform("sum").to_numpy(dtype=np.int64)
    df["region_n_tiles"] = grp["tile"].transform("sum").to_numpy(dtype=np.int64)
    df["region_n_folds"] = grp["fold"].transform(
        lambda s: s.nunique(dropna=False)).to_numpy(dtype=np.int64)
    df["region_n_kinds"] = grp["kind"].transform(
        lambda s: s.nunique(dropna=False)).to_numpy(dtype=np.int64)

    regions = helper.drop_duplicates(["rid", "fold", "kind"])
    per_fold = regions.groupby("fold", dropna=False)["kind"]
    n_ear = per_fold.agg(lambda s: int((s == "EAR").sum()))
    n_cr = per_fold.agg(lambda s: int((s == "CR").sum()))
    df["fold_n_ear"] = helper["fold"].map(n_ear).fillna(0).to_numpy(dtype=np.int64)
    df["fold_n_cr"] = helper["fold"].map(n_cr).fillna(0).to_numpy(dtype=np.int64)

    mtot = pd.to_numeric(df["mtot_mx"], errors="coerce").to_numpy(dtype=float)
    dm = pd.to_numeric(df["dm_mx_mm"], errors="coerce").to_numpy(dtype=float)
    df["mtot_finite"] = np.isfinite(mtot)
    df["dm_finite"] = np.isfinite(dm)
    t = pd.to_numeric(df["time_h"], errors="coerce").to_numpy(dtype=float)
    df["time_bin_known"] = np.any(
        np.abs(t[:, None] - np.asarray(time_bins, dtype=float)[None, :]) <= TIME_BIN_TOLERANCE_H, axis=1)
    return df


# --------------------------------------------------------------------------------------
# Expectation suite
# --------------------------------------------------------------------------------------

def _import_gx():
    """Import great_expectations once, with analytics off and its logging / warnings quiet."""
    global _GX
    if _GX is None:
        # GX Core reads GX_ANALYTICS_ENABLED (docs "Toggle analytics events"); set it before
        # the import so no usage events are ever sent, whatever the installed version does.
        os.environ["GX_ANALYTICS_ENABLED"] = "False"
        for name in ("great_expectations", "great_expectations.core",
                     "great_expectations.data_context", "great_expectations.expectations"):
            logging.getLogger(name).setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import great_expectations as gx
        _GX = gx
    return _GX


def _build_suite(gx, name: str, *, pe_per_ear: int, ne_per_ear: int, ne_per_cr: int,
                 n_folds: int, schema_only: bool):
    """The expectation suite; each expectation carries its rule text in ``meta['rule']``."""
    E = gx.expectations

    def rule(text):
        return {"rule": text}

    exps = [
        E.ExpectTableColumnsToMatchSet(column_set=list(REQUIRED_COLUMNS), exact_match=False,
                                       meta=rule("all required columns present")),
    ]
    if not schema_only:
        exps += _rule_expectations(E, rule, pe_per_ear=pe_per_ear, ne_per_ear=ne_per_ear,
                                   ne_per_cr=ne_per_cr, n_folds=n_folds)
    for i, e in enumerate(exps):   # suite position + readable row condition for the report
        e.meta = {**(e.meta or {}), "_idx": i}
        cond = getattr(e, "row_condition", None)
        if cond is not None:
            e.meta["where"] = repr(cond)
    return gx.ExpectationSuite(name=name, expectations=exps)


def _rule_expectations(E, rule, *, pe_per_ear: int, ne_per_ear: int, ne_per_cr: int,
                       n_folds: int) -> list:
    """All data-model rules, on the raw and the derived columns (see derive_columns)."""
    from great_expectations.expectations.row_conditions import Column as C

    sample, tile = C("subset") == "sample", C("subset") == "tile"
    ear, cr = C("kind") == "EAR", C("kind") == "CR"
    pe, ne = C("label") == 1, C("label") == 0

    exps = [
        E.ExpectTableRowCountToBeBetween(min_value=1, meta=rule("table is not empty")),
    ]
    # GX map expectations skip nulls, so nulls are checked explicitly; nulls in time_h, x0, y0,
    # mtot_mx, dm_mx_mm already fail time_bin_known / inside_region / *_finite below.
    exps += [E.ExpectColumnValuesToNotBeNull(column=c, meta=rule(f"{c} must not be null"))
             for c in ("region_id", "kind", "subset", "label", "fold")]
    exps += [E.ExpectColumnValuesToBeInTypeList(column=c, type_list=_INT_TYPES,
                                                meta=rule(f"{c} must be an integer column"))
             for c in ("x0", "y0", "label", "fold")]
    exps += [
        # categorical values
        E.ExpectColumnValuesToBeInSet(column="kind", value_set=list(KINDS),
                                      meta=rule("kind must be EAR or CR")),
        E.ExpectColumnValuesToBeInSet(column="subset", value_set=list(SUBSETS),
                                      meta=rule("subset must be 'sample' or 'tile'")),
        E.ExpectColumnValuesToBeInSet(column="label", value_set=[0, 1],
                                      meta=rule("label must be 0 (NE) or 1 (PE)")),
        # time bin
        E.ExpectColumnUniqueValueCountToBeBetween(column="time_h", min_value=1, max_value=1,
                                                  meta=rule("one time bin per table")),
        E.ExpectColumnValuesToBeInSet(column="time_bin_known", value_set=[True],
                                      meta=rule("time_h must be one of the configured time bins")),
        # window geometry
        E.ExpectColumnValuesToBeInSet(column="inside_region", value_set=[True],
                                      meta=rule("windows must lie inside the 256x256 map "
                                                "(0 <= x0, y0 <= 171)")),
        E.ExpectColumnValuesToBeInSet(column="kind", value_set=["EAR"], row_condition=sample & pe,
                                      meta=rule("PE samples must come from EARs")),
        E.ExpectColumnValuesToBeInSet(column="contains_box", value_set=[True],
                                      row_condition=sample & pe,
                                      meta=rule("PE windows must contain the emergence box")),
        E.ExpectColumnValuesToBeInSet(column="overlaps_box", value_set=[False],
                                      row_condition=sample & ne & ear,
                                      meta=rule("EAR NE windows must not overlap the "
                                                "emergence box")),
        # per-region sample counts
        E.ExpectColumnValuesToBeInSet(column="region_n_pe", value_set=[pe_per_ear],
                                      row_condition=ear,
                                      meta=rule(f"each EAR has exactly {pe_per_ear} PE samples")),
        E.ExpectColumnValuesToBeInSet(column="region_n_ne", value_set=[ne_per_ear],
                                      row_condition=ear,
                                      meta=rule(f"each EAR has exactly {ne_per_ear} NE samples")),
        E.ExpectColumnValuesToBeInSet(column="region_n_ne", value_set=[ne_per_cr],
                                      row_condition=cr,
                                      meta=rule(f"each CR has exactly {ne_per_cr} NE samples")),
        E.ExpectColumnValuesToBeInSet(column="region_n_kinds", value_set=[1],
                                      meta=rule("a region has a single kind")),
        # evaluation tiles
        E.ExpectColumnValuesToBeInSet(column="region_n_tiles", value_set=[TILES_PER_REGION],
                                      meta=rule(f"each region has exactly {TILES_PER_REGION} "
                                                "evaluation tiles")),
        E.ExpectColumnValuesToBeInSet(column="tile_origin_ok", value_set=[True],
                                      row_condition=tile,
                                      meta=rule("tile origins must be x0, y0 in "
                                                f"{{{', '.join(map(str, TILE_ORIGINS_PX))}}}")),
        E.ExpectColumnPairValuesToBeEqual(column_A="label", column_B="tile_expected_label",
                                          row_condition=tile,
                                          meta=rule("tile label is 1 only for the central tile "
                                                    "of an EAR")),
        E.ExpectCompoundColumnsToBeUnique(column_list=list(_INDEX_COLUMNS), row_condition=tile,
                                          meta=rule("no duplicate tiles per region")),
        # folds
        E.ExpectColumnValuesToBeInSet(column="fold", value_set=list(range(n_folds)),
                                      meta=rule(f"fold must be in [0, {n_folds})")),
        E.ExpectColumnDistinctValuesToEqualSet(
            column="fold", value_set=list(range(n_folds)),
            meta=rule(f"the folds present are exactly 0..{n_folds - 1}")),
        E.ExpectColumnValuesToBeInSet(column="region_n_folds", value_set=[1],
                                      meta=rule("every region lies in exactly one fold")),
        E.ExpectColumnValuesToBeBetween(column="fold_n_ear", min_value=1,
                                        meta=rule("every fold contains EARs")),
        E.ExpectColumnValuesToBeBetween(column="fold_n_cr", min_value=1,
                                        meta=rule("every fold contains CRs")),
        # physical quantities
        E.ExpectColumnValuesToBeInSet(column="mtot_finite", value_set=[True],
                                      meta=rule("MTOT must be finite")),
        E.ExpectColumnValuesToBeBetween(column="mtot_mx", min_value=0.0, max_value=MTOT_MAX_MX,
                                        meta=rule(f"MTOT must lie in [0, {MTOT_MAX_MX:.0e}] Mx")),
        E.ExpectColumnValuesToBeInSet(column="dm_finite", value_set=[True],
                                      meta=rule("DM must be finite")),
        E.ExpectColumnValuesToBeBetween(column="dm_mx_mm", min_value=0.0,
                                        meta=rule("DM must be >= 0")),
    ]
    return exps


def validate_segment_table(table: pd.DataFrame, *, pe_per_ear: int, ne_per_ear: int,
                           ne_per_cr: int, n_folds: int, name: str,
                           time_bins=TIME_BINS_H) -> ValidationReport:
    """Validate one segment table (one time bin) against the data-model rules with GX.

    ``time_bins`` lists the configured time bins (h); time_h must be one of them.

    ``name`` labels the table in messages (e.g. ``'t-3.2h'``). Returns a
    :class:`ValidationReport`; use :func:`require_valid` to turn failure into an exception.
    """
    t_start = time.perf_counter()
    gx = _import_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    frame = table if missing else derive_columns(table, time_bins)

    suite = _build_suite(gx, f"segment_table_{name}", pe_per_ear=pe_per_ear,
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
        # Pass 2: only the failed row-wise expectations, with SUMMARY results, whose
        # partial_unexpected_index_list points at offending rows (GX's own
        # unexpected_index_column_names is avoided: it lists *every* unexpected row).
        redo = [copy.copy(r.expectation_config.to_domain_obj()) for r in raw.results
                if not r.success and "unexpected_count" in (r.result or {})]
        if redo:
            for e in redo:
                e.id = None
            detail = run(gx.ExpectationSuite(name=f"segment_table_{name}_detail",
                                             expectations=redo),
                         "segment_table_detail",
                         {"result_format": "SUMMARY",
                          "partial_unexpected_count": _N_CANDIDATES})
            for r in detail.results:
                idx = (r.result or {}).get("partial_unexpected_index_list") or []
                if _idx(r) in results and idx:
                    results[_idx(r)]["examples"] = _row_examples(
                        frame, idx, _columns_of(r.expectation_config.kwargs))

    results = [results[k] for k in sorted(results)]   # report in suite order
    failed = [_describe(r) for r in results if not r["success"]]
    if missing:
        failed.insert(0, f"missing required columns {missing}; rule checks skipped")
    return ValidationReport(name=name, success=bool(raw.success) and not missing, failed=failed,
                            results=results, n_rows=len(table),
                            elapsed_s=time.perf_counter() - t_start)


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
    cols = list(dict.fromkeys([c for c in columns + _INDEX_COLUMNS if c in frame.columns]))
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
