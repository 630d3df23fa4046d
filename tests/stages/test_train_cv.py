"""train-cv: end to end on a tiny configuration, resumability, no corrupt outputs."""

import dataclasses
import json

import numpy as np
import pytest

from preemergence.core.config import with_overrides
from preemergence.model import runs as train_cv
from preemergence.model.configs import train_config
from preemergence.stages.prepare import run_prepare
from preemergence.stages.train_cv import run_train_cv

TIME_BINS = [-3.2, -13.9, -24.5]
RUNS = len(TIME_BINS) * 5                   # time bins x folds


@pytest.fixture(scope="module")
def tiny_run(tiny_params, tiny_store_dir, tmp_path_factory):
    """Prepared tiny data set plus tiny training schedule (1 epoch on 48 samples), on three
    of the five time bins: the first, a middle one and the last (15 runs, not 25)."""
    import os
    work = tmp_path_factory.mktemp("train")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"
    params = with_overrides(tiny_params, {"time_bins": TIME_BINS,
                                          "train.configs.default.epochs": 1,
                                          "train.configs.default.samples_per_epoch": 48,
                                          "train.configs.default.max_val_samples": 16})
    run_prepare(params, tiny_store_dir, work / "segments", work / "reports", progress=False)
    return params, tiny_store_dir, work


def test_train_cv_end_to_end_and_rerun_reuses_finished_folds(tiny_run, output_guard):
    params, store, work = tiny_run
    guard = output_guard(work)
    summary = run_train_cv(params, store, work / "segments", work / "models", work / "reports")
    guard.check("train-cv", work / "reports", work / "models")
    assert list(summary) == ["t-3.2h", "t-13.9h", "t-24.5h"]
    for entry in summary.values():
        folds = [v for k, v in entry.items() if k.startswith("tss_fold")]
        assert len(folds) == 5 and all(-1.0 <= v <= 1.0 for v in folds)
        assert entry["tss_mean"] == pytest.approx(np.mean(folds))
    metrics = json.loads((work / "reports" / "train_cv_metrics.json").read_text())
    assert metrics["depth"] == 5 and metrics["config"] == "default"
    assert "84.57 ± 6.4" in (work / "reports" / "table3.md").read_text()
    assert (work / "reports" / "figures" / "tss_vs_time.png").stat().st_size > 10_000
    result = json.loads((work / "models/depth5/t-3.2h/fold0/result.json").read_text())
    assert result["n_tiles"] > 0 and result["tp"] + result["fn"] > 0
    # a second invocation trains nothing and gives identical numbers
    before = (work / "models/depth5/t-3.2h/fold0/model.keras").stat().st_mtime_ns
    with pytest.raises(FileExistsError, match="pass --force"):
        run_train_cv(params, store, work / "segments", work / "models", work / "reports")
    assert run_train_cv(params, store, work / "segments", work / "models",
                        work / "reports", force=True) == summary
    import mlflow                                   # every reuse is logged
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name("train-cv").experiment_id
    reused = client.search_runs([experiment], "tags.reused_result = 'true'")
    assert len(reused) == RUNS and all(r.data.tags["data_source"] for r in reused)
    # names lead with what differs between runs; parents carry the DVC experiment
    names = {r.info.run_name for r in reused}
    assert "t-3.2h fold0 · depth5 · default" in names and "t-24.5h fold4 · depth5 · default" in names
    parents = client.search_runs([experiment], "tags.mlflow.parentRunId IS NULL")
    assert {r.info.run_name for r in parents} == {"workspace · depth5 · default"}
    assert (work / "models/depth5/t-3.2h/fold0/model.keras").stat().st_mtime_ns == before


