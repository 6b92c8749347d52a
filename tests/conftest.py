"""Makes the test-data generators in tests/support/ importable by every test module.

They are test support, not part of the installed package (`ftui/` never imports them;
tests/test_layers.py checks). pytest runs with --import-mode=importlib, which leaves
sys.path alone, so the folder is put on it here.
"""

from __future__ import annotations

import sys
from pathlib import Path

SUPPORT = str(Path(__file__).resolve().parent / "support")
if SUPPORT not in sys.path:
    sys.path.insert(0, SUPPORT)
