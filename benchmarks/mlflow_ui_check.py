"""Check that every experiment opens in MLflow's "Model training" runs view (headless Chromium).

MLflow 3.x's web UI picks between a GenAI and a "Model training" (machine_learning) layout per
browser, not per experiment: the URL query parameter `workflowType` on the hash route wins,
else localStorage key `mlflow.workflowType_v1` (a JSON string, default "genai"). The experiment
tag `mlflow.experimentKind` is ignored for this choice in 3.17.2. So from a fresh browser a
plain `mlflow ui` needs  http://HOST:PORT/#/experiments/<id>?workflowType=machine_learning ;
the project's launcher (preemergence.core.mlflow_ui) stores "machine_learning" under that key
when it is absent, so there plain  http://HOST:PORT/#/experiments/<id>  works too.

This script copies an mlflow.db (SQLite backup API, so a store being written is fine), serves
the copy on a free loopback port with the project's launcher (--launcher project, the default)
or with plain `mlflow ui` (--launcher mlflow), opens every active experiment at
#/experiments/<id>[?QUERY] in headless Chromium with a fresh profile, saves one PNG per
experiment, reads the rendered DOM to tell which view rendered, writes summary.json beside the
PNGs, stops the server and exits 1 if any experiment did not render the model-training runs
view (2 on a setup error). With the launcher, each experiment's runs table must also show the
TSS columns of its default view (saved view `mlflow.sharedViewState.preemergence-default`,
core.mlflow_views) as column headers, and train-cv must list as rows every child run that the
documented name search (SEARCH below, sorted as the default view is) matches, not one
collapsed parent. --fixture checks a small store made from code (mlflow_ui_fixture.py)
instead of --db. QUERY defaults to none with the project launcher (the default view
must come from the launcher) and to workflowType=machine_learning with `mlflow ui`;
`--launcher mlflow --query ""` is the negative control (GenAI, every experiment fails).

Usage:  .venv/bin/python benchmarks/mlflow_ui_check.py [--db mlflow.db | --fixture]
            [--out DIR] [--launcher project|mlflow] [--query QUERY]
Needs:  chromium (Debian package `chromium`) and mlflow in the running interpreter.
"""

import argparse
import html
import importlib.metadata
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "reports" / "benchmarks" / "mlflow_ui"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Text nodes seen only in the GenAI layout (its side nav, overview page and runs tab title).
# "Traces" is NOT among them: the model-training side nav has a "Traces" entry too.
GENAI_MARKERS = ("Training runs", "Sessions", "Judges", "Agent versions", "Prompts & versions",
                 "Evaluation runs", "Token Usage", "Tokens per Trace", "Tool calls",
                 "Detect Issues")
# Text nodes that all appear in the model-training runs view (side nav + runs table). The
# table's footer reads "N matching runs", or "1 matching run" for an experiment with one run.
ML_MARKERS = ("Model registry", "Run Name", "matching runs")
MARKER_FORMS = {"matching runs": ("matching runs", "matching run")}
EMPTY_MARKER = "No runs logged"
ML_QUERY = "workflowType=machine_learning"
VIEW_TAG = "mlflow.sharedViewState.preemergence-default"
SEARCH_BIN = "t-3.2h"
SEARCH = "/runs?" + urllib.parse.urlencode({
    "searchFilter": f"attributes.run_name LIKE '{SEARCH_BIN}%'",
    "orderByKey": "tags.`table_row`", "orderByAsc": "true"}, quote_via=urllib.parse.quote)
