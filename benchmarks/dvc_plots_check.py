"""Render every plot `dvc plots show` would draw, offline, and count its lines.

`dvc plots show` writes an HTML page that loads Vega from a CDN; this check takes the same
filled Vega-Lite specifications (`dvc plots show --json`), renders each to PNG with
vl-convert (Vega bundled, no network) and counts the lines each draws (the distinct values
of the template's colour, dash, detail and facet fields), next to the x values a line
holds. A line holding one x value twice is several series drawn as one (a zigzag).

Needs:  `make run` first (the plots' CSVs) and the `views` extra (vl-convert-python, pinned):
        `make plots-offline` installs it and runs this check.
Writes: reports/benchmarks/dvc_plots/<plot>.png and reports/benchmarks/dvc_plots.md.
Usage:  .venv/bin/python benchmarks/dvc_plots_check.py
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "reports" / "benchmarks"
CHANNELS = ("color", "strokeDash", "detail")


def dvc_executable() -> str:
    """The DVC installed beside this Python (the project's pinned one), as an absolute path;
    else the first on PATH, made absolute (a relative PATH entry such as .venv/bin would
    break a subprocess started in another folder)."""
    beside = Path(sys.executable).parent / "dvc"
    found = str(beside) if beside.exists() else shutil.which("dvc")
    if found is None:
        raise FileNotFoundError("dvc: not installed beside this Python nor on PATH")
    return str(Path(found).absolute())


def plot_specs() -> dict:
    shown = subprocess.run([dvc_executable(), "plots", "show", "--json"], cwd=ROOT, check=True,
                           capture_output=True, text=True)
    return {name: entries[0]["content"] for name, entries in
            json.loads(shown.stdout)["data"].items()}


def lines_repeating_x(spec: dict) -> pd.Series:
    """Per line a filled Vega-Lite spec draws (its colour, dash, detail and facet fields):
    True where the line holds one x value twice (several series drawn as one)."""
    inner = spec.get("spec", spec)
    encoding = inner.get("encoding") or inner["layer"][0]["encoding"]
    fields = [encoding[c]["field"] for c in CHANNELS
              if isinstance(encoding.get(c), dict) and "field" in encoding[c]]
    fields += [spec["facet"]["field"]] if "facet" in spec else []
    points = pd.DataFrame(spec["data"]["values"])
    groups = [f for f in fields if f in points] or ["rev"]
    return points.groupby(groups)[encoding["x"]["field"]].apply(
        lambda xs: xs.duplicated().any())


def main() -> int:
    import vl_convert
    folder = OUT / "dvc_plots"
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["# `dvc plots show`, rendered offline", "",
            "Each plot's Vega-Lite specification from `dvc plots show --json`, rendered with "
            f"vl-convert {vl_convert.__version__}; lines = distinct (colour, dash, detail, "
            "facet) groups; zigzag = lines holding an x value twice.", "",
            "| plot | lines | zigzag lines | image |", "|---|---:|---:|---|"]
    bad = 0
    for name, spec in plot_specs().items():
        stem = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:60]
        (folder / f"{stem}.png").write_bytes(vl_convert.vegalite_to_png(spec, scale=1))
        repeated = lines_repeating_x(spec)
        bad += int(repeated.sum())
        rows.append(f"| {name} | {len(repeated)} | {int(repeated.sum())} | "
                    f"`dvc_plots/{stem}.png` |")
    (OUT / "dvc_plots.md").write_text("\n".join(rows) + "\n")
    print("\n".join(rows))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
