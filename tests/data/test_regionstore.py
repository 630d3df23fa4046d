"""The region store loader rejects bad input with a clear, file-naming error."""

import shutil

import numpy as np
import pytest
from astropy.io import fits

from preemergence.data.regionstore import (RegionMeta, RegionStoreError, load_region_store,
                                      region_map_path, write_region_map)

BINS = (-3.2, -8.5)
META = RegionMeta("11776", "EAR", 12.5, -20.0, 1.4, "real")


def _write_store(root, metas=(META,), bins=BINS):
    for meta in metas:
        for t in bins:
            data = np.full((256, 256), 3.0 if meta.kind == "EAR" else -2.0, np.float32)
            write_region_map(region_map_path(root, meta.region_id, t), data, meta, t)
    return root


def test_round_trip(tmp_path):
    cr = RegionMeta("CR11776", "CR", 12.5, -20.0, 1.4, "real")
    store = load_region_store(_write_store(tmp_path, (META, cr)), BINS)
    assert store.ids() == ["11776", "CR11776"] and store.regions[0] == META
    assert store.maps[-3.2].shape == (2, 256, 256) and store.maps[-8.5][1, 0, 0] == -2.0


def test_image_in_first_extension_is_accepted(tmp_path):
    _write_store(tmp_path)
    path = region_map_path(tmp_path, "11776", -3.2)
    with fits.open(path) as hdul:
        header, data = hdul[0].header.copy(), hdul[0].data.copy()
    fits.HDUList([fits.PrimaryHDU(header=header), fits.ImageHDU(data)]).writeto(
        path, overwrite=True)
    assert load_region_store(tmp_path, BINS).maps[-3.2][0, 5, 5] == 3.0


def _corrupt(tmp_path, edit):
    _write_store(tmp_path)
    path = region_map_path(tmp_path, "11776", -8.5)
    edit(path)
    return path


def _rewrite(path, data=None, **keys):
    with fits.open(path) as hdul:
        header, old = hdul[0].header.copy(), hdul[0].data.copy()
    for key, value in keys.items():
        if value is None:
            del header[key]
        else:
            header[key] = value
    fits.PrimaryHDU(old if data is None else data, header=header).writeto(path, overwrite=True)


@pytest.mark.parametrize("edit, message", [
    (lambda p: p.write_bytes(p.read_bytes()[:5000]), "unreadable or truncated FITS"),
    (lambda p: p.write_bytes(b"not a fits file at all" * 200), "unreadable or truncated FITS"),
    (lambda p: _rewrite(p, data=np.zeros((128, 256), np.float32)), "wrong shape"),
    (lambda p: _rewrite(p, BUNIT="Mx/cm^2/s"), "wrong units"),
    (lambda p: _rewrite(p, BUNIT=None), "missing header keyword"),
    (lambda p: _rewrite(p, data=np.where(np.eye(256) > 0, np.nan, 1).astype(np.float32)),
     "256 NaN/inf"),
    (lambda p: _rewrite(p, REGKIND="FLARE"), "unknown kind"),
    (lambda p: _rewrite(p, PIXSC_MM=0.36), "pixel scale"),
    (lambda p: _rewrite(p, LAT_DEG="north"), "keyword LAT_DEG='north' is not a number"),
    (lambda p: _rewrite(p, TREL_H="soon"), "keyword TREL_H='soon' is not a number"),
    (lambda p: _rewrite(p, REGIONID="  "), "empty REGIONID"),
])
def test_bad_map_is_rejected_naming_the_file(tmp_path, edit, message):
    path = _corrupt(tmp_path, edit)
    with pytest.raises(RegionStoreError, match=message) as info:
        load_region_store(tmp_path, BINS)
    assert str(info.value).startswith(str(path))
    assert "\n" not in str(info.value)


def test_missing_time_bin_is_an_error_or_skipped(tmp_path):
    other = RegionMeta("11777", "EAR", 8.0, 5.0, 1.4, "real")
    _write_store(tmp_path, (META, other))
    region_map_path(tmp_path, "11777", -8.5).unlink()
    with pytest.raises(RegionStoreError, match="11777 is missing time bin.*-8.5 h"):
        load_region_store(tmp_path, BINS)
    store = load_region_store(tmp_path, BINS, on_missing="skip")
    assert store.ids() == ["11776"]


def test_duplicate_ids_are_rejected(tmp_path):
    _write_store(tmp_path)
    src = region_map_path(tmp_path, "11776", -3.2)
    shutil.copy(src, tmp_path / "copy.fits")
    with pytest.raises(RegionStoreError, match="duplicate region id 11776 at -3.2 h"):
        load_region_store(tmp_path, BINS)


def test_same_id_with_different_kind_is_rejected(tmp_path):
    _write_store(tmp_path)
    _rewrite(region_map_path(tmp_path, "11776", -8.5), REGKIND="CR")
    with pytest.raises(RegionStoreError, match="duplicate region id 11776 with different"):
        load_region_store(tmp_path, BINS)


def test_empty_or_absent_store(tmp_path):
    with pytest.raises(RegionStoreError, match="no FITS files"):
        load_region_store(tmp_path, BINS)
    with pytest.raises(RegionStoreError, match="not found"):
        load_region_store(tmp_path / "nope", BINS)
