"""The precursor check: central-box excess over the CRs and the Hale-flipped composite."""

import numpy as np
import pytest

from preemergence.data.regionstore import RegionMeta, RegionStore
from preemergence.solar import precursor_check


def store_with(ear_maps, cr_maps, latitudes):
    regions = [RegionMeta(f"SIM-EAR-{i:04d}", "EAR", lat, 0.0, 1.4, "synthetic")
               for i, lat in enumerate(latitudes)]
    regions += [RegionMeta(f"SIM-CR-{i:04d}", "CR", 10.0, 0.0, 1.4, "synthetic")
                for i in range(len(cr_maps))]
    return RegionStore(regions, {-3.2: np.stack([*ear_maps, *cr_maps]).astype(np.float32)})


def test_excess_is_the_box_mean_over_the_median_cr_and_the_composite_is_flipped():
    quiet = np.full((256, 256), 5.0)
    bipole = quiet.copy()
    bipole[120:136, 110:120] += 40.0           # positive west of centre... any pattern
    bipole[120:136, 136:146] -= 40.0
    south = -bipole[::-1, :]                    # the same region seen in the south
    stats = precursor_check.precursor_stats(
        store_with([bipole, south], [quiet, quiet, quiet], [20.0, -20.0]))["t-3.2h"]
    box = precursor_check.central_box(bipole[None])[0]
    assert stats["excess_median_g"] == pytest.approx(np.abs(box).mean() - 5.0, rel=1e-5)
    # flipped to the north the two add up: the composite holds the bipole itself
    assert stats["composite_max_g"] == pytest.approx(45.0, rel=1e-5)
    assert stats["composite_min_g"] == pytest.approx(-35.0, rel=1e-5)
    lines = precursor_check.markdown({"t-3.2h": stats})
    assert any(line.startswith("| -3.2 |") and "14.6 (10.0 to 20.0)" in line for line in lines)


def test_a_store_without_crs_is_refused():
    with pytest.raises(ValueError, match="needs EARs and CRs"):
        precursor_check.precursor_stats(store_with([np.zeros((256, 256))], [], [10.0]))
