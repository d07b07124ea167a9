"""Helpers of the real-Salt test harness, importable by name from every tier (``import harness``).

tests/conftest.py puts ``tests/`` and ``_utils/`` on sys.path.  Tier conftests must not
``from conftest import ...``: the tiers are not packages, so the name ``conftest`` is ambiguous.
"""

import importlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field

REPO = pathlib.Path(__file__).resolve().parent.parent
TESTS_DIR = REPO / "tests"
UTILS_DIR = REPO / "_utils"
XLSIM_DIR = TESTS_DIR / "xlsim"
# The project's shared material lies beside the repository: /work/shared here, ../shared in CI.
SHARED_DIR = REPO.parent / "shared"
MINION_IDS = ("lab00", "lab01")
MASTER_ID = "xen-master"
LOCALHOST = "127.0.0.1"
# Level of the daemon log records salt-factories forwards to pytest (shown with a failing test).
# Its default, debug, ships every record of every daemon through ZMQ into the pytest process:
# ~15,000 "File matching file_ignore_regex" lines per walk of the repository alone.
FORWARDED_LOG_LEVEL = "info"

# Paths below the repository root that are never served when it is a file_root.
FILE_IGNORE_REGEX = [r"(^|/)(\.git|\.venv[^/]*|__pycache__|\.pytest_cache|\.hypothesis|build|dist)(/|$)"]


def repo_master_config(*extra_file_roots, **overrides):
    """Master options serving this repository as a file_root, for any master a test starts.

    - file_roots ``base``: the repository root (then ``extra_file_roots``), minus .git, .venv, ...;
    - ``fileserver_list_cache_time: 3600``: the repository holds .venv (~15,000 files, walked even
      though ignored), and with salt-factories' default of 0 every file-list request walks it again:
      one ``saltutil.sync_all`` took ~75 s instead of ~5 s.  ``fileserver_update()`` clears the cache;
    - runners, outputters and utils straight from the repository (a runner imports ``xenctys``).
    """
    config = {
        "interface": LOCALHOST,
        "file_roots": {"base": [str(REPO), *map(str, extra_file_roots)]},
        "file_ignore_regex": FILE_IGNORE_REGEX,
        "fileserver_list_cache_time": 3600,
        "runner_dirs": [str(REPO / "_runners")],
        "outputter_dirs": [str(REPO / "_output")],
        "utils_dirs": [str(UTILS_DIR)],
        "pytest-master": {"log": {"level": FORWARDED_LOG_LEVEL}},
    }
    config.update(overrides)
    return config


# --- simulated Xen hosts ------------------------------------------------------------------------


@dataclass
class LabHost:
    """One simulated Xen host: what a minion process (or an in-process loader) runs against."""

    minion_id: str
    root: pathlib.Path  # everything of this host lives below
    state_dir: pathlib.Path  # XLSIM_STATE: the simulator's state (domains, ...)
    base_dir: pathlib.Path  # the minion's xen:base_paths tree, where DomU config files go
    bin_dir: pathlib.Path  # first on PATH, empty: where a test may shadow ``xl`` or another tool
    env: dict = field(default_factory=dict)  # the complete environment of the minion process

    @property
    def minion_config(self):
        """The ``xen:`` options this host's minion runs with (and salt-factories' log forwarding
        at ``FORWARDED_LOG_LEVEL``, on 127.0.0.1)."""
        return {
            # each simulated host keeps its own state files: never the machine's /var/lib/xen/save
            "xen": {"toolstack": "xl", "base_paths": [str(self.base_dir)], "save_dir": str(self.root / "save")},
            "interface": LOCALHOST,
            "pytest-minion": {"log": {"level": FORWARDED_LOG_LEVEL}},
        }


def make_lab_host(root, minion_id):
    """Create one simulated host below ``root`` with the simulator of ``tests/xlsim``.

    The host's PATH is ``bin_dir`` (empty: a test may shadow a tool there), then the simulator's
    folder (``tests/xlsim``: ``xl``, ``xenstore-read``, ...), then the caller's PATH.
    """
    host_root = pathlib.Path(root) / minion_id
    state_dir = host_root / "xlsim"
    base_dir = host_root / "configs"
    bin_dir = host_root / "bin"
    for folder in (state_dir, base_dir, bin_dir):
        folder.mkdir(parents=True, exist_ok=True)

    control = importlib.import_module("xlsim.control")
    sim_env = {str(key): str(value) for key, value in (control.make_host(str(state_dir)) or {}).items()}

    env = os.environ.copy()
    env.update(sim_env)
    env.setdefault("XLSIM_STATE", str(state_dir))
    path = sim_env.get("PATH") or os.pathsep.join([str(XLSIM_DIR), os.environ.get("PATH", "")])
    env["PATH"] = os.pathsep.join([str(bin_dir), path])
    return LabHost(minion_id, host_root, pathlib.Path(env["XLSIM_STATE"]), base_dir, bin_dir, env)


