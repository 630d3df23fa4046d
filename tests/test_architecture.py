"""The layout's rules, checked on the code itself (see src/preemergence/__init__.py).

* dvc.yaml: every module a stage imports (its import closure, lazy imports included) is
  covered by one of the stage's deps, so a change to any of them re-runs the stage;
* stages never import stages; each subpackage imports only the layers below it;
* no module over 400 lines; no import-order rule (no ``noqa: E402``);
* one threshold: no function takes a ``threshold`` with a default (it comes from params).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from preemergence.core.fingerprint import (PACKAGE, import_closure, imported_modules,
                                           imports_in, module_file)

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
LAYERS = ["core", "data", "model", "stats", "interpret", "solar", "acquire", "stages"]
ALLOWED = {"core": {"core"}, "data": {"core", "data"},
           "model": {"core", "data", "model"},
           "stats": {"core", "data", "model", "stats"},
           "interpret": {"core", "data", "model", "stats", "interpret"},
           "solar": {"core", "data", "model", "solar"},
           "acquire": {"core", "data", "solar", "acquire"},
           "stages": {"core", "data", "model", "stats", "interpret", "solar", "acquire"}}


def command_name(node) -> str | None:
    """The CLI command a function defines (``@app.command()`` or ``@app.command("name")``)."""
    for deco in getattr(node, "decorator_list", []):
        if (isinstance(deco, ast.Call) and isinstance(deco.func, ast.Attribute)
                and deco.func.attr == "command"):
            if deco.args and isinstance(deco.args[0], ast.Constant):
                return deco.args[0].value
            return node.name.replace("_", "-")
    return None


def cli_imports(src: Path, package: str, command: str) -> set[str]:
    """What running one CLI command imports: the CLI module's own imports and those of
    that command's function (not those of the other commands)."""
    path = module_file(src, f"{package}.cli")
    tree = ast.parse(path.read_text())
    nodes = [n for n in tree.body if command_name(n) in (None, command)]
    return imports_in(src, nodes, path, package)


def uncovered(files, deps, root: Path) -> list[str]:
    """Files (relative to root) not covered by any dep (a file or a folder above it)."""
    dep_paths = [(root / d).resolve() for d in deps]
    return sorted(str(f.relative_to(root)) for f in files
                  if not any(f.resolve() == d or d in f.resolve().parents for d in dep_paths))


def stage_problems(dvc_yaml: Path, src: Path, package: str = PACKAGE) -> dict[str, list[str]]:
    """{stage: modules it imports that its deps do not cover} for every stage of dvc.yaml.

    A stage runs its command in ``package.cli`` (named after the stage), which runs
    ``package.stages.<stage>`` (its module).
    """
    stages = yaml.safe_load(dvc_yaml.read_text())["stages"]
    problems = {}
    for name, stage in stages.items():
        module = f"{package}.stages.{name.replace('-', '_')}"
        if module_file(src, module) is None:
            problems[name] = [f"no stage module {module}"]
            continue
        files = {module_file(src, f"{package}.cli")} | import_closure(
            src, [module, *cli_imports(src, package, name)], package)
        missing = uncovered(files, stage.get("deps", []), dvc_yaml.parent)
        if missing:
            problems[name] = missing
    return problems


def test_every_stage_depends_on_every_module_it_imports():
    assert stage_problems(ROOT / "dvc.yaml", SRC) == {}


def test_a_stage_import_without_its_dependency_is_caught(tmp_path):
    """Synthetic repository: adding an import to a stage without the dep must fail."""
    pkg = tmp_path / "src" / "pkg"
    for sub in ("core", "model", "stages"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "cli.py").write_text("from pkg.core import paths\n")
    (pkg / "core" / "paths.py").write_text("X = 1\n")
    (pkg / "model" / "cnn.py").write_text("from pkg.core.paths import X\n")
    stage = pkg / "stages" / "train.py"
    stage.write_text("from pkg.core import paths\n")
    dvc_yaml = tmp_path / "dvc.yaml"
    dvc_yaml.write_text(yaml.safe_dump({"stages": {"train": {"cmd": "pkg train", "deps": [
        "src/pkg/__init__.py", "src/pkg/cli.py", "src/pkg/core",
        "src/pkg/stages/__init__.py", "src/pkg/stages/train.py"]}}}))
    src = tmp_path / "src"
    assert stage_problems(dvc_yaml, src, "pkg") == {}
    stage.write_text("from pkg.core import paths\n\n\ndef run():\n"
                     "    from pkg.model.cnn import X   # a new, lazy import\n    return X\n")
    assert stage_problems(dvc_yaml, src, "pkg") == {
        "train": ["src/pkg/model/__init__.py", "src/pkg/model/cnn.py"]}


