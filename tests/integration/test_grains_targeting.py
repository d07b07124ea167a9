"""The xen grains on real minions: target the dom0 that holds a DomU with ``salt -G``.

lab00 gets a config of DomU ``tst100...``, lab01 one of ``tst200...`` (labels carry a per-run
token: the shared minions also serve other test modules).  After a grains refresh,
``salt -G 'xen:labels:<label>' test.ping`` answers from the one minion that holds the DomU.
"""

import uuid as uuidlib

import pytest
from harness import MINION_IDS, poll, run_json

TOKEN = uuidlib.uuid4().hex[:6]
DOMUS = {  # minion -> (label, MAC, uuid) of the DomU config it gets
    "lab00": (f"tst100g{TOKEN}", f"00:16:3e:{TOKEN[0:2]}:{TOKEN[2:4]}:01", str(uuidlib.uuid4())),
    "lab01": (f"tst200g{TOKEN}", f"00:16:3e:{TOKEN[0:2]}:{TOKEN[2:4]}:02", str(uuidlib.uuid4())),
}
REFRESH_TIMEOUT = 60  # the minion refreshes its grains, then the master's cache of them


def domu_config(label, mac, uuid):
    """A small PV DomU config the ctys filter accepts (name, uuid, memory, vcpus, vif, disk)."""
    return (
        f'name = "{label}"\nuuid = "{uuid}"\ntype = "pv"\nkernel = "/var/lib/xen/boot/vmlinuz"\n'
        f"memory = 256\nvcpus = 1\nvif = [ 'mac={mac}, bridge=xenbr0' ]\n"
        f"disk = [ 'format=raw, vdev=xvda, access=rw, target=/srv/xen/{label}.img' ]\n"
    )


def matching_minions(salt_cli, target):
    """The minions answering ``salt -G TARGET test.ping`` (sorted ids; [] when none matched)."""
    ret = salt_cli.run("-G", "--static", "-t", "10", "test.ping", minion_tgt=target, _timeout=30)
    if isinstance(ret.data, dict):
        return sorted(minion for minion, answer in ret.data.items() if answer is True)
    assert "No minions matched" in (ret.stdout + ret.stderr) or ret.data in (None, ""), (ret.stdout, ret.stderr)
    return []


@pytest.fixture(scope="module")
def configs_in_place(synced_minions, lab_hosts, salt_cli):
    """Each minion's DomU config written, grains refreshed, and the master seeing the new ones."""
    for minion, (label, mac, uuid) in DOMUS.items():
        folder = lab_hosts[minion].base_dir / f"grains-{TOKEN}"
        folder.mkdir(exist_ok=True)
        (folder / f"{label}.cfg").write_text(domu_config(label, mac, uuid))
    for minion in MINION_IDS:
        # refresh_grains also refreshes pillar, which hands the new grains to the master's cache.
        assert run_json(salt_cli, "saltutil.refresh_grains", minion_tgt=minion) is True

    def master_sees_them():
        return all(matching_minions(salt_cli, f"xen:labels:{label}") == [minion]
                   for minion, (label, _, _) in DOMUS.items())

    poll(master_sees_them, REFRESH_TIMEOUT, "grain targeting of the new DomU configs")
    return DOMUS


def test_grain_shape(configs_in_place, salt_cli, lab_hosts):
    label, mac, uuid = configs_in_place["lab00"]
    grains = run_json(salt_cli, "grains.get", "xen", minion_tgt="lab00")
    assert grains["toolstack"] == "xl"
    assert grains["role"] in ("dom0", "none")  # the simulator has no /proc/xen
    assert grains["domus"][label] == {
        "uuid": uuid, "macs": [mac],
        "config": str(lab_hosts["lab00"].base_dir / f"grains-{TOKEN}" / f"{label}.cfg"),
    }
    assert label in grains["labels"] and uuid in grains["uuids"] and mac in grains["macs"]
    assert "errors" not in grains, grains.get("errors")


def test_target_by_label(configs_in_place, salt_cli):
    for minion, (label, _, _) in configs_in_place.items():
        assert matching_minions(salt_cli, f"xen:labels:{label}") == [minion]


def test_target_by_mac_and_uuid(configs_in_place, salt_cli):
    label, mac, uuid = configs_in_place["lab01"]
    assert matching_minions(salt_cli, f"xen:macs:{mac}") == ["lab01"]
    assert matching_minions(salt_cli, f"xen:uuids:{uuid}") == ["lab01"]
    assert matching_minions(salt_cli, f"xen:domus:{label}:config:*{label}.cfg") == ["lab01"]


def test_target_by_glob_matches_both(configs_in_place, salt_cli):
    assert matching_minions(salt_cli, f"xen:labels:tst?00g{TOKEN}") == ["lab00", "lab01"]


def test_unknown_label_matches_nobody(configs_in_place, salt_cli):
    assert matching_minions(salt_cli, f"xen:labels:nosuchdomu{TOKEN}") == []
