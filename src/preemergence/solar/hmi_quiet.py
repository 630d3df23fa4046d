"""Quiet-Sun reference patches cut from real full-disk SDO/HMI magnetograms.

Each patch is a 256 x 256 Postel map at 1.4 Mm/px (bilinear interpolation, the method that
matches HEAR-like maps; see :mod:`preemergence.solar.projection`) of B_LOS in Gauss, centred on a
Stonyhurst (lon, lat) within ``max_angle_deg`` (35 deg) of disk centre.

Selection (documented choice, made on the two magnetograms in ``shared/data/hmi``):

1. Candidate centres on a ``step_deg`` (5 deg) grid in Stonyhurst lon/lat, heliocentric
   angle <= ``max_angle_deg``.
2. A candidate is rejected as containing active-region or plage flux when either
   - the 9 x 9-pixel (12.6 Mm) boxcar-smoothed |B| exceeds ``max_smoothed_g`` = 50 G anywhere
     (quiet network reaches 25-45 G at this smoothing in a single 720 s magnetogram, plage and
     active regions 80-230 G), or
   - more than ``max_strong_pixels`` = 100 pixels (0.15 % of the map) have |B| > 200 G
     (quiet patches have 10-60 such pixels, strong network elements; active regions > 100).
3. The accepted candidates are taken in order of increasing heliocentric angle (the
   least foreshortened first, not the quietest, so the sample is not biased to the weakest
   field), skipping any centre closer than ``min_separation_deg`` (22 deg great-circle) to one
   already chosen; patches are 29.5 deg wide, so neighbours share at most an edge strip of
   about a quarter of their width (22 deg rather than 25 or 30 so that the 2016 map, which
   has active regions and plage north of the equator, still yields three patches).

HMI data are courtesy of NASA/SDO and the HMI science team.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from scipy.ndimage import uniform_filter

from preemergence.solar import projection
from preemergence.core.artifacts import atomic_write_text, set_string_card, write_fits

ATTRIBUTION = "HMI data courtesy of NASA/SDO and the HMI science team"
METHOD = "interpolation"


@dataclass
class Patch:
    """One projected quiet-Sun patch: B_LOS in G, its FITS header, and where it came from."""
    data: np.ndarray
    header: fits.Header
    source: str
    lon_deg: float
    lat_deg: float
    center_angle_deg: float
    stats: dict = field(default_factory=dict)


def quiet_diagnostics(data, smooth_px=9, strong_g=200.0):
    """Rejection diagnostics of a map in G: max of the boxcar-smoothed |B| and strong pixels."""
    absb = np.abs(np.asarray(data, dtype=np.float64))
    return {"max_smoothed_abs_b_g": float(uniform_filter(absb, smooth_px).max()),
            "n_strong_pixels": int(np.sum(absb > strong_g)),
            "mean_abs_b_g": float(absb.mean())}


def is_quiet(diag, max_smoothed_g=50.0, max_strong_pixels=100):
    """True when the diagnostics show no active-region or plage flux (see module doc)."""
    return diag["max_smoothed_abs_b_g"] <= max_smoothed_g and \
        diag["n_strong_pixels"] <= max_strong_pixels


def candidate_centres(smap, max_angle_deg=35.0, step_deg=5.0):
    """Stonyhurst (lon, lat, angle) grid points within max_angle_deg of disk centre.

    Nearest to disk centre first.
    """
    grid = np.arange(-max_angle_deg - 5.0, max_angle_deg + 5.0 + 1e-9, step_deg)
    out = []
    for lat in grid:
        for lon in grid:
            angle = projection.center_angle_deg(smap, lon, lat)
            if angle <= max_angle_deg:
                out.append((float(lon), float(lat), angle))
    return sorted(out, key=lambda c: (c[2], c[1], c[0]))


def select_quiet_patches(fits_paths, n_per_file=3, max_angle_deg=35.0, step_deg=5.0,
                         min_separation_deg=22.0, max_smoothed_g=50.0, max_strong_pixels=100):
    """Project and select up to ``n_per_file`` quiet-Sun patches from each full-disk file.

    Returns a list of :class:`Patch` (256 x 256 float32 B_LOS in G, 1.4 Mm/px, bilinear).
    """
    patches = []
    for path in fits_paths:
        smap = projection.load_map(path)
        chosen = []
        for lon, lat, angle in candidate_centres(smap, max_angle_deg, step_deg):
            if len(chosen) >= n_per_file:
                break
            if any(_separation_deg(lon, lat, p.lon_deg, p.lat_deg) < min_separation_deg
                   for p in chosen):
                continue
            data, header = projection.project_map(smap, lon, lat, method=METHOD,
                                                  source=Path(path).name)
            diag = quiet_diagnostics(data)
            if is_quiet(diag, max_smoothed_g, max_strong_pixels):
                _add_provenance(header, smap)
                chosen.append(Patch(data, header, Path(path).name, lon, lat, angle, diag))
        patches.extend(chosen)
    return patches


def _separation_deg(lon1, lat1, lon2, lat2):
    lon1, lat1, lon2, lat2 = np.radians([lon1, lat1, lon2, lat2])
    cos_d = np.sin(lat1) * np.sin(lat2) + np.cos(lat1) * np.cos(lat2) * np.cos(lon1 - lon2)
    return float(np.degrees(np.arccos(np.clip(cos_d, -1.0, 1.0))))


def _add_provenance(header, smap):
    for key in ("T_OBS", "T_REC", "TELESCOP", "CONTENT"):
        if key.lower() in smap.meta:
            header[key] = str(smap.meta[key.lower()])
    if "date-obs" in smap.meta:
        header["DATE_SRC"] = (str(smap.meta["date-obs"]), "DATE-OBS of the source file")


def patch_filename(patch):
    """File name of a patch, e.g. 'hmi_20160707_0100_lon-005_lat-010.fits'."""
    stamp = patch.source.split(".")[2][:13] if patch.source.count(".") >= 3 else "src"
    return f"hmi_{stamp}_lon{patch.lon_deg:+04.0f}_lat{patch.lat_deg:+04.0f}.fits"


def write_patches(patches, out_dir):
    """Write each patch as float32 FITS (BUNIT='G', WCS, provenance) plus a README.md."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for patch in patches:
        header = patch.header.copy()
        header["BUNIT"] = "G"
        set_string_card(header, "SRCFILE", patch.source, "full-disk hmi.M_720s file")
        header["CEN_LON"] = (patch.lon_deg, "Stonyhurst longitude of centre (deg)")
        header["CEN_LAT"] = (patch.lat_deg, "Stonyhurst latitude of centre (deg)")
        header["METHOD"] = (METHOD, "reproject_interp, bilinear")
        header["ATTRIB"] = ATTRIBUTION
        path = out_dir / patch_filename(patch)
        write_fits(path, patch.data.astype(np.float32), header)
        paths.append(path)
    atomic_write_text(out_dir / "README.md", _readme(patches, paths))
    return paths


