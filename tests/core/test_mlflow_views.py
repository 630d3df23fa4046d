"""Default runs-table views: the columns picked, the saved-view tag and the seeding script."""

import json
import shutil
import subprocess
from types import SimpleNamespace

import pytest

from preemergence.core import mlflow_views as views

TRAIN_CV_METRICS = ["fn", "fp", "loss", "tn", "tp", "tss", "tss_mean", "tss_mean_t-13.9h",
                    "tss_mean_t-3.2h", "tss_mean_t-8.5h", "tss_std", "tss_std_t-3.2h",
                    "val_loss"]


def child(time_h, fold, depth="5", name="fast"):
    return {"config.depth": depth, "config.name": name, "config.epochs": "24",
            "time_h": time_h, "fold": fold}


def test_tss_metrics_are_scores_and_means_tss_first():
    assert views.tss_metrics(TRAIN_CV_METRICS) == ["tss", "tss_mean", "tss_mean_t-3.2h"]
    assert views.tss_metrics(["loss", "real_rms_b_g"]) == []
    assert "tss_fold0" not in views.tss_metrics(["tss_fold0", "tss"])


def test_differing_params_first_time_bin_and_fold():
    runs = [child(t, f) for t in ("3.2", "8.5") for f in ("0", "1")] + [{"seed": "0"}]
    assert views.differing_params(runs) == ["time_h", "fold"]
    runs.append(child("3.2", "0", depth="4", name="default"))
    assert views.differing_params(runs) == ["time_h", "fold", "config.depth", "config.name"]


def test_view_state_has_tss_columns_a_wide_name_and_a_flat_sort():
    state = views.view_state(["tss", "tss_mean"], ["time_h", "fold"])
    assert state["selectedColumns"] == ["metrics.`tss`", "metrics.`tss_mean`",
                                        "params.`time_h`", "params.`fold`"]
    assert state["columnOrder"][0] == "attributes.`Run Name`"
    assert state["columnWidths"]["attributes.`Run Name`"] >= 300
    assert state["orderByKey"] == "tags.`table_row`" and state["orderByAsc"] is True


def test_envelope_round_trip_and_garbage():
    state = views.view_state(["tss"], ["fold"])
    value = views.envelope(state, 5, 7)
    outer = json.loads(value)
    assert outer["name"] == views.VIEW_NAME and outer["createdAt"] == 5
    assert isinstance(outer["state"], str)               # the UI parses a JSON string
    assert views.read_envelope(value) == (state, 5)
    for bad in (None, "", "{}", '{"state": "x", "createdAt": 1}'):
        assert views.read_envelope(bad) == (None, None)


class FakeClient:
    """search_experiments / search_runs / set_experiment_tag of MlflowClient, in memory."""

    def __init__(self, runs_by_exp):
        self.runs = runs_by_exp
        self.tags = {eid: {} for eid in runs_by_exp}
        self.writes = 0

    def search_experiments(self):
        return [SimpleNamespace(experiment_id=e, tags=dict(t)) for e, t in self.tags.items()]

    def search_runs(self, ids, max_results):
        return [SimpleNamespace(data=SimpleNamespace(metrics=m, params=p, tags=t))
                for m, p, *rest in self.runs[ids[0]] for t in [rest[0] if rest else {}]]

    def set_experiment_tag(self, eid, key, value):
        self.tags[eid][key] = value
        self.writes += 1


def test_sync_writes_each_view_once_and_keeps_created_at():
    runs = [({"tss": 0.7}, child(t, f)) for t in ("3.2", "8.5") for f in ("0", "1")]
    client = FakeClient({"0": [], "3": runs})
    out = views.sync_saved_views(client)
    assert list(out) == ["3"]                            # no runs: no view
    assert "metrics.`tss`" in out["3"]["selectedColumns"]
    key = views.VIEW_TAG_PREFIX + views.VIEW_KEY
    created = json.loads(client.tags["3"][key])["createdAt"]
    views.sync_saved_views(client)
    assert client.writes == 1                            # unchanged: not written again
    client.runs["3"].append(({"tss": 0.5}, child("3.2", "0", depth="4")))
    views.sync_saved_views(client)
    new = json.loads(client.tags["3"][key])
    assert client.writes == 2 and new["createdAt"] == created
    assert "params.`config.depth`" in json.loads(new["state"])["selectedColumns"]


def test_nested_experiments_take_their_metric_columns_from_the_child_runs():
    """Sorted by name, a parent can fall past the first page of 100 rows, and MLflow hides
    a metric column no loaded row has (the baseline experiment's parents-only means)."""
    nested = {"mlflow.parentRunId": "p"}
    runs = [({"tss": 0.7}, child(t, f), nested) for t in ("3.2", "8.5") for f in ("0", "1")]
    runs.append(({"mtot_tss_mean_t-3.2h": 0.6}, {}, {}))
    state = views.sync_saved_views(FakeClient({"1": runs}))["1"]
    assert [c for c in state["selectedColumns"] if c.startswith("metrics")] == ["metrics.`tss`"]
    flat = views.sync_saved_views(FakeClient({"1": [({"tss_mean": 0.6}, {}, {})]}))
    assert flat["1"]["selectedColumns"] == ["metrics.`tss_mean`"]   # no nesting: its own


def test_storage_key_is_the_uis():
    assert views.storage_key("3") == 'MLflowLocalStorage-1.1-ExperimentPage-["3"]-ReactComponentState'


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the script")
def test_seed_script_fills_only_absent_keys():
    state = views.view_state(["tss"], ["fold"])
    state["selectedColumns"].append("params.`</script>`")   # escaped inside the script
    script = views.seed_script({"3": state, "4": state}, "x")
    body = script[len('<script id="x">'):-len("</script>")]
    assert "</script>" not in body
    mine = views.storage_key("4")
    js = ("const s={};global.localStorage={getItem:k=>k in s?s[k]:null,setItem:(k,v)=>{s[k]=v}};"
          f"s[{json.dumps(mine)}]='mine';" + body + ";console.log(JSON.stringify(s))")
    stored = json.loads(subprocess.run(["node", "-e", js], capture_output=True, text=True,
                                       check=True).stdout)
    assert stored[mine] == "mine"                        # a browser's own table is kept
    assert json.loads(stored[views.storage_key("3")]) == state
