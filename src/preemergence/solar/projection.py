"""Postel projection of full-disk SDO/HMI line-of-sight magnetograms onto region maps.

A region map is a Postel (azimuthal equidistant, FITS ``ARC``) projection of the solar
surface in the Stonyhurst heliographic frame, centred on a Stonyhurst (lon, lat), with
1.4 Mm per pixel at the tangent point and 256 x 256 pixels; it is indexed ``map[y, x]``
with y northward and x westward (increasing Stonyhurst longitude), so
``imshow(map, origin="lower")`` shows north up and west right.

Pixel scale: 1 heliographic degree = pi/180 * R_sun along a great circle, with R_sun taken
from the map's ``RSUN_REF`` (``smap.rsun_meters``; 696.0 Mm for HMI), falling back to the
IAU nominal 695.7 Mm (:data:`preemergence.core.constants.SOLAR_RADIUS_MM`) when the header has
none. The same radius is used by sunpy for the surface intersection, so the scale and the
geometry agree. 1.4 Mm/px is 0.11525 deg/px with 696.0 Mm.

Resampling methods (both from the ``reproject`` package):

- ``"interpolation"``: ``reproject_interp``, bilinear. This samples the native image at the
  target pixel centres without averaging over the footprint, as tracking-and-mapping codes
  used in local helioseismology (e.g. JSOC's mtrack) do; the SDO/HEAR maps were made with the
  MPS Track'n'Map pipeline (Schunker et al. 2016), whose exact resampling kernel we have not
  verified. It is the default and the method used for the reference quiet-Sun patches. Each
  1.4 Mm pixel then carries most of the noise of the few native 0.5 arcsec pixels around it
  (6.3 G per native pixel for hmi.M_720s gives about 4.2 G rms after bilinear sampling).
- ``"adaptive"``: ``reproject_adaptive`` (DeForest 2004 anti-aliased resampling), which
  averages the native pixels under each target pixel's footprint (about 3.9 x 3.9 native
  pixels at disk centre), so noise and unresolved mixed polarity partly cancel and mean |B|
  is lower (about 4.4 G instead of 5.7 G at disk centre on 2016-07-07). It is run with
  ``conserve_flux=False``: B_LOS is a flux *density* (G = Mx/cm^2), so an area average keeps
  it in Gauss and keeps sum(B dA) over a region. ``conserve_flux=True`` would instead sum the
  native pixel values into each output pixel (scaling them by the pixel-area ratio, ~14x at
  disk centre), which is right for counts per pixel but not for a field in Gauss.

The field is B_LOS as observed: no correction to radial field and no tracking (a single
instant). ``load_map`` and ``project_map`` are exposed so that many patches can be cut from
one full-disk map without re-reading the file.
"""

from pathlib import Path

import astropy.units as u
import numpy as np
import sunpy.map
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS
from reproject import reproject_adaptive, reproject_interp
from sunpy.coordinates import frames
from sunpy.map.header_helper import make_fitswcs_header

from preemergence.core.artifacts import set_string_card
from preemergence.core.constants import PIXEL_SCALE_MM, REGION_SIZE_PX, SOLAR_RADIUS_MM

METHODS = ("interpolation", "adaptive")
MAX_CENTER_ANGLE_DEG = 60.0
_WCS_KEYS = ("CTYPE1", "CTYPE2", "CRPIX1", "CRPIX2", "CDELT1", "CDELT2")


class ProjectionError(ValueError):
    """A full-disk magnetogram cannot be projected as asked (one-line message)."""


def postel_project(fits_path, lon_deg, lat_deg, shape=(REGION_SIZE_PX, REGION_SIZE_PX),
                   scale_mm=PIXEL_SCALE_MM, method="interpolation",
                   max_center_angle_deg=MAX_CENTER_ANGLE_DEG):
    """Postel-project a full-disk HMI magnetogram around Stonyhurst (lon, lat) in degrees.

    Returns ``(data, header)``: ``data`` a float32 array of B_LOS in Gauss with the given
    ``shape`` (rows = y north, columns = x west), ``header`` an astropy FITS header with the
    target WCS (HGLN-ARC/HGLT-ARC, Stonyhurst, DATE-OBS in UTC) and provenance keywords.
    ``scale_mm`` is the pixel scale in Mm at the map centre. Raises :class:`ProjectionError`
    for an unreadable file, missing WCS/observer keywords, a centre on the far side or more
    than ``max_center_angle_deg`` from disk centre, or output pixels off the disk (NaN).
    """
    smap = load_map(fits_path)
    return project_map(smap, lon_deg, lat_deg, shape=shape, scale_mm=scale_mm,
                       method=method, max_center_angle_deg=max_center_angle_deg,
                       source=Path(fits_path).name)


