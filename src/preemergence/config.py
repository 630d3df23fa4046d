"""Loading params.yaml (the single home of every pipeline parameter)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

DEFAULT_PARAMS = Path("params.yaml")
# Numbers in exponent form that YAML 1.1 (PyYAML) reads as text: 1e21, 1.9e21, 1e+21.
EXPONENT_TEXT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")


class ParamsError(ValueError):
    """params.yaml is missing, unreadable or lacks a required section."""


def load_params(path: Path = DEFAULT_PARAMS) -> dict:
    """The parameters as a dict; raises ParamsError naming the file and the problem."""
    path = Path(path)
    try:
        params = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ParamsError(f"{path}: parameters file not found") from None
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(params, dict):
        raise ParamsError(f"{path}: expected a mapping of parameters")
    _check_numbers(params, path)
    return params


def _check_numbers(node, path: Path, key: str = "") -> None:
    """Refuse numbers that YAML read as text (they would fail later, far from the cause)."""
    if isinstance(node, dict):
        for name, value in node.items():
            _check_numbers(value, path, f"{key}.{name}" if key else str(name))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _check_numbers(value, path, f"{key}[{i}]")
    elif isinstance(node, str) and EXPONENT_TEXT.match(node):
        mantissa, exponent = re.split("[eE]", node)
        fixed = f"{mantissa if '.' in mantissa else mantissa + '.0'}e{int(exponent):+d}"
        raise ParamsError(f"{path}: {key} = {node} is read as text, not a number; YAML needs "
                          f"a decimal point and a signed exponent: {fixed}")


def section(params: dict, name: str, path: Path = DEFAULT_PARAMS) -> dict:
    """One required section of the parameters."""
    if name not in params:
        raise ParamsError(f"{path}: missing section '{name}'")
    return params[name]
