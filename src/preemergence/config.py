"""Loading params.yaml (the single home of every pipeline parameter)."""

from __future__ import annotations

from pathlib import Path

import yaml

DEFAULT_PARAMS = Path("params.yaml")


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
    return params


def section(params: dict, name: str, path: Path = DEFAULT_PARAMS) -> dict:
    """One required section of the parameters."""
    if name not in params:
        raise ParamsError(f"{path}: missing section '{name}'")
    return params[name]
