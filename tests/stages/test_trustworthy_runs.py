"""Results always match their inputs (issue 13): content-addressed runs, reuse only of the
same inputs, nothing finished destroyed, folds checked against the parameters."""

import json
import shutil

import numpy as np
import pytest
from astropy.io import fits

from preemergence.core import fingerprint
from preemergence.model import runs
from preemergence.model.configs import train_config
from preemergence.stages.prepare import run_prepare

TIME_H = -3.2


@pytest.fixture(scope="module")
def tiny(prepare_tiny):
    """Prepared tiny data set (-3.2 h only) and a 1-epoch schedule on 48 samples."""
    return prepare_tiny("trust", {"time_bins": [TIME_H]})


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A fresh, empty run store for one test."""
    path = tmp_path / "run-store"
    monkeypatch.setenv("PREEMERGENCE_RUN_STORE", str(path))
    return path


def load(store_dir, segments, n_folds=5):
    return runs.load_time_bins(store_dir, segments, [TIME_H], n_folds)[TIME_H]


def flipped_copy(store_dir, out):
    """The same region store with the polarity of every map flipped (B -> -B)."""
    shutil.copytree(store_dir, out)
    for path in out.rglob("*.fits"):
        with fits.open(path, mode="update") as hdul:
            hdul[0].data = -hdul[0].data
    return out


def test_polarity_flipped_store_is_retrained(tiny, store, tmp_path):
    params, store_dir, work = tiny
    config = train_config(params)
    first = runs.train_fold(load(store_dir, work / "segments"), 0, config, tmp_path / "a")
    flipped = flipped_copy(store_dir, tmp_path / "flipped")
    run_prepare(params, flipped, tmp_path / "segments", tmp_path / "reports", progress=False)
    name = f"segments_t{TIME_H}h.csv"
    # the segment tables cannot tell the stores apart: only the maps can
    assert (tmp_path / "segments" / name).read_bytes() == (work / "segments" / name).read_bytes()
    second = runs.train_fold(load(flipped, tmp_path / "segments"), 0, config, tmp_path / "a")
    assert not second["reused"] and second["run_key"] != first["run_key"]
    again = runs.train_fold(load(store_dir, work / "segments"), 0, config, tmp_path / "b")
    assert again["reused"] and again["run_key"] == first["run_key"]


def test_a_code_change_in_the_model_package_retrains(tiny, store, tmp_path, monkeypatch):
    params, store_dir, work = tiny
    data, config = load(store_dir, work / "segments"), train_config(params)
    first = runs.train_fold(data, 1, config, tmp_path / "fold1")
    assert runs.train_fold(data, 1, config, tmp_path / "fold1")["reused"]
    monkeypatch.setattr(runs, "training_code", lambda: "the code after a one-line change")
    changed = runs.train_fold(data, 1, config, tmp_path / "fold1")
    assert not changed["reused"] and changed["run_key"] != first["run_key"]


def test_the_code_fingerprint_follows_every_module_a_run_imports(tmp_path):
    """A one-line change anywhere in the import closure (lazy imports too) changes it."""
    pkg = tmp_path / "pkg"
    (pkg / "model").mkdir(parents=True)
    for init in (pkg / "__init__.py", pkg / "model" / "__init__.py"):
        init.write_text("")
    (pkg / "model" / "runs.py").write_text("def train():\n    from pkg.model import cnn\n"
                                           "    return cnn.forward()\n")
    (pkg / "model" / "cnn.py").write_text("def forward():\n    return 1\n")
    (pkg / "model" / "report.py").write_text("TITLE = 'Table 3'\n")

    def fingerprint_now():
        fingerprint.code_fingerprint.cache_clear()
        return fingerprint.code_fingerprint("pkg.model.runs", src=tmp_path, package="pkg")

    before = fingerprint_now()
    (pkg / "model" / "report.py").write_text("TITLE = 'Table 3 (ours)'\n")   # not imported
    assert fingerprint_now() == before
    (pkg / "model" / "cnn.py").write_text('def forward():\n    """Documented."""\n'
                                          "    return 1  # a comment\n")
    assert fingerprint_now() == before            # documentation is not code
    (pkg / "model" / "cnn.py").write_text("def forward():\n    return 2\n")
    assert fingerprint_now() != before


def test_runs_of_two_schedules_in_one_folder_both_survive(tiny, store, tmp_path):
    """A 3-epoch run, then a 2-epoch run into the same models folder: both finished runs
    remain, and either is reported again without training."""
    params, store_dir, work = tiny
    data = load(store_dir, work / "segments")
    folder = tmp_path / "models" / "depth5" / "t-3.2h" / "fold2"
    three = runs.train_fold(data, 2, train_config(params, epochs=3), folder)
    two = runs.train_fold(data, 2, train_config(params, epochs=2), folder)
    assert json.loads((folder / "result.json").read_text())["run_key"] == two["run_key"]
    for run in (three, two):
        assert (store / run["run_key"] / "model.keras").exists()
    again = runs.train_fold(data, 2, train_config(params, epochs=3), folder)
    assert again["reused"] and again["history"] == three["history"]
    assert json.loads((folder / "result.json").read_text())["run_key"] == three["run_key"]


def test_folds_must_match_the_parameters(tiny):
    params, store_dir, work = tiny
    with pytest.raises(ValueError, match=r"segments_t-3.2h.csv: prepared with folds "
                                         r"\[0, 1, 2, 3, 4\], but params.yaml "
                                         r"prepare.n_folds is 3"):
        load(store_dir, work / "segments", n_folds=3)


def test_data_key_covers_table_maps_and_constants(tiny):
    params, store_dir, work = tiny
    data = load(store_dir, work / "segments")
    table = work / "segments" / f"segments_t{TIME_H}h.csv"
    const = json.loads((work / "segments" / "standardisation.json").read_text())["t-3.2h"]
    assert runs.data_digest(table, data.table, data.cube, data.index, const) == data.data_key
    assert runs.data_digest(table, data.table, -data.cube, data.index, const) != data.data_key
    assert runs.data_digest(table, data.table, data.cube, data.index,
                            {**const, "std_g": np.nextafter(data.std_g, 1e9)}) != data.data_key
    # regions the table does not use do not count (a store read with other time bins)
    extra = np.concatenate([data.cube, data.cube[:1]])
    index = {**data.index, "NOT-IN-TABLE": len(data.cube)}
    assert runs.data_digest(table, data.table, extra, index, const) == data.data_key


def test_a_run_on_the_reused_network_is_byte_identical_to_a_fresh_build(
        tiny, tmp_path, monkeypatch):
    """One network per architecture and process (issue 24): a run trained on the network
    another run left behind (re-initialised, fresh Adam) writes the same result.json, byte
    for byte, as one trained on a newly built network."""
    from preemergence.core.paths import RESULT_FILE
    from preemergence.model import training
    params, store_dir, work = tiny
    data, config = load(store_dir, work / "segments"), train_config(params)

    def result_bytes(store_name, *earlier_folds):
        monkeypatch.setenv("PREEMERGENCE_RUN_STORE", str(tmp_path / store_name))
        for fold in earlier_folds:                 # leave the network trained on another run
            runs.train_fold(data, fold, config)
        built_before = dict(training._NETWORKS)
        result = runs.train_fold(data, 0, config)
        return (tmp_path / store_name / result["run_key"] / RESULT_FILE).read_bytes(), \
            built_before

    monkeypatch.setattr(training, "_NETWORKS", {})
    fresh, before = result_bytes("fresh")
    assert before == {}                            # fold 0 trained on a newly built network
    reused, before = result_bytes("reused", 1, 2)
    assert len(before) == 1                        # ... here on the one fold 2 left trained
    assert fresh == reused


def test_how_a_run_is_computed_is_part_of_its_key_and_result(tiny, monkeypatch):
    """oneDNN and XLA change a result's last bits: a run made another way is another run,
    and its result says how it was computed (issue 24)."""
    from preemergence.core import compute
    params, store_dir, work = tiny
    data, config = load(store_dir, work / "segments"), train_config(params)
    key = runs.run_key(config, data, 0)
    monkeypatch.setattr(compute, "settings", lambda: {"onednn": True, "jit_compile": True,
                                                      "chosen_by": "measured"})
    assert runs.run_key(config, data, 0) != key
