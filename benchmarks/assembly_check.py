"""Check and time the assembly of one region map from real full-disk HMI frames.

On ../shared/data/hmi (the real hmi.M_720s full-disk files; skipped with a message when
absent): N byte copies of one file with only T_REC shifted by the 720 s cadence are
assembled (src/preemergence/acquire/assemble.py) into one 256 x 256, 1.4 Mm/px map about a
fixed Carrington location, and compared with ``projection.project_map`` of that file about
the tracked centre (the average of N identical projections must be that projection). Times
the assembly (frames per second, one process; and two processes assembling two windows at
once, the machine's 2 cores) and its parts (reading a 4096^2 Rice-compressed frame,
projecting it), and screens every file (the 2019 frame carries QUALITY 0x00010000).

Writes reports/benchmarks/assembly.md. Usage:

  .venv/bin/python benchmarks/assembly_check.py [--frames 8] [--hmi ../shared/data/hmi]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))          # this checkout's package, also in a copy
HMI_DIR = ROOT.parent / "shared" / "data" / "hmi"
FILE_2016 = "hmi.M_720s.20160707_010000_TAI.magnetogram.fits"
STONYHURST_DEG = (10.0, 15.0)   # region centre at the frame's time: plage NE of disk centre
TIME_H = -3.2


def region_for(smap, region_id="BENCH"):
    """A catalogue region whose Carrington location is STONYHURST_DEG at the frame's time,
    its t0 placing the -3.2 h window's centre on the frame's T_REC."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from astropy.time import TimeDelta
    from sunpy.coordinates import HeliographicCarrington, HeliographicStonyhurst

    from preemergence.acquire.records import CatalogueRegion, t_rec_time
    point = SkyCoord(*STONYHURST_DEG, unit="deg", frame=HeliographicStonyhurst,
                     obstime=smap.reference_date)
    hgc = point.transform_to(HeliographicCarrington(observer=smap.observer_coordinate,
                                                    obstime=smap.reference_date))
    t0 = t_rec_time(smap.meta["t_rec"]) - TimeDelta(TIME_H * 3600.0, format="sec")
    return CatalogueRegion(region_id, "EAR", t0, float(hgc.lon.to_value(u.deg)),
                           float(hgc.lat.to_value(u.deg)))


