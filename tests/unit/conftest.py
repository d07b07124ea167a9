"""Unit-test setup: the core package ``xenctys`` is imported from ``_utils/`` (no install)."""

import os
import sys

UTILS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "_utils")
if os.path.abspath(UTILS_DIR) not in sys.path:
    sys.path.insert(0, os.path.abspath(UTILS_DIR))
