"""The functional harness itself: the repository's loader folders load in process, against this
module's simulated host."""

from harness import REPO


def test_execution_module_answers_for_the_simulated_host(loaders, functional_host):
    data = loaders.modules.xen.enumerate()
    assert data["base_paths"] == [str(functional_host.base_dir)]
    assert isinstance(data["records"], list)


def test_state_module_loads_from_the_repository(loaders):
    if not any((REPO / "_states").glob("*.py")):
        return
    assert "xen" in {name.split(".", 1)[0] for name in loaders.states}
