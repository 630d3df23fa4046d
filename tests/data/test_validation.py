"""Tests of the Great Expectations gate for segment tables (preemergence.validation)."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from preemergence.data import geometry
from preemergence.data.validation import (ValidationFailed, ValidationReport, require_valid,
                                     save_report, validate_segment_table)

PE_PER_EAR, NE_PER_EAR, NE_PER_CR, N_FOLDS = 3, 2, 2, 2
COUNTS = dict(pe_per_ear=PE_PER_EAR, ne_per_ear=NE_PER_EAR, ne_per_cr=NE_PER_CR,
              n_folds=N_FOLDS)
COLUMNS = ["region_id", "kind", "time_h", "subset", "x0", "y0", "label", "fold",
           "mtot_mx", "dm_mx_mm"]


def _region_rows(region_id, kind, fold, time_h=-3.2):
    """Rows of one region: PE / NE samples from the geometry helpers + its 9 tiles."""
    rows = []
    if kind == "EAR":
        pe, ne = geometry.pe_origins(), geometry.ear_ne_origins()
        samples = [(x, y, 1) for x, y in pe[[0, len(pe) // 2, len(pe) - 1]][:PE_PER_EAR]]
        samples += [(x, y, 0) for x, y in ne[[0, len(ne) - 1]][:NE_PER_EAR]]
    else:
        ne = geometry.cr_ne_origins()
        samples = [(x, y, 0) for x, y in ne[[len(ne) // 3, len(ne) // 2]][:NE_PER_CR]]
    for x, y, label in samples:
        rows.append((region_id, kind, time_h, "sample", int(x), int(y), label, fold))
    for x, y in geometry.tile_origins():
        label = int(kind == "EAR" and x == 85 and y == 85)
        rows.append((region_id, kind, time_h, "tile", int(x), int(y), label, fold))
    return rows


def make_table():
    """2 EARs + 2 CRs in each of 2 folds (8 regions, 108 rows), all rules satisfied."""
    rows = []
    for i in range(4):
        fold = i % N_FOLDS
        rows += _region_rows(f"EAR{i}", "EAR", fold)
        rows += _region_rows(f"CR{i}", "CR", fold)
    df = pd.DataFrame(rows, columns=COLUMNS[:8])
    n = len(df)
    df["mtot_mx"] = np.linspace(1e20, 5e22, n)
    df["dm_mx_mm"] = np.linspace(0.0, 3e22, n)
    return df


def _validate(df, **overrides):
    return validate_segment_table(df, **{**COUNTS, **overrides}, name="t-3.2h")


def _failed_keys(report):
    return {(r["type"], r["column"]) for r in report.results if not r["success"]}


def _row(df, region_id, subset, label=None):
    sel = (df["region_id"] == region_id) & (df["subset"] == subset)
    if label is not None:
        sel &= df["label"] == label
    return df.index[sel][0]


@pytest.fixture
def table():
    return make_table()


def test_valid_table_passes(table):
    before = table.copy()
    report = _validate(table)
    assert isinstance(report, ValidationReport)
    assert report.success, report.failed
    assert report.failed == []
    assert report.n_rows == len(table)
    pd.testing.assert_frame_equal(table, before)          # input not modified
    assert require_valid(report) is report


def test_pe_window_not_containing_box_fails(table):
    table.loc[_row(table, "EAR0", "sample", label=1), ["x0", "y0"]] = [10, 100]
    report = _validate(table)
    assert not report.success
    assert _failed_keys(report) == {("expect_column_values_to_be_in_set", "contains_box")}
    assert any("contains_box" in f and "PE windows must contain the emergence box" in f
               and "1 unexpected" in f for f in report.failed)


def test_ear_ne_window_overlapping_box_fails(table):
    table.loc[_row(table, "EAR1", "sample", label=0), ["x0", "y0"]] = [100, 100]
    report = _validate(table)
    assert _failed_keys(report) == {("expect_column_values_to_be_in_set", "overlaps_box")}
    assert any("must not overlap the emergence box" in f for f in report.failed)


def test_cr_ne_window_may_overlap_box(table):
    table.loc[_row(table, "CR1", "sample", label=0), ["x0", "y0"]] = [100, 100]
    assert _validate(table).success


def test_window_outside_map_fails(table):
    for region_id, (x0, y0) in zip(["CR2", "CR3", "EAR0"], [(172, 0), (-1, 50), (0, 200)]):
        table.loc[_row(table, region_id, "tile", label=0), ["x0", "y0"]] = [x0, y0]
    report = _validate(table)
    assert ("expect_column_values_to_be_in_set", "inside_region") in _failed_keys(report)
    assert any("inside the 256x256 map" in f and ": 3 unexpected" in f for f in report.failed)


def test_region_in_two_folds_fails(table):
    table.loc[_row(table, "EAR2", "sample", label=1), "fold"] = 1   # EAR2 lives in fold 0
    report = _validate(table)
    assert ("expect_column_values_to_be_in_set", "region_n_folds") in _failed_keys(report)
    msg = next(f for f in report.failed if "region_n_folds" in f)
    assert "exactly one fold" in msg and "EAR2" in msg


def test_fold_without_crs_fails(table):
    table.loc[table["region_id"].isin(["CR1", "CR3"]), "fold"] = 0
    report = _validate(table)
    assert ("expect_column_values_to_be_between", "fold_n_cr") in _failed_keys(report)


def test_fold_out_of_range_fails(table):
    table.loc[table["region_id"] == "CR3", "fold"] = N_FOLDS
    report = _validate(table)
    assert ("expect_column_values_to_be_in_set", "fold") in _failed_keys(report)


def test_wrong_pe_count_fails(table):
    table = table.drop(index=_row(table, "EAR3", "sample", label=1))
    report = _validate(table)
    assert _failed_keys(report) == {("expect_column_values_to_be_in_set", "region_n_pe")}
    msg = next(f for f in report.failed if "region_n_pe" in f)
    assert f"exactly {PE_PER_EAR} PE samples" in msg and "EAR3" in msg


def test_wrong_cr_ne_count_fails(table):
    extra = table.loc[[_row(table, "CR0", "sample")]]
    table = pd.concat([table, extra], ignore_index=True)
    report = _validate(table)
    assert _failed_keys(report) == {("expect_column_values_to_be_in_set", "region_n_ne")}
    assert any(f"each CR has exactly {NE_PER_CR} NE samples" in f for f in report.failed)


def test_count_arguments_are_used(table):
    report = _validate(table, pe_per_ear=PE_PER_EAR + 1)
    assert _failed_keys(report) == {("expect_column_values_to_be_in_set", "region_n_pe")}


def test_mtot_above_bound_fails(table):
    table.loc[5, "mtot_mx"] = 2e23
    report = _validate(table)
    assert _failed_keys(report) == {("expect_column_values_to_be_between", "mtot_mx")}
    assert any("MTOT must lie in [0, 1e+23] Mx" in f for f in report.failed)


def test_mtot_nan_or_inf_fails(table):
    table.loc[[5, 40], "mtot_mx"] = [math.nan, math.inf]
    report = _validate(table)
    assert ("expect_column_values_to_be_in_set", "mtot_finite") in _failed_keys(report)
    assert any("MTOT must be finite" in f and ": 2 unexpected" in f for f in report.failed)


def test_negative_dm_fails(table):
    table.loc[7, "dm_mx_mm"] = -1.0
    report = _validate(table)
    assert _failed_keys(report) == {("expect_column_values_to_be_between", "dm_mx_mm")}
    assert any("DM must be >= 0" in f for f in report.failed)


def test_unknown_kind_fails(table):
    table.loc[table["region_id"] == "CR0", "kind"] = "XR"
    report = _validate(table)
    assert ("expect_column_values_to_be_in_set", "kind") in _failed_keys(report)
    assert any("kind must be EAR or CR" in f and "XR" in f for f in report.failed)


def test_missing_tile_fails(table):
    table = table.drop(index=_row(table, "EAR1", "tile"))
    report = _validate(table)
    assert _failed_keys(report) == {("expect_column_values_to_be_in_set", "region_n_tiles")}
    assert any("exactly 9 evaluation tiles" in f for f in report.failed)


def test_duplicate_tile_and_wrong_tile_label_fail(table):
    i = _row(table, "CR1", "tile")
    dup = table.loc[[i]]
    table = table.drop(index=_row(table, "CR1", "tile") + 1)   # keep 9 tiles, one duplicated
    table = pd.concat([table, dup], ignore_index=True)
    centre = table.index[(table["region_id"] == "EAR0") & (table["subset"] == "tile")
                         & (table["x0"] == 85) & (table["y0"] == 85)][0]
    table.loc[centre, "label"] = 0
    keys = _failed_keys(_validate(table))
    assert ("expect_compound_columns_to_be_unique", "region_id,subset,x0,y0") in keys
    assert ("expect_column_pair_values_to_be_equal", "label,tile_expected_label") in keys


def test_missing_column_fails_without_crash(table):
    report = _validate(table.drop(columns=["dm_mx_mm"]))
    assert not report.success
    assert "dm_mx_mm" in report.failed[0]


def test_require_valid_raises_naming_expectation(table):
    table.loc[_row(table, "EAR0", "sample", label=1), "x0"] = 10
    report = _validate(table)
    with pytest.raises(ValidationFailed) as info:
        require_valid(report)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith("segment table t-3.2h failed validation: "
                          "expect_column_values_to_be_in_set(contains_box) "
                          "[PE windows must contain the emergence box]: 1 unexpected")


def test_report_json_and_atomic_save(table, tmp_path):
    table.loc[3, "mtot_mx"] = math.nan
    report = _validate(table)
    payload = report.to_json()
    json.dumps(payload, allow_nan=False)          # strictly JSON-serialisable
    assert payload["success"] is False and payload["name"] == "t-3.2h"
    assert payload["n_failed"] == len(report.failed) >= 1
    by_col = {(e["type"], e["column"]): e for e in payload["expectations"]}
    assert by_col[("expect_column_values_to_be_in_set", "mtot_finite")]["unexpected_count"] == 1
    assert by_col[("expect_column_values_to_be_in_set", "contains_box")]["success"] is True

    out = tmp_path / "reports" / "validation_t-3.2h.json"
    save_report(report, out)
    assert json.loads(out.read_text()) == json.loads(json.dumps(payload))
    assert [p.name for p in out.parent.iterdir()] == [out.name]   # no temp file left behind
