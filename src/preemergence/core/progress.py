"""Progress bars for long loops that always close, so an error starts on its own line."""

import contextlib


@contextlib.contextmanager
def progress(items, enabled: bool, desc: str, unit: str):
    """Iterate `items` with a tqdm bar on stderr when enabled."""
    if not enabled:
        yield items
        return
    from tqdm import tqdm
    bar = tqdm(items, desc=desc, unit=unit)
    try:
        yield bar
    finally:
        bar.close()