def load_map(fits_path):
    """Read a full-disk magnetogram with sunpy and check its WCS and observer keywords."""
    name = Path(fits_path).name
    try:
        smap = sunpy.map.Map(str(fits_path))
    except Exception as exc:  # sunpy/astropy raise many types for a bad file
        raise ProjectionError(f"{name}: cannot read as a FITS map ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''})") from exc
    if isinstance(smap, list) or smap.data.ndim != 2:
        raise ProjectionError(f"{name}: expected one 2-D image, got several or none")
    _check_keywords(smap.meta, name)
    return smap


def _check_keywords(meta, name):
    missing = [key for key in _WCS_KEYS if key.lower() not in meta]
    if missing:
        raise ProjectionError(f"{name}: missing WCS keywords {', '.join(missing)}")
    if "dsun_obs" not in meta:
        raise ProjectionError(f"{name}: missing observer keyword DSUN_OBS")
    has_hgs = "hgln_obs" in meta and "hglt_obs" in meta
    has_car = "crln_obs" in meta and "crlt_obs" in meta
    if not (has_hgs or has_car):
        raise ProjectionError(f"{name}: missing observer keywords HGLN_OBS/HGLT_OBS "
                              "or CRLN_OBS/CRLT_OBS")
    if "t_obs" not in meta and "date-obs" not in meta:
        raise ProjectionError(f"{name}: missing observation time (T_OBS or DATE-OBS)")


def solar_radius_mm(smap):
    """Solar radius in Mm used for the pixel scale: RSUN_REF if present, else IAU 695.7 Mm."""
    if "rsun_ref" in smap.meta:
        return float(smap.meta["rsun_ref"]) / 1.0e6
    return SOLAR_RADIUS_MM


def center_angles_deg(smap, lon_deg, lat_deg):
    """Heliocentric angles (deg) between Stonyhurst (lon, lat) points (deg, arrays
    allowed) and the sub-observer point; returns an array of the broadcast shape."""
    obs = smap.observer_coordinate
    b0, l0 = obs.lat.to_value(u.rad), obs.lon.to_value(u.rad)
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    cos_psi = np.sin(b0) * np.sin(lat) + np.cos(b0) * np.cos(lat) * np.cos(lon - l0)
    return np.degrees(np.arccos(np.clip(cos_psi, -1.0, 1.0)))


def center_angle_deg(smap, lon_deg, lat_deg):
    """Heliocentric angle (deg) between Stonyhurst (lon, lat) and the sub-observer point."""
    return float(center_angles_deg(smap, lon_deg, lat_deg))


def pixel_scale_deg(smap, scale_mm=PIXEL_SCALE_MM):
    """Heliographic degrees per pixel of ``scale_mm`` Mm along a great circle."""
    return scale_mm / (np.pi / 180.0 * solar_radius_mm(smap))


def target_header(smap, lon_deg, lat_deg, shape=(REGION_SIZE_PX, REGION_SIZE_PX),
                  scale_mm=PIXEL_SCALE_MM):
    """FITS header of the Postel target grid (Stonyhurst frame at the map's time)."""
    radius_mm = solar_radius_mm(smap)
    scale_deg = pixel_scale_deg(smap, scale_mm)
    center = SkyCoord(lon_deg * u.deg, lat_deg * u.deg, frame=frames.HeliographicStonyhurst,
                      obstime=smap.reference_date, rsun=radius_mm * u.Mm)
    meta = make_fitswcs_header(shape, center, scale=[scale_deg, scale_deg] * u.deg / u.pix,
                               projection_code="ARC", unit=u.G)
    header = WCS(meta).to_header()
    header["RSUN_REF"] = (radius_mm * 1.0e6, "solar radius used for the scale (m)")
    obs = smap.observer_coordinate
    header["HGLN_OBS"] = (obs.lon.to_value(u.deg), "observer Stonyhurst longitude (deg)")
    header["HGLT_OBS"] = (obs.lat.to_value(u.deg), "observer Stonyhurst latitude (deg)")
    header["DSUN_OBS"] = (obs.radius.to_value(u.m), "observer distance from Sun centre (m)")
    header["BUNIT"] = "G"
    return header


