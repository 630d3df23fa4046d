"""Scan a full-disk magnetogram with a trained CNN: a map of pre-emergence probability.

Beyond the paper. Segment centres lie on a Stonyhurst heliographic (lon, lat) grid with a
step of ``step_deg`` degrees, at whole multiples of the step (so lon = 0 and lat = 0 are
grid lines), restricted to centres within ``max_angle_deg`` (heliocentric angle) of the
sub-observer point. Around every centre an 85 x 85-pixel Postel (azimuthal equidistant)
patch at 1.4 Mm/px is cut with the same geometry as :mod:`preemergence.solar.projection`
(rows north, columns west, pixel centres at (i - 42) pixels from the centre, degrees per
pixel from the map's RSUN_REF), but for all patches at once, without reproject:

1. the patch's pixel centres are unit vectors on the sphere for a patch at (0, 0), rotated
   to each centre (one 3 x 3 matrix per centre) and then into the observer's
   heliocentric-Cartesian frame (Thompson 2006, A&A 449, 791, Eq. 11);
2. heliocentric Cartesian -> helioprojective (Tx, Ty) (Thompson 2006, Eq. 16), then the
   magnetogram's own WCS (wcslib) gives native pixel positions;
3. ``scipy.ndimage.map_coordinates`` samples the image bilinearly (as ``reproject_interp``
   does for the ``interpolation`` method). Points behind the limb, outside the image or
   next to a NaN (off-disk) native pixel are NaN; a patch with any NaN pixel is skipped
   and its probability is NaN.

Patches are standardised with the model's constants, x = (B - mean) / std (B in G, or |B|
when the model was trained with ``abs_field``), and the model gives P(PE) in batches.
The result is a (lat, lon) grid of probabilities, NaN where not scanned.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from preemergence.core.constants import PIXEL_SCALE_MM, SEGMENT_SIZE_PX
from preemergence.solar.projection import center_angles_deg, pixel_scale_deg, solar_radius_mm

DEFAULT_STEP_DEG = 2.5          # grid step of segment centres (deg)
DEFAULT_MAX_ANGLE_DEG = 60.0    # largest heliocentric angle of a segment centre (deg)
DEFAULT_BATCH_SIZE = 256        # patches per prediction batch
DEFAULT_SATURATION_G = 150.0    # grey scale of the magnetogram in the figure (+-G)
SIMULATED_SOURCES = ("synthetic", "mixed")


@dataclass
class ScanGrid:
    """Segment centres: Stonyhurst lon (nlon,) and lat (nlat,) in deg, and which of the
    (nlat, nlon) centres lie within the maximum heliocentric angle (``inside``)."""

    lon_deg: np.ndarray
    lat_deg: np.ndarray
    step_deg: float
    max_angle_deg: float
    inside: np.ndarray


@dataclass
class ScanResult:
    """P(PE) on the grid, (nlat, nlon), NaN where not scanned; counts; phase times (s)."""

    grid: ScanGrid
    probability: np.ndarray
    n_scanned: int
    n_skipped: int
    timings: dict = field(default_factory=dict)


def _multiples(center: float, half_width: float, step: float) -> np.ndarray:
    """Whole multiples of ``step`` within [center - half_width, center + half_width]."""
    first = np.ceil((center - half_width) / step)
    last = np.floor((center + half_width) / step)
    return np.arange(first, last + 1) * step


def scan_grid(smap, step_deg: float = DEFAULT_STEP_DEG,
              max_angle_deg: float = DEFAULT_MAX_ANGLE_DEG) -> ScanGrid:
    """Grid of segment centres (deg) covering the disk within ``max_angle_deg`` of its centre."""
    if not step_deg > 0:
        raise ValueError(f"step must be positive, not {step_deg} deg")
    if not 0 < max_angle_deg < 90:
        raise ValueError(f"maximum angle must be in (0, 90) deg, not {max_angle_deg}")
    obs = smap.observer_coordinate
    lon = _multiples(obs.lon.to_value("deg"), max_angle_deg, step_deg)
    lat = _multiples(obs.lat.to_value("deg"), max_angle_deg, step_deg)
    lat = lat[np.abs(lat) <= 90.0]
    lon2, lat2 = np.meshgrid(lon, lat)
    inside = center_angles_deg(smap, lon2, lat2) <= max_angle_deg
    return ScanGrid(lon, lat, float(step_deg), float(max_angle_deg), inside)


def patch_unit_vectors(size_px: int, scale_deg: float) -> np.ndarray:
    """Pixel centres of a Postel patch centred at Stonyhurst (0, 0): (size, size, 3) unit
    vectors (x towards lon 0, y towards lon 90 deg west, z north); rows go north, columns
    west, pixel (i, j) lies (j - c, i - c) * scale_deg from the centre, c = (size - 1) / 2.
    """
    offsets = np.radians((np.arange(size_px) - (size_px - 1) / 2.0) * scale_deg)
    dx, dy = np.meshgrid(offsets, offsets)
    rho, bearing = np.hypot(dx, dy), np.arctan2(dx, dy)      # bearing from north to west
    return np.stack([np.cos(rho), np.sin(rho) * np.sin(bearing),
                     np.sin(rho) * np.cos(bearing)], axis=-1)


def centre_rotations(lon_deg, lat_deg) -> np.ndarray:
    """(K, 3, 3) rotations taking a patch at (0, 0) to centres (lon, lat) in deg, local
    north kept along the meridian: R = Rz(lon) @ Ry(-lat)."""
    lon, lat = np.radians(np.asarray(lon_deg, float)), np.radians(np.asarray(lat_deg, float))
    cl, sl, cb, sb = np.cos(lon), np.sin(lon), np.cos(lat), np.sin(lat)
    zero = np.zeros_like(lon)
    return np.stack([np.stack([cl * cb, -sl, -cl * sb], -1),
                     np.stack([sl * cb, cl, -sl * sb], -1),
                     np.stack([sb, zero, cb], -1)], axis=-2)


def observer_rotation(smap) -> np.ndarray:
    """3 x 3 matrix: Stonyhurst Cartesian -> heliocentric Cartesian of the observer
    (rows: x west, y north, z towards the observer; Thompson 2006, Eq. 11)."""
    obs = smap.observer_coordinate
    l0, b0 = obs.lon.to_value("rad"), obs.lat.to_value("rad")
    cl, sl, cb, sb = np.cos(l0), np.sin(l0), np.cos(b0), np.sin(b0)
    return np.array([[-sl, cl, 0.0],
                     [-sb * cl, -sb * sl, cb],
                     [cb * cl, cb * sl, sb]])


def surface_to_pixel(smap, hcc_unit: np.ndarray):
    """Native 0-based pixel (x, y) of surface points given as heliocentric-Cartesian unit
    vectors (..., 3) on the sphere of radius RSUN_REF; NaN for points behind the limb."""
    radius_m = solar_radius_mm(smap) * 1.0e6
    dsun_m = smap.observer_coordinate.radius.to_value("m")
    x, y, z = (hcc_unit[..., k] * radius_m for k in range(3))
    along = dsun_m - z
    tx = np.arctan2(x, along)
    ty = np.arcsin(y / np.sqrt(x * x + y * y + along * along))
    hidden = hcc_unit[..., 2] <= radius_m / dsun_m
    units = [u.lower() for u in smap.wcs.world_axis_units]
    scale = [1.0 if unit == "rad" else np.degrees(1.0) * (3600.0 if unit == "arcsec" else 1.0)
             for unit in units]
    px, py = smap.wcs.world_to_pixel_values(tx * scale[0], ty * scale[1])
    px, py = np.asarray(px, float), np.asarray(py, float)
    px[hidden], py[hidden] = np.nan, np.nan
    return px, py


def heliographic_to_pixel(smap, lon_deg, lat_deg):
    """Native 0-based pixel (x, y) of Stonyhurst surface points (deg); NaN behind the limb."""
    lon, lat = np.radians(np.asarray(lon_deg, float)), np.radians(np.asarray(lat_deg, float))
    hgs = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], -1)
    return surface_to_pixel(smap, hgs @ observer_rotation(smap).T)


def patch_pixel_coords(smap, lon_deg, lat_deg, size_px: int = SEGMENT_SIZE_PX,
                       scale_mm: float = PIXEL_SCALE_MM):
    """Native pixel (x, y) of every pixel of the Postel patches at centres (lon, lat) deg:
    two (K, size, size) arrays, NaN where a point is behind the limb."""
    base = patch_unit_vectors(size_px, pixel_scale_deg(smap, scale_mm))
    matrices = observer_rotation(smap) @ centre_rotations(np.atleast_1d(lon_deg),
                                                          np.atleast_1d(lat_deg))
    hcc = np.einsum("kij,abj->kabi", matrices, base, optimize=True)
    return surface_to_pixel(smap, hcc)


def sample_patches(image: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Bilinear samples (float32, G) of ``image[y, x]`` at pixel positions (px, py); NaN
    outside the image, next to NaN pixels, or where px/py are NaN."""
    from scipy.ndimage import map_coordinates
    ok = np.isfinite(px) & np.isfinite(py)
    coords = np.stack([np.where(ok, py, -10.0), np.where(ok, px, -10.0)])
    values = map_coordinates(image, coords.reshape(2, -1), order=1, mode="constant",
                             cval=np.nan, prefilter=False).reshape(px.shape)
    values[~ok] = np.nan
    return values.astype(np.float32)


