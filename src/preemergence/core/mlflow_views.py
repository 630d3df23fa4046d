"""Default runs-table views: the TSS metrics and the parameters that differ, as columns.

MLflow 3.17.2's runs table ("Model training" view) shows, by default, no metric or parameter
column (its default ``selectedColumns`` are the attributes Source, Models and Dataset), cuts
run names at the name column's default width, and, while sorted by start time (its default),
nests child runs under collapsed parents, so a name search for ``t-3.2h`` reports "6 matching
runs" and shows one collapsed parent. What the UI keeps of the table, read from its bundle
(``mlflow/server/js/build/static/js``):

* per browser and experiment, localStorage key
  ``MLflowLocalStorage-1.1-ExperimentPage-["<id>"]-ReactComponentState``: one JSON object with
  the search facets (``searchFilter``, ``orderByKey``, ``orderByAsc``, ...) and the table state
  (``selectedColumns``, ``columnOrder``, ``columnWidths``, ``runsExpanded``, ...); read when
  the experiment opens, written back on every change (main.*.js module 11475, 14653; 1395
  lists the state fields);
* per experiment, MLflow's saved views (3.15+; "Views" menu above the runs table): experiment
  tags ``mlflow.sharedViewState.<key>`` holding ``{"name", "createdAt", "updatedAt",
  "state"}``, ``state`` that object as a JSON string; opened by the link
  ``#/experiments/<id>/runs?viewStateShareKey=<key>`` (chunk 3448, module 53787).

Columns are named ``<group>.`<key>``` (``metrics.`tss```, ``params.`config.depth```, the name
column ``attributes.`Run Name```); widths apply only to columns listed in ``columnOrder``.
Child runs are nested only while the table is sorted by start time, so the default view sorts
by the runs' ``table_row`` tag (core.tracking.table_row): every run is its own row, each
parent directly above its children, the newest invocation first, and a name search lists
every match.

This module computes one such state per experiment from its runs and writes it as the saved
view ``preemergence-default``; the launcher (core.mlflow_ui) also seeds it into the
localStorage key of every experiment a browser has not opened yet, so the table opens with it.
"""

from __future__ import annotations

import json
import time

VIEW_KEY = "preemergence-default"
VIEW_NAME = "TSS and differing parameters"
VIEW_TAG_PREFIX = "mlflow.sharedViewState."
STORAGE_KEY = "MLflowLocalStorage-1.1-ExperimentPage-{}-ReactComponentState"   # {}: '["3"]'
RUN_NAME_COLUMN = "attributes.`Run Name`"
RUN_NAME_WIDTH = 330                     # px; 't-3.2h fold0 · depth5 · default · |B|' fits
ORDER_BY = "tags.`table_row`"            # not start time: no nesting, every match a row;
                                         # newest invocation first, parent above children
MAX_METRICS = 3                          # tss, tss_mean, the first bin mean: room for params
MAX_PARAMS = 6
FIRST_PARAMS = ("time_h", "fold", "config.depth", "config.name", "variant")
MAX_RUNS = 1000                          # runs read per experiment to find what differs


def storage_key(experiment_id: str) -> str:
    """The localStorage key of one experiment's table, as the UI names it."""
    return STORAGE_KEY.format(json.dumps([str(experiment_id)]))


def column(group: str, key: str) -> str:
    """The runs table's column id of a metric/param key (group 'metrics' or 'params')."""
    return f"{group}.`{key}`"


def tss_metrics(keys) -> list[str]:
    """The TSS metrics worth a column: ``tss`` and means (no spreads, bounds or per-fold
    values), ``tss`` first, then the shortest names, at most MAX_METRICS."""
    picked = [k for k in set(keys) if "tss" in k and not any(
        part in k for part in ("std", "low", "high", "fold"))]
    return sorted(picked, key=lambda k: (k != "tss", len(k), k))[:MAX_METRICS]


