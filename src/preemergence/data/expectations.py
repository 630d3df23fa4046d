"""The segment tables' data-model rules as one Great Expectations suite.

The geometric and per-region rules cannot be written as plain single-column expectations, so
``derive_columns`` first adds derived columns to a copy of the table, computed with
``data.geometry`` (``contains_box``, ``overlaps_box``, ``inside_region``, ``tile_origin_ok``,
per-region sample / tile / fold counts, per-fold region counts, ...); ``build_suite`` then
states every rule as a GX expectation (with row conditions where a rule applies to a subset
of rows), each carrying its rule text in ``meta['rule']``. ``data.validation`` runs it.
"""

from __future__ import annotations

import logging
import os
import warnings

import numpy as np
import pandas as pd

from preemergence.core.constants import (
    KINDS,
    MTOT_MAX_MX,
    TILE_ORIGINS_PX,
    TIME_BIN_TOLERANCE_H,
    TIME_BINS_H,
)
from preemergence.data import geometry

REQUIRED_COLUMNS = ("region_id", "kind", "time_h", "subset", "x0", "y0", "label", "fold",
                    "mtot_mx", "dm_mx_mm")
SUBSETS = ("sample", "tile")
INDEX_COLUMNS = ["region_id", "subset", "x0", "y0"]   # identify a row in failure examples
TILES_PER_REGION = len(TILE_ORIGINS_PX) ** 2
_CENTRAL_TILE = TILE_ORIGINS_PX[len(TILE_ORIGINS_PX) // 2]   # 85
_INT_TYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
              "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64"]

_GX = None   # lazily imported great_expectations module (import takes seconds)


# --------------------------------------------------------------------------------------
# Derived columns
# --------------------------------------------------------------------------------------

def derive_columns(table: pd.DataFrame, time_bins=TIME_BINS_H) -> pd.DataFrame:
    """Copy of ``table`` (required columns only) with the derived rule columns added.

    Geometry: ``contains_box``, ``overlaps_box``, ``inside_region`` (from
    :mod:`preemergence.data.geometry`), ``tile_origin_ok``, ``tile_expected_label``.
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

def import_gx():
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


def build_suite(gx, name: str, *, pe_per_ear: int, ne_per_ear: int, ne_per_cr: int,
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

    sample, ear = C("subset") == "sample", C("kind") == "EAR"
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
    ]
    return exps + _count_expectations(E, rule, pe_per_ear=pe_per_ear, ne_per_ear=ne_per_ear,
                                      ne_per_cr=ne_per_cr, n_folds=n_folds)


def _count_expectations(E, rule, *, pe_per_ear: int, ne_per_ear: int, ne_per_cr: int,
                        n_folds: int) -> list:
    """Per-region sample and tile counts, folds, and physical ranges."""
    from great_expectations.expectations.row_conditions import Column as C

    tile, ear, cr = C("subset") == "tile", C("kind") == "EAR", C("kind") == "CR"
    return [
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
        E.ExpectCompoundColumnsToBeUnique(column_list=list(INDEX_COLUMNS), row_condition=tile,
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
