"""Segment sets: PE/NE windows, evaluation tiles, region folds, MTOT, DM, standardisation.

A segment table has one row per window: region_id, kind, time_h, subset ('sample' for
the PE/NE training samples, 'tile' for the 9 evaluation tiles), x0, y0 (px), label (1 = PE,
0 = NE), fold, mtot_mx (Mx) and dm_mx_mm (Mx*Mm). Window sums use integral images, so the
cost per window is O(1) whatever its size.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold

from preemergence.data import geometry
from preemergence.core.constants import PIXEL_AREA_CM2, PIXEL_SCALE_MM, SEGMENT_SIZE_PX
from preemergence.core.paths import DATASET_INFO_FILE, segment_table_file
from preemergence.data.regionstore import RegionStore

COLUMNS = ["region_id", "kind", "time_h", "subset", "x0", "y0", "label", "fold", "mtot_mx",
           "dm_mx_mm"]
CENTRE_OFFSET_PX = (SEGMENT_SIZE_PX - 1) / 2.0   # window centre in pixel-index units (42)


@dataclass(frozen=True)
class SamplingPlan:
    """Samples per region (paper: 100 PE + ~50 NE per EAR, ~50 NE per CR) and folds."""

    pe_per_ear: int = 100
    ne_per_ear: int = 50
    ne_per_cr: int = 50
    n_folds: int = 5


def assign_folds(store: RegionStore, n_folds: int, seed: int) -> dict[str, int]:
    """Region-level folds: EARs and CRs are each split into n_folds parts (shuffled KFold)."""
    return region_folds({kind: store.ids(kind) for kind in ("EAR", "CR")}, n_folds, seed)


def region_folds(ids_by_kind: dict, n_folds: int, seed: int) -> dict[str, int]:
    """Region id -> fold: the ids of each kind split into n_folds parts (shuffled KFold)."""
    folds = {}
    for kind in ("EAR", "CR"):
        ids = np.array(sorted(ids_by_kind[kind]))
        if len(ids) < n_folds:
            raise ValueError(f"{len(ids)} {kind}s cannot be split into {n_folds} folds")
        splitter = KFold(n_splits=n_folds, shuffle=True, random_state=seed)
        for fold, (_, held_out) in enumerate(splitter.split(ids)):
            folds.update({rid: fold for rid in ids[held_out]})
    return folds


def sample_origins(rng, kind: str, plan: SamplingPlan):
    """Random window origins (x0, y0) and labels for one region, without repetition."""
    rng_pe, rng_ne = rng.spawn(2)   # independent: changing one count keeps the other windows
    if kind == "EAR":
        pe = _choose(rng_pe, geometry.pe_origins(), plan.pe_per_ear)
        ne = _choose(rng_ne, geometry.ear_ne_origins(), plan.ne_per_ear)
    else:
        pe = np.empty((0, 2), dtype=int)
        ne = _choose(rng_ne, geometry.cr_ne_origins(), plan.ne_per_cr)
    labels = np.concatenate([np.ones(len(pe), int), np.zeros(len(ne), int)])
    return np.vstack([pe, ne]), labels


def _choose(rng, origins, n):
    if n > len(origins):
        raise ValueError(f"cannot draw {n} distinct windows from {len(origins)} positions")
    return origins[rng.choice(len(origins), size=n, replace=False)]


def tile_labels(kind: str) -> np.ndarray:
    """Labels of the 9 evaluation tiles: the central tile of an EAR is PE, all else NE."""
    origins = geometry.tile_origins()
    pe = geometry.contains_box(origins[:, 0], origins[:, 1]) & (kind == "EAR")
    return pe.astype(int)


class WindowSums:
    """O(1) window sums of B, |B|, B^2, B*x, B*y over one map via integral images."""

    def __init__(self, field: np.ndarray):
        b = field.astype(np.float64)
        ys, xs = np.indices(b.shape, dtype=np.float64)
        self.tables = {name: _integral(v) for name, v in
                       (("b", b), ("abs", np.abs(b)), ("b2", b * b), ("bx", b * xs),
                        ("by", b * ys))}

    def sum(self, name, x0, y0, size=SEGMENT_SIZE_PX):
        s = self.tables[name]
        x0, y0 = np.asarray(x0), np.asarray(y0)
        return s[y0 + size, x0 + size] - s[y0, x0 + size] - s[y0 + size, x0] + s[y0, x0]

    def mtot_mx(self, x0, y0):
        """Unsigned flux sum |B| dA of the windows (Mx)."""
        return self.sum("abs", x0, y0) * PIXEL_AREA_CM2

    def dm_mx_mm(self, x0, y0):
        """Dipole moment |sum B (r - r0) dA| about the window centre (Mx*Mm)."""
        total = self.sum("b", x0, y0)
        cx, cy = np.asarray(x0) + CENTRE_OFFSET_PX, np.asarray(y0) + CENTRE_OFFSET_PX
        mx = self.sum("bx", x0, y0) - cx * total
        my = self.sum("by", x0, y0) - cy * total
        return np.hypot(mx, my) * PIXEL_AREA_CM2 * PIXEL_SCALE_MM


def _integral(values):
    out = np.zeros((values.shape[0] + 1, values.shape[1] + 1))
    out[1:, 1:] = values.cumsum(0).cumsum(1)
    return out


def mtot_mx(segment: np.ndarray) -> float:
    """Unsigned flux of one segment array (G) in Mx."""
    return float(np.abs(segment).sum() * PIXEL_AREA_CM2)


def segment_table(store: RegionStore, time_h: float, folds: dict[str, int],
                  plan: SamplingPlan, seed: int) -> tuple[pd.DataFrame, dict]:
    """Segment table of one time bin and its standardisation constants (mean, std in G).

    Sampling is deterministic per (seed, time bin, region): changing one region or bin
    does not move the windows of another.
    """
    bin_index = int(round(abs(time_h) * 10))
    tiles = geometry.tile_origins()
    columns = {name: [] for name in COLUMNS}
    moments = np.zeros(3)
    for index, meta in enumerate(store.regions):
        sums = WindowSums(store.maps[time_h][index])
        rng = np.random.default_rng([seed, bin_index, _id_key(meta.region_id)])
        origins, labels = sample_origins(rng, meta.kind, plan)
        for subset, xy, lab in (("sample", origins, labels),
                                ("tile", tiles, tile_labels(meta.kind))):
            n = len(xy)
            for name, value in (("region_id", meta.region_id), ("kind", meta.kind),
                                ("time_h", time_h), ("subset", subset),
                                ("fold", folds[meta.region_id])):
                columns[name].append(np.full(n, value, dtype=object if
                                             isinstance(value, str) else None))
            columns["x0"].append(xy[:, 0])
            columns["y0"].append(xy[:, 1])
            columns["label"].append(lab)
            columns["mtot_mx"].append(sums.mtot_mx(xy[:, 0], xy[:, 1]))
            columns["dm_mx_mm"].append(sums.dm_mx_mm(xy[:, 0], xy[:, 1]))
        moments += [len(origins) * SEGMENT_SIZE_PX ** 2,
                    sums.sum("b", origins[:, 0], origins[:, 1]).sum(),
                    sums.sum("b2", origins[:, 0], origins[:, 1]).sum()]
    table = pd.DataFrame({name: np.concatenate(parts) for name, parts in columns.items()})
    return table, standardisation(moments)


def standardisation(moments) -> dict:
    """Mean and std (G) of all sample pixels from (count, sum B, sum B^2)."""
    n, s1, s2 = moments
    mean = s1 / n
    return {"mean_g": float(mean), "std_g": float(np.sqrt(max(s2 / n - mean ** 2, 0.0))),
            "n_pixels": int(n)}


def _id_key(region_id: str) -> int:
    """Stable integer key of a region id for seeding (independent of Python's hash salt)."""
    return int.from_bytes(hashlib.sha256(region_id.encode()).digest()[:8], "little")


def table1(tables: dict[float, pd.DataFrame]) -> pd.DataFrame:
    """The paper's Table 1: EARs, CRs, PEs and NEs per time bin (training samples)."""
    rows = []
    for t, table in tables.items():
        samples = table[table.subset == "sample"]
        rows.append({"time_h": t,
                     "EARs": table.loc[table.kind == "EAR", "region_id"].nunique(),
                     "CRs": table.loc[table.kind == "CR", "region_id"].nunique(),
                     "PEs": int((samples.label == 1).sum()),
                     "NEs": int((samples.label == 0).sum())})
    return pd.DataFrame(rows)




def read_dataset_info(segments_dir) -> dict:
    """Provenance of a segment-set folder (data source, region store) written by prepare."""
    import json
    from pathlib import Path
    path = Path(segments_dir) / DATASET_INFO_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path}: not found; run `preemergence prepare` first")
    return json.loads(path.read_text())


def read_segment_tables(segments_dir, time_bins) -> dict[float, pd.DataFrame]:
    """The prepare stage's segment tables for the given time bins (h)."""
    from pathlib import Path
    tables = {}
    for t in time_bins:
        path = Path(segments_dir) / segment_table_file(t)
        if not path.exists():
            raise FileNotFoundError(f"{path}: segment table not found; run `preemergence "
                                    "prepare` (or `dvc repro prepare`) first")
        tables[t] = pd.read_csv(path, dtype={"region_id": str})
    return tables
