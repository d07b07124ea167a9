"""Integration tier: real Salt processes.  The daemon fixtures live in tests/conftest.py.

Here: the two deployment modes' own set-up, used by test_deploy.py:

- ``installed_venv``: a FRESH venv with ``pip install <copy of the repo>`` (non-editable), i.e. the
  package and its ``salt.loader`` entry point, nothing from the source tree (about 30 s);
- ``local_minion``: a masterless minion config directory (``file_client: local``, no file_root
  holding the repository) with its own simulated Xen host.
"""

import importlib.metadata
import shutil
import sys

import pytest
import yaml
from harness import FILE_IGNORE_REGEX, REPO, make_lab_host, run_cmd

# What is not copied from the work tree before ``pip install``.
COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".venv*", "__pycache__", "*.pyc", ".pytest_cache", ".hypothesis", "build", "dist", "*.egg-info"
)


@pytest.fixture(scope="session", autouse=True)
def _project_not_installed_in_test_venv():
    """The test venv must not hold saltext-xen: its entry point would serve the modules to every
    daemon started from it, and the sync tests would prove nothing."""
    try:
        dist = importlib.metadata.distribution("saltext-xen")
    except importlib.metadata.PackageNotFoundError:
        return
    pytest.fail(f"saltext-xen {dist.version} is installed in {sys.prefix}: pip uninstall saltext-xen")


@pytest.fixture(scope="session")
def installed_venv(tmp_path_factory):
    """A fresh venv holding ``pip install .`` of a copy of the work tree (dependencies included)."""
    root = tmp_path_factory.mktemp("installed")
    source, venv = root / "src", root / "venv"
    shutil.copytree(REPO, source, ignore=COPY_IGNORE)
    proc = run_cmd([sys.executable, "-m", "venv", venv], timeout=120)
    assert proc.returncode == 0, proc.stderr
    # --no-compile: byte-compiling all of Salt costs ~8 s; Python compiles what it imports anyway.
    pip = [venv / "bin" / "python", "-m", "pip", "install", "--disable-pip-version-check", "-q", "--no-compile"]
    proc = run_cmd([*pip, source], cwd=root, timeout=900)
    assert proc.returncode == 0, f"pip install failed:\n{proc.stdout}\n{proc.stderr}"
    shutil.rmtree(source)  # nothing may come from the source tree any more
    return venv


@pytest.fixture
def local_minion(tmp_path):
    """``(config_dir, LabHost, cwd)`` of a masterless minion with an empty file_root."""
    host = make_lab_host(tmp_path / "hosts", "local")
    config_dir, root_dir, empty_root, cwd = (tmp_path / name for name in ("conf", "root", "srv", "cwd"))
    for folder in (config_dir, root_dir, empty_root, cwd):
        folder.mkdir()
    config = {
        "id": "local",
        "root_dir": str(root_dir),
        "file_client": "local",
        "file_roots": {"base": [str(empty_root)]},
        "pillar_roots": {"base": [str(empty_root)]},
        "file_ignore_regex": FILE_IGNORE_REGEX,
        **host.minion_config,
    }
    (config_dir / "minion").write_text(yaml.safe_dump(config), encoding="utf-8")
    return config_dir, host, cwd
