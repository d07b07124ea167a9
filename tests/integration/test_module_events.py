"""The execution module on a real minion: events on the master's bus, exit codes, masterless calls."""

import time

import pytest
from harness import poll, reset_lab_host, run_cmd
from seedtree import write_seed_tree
from xlsim import control

MINION = "lab00"


@pytest.fixture(scope="module")
def clean_after(synced_minions, lab_hosts):
    """The shared minion outlives this module: leave its host (and xen cache) as new."""
    yield
    reset_lab_host(lab_hosts[MINION], synced_minions[MINION].config)


@pytest.fixture
def lab(synced_minions, lab_hosts, clean_after):
    host = lab_hosts[MINION]
    reset_lab_host(host, synced_minions[MINION].config)
    write_seed_tree(host.base_dir)
    return host


def test_every_state_change_fires_an_event_on_the_master(lab, salt_cli, salt_master, event_listener, run_json):
    start = time.time()
    steps = [
        (("xen.create", "l:tst100,CONSOLE:none"), "created"),
        (("xen.cancel", "l:tst100,PAUSE"), "paused"),
        (("xen.unpause", "l:tst100"), "unpaused"),
        (("xen.reboot", "l:tst100"), "rebooted"),
        (("xen.cancel", "l:tst100,POWEROFF:0"), None),  # shutdown, or destroyed when it lingers
    ]
    domid = None
    for args, action in steps:
        data = run_json(salt_cli, *args, minion_tgt=MINION)
        if action == "created":
            domid = data["domid"]
        elif action == "rebooted":
            # xl reboot only asks the guest: until xl's monitor has re-created it (new domid), real
            # xl lists it as "(null)" for a while, and no address can name it (xlsim does the same).
            poll(lambda: _listed_domid(lab, "tst100") not in (None, domid), 30, "tst100 back after the reboot")
    expected = [(salt_master.id, f"xen/domu/tst100/{action}") for _, action in steps if action]
    matched = event_listener.wait_for_events(expected, after_time=start, timeout=60)
    assert matched.found_all_events, f"missing: {matched.missed}"
    created = next(e for e in matched.matches if e.tag.endswith("/created"))
    # event.send from a minion: the master's event names the minion, our payload is under "data"
    assert created.data["id"] == MINION
    payload = created.data["data"]
    assert payload["label"] == "tst100" and payload["host"]
    assert payload["uuid"] == "6842caf91e3e43249ed596b8b9f2c5c2" and isinstance(payload["domid"], int)

    def stop_events():
        events = event_listener.get_events([(salt_master.id, "xen/domu/tst100/*")], after_time=start)
        return {e.tag.rsplit("/", 1)[1] for e in events} & {"shutdown", "destroyed"}

    assert poll(stop_events, 30, "the shutdown or destroyed event")


def _listed_domid(host, label):
    """The domid ``xl list`` shows for ``label`` on the simulated host, or None."""
    proc = run_cmd(["xl", "list"], env=host.env)
    for line in proc.stdout.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 1 and fields[0] == label and fields[1].isdigit():
            return int(fields[1])
    return None


def test_errors_are_one_line_and_salt_exits_non_zero(lab, salt_cli):
    ret = salt_cli.run("xen.create", "l:nosuch", minion_tgt=MINION)
    assert ret.returncode != 0
    assert "no DomU matches l:nosuch" in str(ret.data)
    assert "Traceback" not in ret.stdout + ret.stderr


def test_masterless_call_succeeds_and_fails_with_non_zero_exit(lab, salt_call_clis, tmp_path):
    """salt-call --local: no master to send events to, the action itself still succeeds."""
    cli = salt_call_clis[MINION]
    started = time.monotonic()
    ret = cli.run("--local", "xen.create", "l:tst104", _timeout=120)
    assert ret.returncode == 0, ret.stderr
    assert ret.data["label"] == "tst104" and ret.data["started"] is True
    assert time.monotonic() - started < 60
    assert "tst104" in control.domains(str(lab.state_dir))
    bad = cli.run("--local", "xen.cancel", "l:tst10,POWEROFF:0", _timeout=120)
    assert bad.returncode != 0
    assert "no running DomU matches l:tst10" in bad.stdout + bad.stderr
    assert "tst104" in control.domains(str(lab.state_dir))


def test_salt_call_local_of_a_missing_core_is_a_clear_virtual_error(tmp_path):
    """Without the synced core, __virtual__ says why instead of a traceback at call time."""
    confdir = tmp_path / "conf"
    confdir.mkdir()
    (confdir / "minion").write_text(
        f"id: bare\nfile_client: local\nroot_dir: {tmp_path}/root\nmodule_dirs: [{tmp_path}/mods]\n")
    mods = tmp_path / "mods" / "_modules"
    mods.mkdir(parents=True)
    from harness import REPO, venv_program  # pylint: disable=import-outside-toplevel

    (mods / "xen.py").write_text((REPO / "_modules" / "xen.py").read_text())
    proc = run_cmd([venv_program("salt-call"), "-c", confdir, "--local", "xen.info"],
                   env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode != 0
    assert "xenctys is not importable" in proc.stdout + proc.stderr