def test_train_cv_models_are_registered_per_time_bin_and_load_by_alias(tiny_run):
    """Every train-cv network is an MLflow model with a signature and the constants needed
    to apply it; fold aliases of each time bin's registered model; a rerun reuses them."""
    import mlflow
    from preemergence.solar.scan import load_scan_model
    params, store, work = tiny_run
    client = mlflow.MlflowClient()
    versions = client.search_model_versions("name = 'preemergence-cnn-t-03.2h'")
    assert len(versions) == 5                     # one per fold, not one per invocation
    alias = client.get_model_version_by_alias("preemergence-cnn-t-03.2h", "fold2")
    result = json.loads((work / "models/depth5/t-3.2h/fold2/result.json").read_text())
    assert alias.tags["run_key"] == result["run_key"]
    assert alias.tags["tss"] == f"{result['tss']:.4f}"
    assert f"TSS {100 * result['tss']:.1f} %" in alias.description
    assert "one version per cross-validation run" in \
        client.get_registered_model("preemergence-cnn-t-03.2h").description
    parent = client.search_runs([client.get_experiment_by_name("train-cv").experiment_id],
                                "tags.mlflow.parentRunId IS NULL")[0]
    # the overview's tss_mean (its last step) is -3.2 h's; its chart runs towards emergence
    history = client.get_metric_history(parent.info.run_id, "tss_mean")
    assert [m.step for m in sorted(history, key=lambda m: m.step)] == [0, 1, 2]
    assert parent.data.metrics["tss_mean"] == parent.data.metrics["tss_mean_t-3.2h"]
    assert "step 0 = -24.5 h" in parent.data.tags["mlflow.note.content"]
    info = mlflow.models.get_model_info("models:/preemergence-cnn-t-03.2h@fold2")
    assert tuple(info.signature.inputs.to_dict()[0]["tensor-spec"]["shape"]) == (-1, 85, 85, 1)
    trained = load_scan_model("models:/preemergence-cnn-t-03.2h@fold2")
    assert (trained.mean_g, trained.std_g) == (result["standardisation"]["mean"],
                                              result["standardisation"]["std"])
    assert trained.threshold == params.train.threshold
    assert trained.result["data_source"] == "synthetic" and trained.result["fold"] == 2
    windows = np.random.default_rng(0).normal(size=(3, 85, 85, 1)).astype("float32")
    import keras
    folder_model = keras.models.load_model(work / "models/depth5/t-3.2h/fold2/model.keras")
    assert np.allclose(trained.model.predict(windows, verbose=0),
                       folder_model.predict(windows, verbose=0))
    with pytest.raises(ValueError, match="no such MLflow model"):
        load_scan_model("models:/preemergence-cnn-t-03.2h@fold9")


def test_changed_configuration_is_retrained(tiny_run):
    params, store, work = tiny_run
    data = train_cv.load_time_bins(store, work / "segments", [-3.2])[-3.2]
    config = train_config(params)
    key = train_cv.run_key(config, data, 0)
    other = train_config(params, learning_rate=5e-4)
    assert train_cv.run_key(other, data, 0) != key
    assert train_cv.run_key(config, data, 1) != key
    assert train_cv.run_key(config, dataclasses.replace(data, data_key="other"), 0) != key


def test_interrupted_run_resumes_from_its_checkpoint(tiny_run, tmp_path, monkeypatch):
    params, store, work = tiny_run
    data = train_cv.load_time_bins(store, work / "segments", [-3.2])[-3.2]
    config = train_config(params, epochs=2)
    monkeypatch.setenv("PREEMERGENCE_RUN_STORE", str(tmp_path / "store-a"))
    straight = train_cv.train_fold(data, 1, config, tmp_path / "straight")

    original = train_cv.checkpoint_callback

    def dying_callback(folder, key, history):
        callback = original(folder, key, history)
        save = callback.on_epoch_end

        def on_epoch_end(epoch, logs=None):
            save(epoch, logs)
            raise KeyboardInterrupt("killed after the first epoch")
        callback.on_epoch_end = on_epoch_end
        return callback

    monkeypatch.setenv("PREEMERGENCE_RUN_STORE", str(tmp_path / "store-b"))
    monkeypatch.setattr(train_cv, "checkpoint_callback", dying_callback)
    folder = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        train_cv.train_fold(data, 1, config, folder)
    home = tmp_path / "store-b" / straight["run_key"]
    assert not (folder / "result.json").exists() and not (folder / "model.keras").exists()
    assert not (home / "result.json").exists() and not (home / "model.keras").exists()
    assert json.loads((home / "progress.json").read_text())["epochs_done"] == 1
    (home / ".model.keras.x1y2.tmp.keras").write_bytes(b"half")   # as a kill mid-write leaves
    monkeypatch.setattr(train_cv, "checkpoint_callback", original)
    resumed = train_cv.train_fold(data, 1, config, folder)
    assert not resumed["reused"] and resumed["history"]["epoch"] == [0, 1]
    assert not list(home.glob(".*tmp*"))                  # the leftover was cleaned up
    assert resumed["tss"] == straight["tss"]
    assert resumed["history"]["loss"] == pytest.approx(straight["history"]["loss"], rel=1e-5)


def test_a_kill_between_checkpoint_and_progress_resumes_at_the_right_epoch(
        tiny_run, tmp_path, monkeypatch):
    """The checkpoint of epoch 2 is written, the process dies before progress.json says so:
    the resumed run must train epoch 2 again from epoch 1's weights, not a third epoch."""
    params, store, work = tiny_run
    data = train_cv.load_time_bins(store, work / "segments", [-3.2])[-3.2]
    config = train_config(params, epochs=2)
    monkeypatch.setenv("PREEMERGENCE_RUN_STORE", str(tmp_path / "store-a"))
    straight = train_cv.train_fold(data, 3, config)
    monkeypatch.setenv("PREEMERGENCE_RUN_STORE", str(tmp_path / "store-b"))
    original = train_cv.write_json

    def dies_before_second_progress(path, payload):
        if payload.get("epochs_done") == 2:
            raise KeyboardInterrupt("killed between checkpoint and progress")
        return original(path, payload)

    monkeypatch.setattr(train_cv, "write_json", dies_before_second_progress)
    with pytest.raises(KeyboardInterrupt):
        train_cv.train_fold(data, 3, config)
    monkeypatch.setattr(train_cv, "write_json", original)
    resumed = train_cv.train_fold(data, 3, config)
    assert resumed["history"]["epoch"] == [0, 1]
    assert resumed["history"]["loss"] == pytest.approx(straight["history"]["loss"], rel=1e-5)
    assert resumed["tss"] == straight["tss"]
    home = tmp_path / "store-b" / straight["run_key"]
    assert not list(home.glob("checkpoint*"))          # a finished run keeps no checkpoints