def _chunks(n: int, size: int):
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def scan_map(smap, model, mean_g: float, std_g: float, abs_field: bool = False,
             step_deg: float = DEFAULT_STEP_DEG, max_angle_deg: float = DEFAULT_MAX_ANGLE_DEG,
             batch_size: int = DEFAULT_BATCH_SIZE, size_px: int = SEGMENT_SIZE_PX,
             scale_mm: float = PIXEL_SCALE_MM, show_progress: bool = False) -> ScanResult:
    """P(PE) of the segments centred on the grid (see module docstring).

    mean_g, std_g: the model's standardisation constants (G); batch_size: patches sampled
    and predicted together (memory ~ batch_size x 0.6 MB).
    """
    from preemergence.core.progress import progress
    from preemergence.model import predict
    from preemergence.model.windows import standardise
    grid = scan_grid(smap, step_deg, max_angle_deg)
    rows, cols = np.nonzero(grid.inside)
    image = np.asarray(smap.data, dtype=np.float64)
    probability = np.full(grid.inside.shape, np.nan)
    timings = {"sample_s": 0.0, "predict_s": 0.0}
    n_skipped = 0
    with progress(_chunks(len(rows), batch_size), show_progress, "scan", "batch") as chunks:
        for chunk in chunks:
            start = time.perf_counter()
            px, py = patch_pixel_coords(smap, grid.lon_deg[cols[chunk]],
                                        grid.lat_deg[rows[chunk]], size_px, scale_mm)
            patches = sample_patches(image, px, py)
            good = np.all(np.isfinite(patches), axis=(1, 2))
            n_skipped += int(np.sum(~good))
            timings["sample_s"] += time.perf_counter() - start
            start = time.perf_counter()
            probs = predict.probabilities(model, standardise(patches[good], mean_g, std_g,
                                                             abs_field), batch_size)
            probability[rows[chunk][good], cols[chunk][good]] = probs
            timings["predict_s"] += time.perf_counter() - start
    return ScanResult(grid, probability, len(rows) - n_skipped, n_skipped, timings)


