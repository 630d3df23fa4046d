"""Where `make test`'s time goes, on this machine (issue 24, point 6: "find the slowest
tests").

Runs the suite as `make test` does (pytest-xdist, each module in one process, the heaviest
modules first) with a JUnit report, then writes per module and per test the seconds a test
process spent, the wall time and the machine (CPU, cores, its vector instructions: the two
kinds of 2-core AMD EPYC this project meets differ by AVX-512 and native bf16 alone):

    python benchmarks/bench_test_suite.py --name test_suite_avx2
    python benchmarks/bench_test_suite.py --junit run.xml --wall 604 --name ...  # a past run

Writes reports/benchmarks/<name>.json and <name>.md. A timing is of one run on one machine;
nothing here is asserted by a test.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAKE_TEST = ["-q", "-n", "auto", "--maxprocesses", "4", "--dist", "loadscope",
             "--no-loadscope-reorder", "-p", "no:cacheprovider"]     # the Makefile's, uncached
BUDGET_S = 300                       # issue 24: pytest within 5 min on a 2-core machine
ISA_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


def cpu_flags(cpuinfo: str | None = None) -> list[str]:
    """The vector-instruction flags of ISA_FLAGS this CPU has (Linux /proc/cpuinfo)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return []
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines()
                  if line.startswith("flags")), [])
    return [f for f in ISA_FLAGS if f in flags]


def process_count(pytest_args: list[str]) -> int:
    """How many test processes the run has: `make test`'s (the cores, at most 4), or the
    last ``-n N`` among the extra pytest arguments."""
    processes = min(4, os.cpu_count() or 1)
    for flag, value in zip(pytest_args, pytest_args[1:]):
        if flag == "-n" and value.isdigit():
            processes = int(value)
    return processes


def machine(pytest_args: list[str]) -> dict:
    from preemergence.core.hardware import cpu_name
    return {"cpu": cpu_name(), "cpus": os.cpu_count(), "isa": cpu_flags(),
            "workers": process_count(pytest_args), "python": sys.version.split()[0]}


def module_of(classname: str) -> str:
    """tests/<path>.py of a JUnit classname (tests.model.test_fanout, or with a class)."""
    parts = classname.split(".")
    end = next((i for i, p in enumerate(parts) if p.startswith("test_")), len(parts) - 1)
    return "/".join(parts[:end + 1]) + ".py"


def read_junit(xml_text: str) -> dict:
    """Per module and per test: seconds (setup, call and teardown together, as JUnit
    counts them), and the counts of the run."""
    root = ET.fromstring(xml_text)
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    modules: dict[str, dict] = defaultdict(lambda: {"seconds": 0.0, "tests": 0})
    tests = []
    for case in root.iter("testcase"):
        seconds = float(case.get("time") or 0.0)
        module = module_of(case.get("classname", ""))
        modules[module]["seconds"] += seconds
        modules[module]["tests"] += 1
        tests.append({"test": f"{module}::{case.get('name')}", "seconds": seconds})
    count = {key: sum(int(s.get(key) or 0) for s in suites)
             for key in ("tests", "failures", "errors", "skipped")}
    return {"modules": dict(sorted(modules.items(), key=lambda kv: -kv[1]["seconds"])),
            "tests": sorted(tests, key=lambda t: -t["seconds"]), "counts": count,
            "pytest_s": sum(float(s.get("time") or 0.0) for s in suites),
            "started": (suites[0].get("timestamp") or "")[:16].replace("T", " ")
            if suites else ""}


def summarise(junit: dict, wall_s: float, machine_info: dict, commit: str,
              exit_code: int | None, top: int = 25) -> dict:
    """The report's numbers: totals, the parallel share, each module, the slowest tests."""
    worker_s = sum(m["seconds"] for m in junit["modules"].values())
    return {"date": junit["started"] or time.strftime("%Y-%m-%d %H:%M"), "commit": commit,
            "machine": machine_info, "exit_code": exit_code, "wall_s": round(wall_s, 1),
            "pytest_s": round(junit["pytest_s"], 1), "counts": junit["counts"],
            "worker_s": round(worker_s, 1), "budget_s": BUDGET_S,
            "modules": {k: {"seconds": round(v["seconds"], 1), "tests": v["tests"]}
                        for k, v in junit["modules"].items()},
            "slowest": [{**t, "seconds": round(t["seconds"], 1)}
                        for t in junit["tests"][:top]]}


