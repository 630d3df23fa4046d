"""Output and occlusion maps recombined over a region's windows (paper Fig. 18, Table 4,
Eqs. D7-D8), one row of numbers per region, and their summary over many regions with
region-bootstrap intervals (the verdict rests on every region probed, not on the few drawn).

Used by the interpretation (train-cv's networks on our data) and by its validation on the
planted location set, so that both read the same numbers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from preemergence.core.constants import BOX_START_PX, BOX_STOP_PX
from preemergence.interpret import probes
from preemergence.interpret.occlusion import occlusion_map, recombine
from preemergence.model import predict
from preemergence.model.windows import standardise
from preemergence.stats.resampling import mean_difference_interval, mean_interval

if TYPE_CHECKING:
    from preemergence.core.schema import Occlusion, Stats

BOX = slice(BOX_START_PX, BOX_STOP_PX)


def region_maps(model, mean: float, std: float, data, rows: pd.DataFrame,
                occ: "Occlusion", threshold: float) -> tuple[dict, dict]:
    """(figure panel, table row) of one region from its windows ``rows`` (one region_id):
    CNN output and occlusion maps of every window recombined over the region."""
    rows = rows.reset_index(drop=True)
    inputs = standardise(probes.crop_fields(data, rows), mean, std)
    y = predict.probabilities(model, inputs)
    maps = np.stack([occlusion_map(lambda x: predict.probabilities(model, x), image,
                                   occ.mask_px, occ.stride_px, fill=-mean / std,
                                   threshold=threshold) for image in inputs])
    origins = rows[["x0", "y0"]].to_numpy()
    output_map, _ = recombine(y, origins)
    occ_map, _ = recombine(maps, origins)
    rid, kind = rows.region_id.iloc[0], rows.kind.iloc[0]
    panel = {"field_g": data.cube[data.index[rid]], "output": output_map,
             "occlusion": occ_map, "title": f"{kind} {rid}"}
    return panel, region_row(rid, kind, rows, y, threshold, output_map, occ_map)


def region_row(rid, kind, rows: pd.DataFrame, y: np.ndarray, threshold: float,
               output_map: np.ndarray, occ_map: np.ndarray) -> dict:
    """Table 4's numbers for one region (MTOT in Mx; output and occlusion unitless)."""
    hi, lo = int(np.argmax(y)), int(np.argmin(y))
    inside, outside = float(np.nanmean(occ_map[BOX, BOX])), float(np.nanmean(
        outside_box(occ_map)))
    return {"region": rid, "kind": kind, "n_segments": int(len(rows)),
            "fraction_called_pe": float((y >= threshold).mean()),
            "mtot_max_output_segment_mx": float(rows.mtot_mx.iloc[hi]),
            "max_output": float(y[hi]),
            "mtot_min_output_segment_mx": float(rows.mtot_mx.iloc[lo]),
            "min_output": float(y[lo]),
            "output_in_box": float(np.nanmean(output_map[BOX, BOX])),
            "occlusion_in_box": inside, "occlusion_outside_box": outside,
            "box_minus_outside": inside - outside}


def outside_box(image: np.ndarray) -> np.ndarray:
    """A copy of the map with the central emergence box set to NaN."""
    out = image.astype(float).copy()
    out[BOX, BOX] = np.nan
    return out


def summarise_regions(table: list[dict], settings: "Stats", seed: int,
                      threshold: float) -> dict:
    """Means over regions with region-bootstrap intervals (settings: params stats):
    EAR and CR box outputs, EAR and CR occlusion box - outside, the EAR - CR difference of
    each, and the shares of EARs called PE in the box and of CRs not."""
    frame = pd.DataFrame(table)
    ear, cr = frame[frame.kind == "EAR"], frame[frame.kind == "CR"]

    def interval(values) -> dict:
        return mean_interval(values, settings, seed).as_dict()
    return {"n_ear": int(len(ear)), "n_cr": int(len(cr)),
            "ear_box_output": interval(ear.output_in_box),
            "cr_box_output": interval(cr.output_in_box),
            "ear_minus_cr_box_output": mean_difference_interval(
                ear.output_in_box, cr.output_in_box, settings, seed).as_dict(),
            "ear_box_minus_outside": interval(ear.box_minus_outside),
            "ear_minus_cr_box_minus_outside": mean_difference_interval(
                ear.box_minus_outside, cr.box_minus_outside, settings, seed).as_dict(),
            "cr_box_minus_outside": interval(cr.box_minus_outside),
            "fraction_ear_box_above_threshold": float((ear.output_in_box >= threshold).mean()),
            "fraction_cr_box_below_threshold": float((cr.output_in_box < threshold).mean())}