# --- model and provenance -------------------------------------------------------------

@dataclass
class ScanModel:
    """A trained fold: the Keras model, its standardisation (G), its classification
    threshold (the train.threshold it was scored with) and its result.json."""

    model: object
    mean_g: float
    std_g: float
    abs_field: bool
    result: dict
    threshold: float


def load_scan_model(folder) -> ScanModel:
    """Load ``model.keras`` and ``result.json`` of a train-cv run folder, or an MLflow
    model by URI (``models:/preemergence-cnn-t-03.2h@fold0``: model/registry.py)."""
    from preemergence.core.paths import MODEL_FILE, RESULT_FILE
    if str(folder).startswith(("models:/", "runs:/")):
        from preemergence.model.registry import load_registered
        model, meta = load_registered(str(folder))
        return ScanModel(model, float(meta["mean_g"]), float(meta["std_g"]),
                         bool(meta["abs_field"]), meta, float(meta["threshold"]))
    folder = Path(folder)
    for name in (MODEL_FILE, RESULT_FILE):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"{folder / name}: not found (expected a train-cv run "
                                    "folder such as models/train_cv/depth5/t-3.2h/fold0)")
    try:
        result = json.loads((folder / RESULT_FILE).read_text())
        const = result["standardisation"]
        mean_g, std_g = float(const["mean"]), float(const["std"])
        threshold = float(result["config"]["threshold"])
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"{folder / RESULT_FILE}: no standardisation mean/std or "
                         f"config.threshold ({type(exc).__name__}: {exc})") from exc
    import keras
    model = keras.models.load_model(folder / MODEL_FILE, compile=False)
    abs_field = bool(result["config"].get("abs_field", False))
    return ScanModel(model, mean_g, std_g, abs_field, result, threshold)


