"""Shared test set-up for all tiers: paths, the real-daemon fixtures and their helpers.

Tiers:

- ``tests/unit``: the Salt-free core ``xenctys``, imported from ``_utils/`` (no install);
- ``tests/functional``: the real Salt loader in the test process (``tests/functional/conftest.py``);
- ``tests/integration``: real ``salt-master`` + ``salt-minion`` processes, from the fixtures below.

Daemon fixtures (all session scoped: one master and one set of minions per pytest run, because
start-up dominates; daemon tests must not run in parallel):

``salt_master``
    file_roots ``base`` = [repository root, ``state_tree``], ``runner_dirs`` = repo ``_runners``,
    ``utils_dirs`` = repo ``_utils`` (so a runner can import ``xenctys``), pillar_roots = ``pillar_tree``.
``salt_minions``
    ``{"lab00": SaltMinion, "lab01": SaltMinion}``, started, answering ``test.ping``, NOT synced.
``lab_hosts``
    ``{"lab00": LabHost, ...}``: each minion's own simulated Xen host (``.state_dir`` is the
    simulator's ``XLSIM_STATE``, ``.base_dir`` the minion's ``xen:base_paths`` tree, ``.env`` the
    environment the minion process runs with).
``synced_minions``
    ``salt_minions`` after ``fileserver.update`` + ``saltutil.sync_all`` (once per session).
``salt_cli`` / ``salt_run_cli`` / ``salt_call_cli``
    CLI factories; ``salt_call_cli`` runs as lab00 with lab00's environment
    (``salt_call_clis[id]`` for the others).  Target minions by id (``minion_tgt="lab00"``).
``run_json(cli, *args, **kwargs)``
    Runs, asserts exit code 0 and a real JSON return, and gives back the data.
"""

import contextlib
import importlib
import logging
import os
import pathlib
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
TESTS_DIR = REPO / "tests"
UTILS_DIR = REPO / "_utils"
XLSIM_DIR = TESTS_DIR / "xlsim"
# The project's shared material lies beside the repository: /work/shared here, ../shared in CI.
SHARED_DIR = REPO.parent / "shared"
MINION_IDS = ("lab00", "lab01")
MASTER_ID = "xen-master"
LOCALHOST = "127.0.0.1"