# The project's launcher, started as `python -c LAUNCHER DB ARTIFACTS PORT`.
LAUNCHER = ("import sys; from pathlib import Path; from preemergence.core.mlflow_ui import serve; "
            "serve(Path(sys.argv[1]), Path(sys.argv[2]), host='127.0.0.1', port=int(sys.argv[3]))")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", type=Path, default=ROOT / "mlflow.db", help="SQLite store to copy")
    p.add_argument("--fixture", action="store_true",
                   help="check a small train-cv store made from code instead of --db")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for PNGs + summary.json")
    p.add_argument("--browser", default=None, help="Chromium binary (default: first on PATH)")
    p.add_argument("--budget-ms", type=int, default=15000, help="Chromium --virtual-time-budget")
    p.add_argument("--page-timeout", type=float, default=120.0, help="seconds per Chromium call")
    p.add_argument("--server-timeout", type=float, default=90.0, help="seconds to wait for mlflow")
    p.add_argument("--window", default="1600,1000", help="browser window size W,H")
    p.add_argument("--launcher", choices=("project", "mlflow"), default="project",
                   help="server: preemergence.core.mlflow_ui.serve (default) or plain `mlflow ui`")
    p.add_argument("--query", default=None,
                   help=f"query after #/experiments/<id> (default: none with the project "
                        f"launcher, {ML_QUERY!r} with mlflow; '--launcher mlflow --query \"\"' "
                        f"shows the GenAI default failing)")
    p.add_argument("--experiment", action="append", default=[],
                   help="only these experiment names (repeatable; default: all active)")
    args = p.parse_args(argv)
    if args.query is None:
        args.query = "" if args.launcher == "project" else ML_QUERY
    return args


# ---------------------------------------------------------------- store copy and server

def copy_store(src: Path, dst: Path) -> None:
    """Consistent snapshot of a SQLite store, even while another process writes to it."""
    if not src.is_file():
        raise RuntimeError(f"no such database: {src}")
    source, target = sqlite3.connect(src.as_uri() + "?mode=ro", uri=True), sqlite3.connect(dst)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db: Path, port: int, workdir: Path, launcher: str) -> subprocess.Popen:
    artifacts = workdir / "artifacts"
    if launcher == "project":
        cmd = [sys.executable, "-c", LAUNCHER, str(db), str(artifacts), str(port)]
    else:
        cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", f"sqlite:///{db}",
               "--default-artifact-root", str(artifacts),
               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    # The UI needs no background job runner (it would start ~8 extra processes).
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with open(workdir / "server.log", "wb") as log:
        return subprocess.Popen(cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def wait_healthy(proc: subprocess.Popen, base: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the UI server exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(base + "health", timeout=5) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the UI server is not healthy after {timeout:.0f} s")


def stop_process_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


# ---------------------------------------------------------------- REST look-ups

def api(base: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + "ajax-api/2.0/mlflow/" + path, data=data,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def list_experiments(base: str) -> list[dict]:
    exps, token = [], None
    while True:
        q = {"max_results": 1000, **({"page_token": token} if token else {})}
        page = api(base, "experiments/search?" + urllib.parse.urlencode(q))
        exps += page.get("experiments", [])
        token = page.get("next_page_token")
        if not token:
            return sorted(exps, key=lambda e: int(e["experiment_id"]))


def experiment_runs(base: str, exp_id: str) -> list[dict]:
    """All active runs of one experiment, newest first."""
    runs, token = [], None
    while True:
        body = {"experiment_ids": [exp_id], "max_results": 1000,
                "order_by": ["attributes.start_time DESC"]}
        if token:
            body["page_token"] = token
        page = api(base, "runs/search", body)
        runs += page.get("runs", [])
        token = page.get("next_page_token")
        if not token:
            return runs


def latest_top_level_run(base: str, exp_id: str) -> str | None:
    """Name of the first row of the UI's runs table: the newest run whose parent (if any)
    is not in the same experiment (the UI nests, and collapses, only same-experiment children)."""
    runs = experiment_runs(base, exp_id)
    ids = {r["info"]["run_id"] for r in runs}
    for run in runs:
        tags = {t["key"]: t["value"] for t in run.get("data", {}).get("tags", [])}
        if tags.get("mlflow.parentRunId") not in ids:
            return run["info"].get("run_name") or tags.get("mlflow.runName")
    return None


def view_metrics(base: str, exp_id: str) -> list[str]:
    """Metric keys among the columns of the experiment's default view (saved-view tag)."""
    tags = api(base, "experiments/get?experiment_id=" + exp_id)["experiment"].get("tags", [])
    value = next((t["value"] for t in tags if t["key"] == VIEW_TAG), None)
    if value is None:
        return []
    columns = json.loads(json.loads(value)["state"])["selectedColumns"]
    return [c[len("metrics.`"):-1] for c in columns if c.startswith("metrics.`")]


# ---------------------------------------------------------------- headless Chromium

def find_browser(explicit: str | None) -> str:
    for name in ([explicit] if explicit else BROWSERS):
        path = shutil.which(name)
        if path:
            return path
    raise RuntimeError("no Chromium found (apt-get install -y chromium)")


def run_browser(browser: str, url: str, mode_args: list[str], args) -> bytes:
    """One headless Chromium call in a fresh, throw-away profile; returns stdout."""
    profile = tempfile.mkdtemp(prefix="mlflow-ui-profile-")
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", "--hide-scrollbars", f"--user-data-dir={profile}",
           f"--window-size={args.window}", f"--virtual-time-budget={args.budget_ms}",
           *mode_args, url]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=args.page_timeout)
        return out
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"chromium timed out after {args.page_timeout:.0f} s on {url}")
    finally:
        stop_process_group(proc, grace=3.0)  # no-op once it has exited; else also on Ctrl-C
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(browser: str, url: str, png: Path, args) -> None:
    png.unlink(missing_ok=True)
    run_browser(browser, url, [f"--screenshot={png}"], args)
    if not png.is_file() or png.stat().st_size == 0:
        raise RuntimeError(f"no screenshot written for {url}")


