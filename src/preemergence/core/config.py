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


def section(params: dict, name: str, path: Path = DEFAULT_PARAMS) -> dict:
    """One required section of the parameters."""
    if name not in params:
        raise ParamsError(f"{path}: missing section '{name}'")
    return params[name]
