"""Shared fixtures: tiny configurations derived from the real params.yaml."""

import os
import tempfile
from pathlib import Path

import pytest

from preemergence.core.config import load_params, with_overrides

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# Training runs of the tests go to a store of their own, never the repository's models/runs.
os.environ["PREEMERGENCE_RUN_STORE"] = tempfile.mkdtemp(prefix="preemergence-run-store-")
# A resume point after every epoch (the tests kill and resume tiny runs between epochs).
os.environ["PREEMERGENCE_CHECKPOINT_S"] = "0"
# MLflow runs of the tests go to a store of their own (artifacts beside it), never the
# repository's mlflow.db and mlartifacts/; tests that need another store set their own.
TEST_TRACKING_DIR = Path(tempfile.mkdtemp(prefix="preemergence-mlflow-"))
os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{TEST_TRACKING_DIR / 'mlflow.db'}"
USER_FILES = ("mlflow.db", "mlartifacts", "mlruns")     # the user's MLflow store
# No per-process thread share under pytest-xdist: with each of 2 processes pinned to 1 core
# (4ab14b0) a quiet fresh-clone pytest took 572 s on a 2-core AMD EPYC; without it (and with
# the planted-probe tests split over two modules) 480 s in the workspace at 1f8ee84. Pinned,
# the run ends with one process alone on its heavy module and one core idle.
# The heaviest test modules, heaviest first (benchmarks/bench_test_suite.py on a 2-core
# AMD EPYC, AVX2 only, 2026-12-07: reports/benchmarks/test_suite_avx2.md). `make test`
# hands modules to its processes in collection order (--no-loadscope-reorder), so these
# start first and the run does not end with one process on a long module while the other
# idles (3 processes on 2 cores were no faster: 488 s against 469 s on a fresh clone). A
# stale list only changes the order, not a result.
HEAVIEST_FIRST = ("model/test_fanout.py", "stages/test_prune_interpret.py",
                  "interpret/test_planted_probes_location.py", "stages/test_train_cv.py",
                  "interpret/test_planted_probes.py", "stats/test_leakage_and_repeats.py",
                  "stats/test_resampling.py", "test_benchmarks.py",
                  "interpret/test_planted_probes_size.py", "test_cli.py",
                  "data/test_validation.py", "stages/test_trustworthy_runs.py",
                  "test_architecture.py", "acquire/test_pipeline.py",
                  "stages/test_prepare_gx.py", "core/test_tracking.py")


def _user_store_state() -> dict:
    """Size and modification time of every file of the user's MLflow store."""
    state = {}
    for name in USER_FILES:
        top = ROOT / name
        for path in ([top] if top.is_file() else top.rglob("*") if top.is_dir() else []):
            if path.is_file():
                stat = path.stat()
                state[str(path.relative_to(ROOT))] = (stat.st_size, stat.st_mtime_ns)
    return state


def pytest_collection_modifyitems(session, config, items):
    """Modules in HEAVIEST_FIRST first, in its order; the others after, as collected (each
    module's tests stay together and in their order)."""
    def rank(item) -> int:
        module = item.nodeid.split("::")[0].removeprefix("tests/")
        return HEAVIEST_FIRST.index(module) if module in HEAVIEST_FIRST else len(HEAVIEST_FIRST)
    items[:] = sorted(items, key=rank)                  # a stable sort


def pytest_sessionstart(session):
    session.config.user_store_before = _user_store_state()


def pytest_sessionfinish(session, exitstatus):
    """The suite fails if it changed the user's MLflow store (mlflow.db, mlartifacts/)."""
    before = getattr(session.config, "user_store_before", None)
    if before is None or hasattr(session.config, "workerinput"):
        return                                  # an xdist worker: the controller checks
    after = _user_store_state()
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    if changed:
        session.config.get_terminal_writer().line(
            f"the user's MLflow store changed during the tests: {', '.join(changed[:5])} "
            "(a test logged there, or a `make run` or MLflow UI ran at the same time)",
            red=True)
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def params():
    return load_params(ROOT / "params.yaml")


@pytest.fixture(scope="session")
def tiny_params(params):
    """params.yaml at a tiny scale: 6 EARs + 6 CRs, few samples per region."""
    return with_overrides(params, {
        "simulate.n_ear": 6, "simulate.n_cr": 6,
        "prepare.pe_per_ear": 12, "prepare.ne_per_ear": 6, "prepare.ne_per_cr": 6,
        "prepare.data_docs": False})   # GX Data Docs: tests/stages/test_prepare_gx.py


@pytest.fixture(scope="session")
def tiny_store_dir(tiny_params, tmp_path_factory):
    """A simulated tiny region store on disk (written once per test session)."""
    from preemergence.data.simulate import simulate_store
    out = tmp_path_factory.mktemp("store") / "regions"
    simulate_store(tiny_params.simulate, tiny_params.time_bins, tiny_params.seed, out,
                   progress=False)
    return out


@pytest.fixture(scope="session")
def prepare_tiny(tiny_params, tiny_store_dir, tmp_path_factory):
    """prepare_tiny(name, overrides) -> (params, region store, work folder): the tiny data
    prepared in a fresh folder, with a 1-epoch schedule on 48 samples (and ``overrides``)."""
    def prepared(name: str, overrides: dict | None = None):
        from preemergence.stages.prepare import run_prepare
        work = tmp_path_factory.mktemp(name)
        p = with_overrides(tiny_params, {"train.configs.default.epochs": 1,
                                         "train.configs.default.samples_per_epoch": 48,
                                         "train.configs.default.max_val_samples": 16,
                                         **(overrides or {})})
        run_prepare(p, tiny_store_dir, work / "segments", work / "reports", progress=False)
        return p, tiny_store_dir, work
    return prepared


class OutputGuard:
    """Snapshot a folder, run a stage, then check that every new file lies in one of the
    stage's declared outputs (core.catalog.stage_outputs: what dvc.yaml and --force cover)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.before = self._files()

    def _files(self):
        return {p for p in self.root.rglob("*") if p.is_file()}

    def check(self, stage: str, reports: Path, *folders: Path) -> None:
        from preemergence.core.catalog import stage_outputs
        declared = stage_outputs(stage, reports, *folders)
        store = [self.root / "mlflow.db", self.root / "mlartifacts"]   # a test's MLflow store
        new = self._files() - self.before
        stray = [p for p in new if not any(p == d or d in p.parents for d in declared + store)]
        assert stray == [], f"{stage} wrote undeclared files: {stray}"


@pytest.fixture(scope="session")
def output_guard():
    """OutputGuard(root) for stage tests."""
    return OutputGuard
