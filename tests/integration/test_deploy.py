"""The two ways saltext-xen reaches a minion, each checked end to end with real Salt processes.

1. ``pip install .`` (non-editable) into a fresh venv: ``xenctys`` is a plain installed package, the
   loader folders ship inside it and Salt finds them through the ``salt.loader`` entry point.
2. ``saltutil.sync_all`` from a file_root that is the repository root: ``_modules/``, ``_states/``
   ... and the core package in ``_utils/xenctys`` go to the minion's extension modules.
   Checked through a real master and two minions, and masterless with ``salt-call --local``.
"""

import json
import os
import pathlib

import pytest
from harness import REPO, fileserver_update, run_cmd, run_json, salt_call_local, venv_program

pytestmark = pytest.mark.integration



def loader_folders_in_repo():
    """``{loader type: repository folder}`` of the Salt loader folders (``_<type>`` holding Python
    files; ``_utils`` is the core package, not a loader folder)."""
    return {folder.name[1:]: folder for folder in sorted(REPO.glob("_*"))
            if folder.name != "_utils" and any(folder.glob("*.py"))}


def synced_copies(root):
    """Extension modules synced below a minion's root or cache dir (``extmods/<kind>/...``)."""
    return sorted(str(path) for path in root.rglob("extmods/*/*") if path.name != "__pycache__")


def assert_enumerates_own_host(data, host):
    """``xen.enumerate`` answered for this minion's own simulated host and base path tree."""
    assert isinstance(data, dict), data
    assert data["base_paths"] == [str(host.base_dir)], data
    assert isinstance(data["records"], list), data


# --- mode 1: pip install ------------------------------------------------------------------------


def test_installed_package_announces_its_loader_dirs(installed_venv):
    """The core imports from the fresh venv's site-packages and the entry point names every loader
    folder the repository has, each holding its modules."""
    script = (
        "import importlib.metadata as md, json, xenctys, xenctys.saltloader as sl\n"
        "eps = [(e.name, e.value) for e in md.entry_points(group='salt.loader')]\n"
        "print(json.dumps({'core': xenctys.__file__, 'dirs': sl.get_dirs(), 'eps': eps}))\n"
    )
    proc = run_cmd([venv_program("python", installed_venv), "-c", script], cwd=installed_venv)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert found["core"].startswith(str(installed_venv)), found
    assert ["saltext-xen", "xenctys.saltloader:get_dirs"] in found["eps"], found
    folders = loader_folders_in_repo()
    assert {"modules", "states"} <= set(folders)
    assert set(found["dirs"]) == set(folders), found
    for kind, dirs in found["dirs"].items():
        shipped = {p.name for p in folders[kind].glob("*.py")}
        for folder in dirs:
            assert folder.startswith(str(installed_venv)), found
            assert shipped <= set(os.listdir(folder)), (kind, folder)


def test_installed_package_serves_salt_call_local(installed_venv, local_minion):
    """``salt-call --local xen.enumerate`` in the fresh venv, with nothing synced and no file_root
    holding the repository: the module comes from the installed package."""
    config_dir, host, cwd = local_minion
    salt_call = venv_program("salt-call", installed_venv)
    data = salt_call_local(salt_call, config_dir, "xen.enumerate", env=host.env, cwd=cwd)
    assert_enumerates_own_host(data, host)
    assert not synced_copies(config_dir.parent / "root"), "something was synced in mode 1"
    states = salt_call_local(salt_call, config_dir, "sys.list_state_modules", env=host.env, cwd=cwd)
    assert "xen" in states


def test_installed_package_serves_runners_to_salt_run(installed_venv, tmp_path):
    """The master side of mode 1: ``salt-run`` of the fresh venv finds the xen runner through the
    entry point (``doc.runner`` runs locally: no master process is needed)."""
    if "runners" not in loader_folders_in_repo():
        pytest.skip("no _runners in the repository")
    root = tmp_path / "root"
    (root / "var" / "cache" / "salt" / "master" / "proc").mkdir(parents=True)  # made by a master's start
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "master").write_text(
        f"root_dir: {root}\nfile_roots:\n  base: [{tmp_path}]\n", encoding="utf-8")
    proc = run_cmd([venv_program("salt-run", installed_venv), "-c", tmp_path / "conf", "doc.runner",
                    "--out=json", "--log-level=quiet"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    docs = json.loads(proc.stdout)
    assert isinstance(docs, dict), proc.stdout
    assert any(name.startswith("xen.") for name in docs), sorted(docs)


# --- mode 2: saltutil.sync_all from the repository as file_root ---------------------------------


def test_sync_all_masterless(local_minion):
    """``salt-call --local --file-root=<repo> saltutil.sync_all``, then ``xen.enumerate`` without
    the file_root: the synced copy in the minion's extension modules answers."""
    config_dir, host, cwd = local_minion
    salt_call = venv_program("salt-call")
    before = run_cmd([salt_call, "--local", "-c", config_dir, "xen.enumerate", "--out=json"],
                     env=host.env, cwd=cwd)
    assert before.returncode != 0, "xen.enumerate answered before any sync: is saltext-xen installed?"

    synced = salt_call_local(salt_call, config_dir, f"--file-root={REPO}", "saltutil.sync_all",
                             env=host.env, cwd=cwd)
    assert "modules.xen" in synced["modules"], synced
    assert any(name.startswith("utils.xenctys") for name in synced["utils"]), synced

    data = salt_call_local(salt_call, config_dir, "xen.enumerate", env=host.env, cwd=cwd)
    assert_enumerates_own_host(data, host)


def test_sync_all_from_master(salt_minions, lab_hosts, salt_cli, salt_run_cli):
    """Master file_roots = [repo root]: ``salt MINION saltutil.sync_all`` then ``xen.enumerate``
    answers on each minion for its own simulated host."""
    fileserver_update(salt_run_cli)
    synced = run_json(salt_cli, "-L", "-t", "120", "saltutil.sync_all", minion_tgt=",".join(salt_minions))
    assert set(synced) == set(salt_minions), synced
    for minion_id in salt_minions:
        extmods = pathlib.Path(salt_minions[minion_id].config["extension_modules"])
        assert (extmods / "modules" / "xen.py").is_file(), synced_copies(extmods.parent)
        assert (extmods / "utils" / "xenctys" / "__init__.py").is_file(), synced_copies(extmods.parent)
        data = run_json(salt_cli, "xen.enumerate", minion_tgt=minion_id)
        assert_enumerates_own_host(data, lab_hosts[minion_id])


def test_salt_call_on_synced_minion(synced_minions, salt_call_clis, lab_hosts):
    """``salt-call`` on a synced minion (its own environment) answers too."""
    for minion_id in synced_minions:
        data = run_json(salt_call_clis[minion_id], "xen.enumerate")
        assert_enumerates_own_host(data, lab_hosts[minion_id])