def training_source(result: dict, segments_dir=None, explicit: str | None = None):
    """(source, how it was found) of a model's training data: ``explicit`` if given, else
    result.json's ``data_source``, else the segment folder's dataset.json, else 'unknown'."""
    if explicit:
        return explicit, "given"
    if result.get("data_source"):
        return str(result["data_source"]), "result.json"
    if segments_dir is not None:
        from preemergence.data.segments import read_dataset_info
        try:
            return str(read_dataset_info(segments_dir)["source"]), f"{segments_dir}"
        except (FileNotFoundError, KeyError, ValueError):
            pass
    return "unknown", "not recorded"


def caveat(source: str) -> str:
    """One line on what the map is (and is not), from the training-data source."""
    if source == "synthetic":
        return "Model trained on SIMULATED data - not a forecast"
    if source == "mixed":
        return "Model trained on partly SIMULATED data - not a forecast"
    if source == "real":
        return "Model trained on real data - research output, not a forecast"
    return "Training data unknown - not a forecast"


# --- outputs ---------------------------------------------------------------------------

def scan_header(smap, result: ScanResult, model_dir, source: str, source_from: str,
                size_px: int = SEGMENT_SIZE_PX, scale_mm: float = PIXEL_SCALE_MM):
    """FITS header of the probability grid: CAR WCS in Stonyhurst lon/lat (deg) plus
    provenance (magnetogram DATE-OBS, model, training-data source, caveat)."""
    from astropy.io import fits
    grid = result.grid
    header = fits.Header()
    for axis, values, name in ((1, grid.lon_deg, "HGLN-CAR"), (2, grid.lat_deg, "HGLT-CAR")):
        header[f"CTYPE{axis}"] = name
        header[f"CUNIT{axis}"] = "deg"
        header[f"CRVAL{axis}"] = 0.0
        header[f"CDELT{axis}"] = grid.step_deg
        header[f"CRPIX{axis}"] = 1.0 - values[0] / grid.step_deg if len(values) else 1.0
    header["LON_FRST"] = (float(grid.lon_deg[0]), "Stonyhurst lon of column 1 (deg)")
    header["LAT_FRST"] = (float(grid.lat_deg[0]), "Stonyhurst lat of row 1 (deg)")
    header["STEP_DEG"] = (grid.step_deg, "grid step of segment centres (deg)")
    header["MAXANGLE"] = (grid.max_angle_deg, "max heliocentric angle of a centre (deg)")
    header["DATE-OBS"] = (smap.date.isot, "observation time of the magnetogram (UTC)")
    header["HGLN_OBS"] = (smap.observer_coordinate.lon.to_value("deg"), "observer lon (deg)")
    header["HGLT_OBS"] = (smap.observer_coordinate.lat.to_value("deg"), "observer lat (deg)")
    header["DSUN_OBS"] = (smap.observer_coordinate.radius.to_value("m"), "observer dist (m)")
    header["BUNIT"] = ("", "dimensionless: CNN output P(pre-emergence), 0..1")
    header["SEG_PX"] = (size_px, "segment size (pixels)")
    header["SCALE_MM"] = (float(scale_mm), "Postel pixel scale at segment centre (Mm)")
    header["NSCANNED"] = (result.n_scanned, "segments predicted")
    header["NSKIPPED"] = (result.n_skipped, "segments skipped (off-disk or NaN pixels)")
    header["MODEL"] = str(model_dir)            # trained run folder (may need CONTINUE cards)
    header["DATASRC"] = (source, "training data source (synthetic/real/mixed)")
    header["DATAFROM"] = str(source_from)       # where DATASRC was read
    header["CAVEAT"] = caveat(source)
    if source in SIMULATED_SOURCES:
        header["COMMENT"] = "model trained on simulated data"
    header["COMMENT"] = "NaN: not scanned (beyond MAXANGLE, off-disk or missing data)"
    return header


