"""Functional tier: the real Salt loader in the test process (``saltfactories.utils.functional``).

``loaders`` loads ``_modules``, ``_states``, ``_runners``, ``_grains`` and ``_beacons`` straight
from the repository (``module_dirs: [repo root]``); ``xenctys`` comes from ``_utils`` on sys.path
(tests/conftest.py).  The loader runs ``xl`` in this process, so for the module's lifetime the test
process's PATH starts with the simulated host's bin folder and ``XLSIM_STATE`` names its state.

    def test_enumerate(loaders, functional_host):
        (functional_host.base_dir / "tst100").mkdir()
        ...
        rows = loaders.modules.xen.enumerate()

``loaders.states.xen.running(...)`` returns a ``StateResult``: use ``.result``, ``.changes``,
``.comment``; it is not a dict.
"""

import pytest
from saltfactories.utils.functional import Loaders

from harness import REPO, make_lab_host  # tests/harness.py (on sys.path via tests/conftest.py)


@pytest.fixture(scope="module")
def functional_host(tmp_path_factory):
    """This module's simulated Xen host; its env is applied to the test process while it lasts."""
    host = make_lab_host(tmp_path_factory.mktemp("host"), "functional")
    with pytest.MonkeyPatch.context() as patch:
        for key in ("PATH", "XLSIM_STATE"):
            patch.setenv(key, host.env[key])
        for key, value in host.env.items():
            if key.startswith("XLSIM_"):
                patch.setenv(key, value)
        yield host


@pytest.fixture(scope="module")
def minion_config_overrides():
    """Extra minion options for one test module (override in the module)."""
    return {}


@pytest.fixture(scope="module")
def minion_opts(salt_factories, functional_host, tmp_path_factory, minion_config_overrides):
    state_tree = tmp_path_factory.mktemp("state-tree")
    overrides = {
        "file_client": "local",
        "file_roots": {"base": [str(state_tree)]},
        "module_dirs": [str(REPO)],
        "features": {"enable_slsvars_fixes": True},
    }
    overrides.update(functional_host.minion_config)
    overrides.update(minion_config_overrides)
    factory = salt_factories.salt_minion_daemon("functional", overrides=overrides)
    return factory.config.copy()


@pytest.fixture(scope="module")
def loaders(minion_opts):
    return Loaders(minion_opts, loaded_base_name=f"{__name__}.loaded")


@pytest.fixture(autouse=True)
def reset_loaders_state(loaders):
    try:
        yield
    finally:
        loaders.reset_state()