def dom_text(browser: str, url: str, args) -> tuple[str, list[str]]:
    """(document title, visible text nodes) of the page after the virtual-time budget."""
    page = run_browser(browser, url, ["--dump-dom"], args).decode("utf-8", "replace")
    title = re.search(r"<title[^>]*>(.*?)</title>", page, re.S)
    body = re.sub(r"<(script|style|title)\b[^>]*>.*?</\1>", " ", page, flags=re.S | re.I)
    nodes = [html.unescape(t).strip() for t in re.split(r"<[^>]+>", body)]
    return html.unescape(title.group(1)).strip() if title else "", [t for t in nodes if t]


# ---------------------------------------------------------------- the check

def classify(title: str, nodes: list[str], exp_id: str) -> tuple[str, list[str]]:
    """'machine_learning' | 'genai' | 'unknown', plus the markers that decided it."""
    present = set(nodes)
    genai = [m for m in GENAI_MARKERS if m in present]
    if genai:
        return "genai", genai
    ml = [m for m in ML_MARKERS if present.intersection(MARKER_FORMS.get(m, (m,)))]
    if len(ml) == len(ML_MARKERS) and title.startswith(f"Runs - Experiment {exp_id} "):
        return "machine_learning", ml + [title]
    return "unknown", ml + ([title] if title else [])


