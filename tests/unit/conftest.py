"""Unit-test setup: the core package ``xenctys`` is imported from ``_utils/`` (no install)."""

import os
import pathlib
import sys

import pytest

UTILS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "_utils")
if os.path.abspath(UTILS_DIR) not in sys.path:
    sys.path.insert(0, os.path.abspath(UTILS_DIR))

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


def corpus_dir():
    """The shared test corpus of real Xen/libvirt files, read in place.

    ``$XEN_CORPUS``, else ``shared/corpus`` next to the repository (``<repo>/../shared/corpus``).
    """
    return pathlib.Path(os.environ.get("XEN_CORPUS") or REPO_ROOT.parent / "shared" / "corpus")


@pytest.fixture(name="corpus")
def _corpus():
    """The corpus folder; the test is skipped (with the path in the reason) when it is absent."""
    path = corpus_dir()
    if not path.is_dir():
        pytest.skip(f"test corpus not found at {path} (set XEN_CORPUS)")
    return path
