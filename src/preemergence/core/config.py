"""Loading params.yaml (the single home of every pipeline parameter).

``load_params`` reads the file once and returns the validated, frozen ``core.schema.Params``:
every stage receives it (or its own typed section) and reads attributes, never raw keys.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    from preemergence.core.schema import Params

DEFAULT_PARAMS = Path("params.yaml")
# Numbers in exponent form that YAML 1.1 (PyYAML) reads as text: 1e21, 1.9e21, 1e+21.
EXPONENT_TEXT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")


MAX_SHOWN = 3   # violations spelled out in the one-line message


class ParamsError(ValueError):
    """params.yaml is missing, unreadable or breaks the schema (core.schema); the message is
    one line naming the file and the key."""


def load_params(path: Path = DEFAULT_PARAMS) -> "Params":
    """The parameters, validated against the schema: a frozen core.schema.Params.

    Raises ParamsError with one line naming the file, the key and the problem.
    """
    path = Path(path)
    try:
        params = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ParamsError(f"{path}: parameters file not found") from None
    except IsADirectoryError:
        raise ParamsError(f"{path}: is a folder, not a parameters file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ParamsError(f"{path}: cannot be read ({type(exc).__name__})") from None
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML ({_one_line(exc)})") from None
    if not isinstance(params, dict):
        raise ParamsError(f"{path}: expected a mapping of parameters")
    _check_numbers(params, path)
    return check_schema(params, path)


def check_schema(params: dict, path: Path = DEFAULT_PARAMS) -> "Params":
    """The validated Params; ParamsError (one line: file, key, problem) unless params follow
    core.schema."""
    from pydantic import ValidationError

    from preemergence.core.schema import CrossFieldError, Params
    try:
        return Params.model_validate(params)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            cause = (error.get("ctx") or {}).get("error")
            if isinstance(cause, CrossFieldError):
                problems += [f"{key}: {message}" for key, message in cause.problems]
            else:
                problems.append(_describe(error))
        shown = "; ".join(problems[:MAX_SHOWN])
        more = f" (+{len(problems) - MAX_SHOWN} more)" if len(problems) > MAX_SHOWN else ""
        raise ParamsError(f"{path}: {shown}{more}") from None


def _describe(error: dict) -> str:
    """One pydantic error as 'key = value: problem'."""
    key = ".".join(str(part) for part in error["loc"]) or "(top level)"
    if error["type"] == "missing":
        return f"{key}: missing parameter"
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown parameter (a typo?)"
    message = error["msg"].removeprefix("Value error, ")
    return f"{key} = {_one_line(error['input'])}: {message[0].lower()}{message[1:]}"


def _one_line(value, limit: int = 60) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _check_numbers(node, path: Path, key: str = "") -> None:
    """Refuse numbers that YAML read as text (they would fail later, far from the cause)."""
    if isinstance(node, dict):
        for name, value in node.items():
            _check_numbers(value, path, f"{key}.{name}" if key else str(name))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _check_numbers(value, path, f"{key}[{i}]")
    elif isinstance(node, str) and EXPONENT_TEXT.match(node):
        raise ParamsError(f"{path}: {key} = {node} is read as text, not a number; YAML needs "
                          f"a decimal point and a signed exponent: {yaml_float(node)}")


def yaml_float(text: str) -> str:
    """The spelling of an exponent-form number that YAML 1.1 reads as a float: 1.0e+21."""
    mantissa, exponent = re.split("[eE]", text)
    sign, digits = (mantissa[0], mantissa[1:]) if mantissa[0] in "+-" else ("", mantissa)
    if "." not in digits:
        digits += ".0"
    if digits.startswith("."):
        digits = "0" + digits
    return f"{sign}{digits}e{int(exponent):+d}"


def with_overrides(params: "Params", changes: dict, path: Path = DEFAULT_PARAMS) -> "Params":
    """A copy of params with dotted keys set (``{"simulate.n_ear": 6}``, as ``dvc exp run
    -S`` writes them), validated again; an unknown key is a ParamsError naming it."""
    values = copy.deepcopy(params.model_dump())
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = values
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
            if node is None:
                raise ParamsError(f"{path}: {dotted}: no such parameter")
        if not isinstance(node, dict) or last not in node:
            raise ParamsError(f"{path}: {dotted}: no such parameter")
        node[last] = value
    return check_schema(values, path)
