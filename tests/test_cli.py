"""The CLI end to end on a tiny configuration: outputs, clear errors, no partial outputs."""

import json
import shutil
from pathlib import Path

import numpy as np

import pandas as pd
import pytest
import yaml
from astropy.io import fits
from typer.testing import CliRunner

from preemergence.cli import app
from preemergence.data.regionstore import region_map_path

runner = CliRunner()


@pytest.fixture
def workdir(tmp_path, tiny_params, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    (tmp_path / "params.yaml").write_text(params_yaml(tiny_params))
    return tmp_path


def params_yaml(params) -> str:
    """The validated parameters written back as a params.yaml."""
    return yaml.safe_dump(params.model_dump())


def _prepare(store, out="seg", reports="rep"):
    return runner.invoke(app, ["prepare", "--regions", str(store), "--out", out,
                               "--reports", reports])


def test_help_lists_the_stages():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("regions", "prepare", "realism"):
        assert command in result.output


def test_regions_then_prepare_writes_validated_segment_sets(workdir, tiny_store_dir,
                                                             tiny_params):
    result = runner.invoke(app, ["regions", "--out", "regions"])
    assert result.exit_code == 0, result.output
    assert len(list((workdir / "regions").rglob("*.fits"))) == 12 * 5
    result = _prepare(workdir / "regions")
    assert result.exit_code == 0, result.output
    seg = workdir / "seg"
    tables = sorted(seg.glob("segments_*.csv"))
    assert len(tables) == 5
    table = pd.read_csv(seg / "segments_t-3.2h.csv")
    assert set(table.subset) == {"sample", "tile"} and len(table) == 6 * 18 + 6 * 6 + 12 * 9
    assert json.loads((workdir / "rep/validation/summary.json").read_text())["t-3.2h"][
        "success"] is True
    assert "| -3.2 | 6 | 6 | 72 | 72 |" in (workdir / "rep/table1.md").read_text()
    metrics = json.loads((workdir / "rep/prepare_metrics.json").read_text())
    assert set(metrics) == {"t-3.2h", "t-8.5h", "t-13.9h", "t-19.2h", "t-24.5h"}
    const = json.loads((seg / "standardisation.json").read_text())["t-3.2h"]
    assert const["std_g"] > 0


def test_existing_outputs_are_not_overwritten_without_force(workdir):
    (workdir / "regions").mkdir()
    (workdir / "regions" / "mine.txt").write_text("user data")
    result = runner.invoke(app, ["regions", "--out", "regions"])
    assert result.exit_code == 2
    assert "already exists; pass --force" in result.output
    assert (workdir / "regions" / "mine.txt").read_text() == "user data"


def test_every_output_of_prepare_is_guarded_by_force(workdir, tiny_store_dir, tiny_params):
    """--force means the same for the segment sets and for the reports a command writes."""
    from preemergence.core.config import with_overrides
    (workdir / "params.yaml").write_text(      # one time bin: each one's validation is ~2 s
        params_yaml(with_overrides(tiny_params, {"time_bins": [-3.2]})))
    (workdir / "rep").mkdir()
    (workdir / "rep" / "table1.md").write_text("my own table")
    result = _prepare(tiny_store_dir)
    assert result.exit_code == 2 and "rep/table1.md: already exists; pass --force" in \
        result.output
    assert (workdir / "rep" / "table1.md").read_text() == "my own table"
    assert not (workdir / "seg").exists()
    result = runner.invoke(app, ["prepare", "--regions", str(tiny_store_dir), "--out", "seg",
                                 "--reports", "rep", "--force"])
    assert result.exit_code == 0, result.output
    assert "| -3.2 |" in (workdir / "rep" / "table1.md").read_text()


def _truncate(path):
    path.write_bytes(path.read_bytes()[:4000])


def _set_header(key, value):
    def edit(path):
        with fits.open(path) as hdul:
            header, data = hdul[0].header.copy(), hdul[0].data.copy()
        header[key] = value
        fits.PrimaryHDU(data, header=header).writeto(path, overwrite=True)
    return edit


def _set_data(data):
    def edit(path):
        header = fits.getheader(path)
        fits.PrimaryHDU(data, header=header).writeto(path, overwrite=True)
    return edit


@pytest.mark.parametrize("edit, message", [
    (_truncate, "unreadable or truncated FITS"),
    (_set_data(np.zeros((255, 256), np.float32)), "wrong shape"),
    (_set_data(np.full((256, 256), np.inf, np.float32)), "NaN/inf pixel"),
    (_set_header("BUNIT", "T"), "wrong units"),
    (_set_header("REGKIND", "XR"), "unknown kind"),
    (_set_header("REGIONID", "SIM-CR-0004"), "duplicate region id SIM-CR-0004"),
    (lambda path: path.unlink(), "missing time bin"),
    (_set_header("LAT_DEG", 95.0), "LAT_DEG=95.0 deg is outside [-90, 90] deg"),
    (_set_header("CMD_DEG", 500.0), "CMD_DEG=500.0 deg is outside [-90, 90] deg"),
    (_set_header("SOURCE", "bogus"), "SOURCE='bogus', expected one of ('real', 'synthetic')"),
    (_set_data(np.zeros((256, 256), np.float32)), "every pixel is 0 G"),
    (_set_header("TREL_H", -13.96), "has TREL_H = -13.96 h, outside the ±0.05 h of the "
                                     "-13.9 h bin"),
])
def test_bad_region_store_fails_cleanly_without_outputs(workdir, tiny_store_dir, edit, message):
    store = workdir / "bad"
    shutil.copytree(tiny_store_dir, store)
    broken = region_map_path(store, "SIM-CR-0003", -13.9)
    edit(broken)
    result = _prepare(store)
    assert result.exit_code == 2
    last_line = result.output.rstrip("\n").split("\n")[-1]
    assert last_line.startswith("error: ") and message in last_line
    assert not (workdir / "seg").exists() and not (workdir / "rep").exists()


def test_missing_params_file_is_a_clear_error(workdir):
    result = runner.invoke(app, ["regions", "--params", "nope.yaml", "--out", "x"])
    assert result.exit_code == 2 and "nope.yaml: parameters file not found" in result.output


def test_number_that_yaml_reads_as_text_is_a_clear_error(workdir):
    params = Path("bad.yaml")
    params.write_text("seed: 1\nsimulate:\n  emergence:\n    flux_at_emergence_median_mx: 1.9e21\n")
    result = runner.invoke(app, ["regions", "--params", str(params), "--out", "x"])
    assert result.exit_code == 2
    assert ("bad.yaml: simulate.emergence.flux_at_emergence_median_mx = 1.9e21 is read as "
            "text" in result.output and "1.9e+21" in result.output)
    assert not Path("x").exists()


def test_failed_validation_stops_prepare_naming_the_expectation(workdir, tiny_store_dir,
                                                                monkeypatch):
    from preemergence.data import segments

    original = segments.sample_origins

    def shifted_pe(rng, kind, plan):
        origins, labels = original(rng, kind, plan)
        origins[labels == 1] = [10, 10]   # PE windows far from the emergence box
        return origins, labels

    monkeypatch.setattr(segments, "sample_origins", shifted_pe)
    result = _prepare(tiny_store_dir)
    assert result.exit_code == 2
    assert "failed validation" in result.output and "contains_box" in result.output
    assert "(details in rep/validation_failed)" in result.output
    assert not (workdir / "seg").exists()
    assert not (workdir / "rep/validation").exists()        # not written as if it had passed
    summary = json.loads((workdir / "rep/validation_failed/summary.json").read_text())
    assert summary["t-3.2h"]["success"] is False


@pytest.mark.parametrize("text", ["1e21", "1.9e21", "-3e-5", ".5e3", "-.5e3", "+1e5", "1.e21",
                                  "1E21"])
def test_suggested_spelling_of_a_number_is_read_as_that_number(text):
    from preemergence.core.config import yaml_float
    assert yaml.safe_load(text) == text                  # the YAML 1.1 trap itself
    assert yaml.safe_load(yaml_float(text)) == float(text)


def _set_param(params, dotted, value):
    node = params
    *parents, last = dotted.split(".")
    for key in parents:
        node = node[key]
    node[last] = value


@pytest.mark.parametrize("key, value, problem", [
    ("depth", "five", "valid integer"),
    ("depth", 2.5, "valid integer"),
    ("depth", 9, "less than or equal to 8"),
    ("train.configs.default.epochs", 0, "greater than or equal to 1"),
    ("train.configs.default.learning_rate", -1.0e-3, "greater than 0"),
    ("train.configs.default.samples_per_epoch", 0, "greater than or equal to 1"),
    ("train.configs.default.batch_size", 0, "greater than or equal to 1"),
    ("train.configs.default.lr_schedule", "linear", "'constant' or 'cosine'"),
    ("train.threshold", "high", "must be a number"),
    ("train.threshold", 1.0, "less than 1"),
    ("train.config", "slow", "'slow' is not one of train.configs"),
    ("prune.schedule", "slow", "'slow' is not one of prune.schedules"),
    ("depth_study.time_h", -4.0, "not among time_bins"),
    ("seed", "x", "valid integer"),
    ("stats.comparisons", ["cnn minus da"], "stats.comparisons"),
    ("stats.leakage_guard.time_h", -5.0, "not among time_bins"),
    ("stats.confidence", 95, "less than 1"),
])
def test_bad_parameter_is_one_line_naming_key_and_file_and_writes_nothing(
        workdir, tiny_params, key, value, problem):
    params = tiny_params.model_dump()                # the raw mapping a bad file holds
    _set_param(params, key, value)
    Path("bad.yaml").write_text(yaml.safe_dump(params))
    result = runner.invoke(app, ["train-cv", "--params", "bad.yaml", "--regions", "regions",
                                 "--segments", "seg", "--models", "models",
                                 "--reports", "rep"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: bad.yaml: ")
    assert key in lines[0] and problem in lines[0], lines[0]
    assert sorted(p.name for p in workdir.iterdir()) == ["bad.yaml", "params.yaml"]


def test_params_that_are_a_folder_are_a_clear_error(workdir):
    Path("folder.yaml").mkdir()
    result = runner.invoke(app, ["regions", "--params", "folder.yaml", "--out", "x"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: folder.yaml: is a folder, not a parameters file"


def test_too_few_regions_for_the_folds_names_the_store_and_the_key(workdir, tiny_store_dir,
                                                                   tiny_params):
    from preemergence.core.config import with_overrides
    params = with_overrides(tiny_params, {"prepare.n_folds": 7,   # 6 EARs and 6 CRs in
                                          "interpret.fold": 0})   # the tiny store
    Path("seven.yaml").write_text(params_yaml(params))
    result = runner.invoke(app, ["prepare", "--regions", str(tiny_store_dir), "--out", "seg",
                                 "--reports", "rep", "--params", "seven.yaml"])
    assert result.exit_code == 2
    assert f"error: {tiny_store_dir}: 6 EARs cannot be split into params.yaml " \
           "prepare.n_folds = 7 folds" in result.output
    assert not Path("seg").exists() and not Path("rep").exists()


@pytest.mark.parametrize("stage", ["regions", "prepare", "baseline", "train-cv", "depth-study",
                                   "prune", "interpret", "stats", "realism"])
def test_help_says_what_a_stage_reads_writes_and_logs(stage):
    result = runner.invoke(app, [stage, "--help"], terminal_width=100)
    assert result.exit_code == 0
    assert "Reads params.yaml:" in result.output and "unless --force" in result.output
    assert ("Logs to MLflow experiment" in result.output) != (stage == "regions")
    assert "<bool>" not in result.output and "--force" in result.output


def test_a_failed_leakage_guard_is_one_line_and_exit_status_1(workdir, monkeypatch):
    from preemergence.stages import stats
    from preemergence.stats.leakage import LeakageGuardFailed

    def leaky(*args, **kwargs):
        raise LeakageGuardFailed("leakage guard failed at -3.2 h: ... excludes 0")
    monkeypatch.setattr(stats, "run_stats", leaky)
    result = runner.invoke(app, ["stats"])
    assert result.exit_code == 1
    assert result.output.strip() == "error: leakage guard failed at -3.2 h: ... excludes 0"
