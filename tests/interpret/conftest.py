"""tests/interpret: the tiny planted-truth run (planted_tiny.py, a helper module, not a test)
is importable as ``planted_tiny`` by the tests of this folder (tests/ has no packages)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
