"""Atomic writing of outputs: write a temp file beside the target, then rename over it."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def atomic_write_text(path: Path, text: str) -> Path:
    """Write text to path atomically (no partial file is ever visible)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: Path, payload) -> Path:
    """Pretty JSON, atomically."""
    return atomic_write_text(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def write_csv(path: Path, frame) -> Path:
    """A pandas DataFrame as CSV (no index), atomically."""
    return atomic_write_text(path, frame.to_csv(index=False))


def refuse_overwrite(path: Path, force: bool) -> None:
    """Stop before replacing something that exists, unless the user asked (--force)."""
    path = Path(path)
    if path.exists() and not force and (path.is_file() or any(path.iterdir())):
        raise FileExistsError(f"{path}: already exists; pass --force to replace it")