def write_scan_fits(path, result: ScanResult, header) -> Path:
    """The probability grid (nlat, nlon) float32 as a FITS primary HDU, atomically."""
    from preemergence.core.artifacts import write_fits
    return write_fits(path, result.probability.astype(np.float32), header)


def _north_up(smap) -> bool:
    """Whether the image must be flipped on both axes to show solar north up (CROTA2~180)."""
    matrix = np.asarray(smap.rotation_matrix)
    return bool(matrix[0, 0] < 0 and matrix[1, 1] < 0)


def block_mean(image: np.ndarray, factor: int) -> np.ndarray:
    """Mean over factor x factor blocks (NaN-aware; trailing rows/columns dropped)."""
    if factor <= 1:
        return np.asarray(image, dtype=np.float32)
    ny, nx = (n // factor for n in image.shape)
    blocks = np.asarray(image[:ny * factor, :nx * factor], dtype=np.float32)
    blocks = blocks.reshape(ny, factor, nx, factor)
    with np.errstate(invalid="ignore"):
        counts = np.isfinite(blocks).sum(axis=(1, 3))
        sums = np.nansum(blocks, axis=(1, 3))
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def plot_scan(smap, result: ScanResult, path, source: str, model_dir,
              saturation_g: float = DEFAULT_SATURATION_G, max_image_px: int = 700,
              dpi: int = 85, *, threshold: float) -> Path:
    """PNG: magnetogram (grey, +-saturation_g G, block-averaged to <= max_image_px) with
    P(PE) drawn over it as translucent filled contours between the segment centres, the
    ``threshold`` contour (the model's train.threshold) as a line, a colourbar, the date and
    the caveat."""
    from matplotlib.tri import Triangulation
    from preemergence.core.artifacts import save_figure
    from preemergence.core.figures import new_figure
    factor = max(1, int(np.ceil(max(smap.data.shape) / max_image_px)))
    image = block_mean(np.asarray(smap.data), factor)
    grid = result.grid
    rows, cols = np.nonzero(grid.inside)
    px, py = heliographic_to_pixel(smap, grid.lon_deg[cols], grid.lat_deg[rows])
    px, py = (px + 0.5) / factor - 0.5, (py + 0.5) / factor - 0.5
    flip = _north_up(smap)
    if flip:
        image = image[::-1, ::-1]
        px, py = image.shape[1] - 1 - px, image.shape[0] - 1 - py
    prob = result.probability[rows, cols]
    scanned = np.isfinite(prob) & np.isfinite(px)
    fig = new_figure(8.0, 8.4)
    ax = fig.add_subplot()
    ax.imshow(image, origin="lower", cmap="gray", vmin=-saturation_g, vmax=saturation_g,
              interpolation="nearest")
    levels = np.linspace(0.0, 1.0, 11)
    if scanned.sum() >= 3:
        tri = Triangulation(px[scanned], py[scanned])
        filled = ax.tricontourf(tri, prob[scanned], levels=levels, cmap="plasma", alpha=0.35)
        ax.tricontour(tri, prob[scanned], levels=[threshold], colors="cyan", linewidths=1.0)
        fig.colorbar(filled, ax=ax, shrink=0.8,
                     label=f"CNN output P(pre-emergence); cyan line: {threshold:g}")
    ax.plot(px[~scanned], py[~scanned], "x", color="0.4", markersize=3.0,
            label="skipped (off-disk / NaN)")
    ax.set_xticks([])
    ax.set_yticks([])
    orientation = "north up, west right" if flip else "image as stored"
    ax.set_title(f"SDO/HMI B_LOS {smap.date.isot[:16]} UTC, grey ±{saturation_g:.0f} G "
                 f"({orientation})\nsegment centres every {grid.step_deg:g}° within "
                 f"{grid.max_angle_deg:g}° of disk centre: {result.n_scanned} scanned, "
                 f"{result.n_skipped} skipped", fontsize=9)
    fig.suptitle(caveat(source).replace(" - ", " \u2013 "), fontsize=13, fontweight="bold",
                 color="crimson" if source != "real" else "black")
    ax.set_xlabel(f"model: {model_dir}   training data: {source}", fontsize=8)
    return save_figure(fig, path, dpi=dpi)
