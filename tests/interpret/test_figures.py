"""Smoke tests: every interpretation figure writes a non-empty PNG from small fake arrays."""

import numpy as np
import pytest

from preemergence.interpret import figures as f
from preemergence.interpret.bipole import synthetic_bipole

NOTE = "data: fake test arrays"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
RNG = np.random.default_rng(0)
RADII = np.arange(0.0, 61.0, 10.0)


def fake_outputs(n=120):
    labels = RNG.integers(0, 2, n)
    outputs = np.clip(0.6 * labels + RNG.normal(0.2, 0.2, n), 0, 1)
    mtot = RNG.uniform(4e20, 16e20, n)
    return outputs, labels, mtot


def curves():
    return {10.0: 0.2 + 0 * RADII, 100.0: np.exp(-RADII / 30), 1000.0: np.exp(-RADII / 40)}


CASES = {
    "composites": lambda p: f.plot_composites(
        {(k, t): RNG.normal(size=(32, 32)) * 10 for k in ("EAR", "CR") for t in (-3.2, -8.5)},
        p, NOTE),
    "bipole_response": lambda p: f.plot_bipole_response(RADII, curves(), p, NOTE, "test",
                                                      threshold=0.5),
    "filter_response": lambda p: f.plot_filter_response(RADII, RNG.normal(size=(4, len(RADII))),
                                                        p, NOTE),
    "depth_bipole": lambda p: f.plot_depth_bipole(RADII, {d: curves() for d in (2, 3, 4, 5, 6)},
                                                  p, NOTE, threshold=0.5),
    "filter_maps": lambda p: f.plot_filter_maps(synthetic_bipole(25.0, 100.0),
                                                RNG.uniform(-1, 1, (6, 6, 4)), p, NOTE, "test"),
    "occlusion_regions": lambda p: f.plot_occlusion_regions(
        [{"field_g": RNG.normal(size=(40, 40)) * 50, "output": RNG.uniform(size=(40, 40)),
          "occlusion": np.where(RNG.uniform(size=(40, 40)) > 0.9, np.nan, 0.3), "title": "r"}],
        p, NOTE),
    "output_bins": lambda p: f.plot_output_bins(*fake_outputs(), p, NOTE, threshold=0.5),
    "example_segments": lambda p: f.plot_example_segments(
        RNG.normal(size=(120, 17, 17)) * 100, *fake_outputs(), p, NOTE, n_per_side=2,
        threshold=0.5),
    "example_segments_wrong": lambda p: f.plot_example_segments(
        RNG.normal(size=(120, 17, 17)) * 100, *fake_outputs(), p, NOTE, correct=False,
        names=[f"id{i}" for i in range(120)], threshold=0.5),
    "filter_vs_mtot": lambda p: f.plot_filter_contribution_vs_mtot(
        np.linspace(5e20, 15e20, 5), RNG.normal(size=(4, 5)), RNG.uniform(0, 0.2, (4, 5)), p,
        NOTE, err_scale=20),
    "output_vs_mtot": lambda p: f.plot_output_vs_mtot(
        np.linspace(1e20, 24e20, 6), RNG.uniform(0.4, 0.8, 6), np.full(6, 0.02),
        RNG.uniform(0, 0.2, 6), np.full(6, 0.01), p, NOTE, err_scale=5,
        threshold=0.5),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_figure_writes_png(tmp_path, name):
    path = tmp_path / "sub" / f"{name}.png"
    assert CASES[name](path) == path
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 5000


def test_extent_mm_centred():
    assert f.extent_mm((256, 256)) == pytest.approx((-179.2, 179.2, -179.2, 179.2))
