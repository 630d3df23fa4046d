"""The MLflow UI launcher: the default-view script in the index page, and the app serving it."""

import sqlite3

from preemergence.core import mlflow_ui
from preemergence.core.mlflow_ui import (DEFAULT_VIEW_SCRIPT, TABLE_SCRIPT_ID,
                                         inject_default_view, inject_table_views)
from preemergence.core.mlflow_views import view_state

PAGE = ('<!doctype html><html><head><title>MLflow</title>'
        '<script defer="defer" src="static-files/static/js/main.js"></script>'
        '<script src="other.js"></script></head><body><div id="root"></div></body></html>')


def test_script_goes_once_before_the_first_script():
    out = inject_default_view(PAGE)
    assert out.count(DEFAULT_VIEW_SCRIPT) == 1
    assert out.index(DEFAULT_VIEW_SCRIPT) < out.index('<script defer="defer"')
    assert out.replace(DEFAULT_VIEW_SCRIPT, "", 1) == PAGE
    assert '===null' in DEFAULT_VIEW_SCRIPT       # only when the key is absent
    assert 'JSON.stringify("machine_learning")' in DEFAULT_VIEW_SCRIPT


def test_idempotent_and_head_fallback():
    once = inject_default_view(PAGE)
    assert inject_default_view(once) == once
    no_script = "<html><head><title>x</title></head><body></body></html>"
    assert inject_default_view(no_script).index(DEFAULT_VIEW_SCRIPT) == no_script.index("</head>")


def test_non_html_is_untouched():
    for text in ("OK", '{"experiments": []}', "", "plain text with <b>bold</b>"):
        assert inject_default_view(text) == text


def test_table_views_script_goes_before_the_app_and_only_with_views():
    out = inject_table_views(inject_default_view(PAGE), {"3": view_state(["tss"], ["fold"])})
    assert out.index(TABLE_SCRIPT_ID) < out.index('<script defer="defer"')
    assert "metrics.`tss`" in out and out.count(TABLE_SCRIPT_ID) == 1
    assert inject_table_views(PAGE, {}) == PAGE


def test_table_views_never_break_the_page(monkeypatch):
    monkeypatch.setenv("_MLFLOW_SERVER_FILE_STORE", "nosuchscheme://store")
    assert mlflow_ui.table_views() == {}


def test_built_app_serves_index_with_the_script(tmp_path, monkeypatch):
    # the views are computed per page from the store (tests/core/test_mlflow_views.py)
    monkeypatch.setattr(mlflow_ui, "table_views", lambda: {"3": view_state(["tss"], [])})
    db, artifacts = tmp_path / "mlflow.db", tmp_path / "mlartifacts"
    sqlite3.connect(db).close()
    for key, value in mlflow_ui.server_env(db, artifacts).items():
        monkeypatch.setenv(key, value)               # restored after the test
    for key in ("MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK"):
        monkeypatch.setenv(key, "true")
    mlflow_ui.build_app(db, artifacts)
    from mlflow.server import app as flask_app

    client = flask_app.test_client()
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    body = page.get_data(as_text=True)
    assert body.count(DEFAULT_VIEW_SCRIPT) == 1
    assert body.index(DEFAULT_VIEW_SCRIPT) < body.index("<script defer")
    assert body.index(TABLE_SCRIPT_ID) < body.index("<script defer")
    assert "metrics.`tss`" in body and "ExperimentPage-" in body
    assert page.headers.get("ETag") is None and page.headers["Cache-Control"] == "no-cache"
    health = client.get("/health")
    assert health.get_data(as_text=True) == "OK"    # the rest is MLflow's own
    mlflow_ui.build_app(db, artifacts)                # a second build patches nothing twice
    assert client.get("/").get_data(as_text=True).count(DEFAULT_VIEW_SCRIPT) == 1