def reset_lab_host(host, minion_opts=None):
    """Give a host back as ``make_lab_host`` made it: a fresh simulator state (no DomU, no
    fault), empty ``base_dir`` and ``bin_dir`` and, given the minion's opts, no ``xen`` cache of
    that minion (inventory cache, associations, locks: ``xenctys.minion.xen_dir``).

    The shared minions outlive a test module; a module that needs a clean host calls this (or
    uses the ``fresh_lab_hosts`` fixture) instead of relying on what ran before it.
    """
    importlib.import_module("xlsim.control").make_host(str(host.state_dir))
    for folder in (host.base_dir, host.bin_dir):
        for child in folder.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    if minion_opts is not None:
        from xenctys.minion import xen_dir  # pylint: disable=import-outside-toplevel

        shutil.rmtree(xen_dir(minion_opts), ignore_errors=True)


# --- running salt CLIs ---------------------------------------------------------------------------


def run_json(cli, *args, **kwargs):
    """Run a salt CLI factory, assert exit code 0 and a real JSON return; return the data.

    A missing function is not always a non-zero exit (``salt-run`` exits 0 and prints
    "'x' is not available."), so the data is checked too.
    """
    ret = cli.run(*args, **kwargs)
    assert ret.returncode == 0, f"{ret.cmdline} exited {ret.returncode}:\n{ret.stdout}\n{ret.stderr}"
    assert ret.data is not None, f"{ret.cmdline} returned no JSON:\n{ret.stdout}\n{ret.stderr}"
    if isinstance(ret.data, str):
        assert "is not available" not in ret.data, f"{ret.cmdline}: {ret.data}"
    return ret.data


def poll(action, timeout, what):
    """Call ``action()`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = action()
        except Exception as exc:  # pylint: disable=broad-except  # timeouts, auth errors: retry
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.5)
    raise AssertionError(f"{what} not ready after {timeout} s: {last!r}")


def wait_for_minions(salt_cli, minion_ids, timeout=90):
    """Poll each minion with a short ``test.ping`` (a plain one can block ~10 s, and the first call
    after a master start can fail with AuthenticationError)."""
    for minion_id in minion_ids:

        def ping(minion_id=minion_id):
            ret = salt_cli.run("-t", "1", "test.ping", minion_tgt=minion_id, _timeout=4)
            return ret.returncode == 0 and ret.data is True

        poll(ping, timeout, f"minion {minion_id}")


def fileserver_update(salt_run_cli, timeout=60):
    """Make new files under the master's file_roots visible to ``saltutil.sync_*`` and states.

    ``salt-run fileserver.clear_file_list_cache`` then ``fileserver.update``: the master caches
    its file lists (``fileserver_list_cache_time``), and ``update`` alone does not drop them.
    """

    def update():
        ret = salt_run_cli.run("fileserver.clear_file_list_cache", _timeout=30)
        if ret.returncode != 0 or not isinstance(ret.data, dict):
            return False
        ret = salt_run_cli.run("fileserver.update", _timeout=30)
        return ret.returncode == 0 and ret.data is True

    poll(update, timeout, "salt-run fileserver.update")


# --- plain subprocesses (salt-call --local, pip, ...) --------------------------------------------


def venv_program(program, prefix=None):
    """``bin/PROGRAM`` of a venv; by default of the test venv (the project is not installed there)."""
    return pathlib.Path(prefix or sys.prefix) / "bin" / program


def run_cmd(argv, env=None, cwd=None, timeout=120):
    """Run a command without stdin; return the CompletedProcess (text)."""
    return subprocess.run(  # noqa: S603
        [str(arg) for arg in argv], env=env, cwd=cwd, timeout=timeout, check=False,
        capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )


def salt_call_local(salt_call, config_dir, *args, env=None, cwd=None, timeout=120):
    """``salt-call --local -c CONFIG_DIR ARGS --out=json``; assert exit 0; return the data."""
    proc = run_cmd([salt_call, "--local", "-c", config_dir, *args, "--out=json", "--log-level=quiet"],
                   env=env, cwd=cwd, timeout=timeout)
    assert proc.returncode == 0, f"{proc.args} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    data = json.loads(proc.stdout)
    assert isinstance(data, dict) and "local" in data, proc.stdout
    return data["local"]
