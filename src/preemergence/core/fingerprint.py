"""Which source a piece of code runs, read from the code itself (its import closure).

``import_closure`` follows the package's own imports (module-level and lazy ones inside
functions) with the standard ``ast`` module; ``code_fingerprint`` hashes the code of a
closure's modules (their syntax trees without docstrings, so comments and documentation do
not count), so a run's identity changes whenever any code it runs changes. The same closure
checks that dvc.yaml lists every module a stage runs (tests/test_architecture.py).
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

PACKAGE = "preemergence"
SRC = Path(__file__).resolve().parents[2]          # the folder holding the package


def module_file(src: Path, module: str) -> Path | None:
    """The file of a dotted module name under src (a module or a package's __init__)."""
    base = Path(src).joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imports_in(src: Path, nodes, path: Path, package: str = PACKAGE) -> set[str]:
    """Dotted names of the package's modules imported anywhere in the given AST nodes."""
    out = set()
    for node in (n for top in nodes for n in ast.walk(top)):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == package}
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.level:
                raise ValueError(f"{path}: relative import of {node.module}; use absolute "
                                 f"imports ({package}.…)")
            if node.module.split(".")[0] != package:
                continue
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names
                    if module_file(src, f"{node.module}.{a.name}")}
    return out


def imported_modules(src: Path, path: Path, package: str = PACKAGE) -> set[str]:
    """Dotted names of the package's modules that a file imports, anywhere in the file."""
    return imports_in(src, [ast.parse(Path(path).read_text())], path, package)


def with_parents(module: str) -> list[str]:
    """A module and the packages above it (all run when it is imported)."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def import_closure(src: Path, modules, package: str = PACKAGE) -> set[Path]:
    """Files of every module reachable from ``modules`` through the package's imports."""
    todo, seen = [m for name in modules for m in with_parents(name)], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = module_file(src, name)
        if path is not None:
            todo += [m for imported in imported_modules(src, path, package)
                     for m in with_parents(imported)]
    return {f for f in (module_file(src, m) for m in seen) if f is not None}


def code_text(path: Path) -> str:
    """A module's code as its syntax tree without docstrings (comments are not in it)."""
    tree = ast.parse(Path(path).read_text())
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


@functools.cache
def code_fingerprint(*modules: str, src: Path = SRC, package: str = PACKAGE) -> str:
    """Hash (16 hex) of the code of every module the given modules run."""
    digest = hashlib.sha256()
    for path in sorted(import_closure(src, modules, package)):
        digest.update(f"{path.relative_to(src)}\0{code_text(path)}\0".encode())
    return digest.hexdigest()[:16]
