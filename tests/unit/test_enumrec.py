"""ENUMERATE records: 47 fields, one per MAC/IP pair, no MAC dropped (ctys defect 10 fixed)."""

from xenctys.domconfig import DomUConfig, IPEntry, Vif
from xenctys.enumrec import enumerate_records
from xenctys.records import ENUMERATE_KEYS, to_machine


def _config(**kw):
    base = dict(path="/srv/xen/tst100/tst100.conf", label="tst100", uuid="6842caf91e3e43249ed596b8b9f2c5c2",
                memory=1024, vcpus=1)
    base.update(kw)
    return DomUConfig(**base)


def test_one_record_per_mac_ip_pair_and_macs_without_ip_kept():
    config = _config(
        vifs=[Vif(0, mac="00:50:56:13:11:40"), Vif(1, mac="00:50:56:13:11:41")],
        ctys_ips=[IPEntry(0, ip="192.168.1.220", netmask="255.255.255.0", relay="xenbr0", ifname="eth0",
                          sshport="22", gateway="192.168.1.1"),
                  IPEntry(0, ip="192.168.1.221"), IPEntry(3, ip="10.0.0.3")],
    )
    records = enumerate_records(config, "lab00.soho")
    pairs = [(r["mac"], r["tcp"]) for r in records]
    assert pairs == [("00:50:56:13:11:40", "192.168.1.220"), ("00:50:56:13:11:40", "192.168.1.221"),
                     ("00:50:56:13:11:41", ""), ("", "10.0.0.3")]
    first = records[0]
    assert (first["netmask"], first["relay"], first["ifname"], first["sshport"], first["gateway"]) == (
        "255.255.255.0", "xenbr0", "eth0", "22", "192.168.1.1")
    assert all(len(to_machine(r, ENUMERATE_KEYS).split(";")) == 47 for r in records)


def test_fields_from_config_and_ctys_keys():
    config = _config(ctys={"DIST": "CentOS Linux", "DISTREL": "5", "OS": "Linux", "OSREL": "2.6.18",
                           "SERNO": "20080427002200", "VMSTATE": "ACTIVE", "CTYSRELEASE": "01.11.022"},
                     vifs=[Vif(0, mac="00:50:56:13:11:40")], type="hvm")
    record = enumerate_records(config, "lab00.soho", hyperrelrun="xen-4.17.7", uid="0", gid="0")[0]
    fields = to_machine(record, ENUMERATE_KEYS).split(";")
    assert fields[0:6] == ["lab00.soho", "XEN", "tst100", "/srv/xen/tst100/tst100.conf",
                           "6842caf91e3e43249ed596b8b9f2c5c2", "00:50:56:13:11:40"]
    assert fields[11] == "CentOS_Linux"  # ctys: spaces in the distro become "_"
    assert fields[17] == "VM" and fields[18] == "ACTIVE"
    assert fields[28] == "xen-4.17.7" and fields[29] == "HVM"
    assert fields[33] == "01.11.022"
    assert fields[39:41] == ["1024", "1"]
    assert fields[43:47] == ["0", "0", "VNC", "GTERM"]


def test_no_interface_gives_one_record_and_vif_ip_is_used():
    assert [(r["mac"], r["tcp"]) for r in enumerate_records(_config(), "h")] == [("", "")]
    config = _config(vifs=[Vif(0, mac="00:16:3e:00:00:01", ip="10.1.1.1")])
    assert [(r["mac"], r["tcp"]) for r in enumerate_records(config, "h")] == [("00:16:3e:00:00:01", "10.1.1.1")]


def test_ctys_mac_keys_fill_interfaces_without_vif_mac():
    config = _config(ctys={"MAC": "00-50-56-13-11-4A", "MAC2": "00:50:56:13:11:4c"})
    assert [r["mac"] for r in enumerate_records(config, "h")] == ["00:50:56:13:11:4a", "00:50:56:13:11:4c"]