def shifted_copies(src: Path, folder: Path, n: int, region_id: str):
    """n byte copies of src, T_REC moved by k x 720 s (k = 0..n-1, centred), as Frames.

    The 80-byte T_REC card is rewritten in place: astropy's update mode would recompress
    the JSOC image (and garble its scaled integers and NaNs)."""
    from astropy.io import fits
    from astropy.time import TimeDelta

    from preemergence.acquire.assemble import frame_from_file
    from preemergence.acquire.records import t_rec_text, t_rec_time
    base = t_rec_time(fits.getheader(src, 1)["T_REC"])
    raw = src.read_bytes()
    starts = [i for i in range(0, len(raw), 80) if raw[i:i + 10] == b"T_REC   = "]
    if len(starts) != 1:
        raise ValueError(f"{src.name}: {len(starts)} T_REC cards, expected 1")
    at, old = starts[0], fits.Card.fromstring(raw[starts[0]:starts[0] + 80].decode("ascii"))
    frames = []
    for k in range(n):
        text = t_rec_text(base + TimeDelta((k - n // 2) * 720.0, format="sec"))
        card = fits.Card("T_REC", text, old.comment).image.encode("ascii")
        path = folder / f"copy{k:02d}.fits"
        path.write_bytes(raw[:at] + card + raw[at + 80:])
        frames.append(frame_from_file(path, region_id, TIME_H))
    return frames


def assemble(frames, region):
    from preemergence.acquire.assemble import assemble_window
    from preemergence.acquire.records import averaging_window
    warnings.simplefilter("ignore")
    return assemble_window(frames, region, averaging_window(region, TIME_H),
                           min_good_fraction=min(1.0, len(frames) / 35))


def timed_parts(path: Path, region):
    """Seconds to read one frame (sunpy map, pixels decompressed) and to project it."""
    import numpy as np

    from preemergence.acquire.assemble import tracked_centre
    from preemergence.solar.projection import load_map, project_map
    start = time.perf_counter()
    smap = load_map(path)
    np.asarray(smap.data).sum()
    read_s = time.perf_counter() - start
    centre = tracked_centre(region, smap.reference_date, smap.observer_coordinate)
    start = time.perf_counter()
    reference, _ = project_map(smap, *centre)
    return read_s, time.perf_counter() - start, reference, centre


def run(hmi_dir: Path, n: int, work: Path) -> dict:
    import numpy as np

    from preemergence.acquire.assemble import tracked_centre
    from preemergence.acquire.screening import screen_frame
    from preemergence.solar.projection import load_map
    warnings.simplefilter("ignore")
    src = hmi_dir / FILE_2016
    region = region_for(load_map(src))
    frames = shifted_copies(src, work, n, region.region_id)
    read_s, project_s, reference, centre = timed_parts(src, region)
    start = time.perf_counter()
    result = assemble(frames, region)
    one_s = time.perf_counter() - start
    assert result.data is not None, result.reason
    diff = np.abs(result.data.astype(np.float64) - reference)
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(assemble, [frames[:1]] * 2, [region] * 2))     # warm the workers
        start = time.perf_counter()
        both = list(pool.map(assemble, [frames, frames], [region, region]))
        two_s = time.perf_counter() - start
    assert all(np.array_equal(b.data, result.data) for b in both)
    screening = {}
    for path in sorted(hmi_dir.glob("*.fits")):
        smap = load_map(path)
        at = tracked_centre(region_for(smap), smap.reference_date, smap.observer_coordinate)
        screening[path.name] = screen_frame(smap, at, source=path.name) or "used"
    return {"file": FILE_2016, "frames": n, "centre_stonyhurst_deg": centre,
            "carrington_deg": [region.carr_lon_deg, region.lat_deg],
            "max_abs_diff_g": float(diff.max()), "mean_abs_diff_g": float(diff.mean()),
            "mean_abs_b_g": float(np.abs(reference).mean()),
            "used": len(result.used), "rejected": len(result.rejected),
            "one_process_s": one_s, "frames_per_s_1proc": n / one_s,
            "two_processes_s": two_s, "frames_per_s_2proc": 2 * n / two_s,
            "read_frame_s": read_s, "project_frame_s": project_s, "screening": screening}


def machine() -> str:
    from preemergence.core.hardware import cpu_name
    return f"{cpu_name()}, {os.cpu_count()} cores"


def report(r: dict) -> str:
    lines = [
        "# Assembly of a region map from real HMI frames",
        "",
        f"Machine: {r['machine']}. Input: {r['frames']} byte copies of `{r['file']}` with "
        "only T_REC shifted (720 s apart), assembled by `preemergence.acquire.assemble` into "
        "one 256 x 256, 1.4 Mm/px map (bilinear) about Carrington "
        f"({r['carrington_deg'][0]:.3f}, {r['carrington_deg'][1]:.3f}) deg, Stonyhurst "
        f"({r['centre_stonyhurst_deg'][0]:.3f}, {r['centre_stonyhurst_deg'][1]:.3f}) deg at "
        "the frame's T_OBS. Produced by `benchmarks/assembly_check.py`.",
        "",
        "## Agreement with `projection.project_map` of the file about the tracked centre",
        "",
        f"- frames used / rejected: {r['used']} / {r['rejected']}",
        f"- max |difference|: {r['max_abs_diff_g']:.3g} G; mean |difference|: "
        f"{r['mean_abs_diff_g']:.3g} G (mean |B| of the map: {r['mean_abs_b_g']:.2f} G)",
        "",
        "The copies share their pixels and T_OBS, so the average must equal the single "
        "projection: this checks that T_REC selects frames without moving the geometry, "
        "that screening passes a good frame, and that the float64 mean of identical float32 "
        "maps is exact. Tracking itself is checked in tests/acquire/test_assemble.py "
        "(a Carrington point stays at the map centre a day apart).",
        "",
        "## Speed",
        "",
        "| what | time | frames per second |",
        "|---|---:|---:|",
        f"| one window, one process | {r['one_process_s']:.1f} s | "
        f"{r['frames_per_s_1proc']:.2f} |",
        f"| two windows, two processes at once | {r['two_processes_s']:.1f} s | "
        f"{r['frames_per_s_2proc']:.2f} |",
        f"| of which: read one 4096^2 frame (decompress) | {r['read_frame_s']:.2f} s | |",
        f"| of which: project one frame (256^2, bilinear) | {r['project_frame_s']:.2f} s | |",
        "",
        "A full hmi.M_720s window is 35 frames (410.25 min); 5 time bins per region.",
        "",
        "## Screening of the full-disk files (region box at Stonyhurst "
        f"({STONYHURST_DEG[0]:g}, {STONYHURST_DEG[1]:g}) deg)",
        "",
        *[f"- `{name}`: used" if why == "used" else f"- rejected: {why}"
          for name, why in r["screening"].items()],
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--hmi", type=Path, default=HMI_DIR)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "benchmarks")
    args = parser.parse_args()
    if not (args.hmi / FILE_2016).is_file():
        print(f"skipped: {args.hmi / FILE_2016} not found (the real HMI files live in "
              "../shared/data/hmi)")
        return 0
    from preemergence.core.artifacts import atomic_write_text
    with tempfile.TemporaryDirectory(prefix="assembly-check-") as work:
        result = {"machine": machine(), **run(args.hmi, args.frames, Path(work))}
    text = report(result)
    atomic_write_text(args.out / "assembly.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
