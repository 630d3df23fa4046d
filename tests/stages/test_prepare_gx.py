"""prepare's Great Expectations project: saved suites, checkpoints, native results, Data Docs."""

import json

import pandas as pd
import pytest

from preemergence.core.config import with_overrides


@pytest.mark.slow
def test_prepare_writes_a_gx_project_with_data_docs(tiny_params, tiny_store_dir, tmp_path,
                                                     monkeypatch):
    from preemergence.data.expectations import derive_columns, import_gx
    from preemergence.stages.prepare import run_prepare
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    params = with_overrides(tiny_params, {"time_bins": [-3.2, -8.5], "prepare.data_docs": True})
    run_prepare(params, tiny_store_dir, tmp_path / "seg", tmp_path / "rep", progress=False)
    folder = tmp_path / "rep" / "validation"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["t-3.2h"]["gx_checkpoint_success"] is True
    for name in ("t-3_2h", "t-8_5h"):
        assert (folder / "gx" / "expectations" / f"segments_{name}.json").is_file()
        assert (folder / "gx" / "checkpoints" / f"prepare_{name}.json").is_file()
    assert list((folder / "gx" / "uncommitted" / "validations").rglob("*.json"))   # native
    index = (folder / "data_docs" / "index.html").read_text()
    assert "segments_t-3_2h" in index and "segments_t-8_5h" in index
    # a usable GX project: reopen it and run a saved checkpoint on the prepared table
    gx = import_gx()
    context = gx.get_context(mode="file", project_root_dir=str(folder))
    table = pd.read_csv(tmp_path / "seg" / "segments_t-3.2h.csv")
    result = context.checkpoints.get("prepare_t-3_2h").run(
        batch_parameters={"dataframe": derive_columns(table, params.time_bins)})
    assert result.success
    # a broken table fails the saved suite too
    broken = derive_columns(table.assign(label=2), params.time_bins)
    assert not context.checkpoints.get("prepare_t-3_2h").run(
        batch_parameters={"dataframe": broken}).success
