"""Build a region store from real full-disk magnetograms (the path to a HEAR-like data set).

Input: a CSV with one row per (region, time bin): ``magnetogram`` (path of a full-disk
hmi.M_720s FITS file, relative to the CSV), ``lon_deg``, ``lat_deg`` (Stonyhurst centre of
the region at that observation, deg), ``kind`` (EAR/CR), ``region_id`` and ``time_h``
(time of the observation relative to the region's (mock) emergence, h). Each row is
Postel-projected (256 x 256, 1.4 Mm/px) and written in the region-store format. A region's
central-meridian distance at emergence is derived from its row nearest to emergence,
assuming Carrington tracking: CMD = lon - 13.2 deg/day * t.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from preemergence.core.artifacts import atomic_directory
from preemergence.core.constants import (KINDS, PIXEL_SCALE_MM, SYNODIC_RATE_DEG_PER_DAY,
                                         TIME_BIN_TOLERANCE_H, time_bin_label)
from preemergence.core.progress import progress as show_progress
from preemergence.data.regionstore import RegionMeta, region_map_path, write_region_map

COLUMNS = ("magnetogram", "lon_deg", "lat_deg", "kind", "region_id", "time_h")


class RowsError(ValueError):
    """The rows file is unusable; the message names the file (and row) and the problem."""


def read_rows(path: Path) -> pd.DataFrame:
    """The rows CSV, checked: required columns, known kinds, numbers, unique (id, time)."""
    path = Path(path)
    try:
        rows = pd.read_csv(path, dtype={"region_id": str, "magnetogram": str, "kind": str})
    except pd.errors.EmptyDataError:
        raise RowsError(f"{path}: the rows CSV is empty") from None
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise RowsError(f"{path}: cannot read the rows CSV ({exc})") from None
    missing = [c for c in COLUMNS if c not in rows.columns]
    if missing:
        raise RowsError(f"{path}: missing column(s) {', '.join(missing)}")
    for column in ("lon_deg", "lat_deg", "time_h"):
        values = pd.to_numeric(rows[column], errors="coerce")
        if values.isna().any():
            bad = int(values.isna().idxmax()) + 2
            raise RowsError(f"{path}: row {bad}: {column} is not a number")
        rows[column] = values
    empty = rows["region_id"].fillna("").str.strip() == ""
    if empty.any():
        raise RowsError(f"{path}: row {int(empty.idxmax()) + 2}: empty region_id")
    unknown = ~rows["kind"].isin(KINDS)
    if unknown.any():
        bad = int(unknown.idxmax()) + 2
        raise RowsError(f"{path}: row {bad}: unknown kind {rows['kind'][bad - 2]!r}")
    _refuse_two_rows_in_one_time_bin(rows, path)
    rows["magnetogram"] = [str((path.parent / m).resolve()) for m in rows["magnetogram"]]
    return rows


def _refuse_two_rows_in_one_time_bin(rows: pd.DataFrame, path: Path) -> None:
    """Two rows of one region whose times share a map file (t-3.2h) or lie within twice the
    time-bin tolerance of each other (both would match one bin) are refused, naming both."""
    for region_id, group in rows.groupby("region_id", sort=False):
        group = group.sort_values("time_h")
        times, labels = group["time_h"].to_numpy(), group["time_h"].map(time_bin_label)
        for k in range(1, len(group)):
            if (labels.iloc[k] == labels.iloc[k - 1]
                    or times[k] - times[k - 1] <= 2 * TIME_BIN_TOLERANCE_H):
                a, b = sorted(int(i) + 2 for i in group.index[k - 1:k + 1])
                raise RowsError(f"{path}: rows {a}, {b}: region {region_id} twice in one time "
                                f"bin (times {times[k - 1]:g} and {times[k]:g} h)")


def region_metas(rows: pd.DataFrame) -> dict[str, RegionMeta]:
    """One RegionMeta per region id (latitude and CMD from the row nearest to emergence)."""
    metas = {}
    for region_id, group in rows.groupby("region_id"):
        if group["kind"].nunique() != 1:
            raise RowsError(f"region {region_id}: rows disagree on its kind")
        last = group.loc[group["time_h"].idxmax()]
        cmd = last["lon_deg"] - SYNODIC_RATE_DEG_PER_DAY * last["time_h"] / 24.0
        metas[region_id] = RegionMeta(str(region_id), str(last["kind"]),
                                      round(float(last["lat_deg"]), 4), round(float(cmd), 4),
                                      PIXEL_SCALE_MM, "real")
    return metas


def build_regions(rows: pd.DataFrame, out_dir: Path, method: str = "interpolation",
                  max_center_angle_deg: float = 60.0, progress: bool = True) -> int:
    """Project every row and write the region store to out_dir (whole folder, atomically)."""
    from preemergence.solar.projection import load_map, project_map
    metas = region_metas(rows)
    written = 0
    with atomic_directory(out_dir) as tmp, \
            show_progress(list(rows.groupby("magnetogram")), progress,
                          "projecting magnetograms", "file") as groups:
        for magnetogram, group in groups:
            smap = load_map(magnetogram)
            for row in group.itertuples():
                data, header = project_map(smap, row.lon_deg, row.lat_deg, method=method,
                                           max_center_angle_deg=max_center_angle_deg,
                                           source=Path(magnetogram).name)
                meta = metas[row.region_id]
                write_region_map(region_map_path(tmp, meta.region_id, row.time_h), data, meta,
                                 row.time_h, extra=header)
                written += 1
    return written