# The core is imported from the source tree, never from an installed copy (the integration tests
# check the two real deployment modes separately); tests/ itself makes ``xlsim`` importable.
for _path in (str(UTILS_DIR), str(TESTS_DIR)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

log = logging.getLogger(__name__)

# Paths in the repository root that must never be served from it as a file_root.
FILE_IGNORE_REGEX = [r"(^|/)(\.git|\.venv[^/]*|__pycache__|\.pytest_cache|\.hypothesis|build|dist)(/|$)"]


# --- pytest hooks ------------------------------------------------------------------------------


def pytest_collection_modifyitems(items):
    """Mark every test by its tier folder, so ``-m integration`` and friends select by tier."""
    for item in items:
        parts = pathlib.Path(str(item.fspath)).parts
        if "integration" in parts:
            item.add_marker(pytest.mark.integration)
        elif "functional" in parts:
            item.add_marker(pytest.mark.functional)


@pytest.hookimpl(wrapper=True)
def pytest_sessionstart(session):
    """Bind salt-factories' log server to 127.0.0.1 before its own hook starts it (default 0.0.0.0)."""
    log_server = session.config.pluginmanager.get_plugin("saltfactories-log-server")
    if log_server is not None:
        log_server.log_host = LOCALHOST
    return (yield)


def pytest_unconfigure(config):  # pylint: disable=unused-argument
    """Drop Salt's deferred stream handler: at exit it writes to pytest's closed stderr.

    Without this, a run that imported salt ends with many "--- Logging error --- I/O operation on
    closed file" blocks (salt's atexit flush of its temporary handler).
    """
    try:
        from salt._logging.handlers import DeferredStreamHandler  # pylint: disable=import-outside-toplevel
    except ImportError:  # salt not installed: nothing to clean
        return
    for logger in [logging.root, *logging.root.manager.loggerDict.values()]:
        for handler in list(getattr(logger, "handlers", ())):
            if isinstance(handler, DeferredStreamHandler):
                logger.removeHandler(handler)
                handler.sync_with_handlers(())  # forget the queued records: nothing left to flush
                handler.close()


# --- salt-factories, bound to 127.0.0.1 ---------------------------------------------------------


@pytest.fixture(scope="session")
def event_listener():
    """salt-factories' event listener, listening on 127.0.0.1 instead of 0.0.0.0."""
    from saltfactories.plugins.event_listener import EventListener  # pylint: disable=import-outside-toplevel

    listener = EventListener()
    listener.host = LOCALHOST
    listener.address = f"tcp://{LOCALHOST}:{listener.port}"
    with listener:
        yield listener


@pytest.fixture(scope="session")
def salt_factories_default_root_dir():
    """A short per-session root (unix socket paths must stay under 108 bytes), removed at the end."""
    root = tempfile.mkdtemp(prefix="sxt-")
    yield pathlib.Path(root)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def salt_factories_config():
    return {"log_server_host": LOCALHOST, "start_timeout": 120}


# --- simulated Xen hosts ------------------------------------------------------------------------


@dataclass
class LabHost:
    """One simulated Xen host: what a minion process (or an in-process loader) runs against."""

    minion_id: str
    root: pathlib.Path  # everything of this host lives below
    state_dir: pathlib.Path  # XLSIM_STATE: the simulator's domains, config store, ...
    base_dir: pathlib.Path  # the minion's xen:base_paths tree, where DomU config files go
    bin_dir: pathlib.Path  # first on PATH; holds ``xl``
    env: dict = field(default_factory=dict)  # the complete environment of the minion process

    @property
    def minion_config(self):
        """The ``xen:`` options this host's minion runs with."""
        return {"xen": {"toolstack": "xl", "base_paths": [str(self.base_dir)]}}


def make_lab_host(root, minion_id):
    """Create one simulated host below ``root`` with the simulator of ``tests/xlsim``."""
    host_root = pathlib.Path(root) / minion_id
    state_dir = host_root / "xlsim"
    base_dir = host_root / "configs"
    bin_dir = host_root / "bin"
    for folder in (state_dir, base_dir, bin_dir):
        folder.mkdir(parents=True, exist_ok=True)

    control = importlib.import_module("xlsim.control")
    sim_env = dict(control.make_host(str(state_dir)) or {})

    simulator = XLSIM_DIR / "xl"
    if simulator.exists() and not (bin_dir / "xl").exists():
        (bin_dir / "xl").symlink_to(simulator)
    env = os.environ.copy()
    env.update(sim_env)
    env.setdefault("XLSIM_STATE", str(state_dir))
    env["PATH"] = os.pathsep.join([str(bin_dir), sim_env.get("PATH") or os.environ.get("PATH", "")])
    return LabHost(minion_id, host_root, pathlib.Path(env["XLSIM_STATE"]), base_dir, bin_dir, env)


@pytest.fixture(scope="session")
def lab_root(salt_factories_default_root_dir):
    root = salt_factories_default_root_dir / "hosts"
    root.mkdir(exist_ok=True)
    return root


@pytest.fixture(scope="session")
def lab_hosts(lab_root):
    """``{minion id: LabHost}`` for lab00 and lab01 (created before their minions start)."""
    return {minion_id: make_lab_host(lab_root, minion_id) for minion_id in MINION_IDS}


@pytest.fixture(scope="session")
def shared_dir():
    """``../shared`` beside the repository (corpus, spec); read-only in CI. Never hard-code /work."""
    if not SHARED_DIR.is_dir():
        pytest.skip(f"no shared material beside the repository ({SHARED_DIR})")
    return SHARED_DIR


# --- helpers ------------------------------------------------------------------------------------


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


@pytest.fixture(scope="session", name="run_json")
def run_json_fixture():
    return run_json


def _poll(action, timeout, what):
    """Call ``action()`` until it returns true; fail after ``timeout`` seconds."""
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

        _poll(ping, timeout, f"minion {minion_id}")


def fileserver_update(salt_run_cli, timeout=60):
    """``salt-run fileserver.update`` (new files under file_roots are otherwise seen late)."""

    def update():
        ret = salt_run_cli.run("fileserver.update", _timeout=30)
        return ret.returncode == 0 and ret.data is True

    _poll(update, timeout, "salt-run fileserver.update")


# --- the daemons --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def state_tree(salt_factories_default_root_dir):
    """A second ``base`` file_root for test SLS files (run ``fileserver_update`` after writing)."""
    path = salt_factories_default_root_dir / "state-tree"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def pillar_tree(salt_factories_default_root_dir):
    path = salt_factories_default_root_dir / "pillar-tree"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def salt_master(salt_factories, state_tree, pillar_tree):
    overrides = {
        "interface": LOCALHOST,
        "file_roots": {"base": [str(REPO), str(state_tree)]},
        "pillar_roots": {"base": [str(pillar_tree)]},
        "runner_dirs": [str(REPO / "_runners")],
        "utils_dirs": [str(UTILS_DIR)],
        "file_ignore_regex": FILE_IGNORE_REGEX,
        "fileserver_list_cache_time": 0,
    }
    factory = salt_factories.salt_master_daemon(MASTER_ID, overrides=overrides)
    with factory.started():
        yield factory


@pytest.fixture(scope="session")
def salt_cli(salt_master):
    return salt_master.salt_cli()


@pytest.fixture(scope="session")
def salt_run_cli(salt_master):
    return salt_master.salt_run_cli()


@pytest.fixture(scope="session")
def salt_minions(salt_master, salt_cli, salt_run_cli, lab_hosts):
    """lab00 and lab01, started and answering ``test.ping``; each runs against its own LabHost."""
    factories = {}
    with contextlib.ExitStack() as stack:
        for minion_id in MINION_IDS:
            host = lab_hosts[minion_id]
            overrides = dict(host.minion_config, interface=LOCALHOST)
            factory = salt_master.salt_minion_daemon(minion_id, overrides=overrides)
            # The manager hands every factory the same environ dict: give this one its own copy.
            factory.environ = dict(host.env)
            stack.enter_context(factory.started())
            factories[minion_id] = factory
        wait_for_minions(salt_cli, MINION_IDS)
        fileserver_update(salt_run_cli)
        yield factories


@pytest.fixture(scope="session")
def synced_minions(salt_minions, salt_cli, salt_run_cli):
    """``salt_minions`` after ``saltutil.sync_all`` from the repository file_root."""
    fileserver_update(salt_run_cli)
    for minion_id in salt_minions:
        data = run_json(salt_cli, "saltutil.sync_all", minion_tgt=minion_id, _timeout=120)
        assert isinstance(data, dict), data
    return salt_minions


@pytest.fixture(scope="session")
def salt_call_clis(salt_minions, lab_hosts):
    """``{minion id: salt-call CLI}``, each with its minion's environment (simulated xl on PATH)."""
    clis = {}
    for minion_id, factory in salt_minions.items():
        cli = factory.salt_call_cli()
        cli.environ = dict(lab_hosts[minion_id].env)
        clis[minion_id] = cli
    return clis


@pytest.fixture(scope="session")
def salt_call_cli(salt_call_clis):
    return salt_call_clis[MINION_IDS[0]]
