"""Shared test set-up for all tiers: hooks and the real-daemon fixtures (helpers: harness.py).

Tiers:

- ``tests/unit``: the Salt-free core ``xenctys``, imported from ``_utils/`` (no install);
- ``tests/functional``: the real Salt loader in the test process (``tests/functional/conftest.py``);
- ``tests/integration``: real ``salt-master`` + ``salt-minion`` processes, from the fixtures below.

Daemon fixtures (all session scoped: one master and one set of minions per pytest run, because
start-up dominates; daemon tests must not run in parallel):

``salt_master``
    file_roots ``base`` = [repository root, ``state_tree``], ``runner_dirs`` = repo ``_runners``,
    ``outputter_dirs`` = repo ``_output``,
    ``utils_dirs`` = repo ``_utils`` (so a runner can import ``xenctys``), pillar_roots = ``pillar_tree``.
``salt_minions``
    ``{"lab00": SaltMinion, "lab01": SaltMinion}``, started, answering ``test.ping``, NOT synced.
``lab_hosts``
    ``{"lab00": LabHost, ...}``: each minion's own simulated Xen host (``.state_dir`` is the
    simulator's ``XLSIM_STATE``, ``.base_dir`` the minion's ``xen:base_paths`` tree, ``.env`` the
    environment the minion process runs with).
``fresh_lab_hosts``
    ``lab_hosts`` after ``reset_lab_host`` of each (fresh simulator state, empty config tree, no
    ``xen`` cache on the minion): the shared minions outlive test modules, state leaks otherwise.
``synced_minions``
    ``salt_minions`` after ``fileserver.update`` + ``saltutil.sync_all`` (once per session).
``salt_cli`` / ``salt_run_cli`` / ``salt_call_cli``
    CLI factories; ``salt_call_cli`` runs as lab00 with lab00's environment
    (``salt_call_clis[id]`` for the others).  Target minions by id (``minion_tgt="lab00"``).
``run_json(cli, *args, **kwargs)``
    Runs, asserts exit code 0 and a real JSON return, and gives back the data.
"""

import contextlib
import logging
import pathlib
import shutil
import sys
import tempfile

import pytest

_TESTS = pathlib.Path(__file__).resolve().parent
# The core is imported from the source tree, never from an installed copy (the integration tests
# check the two real deployment modes separately); tests/ makes ``harness`` and ``xlsim`` importable.
for _path in (str(_TESTS.parent / "_utils"), str(_TESTS)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from harness import (  # noqa: E402  pylint: disable=wrong-import-position
    LOCALHOST,
    MASTER_ID,
    MINION_IDS,
    SHARED_DIR,
    fileserver_update,
    make_lab_host,
    repo_master_config,
    reset_lab_host,
    run_json,
    wait_for_minions,
)

# --- pytest hooks ------------------------------------------------------------------------------


TIER_ORDER = {"unit": 0, "functional": 1, "integration": 2}


def _tier(item):
    parts = pathlib.Path(str(item.fspath)).relative_to(_TESTS).parts
    return parts[0] if len(parts) > 1 else ""


def pytest_collection_modifyitems(items):
    """Mark every test by its tier folder (``-m integration``, ``-m functional``) and run the
    cheap tiers first: unit, functional, then integration (real daemons)."""
    for item in items:
        tier = _tier(item)
        if tier in ("integration", "functional"):
            item.add_marker(getattr(pytest.mark, tier))
    items.sort(key=lambda item: TIER_ORDER.get(_tier(item), 1))


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


# --- simulated Xen hosts and shared material -----------------------------------------------


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


@pytest.fixture(scope="session", name="run_json")
def run_json_fixture():
    return run_json



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
    overrides = repo_master_config(state_tree, pillar_roots={"base": [str(pillar_tree)]})
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
def salt_minions(salt_master, salt_cli, lab_hosts):
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
        yield factories


@pytest.fixture(scope="session")
def synced_minions(salt_minions, salt_cli, salt_run_cli):
    """``salt_minions`` after ``saltutil.sync_all`` from the repository file_root."""
    fileserver_update(salt_run_cli)
    # One call for both (a list target, ids explicit): each sync takes ~5 s, in parallel.
    targets = ",".join(salt_minions)
    data = run_json(salt_cli, "-L", "-t", "120", "saltutil.sync_all", minion_tgt=targets)
    assert set(data) == set(salt_minions), data
    assert all(isinstance(ret, dict) for ret in data.values()), data
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


@pytest.fixture
def fresh_lab_hosts(salt_minions, lab_hosts):
    """``lab_hosts``, each reset first (see ``harness.reset_lab_host``).  For a reset once per
    module, call ``reset_lab_host(host, salt_minions[id].config)`` from a module fixture."""
    for minion_id, host in lab_hosts.items():
        reset_lab_host(host, salt_minions[minion_id].config)
    return lab_hosts
