"""The regions stage: the region store (simulated by default) and its checks report."""

from pathlib import Path

import pytest

from preemergence.core.config import load_params, with_overrides
from preemergence.data.regionstore import load_region_store
from preemergence.stages.regions import run_regions

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def small_params():
    return with_overrides(load_params(ROOT / "params.yaml"),
                          {"simulate.n_ear": 3, "simulate.n_cr": 3, "time_bins": [-3.2, -8.5]})


def test_simulated_store_and_its_checks(small_params, tmp_path, output_guard):
    guard = output_guard(tmp_path)
    summary = run_regions(small_params, tmp_path / "regions", tmp_path / "reports",
                          progress=False)
    guard.check("regions", tmp_path / "reports", tmp_path / "regions")
    store = load_region_store(tmp_path / "regions", small_params.time_bins)
    assert len(store.ids("EAR")) == 3 and len(store.ids("CR")) == 3
    assert summary["source"] == "simulated" and summary["missing_time_bins"] == []
    assert summary["control_pairs_checked"] == 3 * 2        # 3 CRs x 2 time bins
    text = (tmp_path / "reports" / "regions.md").read_text()
    assert "Simulated maps: no frames were averaged" in text
    assert "Flux build-up" in text and (tmp_path / "reports/figures/regions_flux.png").stat().st_size
    # EAR boxes gain flux towards emergence; the table has one row per region and bin
    table = (tmp_path / "reports" / "regions_flux.csv").read_text().splitlines()
    assert len(table) == 1 + 6 * 2


def test_a_second_run_is_refused_without_force(small_params, tmp_path):
    run_regions(small_params, tmp_path / "regions", tmp_path / "reports", progress=False)
    with pytest.raises(FileExistsError):
        run_regions(small_params, tmp_path / "regions", tmp_path / "reports", progress=False)
    run_regions(small_params, tmp_path / "regions", tmp_path / "reports", force=True,
                progress=False)