def project_map(smap, lon_deg, lat_deg, shape=(REGION_SIZE_PX, REGION_SIZE_PX),
                scale_mm=PIXEL_SCALE_MM, method="interpolation",
                max_center_angle_deg=MAX_CENTER_ANGLE_DEG, source=None):
    """Postel-project an already loaded sunpy map (see :func:`postel_project`)."""
    name = source or "map"
    if method not in METHODS:
        raise ProjectionError(f"{name}: unknown method {method!r} (use one of {METHODS})")
    angle = center_angle_deg(smap, lon_deg, lat_deg)
    if angle >= 90.0:
        raise ProjectionError(f"{name}: centre ({lon_deg}, {lat_deg}) deg is on the far side "
                              f"(heliocentric angle {angle:.1f} deg)")
    if angle > max_center_angle_deg:
        raise ProjectionError(f"{name}: centre ({lon_deg}, {lat_deg}) deg is {angle:.1f} deg "
                              f"from disk centre (max {max_center_angle_deg} deg)")
    header = target_header(smap, lon_deg, lat_deg, shape, scale_mm)
    data = _reproject(smap, WCS(header), shape, method)
    if not np.all(np.isfinite(data)):
        raise ProjectionError(f"{name}: projection at ({lon_deg}, {lat_deg}) deg has "
                              f"{int(np.sum(~np.isfinite(data)))} NaN pixels (off-disk or "
                              "missing data)")
    set_string_card(header, "SRCFILE", name, "full-disk magnetogram projected")
    header["METHOD"] = (method, "reproject: bilinear interp. or adaptive")
    header["CEN_LON"] = (float(lon_deg), "Stonyhurst longitude of map centre (deg)")
    header["CEN_LAT"] = (float(lat_deg), "Stonyhurst latitude of map centre (deg)")
    header["CEN_ANG"] = (angle, "heliocentric angle of map centre (deg)")
    header["SCALE_MM"] = (float(scale_mm), "pixel scale at map centre (Mm)")
    return data.astype(np.float32), header


def _reproject(smap, wcs_out, shape, method):
    source = (np.asarray(smap.data, dtype=np.float64), smap.wcs)
    if method == "interpolation":
        data, _ = reproject_interp(source, wcs_out, shape_out=shape, order="bilinear")
    else:
        data, _ = reproject_adaptive(source, wcs_out, shape_out=shape, conserve_flux=False)
    return data


def project_to_file(magnetogram, lon_deg, lat_deg, out, method="interpolation",
                    max_center_angle_deg=MAX_CENTER_ANGLE_DEG, region=None):
    """Postel-project one full-disk magnetogram about Stonyhurst (lon, lat) (deg) and write
    the 256 x 256 map (G) to ``out`` (FITS); with ``region`` = (region_id, kind, time_h)
    the map also carries the region-store keywords (SOURCE real). Returns the map."""
    from preemergence.core.artifacts import write_fits
    from preemergence.core.constants import KINDS
    from preemergence.data.regionstore import RegionMeta, region_header
    data, header = postel_project(magnetogram, lon_deg, lat_deg, method=method,
                                  max_center_angle_deg=max_center_angle_deg)
    if region is not None:
        region_id, kind, time_h = region
        if time_h is None:
            raise ValueError("--region-id needs --time-h (time relative to emergence, h)")
        if kind not in KINDS:
            raise ValueError(f"--kind must be one of {', '.join(KINDS)}, not {kind!r}")
        meta = RegionMeta(region_id, kind, lat_deg, lon_deg, PIXEL_SCALE_MM, "real")
        header.extend(region_header(meta, time_h), update=True)
    write_fits(out, data, header)
    return data
