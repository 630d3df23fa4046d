"""tests/acquire: the loopback JSOC server (jsoc_server.py, a helper module, not a test)
is importable as ``jsoc_server`` by the tests of this folder (tests/ has no packages)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