def check_experiment(exp: dict, base: str, browser: str, out: Path, args) -> dict:
    exp_id, name = exp["experiment_id"], exp["name"]
    url = f"{base}#/experiments/{exp_id}" + (f"?{args.query}" if args.query else "")
    png = out / f"{exp_id}_{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
    expected = latest_top_level_run(base, exp_id)
    row = {"experiment_id": exp_id, "name": name, "url": url, "screenshot": png.name,
           "expected_first_run": expected}
    start = time.monotonic()
    try:
        screenshot(browser, url, png, args)
        title, nodes = dom_text(browser, url, args)
        row["browser_s"] = round(time.monotonic() - start, 1)
    except RuntimeError as err:
        return {**row, "view": "error", "passed": False, "problems": [str(err)]}
    view, markers = classify(title, nodes, exp_id)
    # read after the page load: serving the index writes the saved views
    metrics = view_metrics(base, exp_id) if args.launcher == "project" else []
    problems = [] if view == "machine_learning" else [f"rendered view is {view!r}"]
    if expected is None and EMPTY_MARKER not in nodes:
        problems.append(f"experiment has no runs but {EMPTY_MARKER!r} is not shown")
    if expected is not None and expected not in nodes:
        problems.append(f"newest top-level run {expected!r} not in the runs table")
    problems += [f"no {m!r} column header in the runs table" for m in metrics if m not in nodes]
    if name == "train-cv" and args.launcher == "project":
        problems += check_search(base, exp_id, browser, png.with_name(png.stem + "_search.png"),
                                 args, row)
    return {**row, "title": title, "view": view, "markers": markers, "tss_columns": metrics,
            "passed": not problems, "problems": problems}


def check_search(base: str, exp_id: str, browser: str, png: Path, args, row: dict) -> list:
    """Open the documented name search for SEARCH_BIN; every matching child run is a row."""
    runs = [r["info"].get("run_name", "") for r in experiment_runs(base, exp_id)]
    wanted = sorted(n for n in runs if n.startswith(SEARCH_BIN + " "))
    url = f"{base}#/experiments/{exp_id}{SEARCH}"
    row.update(search_url=url, search_screenshot=png.name, search_expected=wanted)
    try:
        screenshot(browser, url, png, args)
        _, nodes = dom_text(browser, url, args)
    except RuntimeError as err:
        return [f"search: {err}"]
    missing = [n for n in wanted if n not in nodes]
    return ([f"search {SEARCH_BIN!r}: {len(missing)} of {len(wanted)} matching runs not rows"]
            if missing or not wanted else [])


def check_all(args, workdir: Path) -> dict:
    browser = find_browser(args.browser)
    db = workdir / "mlflow.db"
    if args.fixture:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from mlflow_ui_fixture import make_store
        make_store(db)
    else:
        copy_store(args.db.resolve(), db)
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    server = start_server(db, port, workdir, args.launcher)
    try:
        wait_healthy(server, base, args.server_timeout)
        exps = [e for e in list_experiments(base)
                if not args.experiment or e["name"] in args.experiment]
        if not exps:
            raise RuntimeError("no experiment selected")
        rows = []
        for exp in exps:
            rows.append(check_experiment(exp, base, browser, args.out, args))
            print(f"{'PASS' if rows[-1]['passed'] else 'FAIL'}  {exp['experiment_id']:>3} "
                  f"{exp['name']:<22} view={rows[-1]['view']}  {'; '.join(rows[-1]['problems'])}")
        return {"db": "fixture (benchmarks/mlflow_ui_fixture.py)" if args.fixture
                else str(args.db.resolve()),
                "mlflow_version": importlib.metadata.version("mlflow"),
                "launcher": args.launcher,
                "url_form": "#/experiments/<id>" + (f"?{args.query}" if args.query else ""),
                "browser": browser, "experiments": rows, "passed": all(r["passed"] for r in rows)}
    finally:
        stop_process_group(server)


def main(argv=None) -> int:
    args = parse_args(argv)
    # Turn SIGTERM into SystemExit so the `finally` blocks stop the server and browsers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="mlflow-ui-check-") as tmp:
        try:
            summary = check_all(args, Path(tmp))
        except (RuntimeError, OSError, urllib.error.URLError) as err:
            log = Path(tmp, "server.log")
            tail = log.read_text(errors="replace")[-2000:] if log.is_file() else ""
            print(f"error: {err}" + (f"\nserver log tail:\n{tail}" if tail else ""),
                  file=sys.stderr)
            return 2
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    n_ok = sum(r["passed"] for r in summary["experiments"])
    n_bad = len(summary["experiments"]) - n_ok
    print(f"{n_ok} passed, {n_bad} failed  ->  {args.out / 'summary.json'}")
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
