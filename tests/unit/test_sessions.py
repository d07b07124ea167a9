"""LIST records of one host: client sessions, Domain-0, DomUs, PM row (22 fields)."""

import os

from xenctys import procscan
from xenctys.domconfig import DomUConfig, IPEntry
from xenctys.records import LIST_KEYS, to_machine
from xenctys.sessions import config_for_domain, convention_config_path, list_records

HOST = {"host": "lab00.soho", "label": "lab00", "fqdn": "lab00.soho", "mac": "00:0e:0c:35:f8:48",
        "execpath": "/usr/sbin/xl", "hyperrelrun": "xen-4.17.7", "arch": "x86_64"}
DOM0 = {"name": "Domain-0", "domid": 0, "uuid": "00000000-0000-0000-0000-000000000000", "state": "r-----"}
TST100 = {"name": "tst100", "domid": 3, "uuid": "6842caf9-1e3e-4324-9ed5-96b8b9f2c5c2", "state": "-b----",
          "type": "pv", "vifs": [{"mac": "00:50:56:13:11:40"}], "disks": [], "vnc_port": 5900}


def test_rows_in_ctys_order_with_22_fields():
    config = DomUConfig(path="/srv/xen/tst100/tst100.conf", label="tst100",
                        ctys_ips=[IPEntry(0, ip="192.168.1.220")])
    clients = [{"kind": "VNC", "label": "tst101", "cport": "5902", "target": "lab00:2", "pid": "99",
                "user": "acue", "group": "ldapusers"}]
    rows = list_records(HOST, [TST100, DOM0], [config], {}, clients)
    assert [(r["label"], r["sesstype"], r["cstype"]) for r in rows] == [
        ("tst101", "VNC", "CLIENT"), ("Domain-0", "XEN", "SERVER"), ("tst100", "XEN", "SERVER"),
        ("lab00", "PM", "SERVER")]
    dom0, tst100, pm = rows[1], rows[2], rows[3]
    assert dom0["id"] == "" and dom0["pid"] == "0" and dom0["uid"] == ""
    fields = to_machine(tst100, LIST_KEYS).split(";")
    assert len(fields) == 22
    assert fields[:11] == ["lab00.soho", "XEN", "tst100", "/srv/xen/tst100/tst100.conf",
                           "6842caf9-1e3e-4324-9ed5-96b8b9f2c5c2", "00:50:56:13:11:40", "192.168.1.220",
                           "0", "5900", "", "3"]
    assert fields[13] == "SERVER" and fields[18:] == ["/usr/sbin/xl", "xen-4.17.7", "PARA", "x86_64"]
    assert tst100["state"] == "-b----" and tst100["config_source"] == "label"
    assert (pm["mac"], pm["tcp"]) == ("00:0e:0c:35:f8:48", "lab00.soho")


def test_config_mapping_prefers_association_then_unique_label_then_convention(tmp_path):
    folder = tmp_path / "tst100"
    folder.mkdir()
    (folder / "tst100.conf").write_text("name='tst100'\n")
    domain = dict(TST100, disks=[str(folder / "xvda.img")])
    a = DomUConfig(path="/a/tst100.conf", label="tst100")
    b = DomUConfig(path="/b/tst100.conf", label="tst100")
    assoc = {"tst100": {"config": "/c/tst100.conf", "uuid": "6842caf91e3e43249ed596b8b9f2c5c2"}}
    assert config_for_domain(domain, assoc, {"tst100": [a]}) == ("/c/tst100.conf", "created")
    assert config_for_domain(domain, {}, {"tst100": [a]}) == ("/a/tst100.conf", "label")
    # two configs with the label: not a guess, the convention (which exists here) decides
    assert config_for_domain(domain, {}, {"tst100": [a, b]}) == (str(folder / "tst100.conf"), "convention")
    assert config_for_domain(dict(domain, disks=[]), {}, {"tst100": [a, b]}) == ("", "ambiguous")
    # an association of another domain with the same name (other uuid) is not used
    stale = {"tst100": {"config": "/c/tst100.conf", "uuid": "ffffffffffffffffffffffffffffffff"}}
    assert config_for_domain(domain, stale, {"tst100": [a]}) == ("/a/tst100.conf", "label")


def test_convention_never_invents_a_missing_file(tmp_path):
    assert convention_config_path([str(tmp_path / "tst100" / "xvda.img")]) == ""


def _fake_proc(root, pid, argv, uid=0, gid=0):
    folder = root / str(pid)
    folder.mkdir()
    (folder / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    (folder / "status").write_text(f"Name:\tx\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\nGid:\t{gid}\t{gid}\t{gid}\t{gid}\n")


def test_proc_scan_finds_viewers_and_vnc_tunnels(tmp_path):
    _fake_proc(tmp_path, 10, ["/usr/bin/vncviewer", "-name", "tst100:0", "lab00:0"])
    _fake_proc(tmp_path, 11, ["ssh", "-f", "-L", "5950:127.0.0.1:5900", "root@lab00",
                              "sleep 120 # DYNREMAP:XEN:tst100:lab00"])
    _fake_proc(tmp_path, 12, ["ssh", "-L", "8080:localhost:80", "web"])  # not a VNC tunnel
    _fake_proc(tmp_path, 13, ["ssh", "-L8001:localhost:5901", "lab00"])  # untagged VNC tunnel
    _fake_proc(tmp_path, 14, ["bash"])
    (tmp_path / "self").mkdir()
    found = procscan.client_sessions(str(tmp_path))
    assert [(s["pid"], s["kind"], s["label"]) for s in found] == [
        ("10", "VNC", "tst100"), ("11", "TUNNEL", "tst100"), ("13", "TUNNEL", "8001-5901")]
    assert found[0]["cport"] == "5900" and found[0]["user"] == "root"
    assert (found[1]["lport"], found[1]["rport"]) == ("5950", "5900")


def test_proc_scan_of_the_real_proc_does_not_fail():
    assert isinstance(procscan.client_sessions(), list)
    assert os.path.isdir("/proc")