def _readme(patches, paths):
    rows = "\n".join(
        f"| `{path.name}` | {p.source} | {p.lon_deg:+.0f} | {p.lat_deg:+.0f} | "
        f"{p.center_angle_deg:.1f} | {p.stats['mean_abs_b_g']:.2f} | "
        f"{p.stats['max_smoothed_abs_b_g']:.1f} | {p.stats['n_strong_pixels']} |"
        for p, path in zip(patches, paths))
    return f"""# Real HMI quiet-Sun reference patches

{ATTRIBUTION}.

Postel-projected (azimuthal equidistant, Stonyhurst frame at the observation time) quiet-Sun
patches of the line-of-sight field B_LOS (Gauss, float32), 256 x 256 pixels at 1.4 Mm per
pixel (0.11525 deg/px with R_sun = RSUN_REF = 696.0 Mm), cut from the full-disk hmi.M_720s
magnetograms in `shared/data/hmi/` with `preemergence.solar.hmi_quiet.select_quiet_patches` and
`write_patches` (projection by `preemergence.solar.projection`, `reproject_interp`, bilinear).
Each file holds the WCS (HGLN-ARC/HGLT-ARC) and the source file, T_OBS, centre and method.

They are single 720 s magnetograms: their per-pixel noise (about 6.3 G per native 0.5 arcsec
pixel, Liu et al. 2012) is far larger than that of the 410-min averages in SDO/HEAR maps.

Selection: candidate centres on a 5 deg grid within 35 deg of disk centre; rejected when the
9 x 9-pixel boxcar-smoothed |B| exceeds 50 G anywhere or more than 100 pixels exceed 200 G
(active-region or plage flux); the remaining ones taken nearest disk centre first, at least
22 deg apart (so neighbouring patches may share an edge strip).

| file | source | lon (deg) | lat (deg) | centre angle (deg) | mean abs B (G) | max smoothed abs B (G) | pixels > 200 G |
| --- | --- | --- | --- | --- | --- | --- | --- |
{rows}
"""
