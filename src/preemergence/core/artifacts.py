"""Atomic writing of outputs: write a temp file (or folder) beside the target, then rename.

A killed or failing stage therefore never leaves a partial or corrupt output behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

FILE_MODE = 0o644


@contextlib.contextmanager
def atomic_output(path: Path, suffix: str = ""):
    """Yield a temporary path beside `path`; rename it over `path` only on success.

    suffix: ending of the temporary name, for writers that insist on one (e.g. '.keras').
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove(path.parent.glob(f".{path.name}.*.tmp*"))     # left by an interrupted write
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{suffix}")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_directory(path: Path):
    """Yield a temporary folder beside `path`; swap it in for `path` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove([*path.parent.glob(f".{path.name}.tmp-*"),            # left by an interrupted
             *path.parent.glob(f".{path.name}.old-*")])           # write of this folder
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o755)
        old = path.with_name(f".{path.name}.old-{tmp.name}")
        if path.exists():
            os.replace(path, old)        # set the old output aside, never half-deleted
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def run_lock(folder: Path):
    """Hold an exclusive lock on folder/.lock while the block runs (fcntl; blocks until
    another process holding it is done), so two processes never write one run at once."""
    import fcntl
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield folder
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_leftovers(folder: Path) -> list[Path]:
    """Delete the temporary files and folders that an interrupted atomic write left in
    folder (``.<name>.*.tmp*`` and ``.<name>.tmp-*``); returns what was removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return _remove([p for p in folder.glob(".*") if ".tmp" in p.name])


def _remove(paths) -> list[Path]:
    removed = list(paths)
    for path in removed:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return removed


def atomic_write_text(path: Path, text: str) -> Path:
    """Write text to path atomically (no partial file is ever visible)."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def read_json(path: Path):
    """A JSON file's content, or None when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def write_json(path: Path, payload) -> Path:
    """Pretty JSON, atomically."""
    return atomic_write_text(path, json.dumps(payload, indent=2) + "\n")


def write_csv(path: Path, frame) -> Path:
    """A pandas DataFrame as CSV (no index), atomically."""
    return atomic_write_text(path, frame.to_csv(index=False))


def write_fits(path: Path, data, header=None) -> Path:
    """An image in the primary HDU of a FITS file, atomically."""
    from astropy.io import fits
    with atomic_output(path) as tmp:
        fits.PrimaryHDU(data=data, header=header).writeto(tmp, overwrite=True)
    return Path(path)


def set_string_card(header, key: str, value: str, comment: str) -> None:
    """A string keyword that fits one FITS card: value cut to 68 characters, the comment
    kept only when it still fits (no truncation warning from astropy)."""
    value = str(value)[:68]
    header[key] = (value, comment) if len(value) + len(comment) <= 65 else value


def save_figure(fig, path: Path, dpi: int = 90) -> Path:
    """A matplotlib figure as PNG, atomically."""
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return Path(path)


def require_file_path(path: Path) -> None:
    """An output that must be a file: refuse a path that is an existing folder."""
    if Path(path).is_dir():
        raise ValueError(f"{path}: is a folder; give the path of the file to write")


REUSED_RUNS_NOTE = ("; finished training runs are kept in the run store and reused "
                    "either way, so --force retrains nothing that finished")


def refuse_overwrite_any(paths, force: bool, trains: bool = False) -> None:
    """refuse_overwrite for every output a command writes, before it writes any; a stage
    that ``trains`` says that its finished runs are reused with --force too."""
    for path in paths:
        refuse_overwrite(path, force, REUSED_RUNS_NOTE if trains else "")


def refuse_overwrite(path: Path, force: bool, note: str = "") -> None:
    """Stop before replacing something that exists, unless the user asked (--force)."""
    path = Path(path)
    if path.exists() and not force and (path.is_file() or any(path.iterdir())):
        raise FileExistsError(f"{path}: already exists; pass --force to replace it{note}")