def _minutes(seconds: float) -> str:
    """'7 min 58 s': rounded to the second first (479.8 s is 8 min 0 s, not 7 min 60 s)."""
    whole = round(seconds)
    return f"{whole // 60} min {whole % 60} s"


def markdown(report: dict) -> str:
    m, counts = report["machine"], report["counts"]
    isa = ", ".join(m["isa"]) or "none of " + ", ".join(ISA_FLAGS)
    share = report["worker_s"] / max(report["pytest_s"] * m["workers"], 1e-9)
    passed = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    lines = [
        f"# Where `make test`'s time goes: {m['cpu']}, {m['cpus']} cores ({isa})", "",
        f"Measured {report['date']} at {report['commit']} by `benchmarks/bench_test_suite.py` "
        f"(pytest as `make test` runs it, {m['workers']} test processes; Python "
        f"{m['python']}). {passed} passed, {counts['failures'] + counts['errors']} failed, "
        f"{counts['skipped']} skipped.", "",
        f"- pytest: **{_minutes(report['pytest_s'])}** (budget {_minutes(report['budget_s'])}"
        f": {'within' if report['pytest_s'] <= report['budget_s'] else 'over'}); the "
        f"command with its start-up: {_minutes(report['wall_s'])}",
        f"- test-process seconds: {report['worker_s']:.0f} (setup, test and teardown), "
        f"{100 * share:.0f} % of {m['workers']} processes x pytest's time: the rest is "
        "start-up, collection and processes waiting at the end", "",
        "| module | tests | seconds | share |", "|---|---:|---:|---:|"]
    for module, entry in report["modules"].items():
        if entry["seconds"] >= 1.0:
            lines.append(f"| {module} | {entry['tests']} | {entry['seconds']:.1f} | "
                         f"{100 * entry['seconds'] / report['worker_s']:.1f} % |")
    lines += ["", "Modules under 1 s are left out. A module's first test carries its "
              "module-scoped fixtures (the tiny trainings).", "",
              "| slowest tests | seconds |", "|---|---:|"]
    lines += [f"| {t['test']} | {t['seconds']:.1f} |" for t in report["slowest"]]
    return "\n".join(lines) + "\n"


def run_suite(junit_path: Path, extra: list[str]) -> tuple[float, int]:
    """pytest as `make test` runs it; (wall s, exit code)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", *MAKE_TEST,
                           f"--junitxml={junit_path}", *extra], cwd=ROOT)
    return time.perf_counter() - start, done.returncode


def commit_tested() -> str:
    """The short commit the runs' MLflow tags name (tracking.git_commit), and whether the
    tracked files differed from it."""
    from preemergence.core.tracking import git_commit
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                           cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return git_commit()[:7] + (" (uncommitted changes)" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default="test_suite", help="report file stem")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "benchmarks")
    parser.add_argument("--junit", type=Path, help="read this JUnit file, run nothing")
    parser.add_argument("--wall", type=float, help="with --junit: the run's wall time (s)")
    parser.add_argument("--commit", help="with --junit: the commit it tested")
    parser.add_argument("--top", type=int, default=25, help="slowest tests listed")
    parser.add_argument("pytest_args", nargs="*",
                        help="more pytest arguments, after -- (with --junit: the run's "
                        "-n N, to count its test processes)")
    args = parser.parse_args(argv)
    if args.junit is not None:
        junit, exit_code = read_junit(args.junit.read_text()), None
        wall = args.wall if args.wall is not None else junit["pytest_s"]
        commit = args.commit or "not recorded"
    else:
        with tempfile.TemporaryDirectory() as tmp:
            junit_path = Path(tmp) / "junit.xml"
            wall, exit_code = run_suite(junit_path, args.pytest_args)
            junit = read_junit(junit_path.read_text())
        commit = commit_tested()
    report = summarise(junit, wall, machine(args.pytest_args), commit, exit_code,
                       args.top)
    from preemergence.core.artifacts import atomic_write_text, write_json
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / f"{args.name}.json", report)
    atomic_write_text(args.out / f"{args.name}.md", markdown(report))
    print(f"pytest {report['pytest_s']:.0f} s, wall {wall:.0f} s -> "
          f"{args.out / args.name}.md")
    return 0 if exit_code in (0, None) else 1


if __name__ == "__main__":
    sys.exit(main())
