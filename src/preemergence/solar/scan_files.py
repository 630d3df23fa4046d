"""Scan one full-disk magnetogram file with a trained CNN and write the probability map
(FITS) and, optionally, its figure (PNG): the work behind ``preemergence scan``."""

from __future__ import annotations

from pathlib import Path

from preemergence.solar.projection import load_map
from preemergence.solar.scan import (load_scan_model, plot_scan, scan_header, scan_map,
                                     training_source, write_scan_fits)


def scan_file(magnetogram: Path, model: Path, out: Path, png: Path | None, step_deg: float,
              max_angle_deg: float, segments: Path, data_source: str | None,
              batch_size: int, show_progress: bool):
    """Scan ``magnetogram`` with the run (or registered model) ``model``; write ``out`` and
    ``png``. Returns (ScanResult, training-data source)."""
    smap = load_map(magnetogram)
    trained = load_scan_model(model)
    source, source_from = training_source(trained.result, segments, data_source)
    result = scan_map(smap, trained.model, trained.mean_g, trained.std_g, trained.abs_field,
                      step_deg, max_angle_deg, batch_size, show_progress=show_progress)
    write_scan_fits(out, result, scan_header(smap, result, model, source, source_from))
    if png is not None:
        plot_scan(smap, result, png, source, model, threshold=trained.threshold)
    return result, source