def differing_params(param_dicts) -> list[str]:
    """Params with more than one value over the runs (FIRST_PARAMS first, then by name),
    at most MAX_PARAMS."""
    values: dict[str, set] = {}
    for params in param_dicts:
        for key, value in params.items():
            values.setdefault(key, set()).add(value)
    differ = [k for k, v in values.items() if len(v) > 1]
    rank = {k: i for i, k in enumerate(FIRST_PARAMS)}
    return sorted(differ, key=lambda k: (rank.get(k, len(rank)), k))[:MAX_PARAMS]


def view_state(metrics: list[str], params: list[str]) -> dict:
    """The runs-table state: those columns (metrics first), a wide name column, sorted by
    the runs' table_row tag (core.tracking.table_row; flat: child runs are rows of their
    own, each under its parent, the newest invocation first)."""
    columns = [column("metrics", k) for k in metrics] + [column("params", k) for k in params]
    return {"selectedColumns": columns,
            "columnOrder": [RUN_NAME_COLUMN, *columns],
            "columnWidths": {RUN_NAME_COLUMN: RUN_NAME_WIDTH},
            "orderByKey": ORDER_BY, "orderByAsc": True}


def experiment_view(client, experiment_id: str) -> dict:
    """view_state of one experiment's active runs (the newest MAX_RUNS). Where runs are
    nested, the metric columns are the child runs' (the parents of earlier invocations, and
    of runs logged before the table_row tag, can fall past the table's first page of 100
    rows, and MLflow hides a column no loaded row has)."""
    runs = client.search_runs([experiment_id], max_results=MAX_RUNS)
    children = [r for r in runs if "mlflow.parentRunId" in (r.data.tags or {})]
    metric_keys = {k for run in children or runs for k in run.data.metrics}
    return view_state(tss_metrics(metric_keys), differing_params(r.data.params for r in runs))


def envelope(state: dict, created_ms: int, updated_ms: int) -> str:
    """A saved view's tag value, as the UI writes it (plain JSON, not compressed)."""
    return json.dumps({"name": VIEW_NAME, "createdAt": created_ms, "updatedAt": updated_ms,
                       "state": json.dumps(state, separators=(",", ":"))},
                      separators=(",", ":"))


def read_envelope(value: str | None) -> tuple[dict | None, int | None]:
    """(state, createdAt) of a saved view's tag value; (None, None) if absent or unreadable."""
    try:
        parsed = json.loads(value)
        return json.loads(parsed["state"]), int(parsed["createdAt"])
    except (TypeError, ValueError, KeyError):
        return None, None


def sync_saved_views(client) -> dict[str, dict]:
    """{experiment id: view state} of every active experiment with runs, each also written
    as saved view VIEW_KEY when its tag is missing or differs (createdAt kept)."""
    views = {}
    for exp in client.search_experiments():
        state = experiment_view(client, exp.experiment_id)
        if not state["selectedColumns"]:
            continue                                     # no runs, or nothing to show
        views[exp.experiment_id] = state
        old, created = read_envelope(exp.tags.get(VIEW_TAG_PREFIX + VIEW_KEY))
        if old != state:
            now = int(time.time() * 1000)
            client.set_experiment_tag(exp.experiment_id, VIEW_TAG_PREFIX + VIEW_KEY,
                                      envelope(state, created or now, now))
    return views


def seed_script(views: dict[str, dict], script_id: str) -> str:
    """An inline script storing each view under its experiment's localStorage key when the
    key is absent (a browser that opened the experiment keeps its own table)."""
    data = json.dumps({eid: json.dumps(state, separators=(",", ":"))
                       for eid, state in views.items()}, separators=(",", ":"))
    data = data.replace("<", "\\u003c")                  # no '</script>' inside the script
    key = json.dumps(STORAGE_KEY).replace("{}", '"+JSON.stringify([i])+"')
    return (f'<script id="{script_id}">try{{var v={data};for(var i in v){{var k={key};'
            'if(localStorage.getItem(k)===null){localStorage.setItem(k,v[i])}}}'
            "catch(e){}</script>")
