"""Per-epoch losses reach MLflow live, in batches, and every epoch exactly once."""

import pytest

from preemergence.core import tracking
from preemergence.model import crossval


@pytest.mark.parametrize("interval, live", [("0", {0, 1, 2}), ("3600", set())])
def test_epoch_losses_are_sent_in_batches_and_each_epoch_once(tmp_path, monkeypatch,
                                                              interval, live):
    """Interval 0: every epoch as it ends; a long interval: none live, all with the run's
    results. Either way each epoch's loss and val_loss once, and the run's parameters,
    scores and tags in the same store."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv(crossval.LIVE_LOG_ENV, interval)
    history = {"epoch": [0, 1, 2], "loss": [0.7, 0.6, 0.5], "val_loss": [0.8, 0.75, 0.7]}
    result = {"config": {"depth": 5, "name": "default"}, "time_h": -3.2, "fold": 1,
              "history": history, "tss": 0.5, "tp": 3, "fn": 1, "fp": 1, "tn": 3,
              "reused": True, "run_key": "k-live"}
    with tracking.start_run("live-logging", f"interval {interval}", "synthetic") as mlflow:
        logger = crossval.epoch_logger(mlflow)
        for epoch in history["epoch"]:
            logger.on_epoch_end(epoch, {k: history[k][epoch] for k in ("loss", "val_loss")})
        assert logger.logged == live
        crossval._log_fold(mlflow, result, tmp_path, False, "synthetic", logger.logged)
        run_id = mlflow.active_run().info.run_id
    run = mlflow.MlflowClient().get_run(run_id)
    for name in ("loss", "val_loss"):
        logged = mlflow.MlflowClient().get_metric_history(run_id, name)
        assert sorted((m.step, m.value) for m in logged) == list(enumerate(history[name]))
    assert run.data.metrics["tss"] == 0.5 and run.data.metrics["tn"] == 3
    assert run.data.params["config.depth"] == "5" and run.data.params["fold"] == "1"
    assert run.data.tags["reused_result"] == "true" and run.data.tags["run_key"] == "k-live"
