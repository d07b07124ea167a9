"""The xen beacon and the reactors of reactor/, with a real master and minion.

A DomU crashes on the simulated host (xlsim), the minion's ``xen`` beacon reports it, the
master's reactor runs ``xen.running`` on that minion, and the DomU runs again (a new domid); the
record reactor wrote the events to the master's log file.

The shared master (tests/conftest.py) has no reactor, and a reactor mapping is only read when a
master starts, so this module starts its own master with the mapping of reactor/README.md and one
minion on its own simulated host.  Both stop at the end of the module.
"""

import time

import pytest
from harness import LOCALHOST, fileserver_update, make_lab_host, poll, repo_master_config, run_json, wait_for_minions
from xlsim import control

MASTER_ID = "xen-reactor-master"
MINION_ID = "lab-react"
LABEL = "crashy"
MAC = "00:16:3e:7a:00:01"
UUID = "7a7a7a7a-0000-4000-8000-000000000001"
EVENT_TIMEOUT = 60  # beacon interval 1 s, reactor < 1 s: generous for a loaded 2-core machine


def domu_config(label, mac, uuid, on_crash="destroy"):
    """A small PV DomU config that the ctys filter accepts (name, uuid, memory, vcpus, vif, disk)."""
    return (
        f'name = "{label}"\n'
        f'uuid = "{uuid}"\n'
        'type = "pv"\n'
        'kernel = "/var/lib/xen/boot/vmlinuz"\n'
        "memory = 128\n"
        "vcpus = 1\n"
        f"vif = [ 'mac={mac}, bridge=xenbr0' ]\n"
        f"disk = [ 'format=raw, vdev=xvda, access=rw, target=/srv/xen/{label}.img' ]\n"
        f'on_crash = "{on_crash}"\n'
    )


@pytest.fixture(scope="module")
def reactor_host(lab_root):
    host = make_lab_host(lab_root, MINION_ID)
    # on_crash "preserve" keeps the crashed domain listed (flags "c"), as the beacon must see it.
    (host.base_dir / LABEL).mkdir(exist_ok=True)
    (host.base_dir / LABEL / f"{LABEL}.cfg").write_text(domu_config(LABEL, MAC, UUID, on_crash="preserve"))
    return host


@pytest.fixture(scope="module")
def event_log(lab_root):
    return lab_root / "xen-domu-events.log"


@pytest.fixture(scope="module")
def reactor_master(salt_factories, event_log):
    """A master whose reactor is wired exactly as reactor/README.md says."""
    # repo_master_config caches the file lists: with 0 every request walks .venv (~70 s of set-up)
    overrides = repo_master_config(
        reactor=[
            {"salt/beacon/*/xen/*/crashed": ["salt://reactor/xen_restart_crashed.sls"]},
            {"salt/beacon/*/xen/*/*": ["salt://reactor/xen_record_event.sls"]},
        ],
        xen_event_log=str(event_log),
    )
    factory = salt_factories.salt_master_daemon(MASTER_ID, overrides=overrides)
    with factory.started():
        yield factory


@pytest.fixture(scope="module")
def reactor_cli(reactor_master):
    return reactor_master.salt_cli()


@pytest.fixture(scope="module")
def reactor_minion(reactor_master, reactor_cli, reactor_host):
    """The dom0 minion with the xen beacon polling every second (only the DomUs ``crashy*``)."""
    # loop_interval 1 as on a real minion: Salt counts a beacon's interval in loop_interval steps
    # (salt-factories sets 0.05, which stretches ``interval: 1`` to 20 s).  emit_at_startup: the
    # DomU is reported as appeared even when the beacon's first poll comes after its start.
    overrides = dict(reactor_host.minion_config, interface=LOCALHOST, loop_interval=1,
                     beacons={"xen": [{"interval": 1}, {"labels": [f"{LABEL}*"]}, {"emit_at_startup": True}]})
    factory = reactor_master.salt_minion_daemon(MINION_ID, overrides=overrides)
    factory.environ = dict(reactor_host.env)
    with factory.started():
        wait_for_minions(reactor_cli, [MINION_ID])
        fileserver_update(reactor_master.salt_run_cli())
        # sync_all refreshes the modules, and with them the beacons: the xen beacon starts now.
        synced = run_json(reactor_cli, "saltutil.sync_all", minion_tgt=MINION_ID, _timeout=120)
        assert "beacons.xen" in synced["beacons"], synced
        yield factory


def beacon_tag(state):
    return f"salt/beacon/{MINION_ID}/xen/{LABEL}/{state}"


def wait_for_event(event_listener, tag, after_time):
    matched = event_listener.wait_for_events([(MASTER_ID, tag)], after_time=after_time, timeout=EVENT_TIMEOUT)
    assert matched.found_all_events, f"no event {tag} within {EVENT_TIMEOUT} s"
    return min(matched, key=lambda event: event.stamp).data


def test_beacon_is_configured(reactor_minion, reactor_cli):
    beacons = run_json(reactor_cli, "beacons.list", "return_yaml=False", minion_tgt=MINION_ID)
    assert "xen" in beacons, beacons


def test_crashed_domu_is_restarted_by_the_reactor(reactor_minion, reactor_cli, reactor_host, event_listener, event_log):
    start = time.time()
    started = run_json(reactor_cli, "xen.create", f"l:{LABEL}", minion_tgt=MINION_ID, _timeout=120)
    first_domid = started["domid"]

    appeared = wait_for_event(event_listener, beacon_tag("running"), start)
    assert (appeared["id"], appeared["label"], appeared["change"], appeared["domid"]) == (
        MINION_ID, LABEL, "appeared", first_domid)
    assert appeared["uuid"] == UUID

    crash_time = time.time()
    control.crash_domain(reactor_host.state_dir, LABEL)
    crashed = wait_for_event(event_listener, beacon_tag("crashed"), crash_time)
    assert (crashed["old_state"], crashed["new_state"], crashed["change"], crashed["domid"]) == (
        "running", "crashed", "state", first_domid)

    def running_again():
        status = run_json(reactor_cli, "xen.status", f"l:{LABEL}", minion_tgt=MINION_ID, _timeout=30)
        return status if status["state"] == "running" and status["domid"] != first_domid else None

    status = poll(running_again, EVENT_TIMEOUT, f"{LABEL} restarted by the reactor")
    assert status["uuid"] == UUID

    # The beacon saw the crashed domain go and the new one appear.
    wait_for_event(event_listener, beacon_tag("gone"), crash_time)

    def recorded():
        text = event_log.read_text() if event_log.exists() else ""
        return text if f" {MINION_ID} {LABEL} domid={first_domid} running -> crashed (state)" in text else None

    log_text = poll(recorded, EVENT_TIMEOUT, f"the record reactor's line in {event_log}")
    assert f"{MINION_ID} {LABEL} domid={first_domid} gone -> running (appeared)" in log_text