def source_files():
    return sorted((SRC / PACKAGE).rglob("*.py"))


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in LAYERS else None


@pytest.mark.parametrize("path", source_files(), ids=lambda p: str(p.relative_to(SRC)))
def test_layers_import_only_what_lies_below(path):
    relative = path.relative_to(SRC).with_suffix("")
    own = layer_of(".".join(relative.parts))
    if own is None:
        return                                   # cli.py and the package __init__
    wrong = sorted(m for m in imported_modules(SRC, path)
                   if layer_of(m) is not None and layer_of(m) not in ALLOWED[own])
    assert not wrong, f"{relative} ({own}) imports {wrong}"


def test_modules_stay_under_400_lines():
    long = {str(p.relative_to(SRC)): n for p in source_files()
            if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}


def test_functions_stay_under_60_lines():
    long = [f"{p.relative_to(SRC)}:{node.name} ({node.end_lineno - node.lineno + 1})"
            for p in source_files() for node in ast.walk(ast.parse(p.read_text()))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > 60]
    assert long == []


def test_no_import_order_rules_left():
    files = [*SRC.rglob("*.py"), *(ROOT / "tests").rglob("*.py"),
             *(ROOT / "benchmarks").rglob("*.py")]
    marked = [str(p.relative_to(ROOT)) for p in files
              if p != Path(__file__).resolve() and re.search(r"noqa: ?E402", p.read_text())]
    assert marked == []


def test_no_threshold_has_a_default():
    """The classification threshold is params.yaml train.threshold, passed down; a default
    would let a caller silently use another one."""
    defaults = []
    for path in source_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args
                positional = args.posonlyargs + args.args
                with_default = positional[len(positional) - len(args.defaults):]
                with_default += [a for a, d in zip(args.kwonlyargs, args.kw_defaults) if d]
                defaults += [f"{path.relative_to(SRC)}:{node.name}" for a in with_default
                             if a.arg == "threshold"]
    assert defaults == []


def declared_outputs(stage: dict) -> set[str]:
    out = set()
    for kind in ("outs", "metrics", "plots"):
        for entry in stage.get(kind, []):
            out.add(next(iter(entry)) if isinstance(entry, dict) else entry)
    return out


def test_stage_outputs_are_read_from_dvc_yaml():
    """core.catalog.default_outputs (what --force guards) is dvc.yaml's list itself, and the
    default folders of core.paths (the CLI's defaults) are the ones dvc.yaml's stages write."""
    from preemergence.core import paths
    from preemergence.core.catalog import PIPELINE_FILE, default_outputs, stage_params
    assert PIPELINE_FILE.resolve() == (ROOT / "dvc.yaml").resolve()
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        assert {str(p) for p in default_outputs(name)} == declared_outputs(stage), name
        assert set(stage_params(name)) == set(stage["params"]), name
    for stage, folder in paths.STAGE_MODELS_DIRS.items():
        assert folder.as_posix() in declared_outputs(stages[stage]), stage
        assert f"--models {folder.as_posix()}" in stages[stage]["cmd"], stage
    assert paths.SEGMENTS_DIR.as_posix() in declared_outputs(stages["prepare"])


PARAMS_LOOKUP = re.compile(r"\bp(arams)?\[[\"']")


def test_parameters_are_read_as_attributes_not_raw_lookups():
    """load_params returns the validated model; raw params["..."] lookups stay at the CLI
    edge at most (issue 22: at most 10 in src/)."""
    lookups = [f"{p.relative_to(SRC)}:{i}" for p in source_files()
               for i, line in enumerate(p.read_text().splitlines(), 1)
               if PARAMS_LOOKUP.search(line)]
    assert len(lookups) <= 10, lookups


def _classes_named(name: str) -> list[str]:
    return [f"{p.relative_to(SRC)}" for p in source_files()
            for node in ast.walk(ast.parse(p.read_text()))
            if isinstance(node, ast.ClassDef) and node.name == name]


@pytest.mark.parametrize("name", ["TrainConfig", "PruneSchedule", "Params"])
def test_one_class_per_configuration(name):
    assert len(_classes_named(name)) == 1, _classes_named(name)


def test_only_the_config_module_reads_params_yaml():
    """Nothing but core.config parses params.yaml (stages receive the validated model)."""
    readers = [str(p.relative_to(SRC)) for p in source_files()
               if p.name != "config.py" and re.search(r"yaml\.safe_load|yaml\.load", p.read_text())
               and "params" in p.read_text()]
    assert readers in ([], ["preemergence/core/catalog.py"]), readers


