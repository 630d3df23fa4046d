"""The MLflow web UI for this project's store, opening in the "Model training" view by default.

Why: MLflow 3.17.2's UI chooses between its GenAI and its "Model training" (machine_learning)
layout per browser, not per experiment or server. The hash route's query parameter
``workflowType`` wins; without it the app reads localStorage key ``mlflow.workflowType_v1``
(a JSON string, so the stored value is ``"machine_learning"`` with the quotes), once, at start;
when the key is absent it falls back to GenAI. There is no server option for this, and the
experiment tag ``mlflow.experimentKind`` is ignored. So a fresh browser opening
``http://HOST:PORT/`` or ``#/experiments/<id>`` of a plain ``mlflow ui`` gets GenAI.

How: this module serves MLflow's own ASGI app (``mlflow.server.fastapi_app:app``, the FastAPI
wrapper around the Flask app ``mlflow.server.app`` that ``mlflow ui``/``mlflow server`` run
under uvicorn), configured through the same ``_MLFLOW_SERVER_*`` environment variables the CLI
passes to its uvicorn worker, in this process and with one worker. Only the Flask view that
returns the single-page app's index (endpoint ``serve``, path ``/``; every UI page is a hash
route below it) is replaced: it returns the same ``index.html`` with a tiny inline script
before the app's bundle that stores ``"machine_learning"`` under that key if, and only if, the
key is absent. A user who switches to GenAI in the UI keeps that choice; every other route,
the REST API and artifact serving are MLflow's, unchanged.

Runs table: the same page also carries, per experiment, its default runs-table view (the TSS
metrics and the parameters that differ as columns, a wide name column, sorted by the runs'
table_row tag so child runs are rows of their own, under their parent; core.mlflow_views), computed from the store on each page load,
saved in the store as MLflow's own saved view "TSS and differing parameters" (Views menu;
link ``#/experiments/<id>/runs?viewStateShareKey=preemergence-default``), and stored under
the experiment's localStorage key when the browser has none, so the table opens with it.

Start:  preemergence mlflow-ui   (then http://127.0.0.1:5000/; the store is relocated first
        when the repository was copied or moved: core.tracking.relocate_store)
"""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

STORAGE_KEY = "mlflow.workflowType_v1"
DEFAULT_VIEW = "machine_learning"
SCRIPT_ID = "preemergence-default-view"
DEFAULT_VIEW_SCRIPT = (
    f'<script id="{SCRIPT_ID}">try{{if(localStorage.getItem("{STORAGE_KEY}")===null)'
    f'{{localStorage.setItem("{STORAGE_KEY}",JSON.stringify("{DEFAULT_VIEW}"))}}}}'
    "catch(e){}</script>"
)


TABLE_SCRIPT_ID = "preemergence-default-table"


def inject_default_view(html: str, script: str = DEFAULT_VIEW_SCRIPT,
                        script_id: str = SCRIPT_ID) -> str:
    """``html`` with ``script`` (default: DEFAULT_VIEW_SCRIPT) before its first ``<script``
    (else before ``</head>``).

    Idempotent (per script_id); text holding neither tag (not an HTML page) comes back
    unchanged.
    """
    if script_id in html:
        return html
    lower = html.lower()
    at = lower.find("<script")
    if at < 0:
        at = lower.find("</head>")
    if at < 0:
        return html
    return html[:at] + script + html[at:]


def inject_table_views(html: str, views: dict[str, dict]) -> str:
    """``html`` with the script seeding each experiment's default runs-table view
    (core.mlflow_views) before its first script; unchanged without views."""
    from preemergence.core.mlflow_views import seed_script
    if not views:
        return html
    return inject_default_view(html, seed_script(views, TABLE_SCRIPT_ID), TABLE_SCRIPT_ID)


def table_views() -> dict[str, dict]:
    """Each experiment's default table view, freshly computed from the served store (and
    saved there as MLflow saved views); {} if the store cannot be read."""
    from mlflow import MlflowClient
    from preemergence.core.mlflow_views import sync_saved_views
    try:
        return sync_saved_views(MlflowClient(os.environ["_MLFLOW_SERVER_FILE_STORE"]))
    except Exception as err:                # the page must open whatever the store holds
        logging.getLogger(__name__).warning("default runs-table views skipped: %r", err)
        return {}


def server_env(db: Path, artifacts: Path) -> dict[str, str]:
    """What ``mlflow ui --backend-store-uri sqlite:///DB --default-artifact-root ARTIFACTS``
    (artifact proxy on, destination ARTIFACTS) hands its uvicorn worker in MLflow 3.17.2."""
    store = f"sqlite:///{Path(db).resolve()}"
    root = str(Path(artifacts).resolve())
    return {
        "_MLFLOW_SERVER_FILE_STORE": store,
        "_MLFLOW_SERVER_REGISTRY_STORE": store,
        "_MLFLOW_SERVER_ARTIFACT_ROOT": root,
        "_MLFLOW_SERVER_SERVE_ARTIFACTS": "true",
        "_MLFLOW_SERVER_ARTIFACT_DESTINATION": root,
        "_MLFLOW_SGI_NAME": "uvicorn",
        "_MLFLOW_SERVER_BOOT_ID": uuid.uuid4().hex,
        "_MLFLOW_IN_JOB_EXECUTOR": "false",
    }


def _patch_index_view(flask_app) -> None:
    """Serve the UI's index.html with the default-view script (once per Flask app)."""
    from flask import Response

    original = flask_app.view_functions["serve"]
    if getattr(original, "_default_view", False):
        return

    def serve_index():
        index = Path(flask_app.static_folder) / "index.html"
        if not index.is_file():
            return original()                   # MLflow's own "UI not built" message
        page = inject_default_view(index.read_text(encoding="utf-8"))
        page = inject_table_views(page, table_views())
        # No ETag/Last-Modified: a page cached from a plain `mlflow ui` is never revalidated.
        return Response(page, mimetype="text/html", headers={"Cache-Control": "no-cache"})

    serve_index._default_view = True
    flask_app.view_functions["serve"] = serve_index


def build_app(db: Path, artifacts: Path):
    """MLflow's ASGI app for this store, with the index patched. Sets os.environ (the
    server's configuration) before importing mlflow.server, whose import reads it."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.update(server_env(db, artifacts))
    from mlflow.server import app as flask_app
    from mlflow.server.fastapi_app import app

    _patch_index_view(flask_app)
    return app


def serve(db: Path, artifacts: Path, host: str = "127.0.0.1", port: int = 5000) -> None:
    """Serve the UI until interrupted (uvicorn, one worker, in this process)."""
    db, artifacts = Path(db).resolve(), Path(artifacts).resolve()
    if not db.is_file():
        raise FileNotFoundError(f"no MLflow store at {db}")
    artifacts.mkdir(parents=True, exist_ok=True)
    app = build_app(db, artifacts)
    import uvicorn
    from mlflow.server import _UVICORN_LOG_CONFIG
    from mlflow.server.handlers import initialize_backend_stores

    store = os.environ["_MLFLOW_SERVER_FILE_STORE"]
    initialize_backend_stores(store, store, str(artifacts))   # as the CLI does: fail fast
    uvicorn.run(app, host=host, port=port, log_config=str(_UVICORN_LOG_CONFIG))
