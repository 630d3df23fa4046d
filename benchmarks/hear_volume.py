"""Projected download volume and assembly time of a full HEAR-like set from JSOC.

The SDO/HEAR set of Schunker et al. (2016) has 105 EARs; with one CR each and the
pipeline's 5 time bins that is 1,050 windows of 410.25 min. Frames per window: 35 for
hmi.M_720s, 547 for hmi.M_45s (acquire/records.expected_frames). Bytes per frame: the
measured full-disk hmi.M_720s file size (acquire/jsoc.FULL_DISK_BYTES) or a tracked im_patch
cutout of params.yaml acquire.cutout_size_deg (acquire/jsoc.CutoutSpec.estimated_bytes).

Assembly time is measured here, on this machine, on the real full-disk files of
../shared/data/hmi (skipped with a message when absent): one frame read and projected
(full disk), and the same frame cut to the cutout box first (sunpy submap, written
Rice-compressed like JSOC's cutouts), then read and projected. The rate is that of one
process; a cluster divides it by its workers (regions are independent).

Writes reports/benchmarks/hear_volume.md. Usage:  .venv/bin/python benchmarks/hear_volume.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
HMI_FILE = ROOT.parent / "shared" / "data" / "hmi" / "hmi.M_720s.20160707_010000_TAI.magnetogram.fits"
OUT = ROOT / "reports" / "benchmarks" / "hear_volume.md"
N_EAR, N_CR, REPEATS = 105, 105, 3


def seconds_per_frame(path: Path, centre=(10.0, 15.0)) -> float:
    """Mean wall time (s) to read one frame and Postel-project a 256 x 256 region."""
    from preemergence.solar.projection import load_map, project_map
    start = time.perf_counter()
    for _ in range(REPEATS):
        project_map(load_map(path), *centre)
    return (time.perf_counter() - start) / REPEATS


def cutout_file(full: Path, folder: Path, size_deg: float, centre=(10.0, 15.0)) -> Path:
    """The full-disk frame cut to a size_deg box about the centre (Rice-compressed)."""
    import astropy.units as u
    import numpy as np
    from astropy.coordinates import SkyCoord
    from astropy.io import fits
    from sunpy.coordinates import HeliographicStonyhurst
    from preemergence.solar.projection import load_map
    smap = load_map(full)
    half = size_deg / 2
    lon, lat = np.meshgrid(np.linspace(-half, half, 9) + centre[0],
                           np.linspace(-half, half, 9) + centre[1])
    box = SkyCoord(lon.ravel() * u.deg, lat.ravel() * u.deg, frame=HeliographicStonyhurst,
                   obstime=smap.reference_date).transform_to(smap.coordinate_frame)
    x, y = smap.wcs.world_to_pixel(box)
    sub = smap.submap([x.min(), y.min()] * u.pix, top_right=[x.max(), y.max()] * u.pix)
    path = folder / "cutout.fits"
    header = fits.Header(sub.fits_header)
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(np.asarray(sub.data, np.float32),
                                                       header, quantize_level=-0.01)]
                 ).writeto(path)
    return path


def main() -> int:
    from preemergence.acquire.jsoc import FULL_DISK_BYTES, CutoutSpec
    from preemergence.acquire.records import expected_frames
    from preemergence.core.config import load_params
    from preemergence.core.hardware import cpu_name
    size_deg = load_params(ROOT / "params.yaml").acquire.cutout_size_deg
    bins = len(load_params(ROOT / "params.yaml").time_bins)
    cutout_bytes = CutoutSpec(0.0, 0.0, size_deg, size_deg, *[None] * 3).estimated_bytes()
    timing = {}
    if HMI_FILE.exists():
        with tempfile.TemporaryDirectory() as tmp:
            timing["full disk"] = seconds_per_frame(HMI_FILE)
            timing["cutout"] = seconds_per_frame(cutout_file(HMI_FILE, Path(tmp), size_deg))
    else:
        print(f"{HMI_FILE} absent: volumes only, no timing")
    windows = (N_EAR + N_CR) * bins
    lines = ["# A full HEAR-like set from JSOC: volume and assembly time", "",
             f"Machine: {cpu_name()}, one process. {N_EAR} EARs + {N_CR} CRs x {bins} time "
             f"bins = {windows} windows. Cutouts: {size_deg:g} deg box "
             f"({cutout_bytes / 1e6:.2f} MB a frame, estimated); full disk "
             f"{FULL_DISK_BYTES / 1e6:.2f} MB a frame (measured file size). Assembly = read and "
             "project one frame (measured on the real 2016-07-07 file, mean of "
             f"{REPEATS}); screening and tracking add about a quarter "
             "(reports/benchmarks/assembly.md: 0.72 s a full-disk frame in all), averaging "
             "is negligible.", "",
             "| series | frames | kind | download | assembly (1 process) |",
             "|---|---:|---|---:|---:|"]
    for series in ("hmi.M_720s", "hmi.M_45s"):
        frames = windows * expected_frames(series)
        for kind, per_frame in (("cutout", cutout_bytes), ("full disk", FULL_DISK_BYTES)):
            hours = (f"{frames * timing[kind] / 3600:,.1f} h ({timing[kind]:.2f} s/frame)"
                     if kind in timing else "not measured")
            lines.append(f"| {series} | {frames:,} | {kind} | "
                         f"{frames * per_frame / 1e9:,.1f} GB | {hours} |")
    lines += ["", "Regions are independent: `--executor local:N` or a Dask cluster divides "
              "the assembly time by the workers (docs/cluster.md); the download is bounded by "
              "JSOC's export queue, not by this machine."]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