def test_no_reexport_shims_outside_package_inits():
    shims = [str(p.relative_to(ROOT)) for p in [*SRC.rglob("*.py"), *(ROOT / "tests").rglob("*.py")]
             if p.name != "__init__.py" and re.search(r"noqa: ?F401", p.read_text())]
    assert shims == []


def test_the_package_top_holds_only_the_cli():
    top = sorted(p.name for p in (SRC / PACKAGE).glob("*.py"))
    assert top == ["__init__.py", "cli.py"]


def test_the_filter_rule_has_one_home():
    """16 * 2**k filters and the halving of pruning are written once (core.filters)."""
    pattern = re.compile(r"16 \* 2 ?\*\*|n //= 2")
    homes = [str(p.relative_to(SRC)) for p in source_files() if pattern.search(p.read_text())]
    assert homes == ["preemergence/core/filters.py"], homes


@pytest.mark.slow
def test_make_install_gpu_python_line_runs():
    """The last line of `make install-gpu` (what TensorFlow sees) runs on a CPU machine."""
    import subprocess
    import sys
    makefile = (ROOT / "Makefile").read_text().split("install-gpu:", 1)[1].split("\n\n")[0]
    line = [x for x in makefile.splitlines() if "-c " in x][-1]
    code = line.split("-c ", 1)[1].strip().strip('"')
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip()


def test_dvc_reads_the_pipeline(monkeypatch):
    """DVC's own parser accepts dvc.yaml (plain YAML parsing accepts more, e.g. an output
    written as `- models/x:` with nothing under it)."""
    import subprocess
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    from dvc_plots_check import dvc_executable
    listed = subprocess.run([dvc_executable(), "stage", "list"], cwd=ROOT, capture_output=True,
                            text=True)
    assert listed.returncode == 0, listed.stderr
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert [line.split()[0] for line in listed.stdout.splitlines()] == list(stages)


@pytest.mark.parametrize("override", ["depth=4", "seed=7", "train.config=paper",
                                      "prune.schedule=paper", "train.final_filters=64"])
def test_a_dvc_experiment_changes_one_line_of_params_yaml(tmp_path, override):
    """`dvc exp run -S key=value` rewrites params.yaml through DVC's Hydra overrides; the
    file is kept in the style DVC writes, so the experiment's diff is the one line."""
    from dvc.utils.hydra import apply_overrides
    copy = tmp_path / "params.yaml"
    original = (ROOT / "params.yaml").read_text()
    copy.write_text(original)
    apply_overrides(str(copy), [override])
    changed = [(a, b) for a, b in zip(original.splitlines(), copy.read_text().splitlines())
               if a != b]
    assert len(original.splitlines()) == len(copy.read_text().splitlines())
    key, value = override.split("=")
    assert len(changed) == 1
    assert changed[0][1].lstrip().startswith(f"{key.split('.')[-1]}: {value}")


def test_the_heaviest_first_test_modules_exist_and_come_first():
    """make test schedules tests/conftest.py's HEAVIEST_FIRST modules first; a renamed
    module would silently fall back to collection order."""
    import sys
    from types import SimpleNamespace
    conftest = next(m for m in list(sys.modules.values())
                    if getattr(m, "__file__", None) == str(ROOT / "tests" / "conftest.py"))
    missing = [m for m in conftest.HEAVIEST_FIRST if not (ROOT / "tests" / m).is_file()]
    assert not missing, f"tests/conftest.py HEAVIEST_FIRST names missing modules: {missing}"
    ids = ["tests/test_cli.py::a", "tests/model/test_cnn.py::b", "tests/test_cli.py::c",
           "tests/model/test_fanout.py::d", "tests/model/test_cnn.py::e"]
    items = [SimpleNamespace(nodeid=i) for i in ids]
    conftest.pytest_collection_modifyitems(None, None, items)
    assert [i.nodeid.split("::")[1] for i in items] == ["d", "a", "c", "b", "e"]


def test_interpret_reads_the_planted_truth_results_after_interpret_validate():
    """interpret reads reports/interpret_validation.json: dvc.yaml must order it after
    interpret-validate and rerun it when the results change (it was once on prune)."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    deps = {name: [str(d) for d in stage.get("deps", [])] for name, stage in stages.items()}
    produced = [str(next(iter(o)) if isinstance(o, dict) else o)
                for o in stages["interpret-validate"]["outs"]]
    assert "reports/interpret_validation.json" in produced
    assert "reports/interpret_validation.json" in deps["interpret"]
    assert [n for n, d in deps.items() if "reports/interpret_validation.json" in d
            ] == ["interpret"]