def test_fold_runs_are_open_while_they_train_and_log_each_epoch_once(tiny_run):
    """A trained fold's MLflow run starts before its network is saved (durations and live
    loss curves are real); every epoch's loss is logged once, live or, when reused, after."""
    import mlflow
    from preemergence.core.paths import run_store
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name("train-cv").experiment_id
    trained = client.search_runs([experiment], "tags.reused_result = 'false'")
    assert len(trained) == RUNS
    for run in trained[:5]:
        saved = (run_store() / run.data.tags["run_key"] / "result.json").stat().st_mtime
        assert run.info.start_time / 1000 < saved
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "loss")]
        assert steps == [0]                                   # 1 epoch, logged once
    for run in client.search_runs([experiment], "tags.reused_result = 'true'")[:5]:
        assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == [0]


def test_resume_points_are_spaced_in_time_not_written_every_epoch(tiny_run, tmp_path,
                                                                   monkeypatch):
    """A resume point at most every $PREEMERGENCE_CHECKPOINT_S seconds (issue 24: saving
    after every epoch cost a 24-epoch run 1.9 s); 0 gives one after every epoch."""
    from preemergence.core.paths import PROGRESS_FILE
    params, store, work = tiny_run
    data = train_cv.load_time_bins(store, work / "segments", [-3.2])[-3.2]
    config = train_config(params, epochs=3)
    saved = []
    real_save = train_cv.save_model
    monkeypatch.setattr(train_cv, "save_model", lambda m, p: saved.append(p.name) or
                        real_save(m, p))
    for interval, store_name in (("3600", "spaced"), ("0", "every")):
        monkeypatch.setenv(train_cv.CHECKPOINT_ENV, interval)
        monkeypatch.setenv("PREEMERGENCE_RUN_STORE", str(tmp_path / store_name))
        saved.clear()
        result = train_cv.train_fold(data, 2, config)
        home = tmp_path / store_name / result["run_key"]
        checkpoints = [name for name in saved if name.startswith("checkpoint")]
        assert checkpoints == ([] if interval == "3600" else
                               ["checkpoint-1.keras", "checkpoint-2.keras", "checkpoint-3.keras"])
        assert (home / "model.keras").exists() and not list(home.glob("checkpoint*"))
        assert (home / PROGRESS_FILE).exists() == (interval == "0")


def test_registration_logs_the_network_in_memory_without_reading_it_back(
        tiny_run, tmp_path, monkeypatch):
    """Issue 24 (fixed cost): the run just trained is logged from memory; a run trained
    elsewhere (reused, or by another process) is read from its folder."""
    import keras
    import mlflow
    from preemergence.model import registry
    params, store, work = tiny_run
    data = train_cv.load_time_bins(store, work / "segments", [-3.2])[-3.2]
    monkeypatch.setenv("PREEMERGENCE_RUN_STORE", str(tmp_path / "store"))
    result = train_cv.train_fold(data, 4, train_config(params), tmp_path / "run")
    assert train_cv.just_trained(result["run_key"]) is not None
    assert train_cv.just_trained("another-key") is None
    real_load = keras.models.load_model
    monkeypatch.setattr(keras.models, "load_model", lambda *a, **k: pytest.fail("read back"))
    from preemergence.core import tracking       # artifacts beside the store, not ./mlruns
    with tracking.start_run("registration-in-memory", "in memory", "synthetic"):
        registry.log_cnn(mlflow, tmp_path / "run", result, False, "synthetic")
        uri = f"runs:/{mlflow.active_run().info.run_id}/{registry.MODEL_NAME}"
    monkeypatch.setattr(keras.models, "load_model", real_load)
    windows = np.random.default_rng(1).normal(size=(2, 85, 85, 1)).astype("float32")
    logged = mlflow.keras.load_model(uri)
    saved = real_load(tmp_path / "run" / "model.keras")
    assert np.allclose(logged.predict(windows, verbose=0), saved.predict(windows, verbose=0))


def test_registered_models_list_in_time_order():
    """The MLflow registry lists models by name: zero-padded time bins keep them in order."""
    from preemergence.model.registry import registered_name
    names = [registered_name(t) for t in (-3.2, -8.5, -13.9, -19.2, -24.5)]
    assert names[0] == "preemergence-cnn-t-03.2h" and sorted(names) == names
