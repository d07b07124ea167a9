"""Golden tests of xenctys.xlparse: every xl list/info/uptime/network-list/JSON file of the corpus.

Expected values were written by reading the corpus files (``corpus/xl-real`` is real Xen 4.17,
``list-output/ganeti`` older xl, ``libvirt-configs/libxl-json`` libvirt's libxl configs).
"""

import pathlib

import pytest

from xenctys import xlparse
from xenctys.errors import ToolstackError

DOM0 = ("Domain-0", 0, 1536, 2, "r-----")


def read(corpus, relative):
    """A corpus file without the ``# exit=N`` line the lab harness appended."""
    text = (pathlib.Path(corpus) / relative).read_text(encoding="utf-8")
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith("# exit="))


def summary(rows):
    return [(r["name"], r["domid"], r["memory"], r["vcpus"], r["state"]) for r in rows]


# --- xl list: every file of corpus/xl-real ---------------------------------------------------------

XL_REAL_LISTS = {
    "xl-list-dom0-only.txt": [DOM0],
    "xl-list.txt": [DOM0, ("domu1", 1, 128, 1, "-b----")],
    "xl-list-domu1.txt": [("domu1", 1, 128, 1, "-b----")],
    "xl-list-n.txt": [DOM0, ("domu1", 1, 128, 1, "-b----")],
    "xl-list-v.txt": [DOM0, ("domu1", 1, 128, 1, "-b----")],
    "xl-list-Z.txt": [DOM0, ("domu1", 1, 128, 1, "-b----")],
    "xl-list-after-mem-vcpu-set.txt": [("domu1", 1, 96, 1, "-b----")],
    "xl-list-after-pause.txt": [DOM0, ("domu1", 1, 96, 1, "--p---")],
    "xl-list-after-unpause.txt": [DOM0, ("domu1", 1, 96, 1, "-b----")],
    "xl-list-after-save.txt": [DOM0],
    "xl-list-after-restore.txt": [DOM0, ("domu1", 3, 96, 1, "-b----")],
    "xl-list-after-rename.txt": [DOM0, ("domu1-renamed", 3, 96, 1, "-b----")],
    "xl-list-after-reboot.txt": [DOM0, ("domu1", 4, 96, 2, "-b----")],
    "xl-list-after-shutdown.txt": [DOM0, ("domu1", 4, 96, 2, "--ps--")],
    "xl-list-after-shutdown-settled.txt": [DOM0],
    "xl-list-created-paused.txt": [DOM0, ("domu1", 5, 128, 1, "--p---")],
    "xl-list-after-destroy.txt": [DOM0],
    "xl-list-two.txt": [DOM0, ("domu2", 7, 160, 1, "r-----")],
    "xl-list-after-shutdown-nowait.txt": [DOM0],
    "xl-list-after-save-c.txt": [DOM0, ("domu3", 8, 128, 1, "-b----")],
    "xl-list-after-reboot-after-save-c.txt": [DOM0, ("domu3", 8, 128, 1, "---sr-")],
    "xl-list-pvh.txt": [DOM0, ("domu-pvh", 9, 128, 1, "-b----")],
    "xl-list-final.txt": [DOM0],
    "xl-list-unknown.txt": [],
}


@pytest.mark.parametrize("name,expected", sorted(XL_REAL_LISTS.items()))
def test_xl_list_real(corpus, name, expected):
    assert summary(xlparse.parse_xl_list(read(corpus, f"xl-real/{name}"))) == expected


def test_every_real_list_file_is_covered(corpus):
    listed = {p.name for p in (pathlib.Path(corpus) / "xl-real").glob("xl-list*.txt")}
    assert listed == set(XL_REAL_LISTS)


def test_xl_list_times_and_tabs(corpus):
    text = read(corpus, "xl-real/xl-list.txt")
    assert "\t" in text.splitlines()[0]  # the real header mixes TABs and spaces
    rows = xlparse.parse_xl_list(text)
    assert [r["time"] for r in rows] == [26.7, 3.8]


def test_xl_list_verbose_has_uuid_reason_label(corpus):
    rows = xlparse.parse_xl_list(read(corpus, "xl-real/xl-list-v.txt"))
    assert rows[0]["uuid"] == "00000000-0000-0000-0000-000000000000"
    assert rows[1]["uuid"] == "e1065f12-e910-11f1-acd3-9d423be3f618"
    assert [(r["reason_code"], r["security_label"]) for r in rows] == [("-", "-"), ("-", "-")]


def test_xl_list_context_and_numa_columns(corpus):
    assert [r["security_label"] for r in xlparse.parse_xl_list(read(corpus, "xl-real/xl-list-Z.txt"))] == ["-", "-"]
    assert "uuid" not in xlparse.parse_xl_list(read(corpus, "xl-real/xl-list-Z.txt"))[0]
    assert [r["node_affinity"] for r in xlparse.parse_xl_list(read(corpus, "xl-real/xl-list-n.txt"))] == ["all"] * 2


def test_state_flags_shutdown_reasons(corpus):
    after_shutdown = xlparse.parse_xl_list(read(corpus, "xl-real/xl-list-after-shutdown.txt"))[1]
    assert after_shutdown["flags"]["paused"] and after_shutdown["flags"]["shutdown"]
    assert after_shutdown["shutdown_reason"] == "poweroff"
    not_restarted = xlparse.parse_xl_list(read(corpus, "xl-real/xl-list-after-reboot-after-save-c.txt"))[1]
    assert not_restarted["shutdown_reason"] == "reboot" and not not_restarted["flags"]["paused"]
    running = xlparse.parse_xl_list(read(corpus, "xl-real/xl-list.txt"))[0]
    assert running["flags"] == {"running": True, "blocked": False, "paused": False, "shutdown": False,
                                "crashed": False, "dying": False}
    assert running["shutdown_reason"] == ""


# --- xl list: older xl (ganeti) --------------------------------------------------------------------


def test_ganeti_list_dom0_only(corpus):
    rows = xlparse.parse_xl_list(read(corpus, "list-output/ganeti/xen-xl-list-4.0.1-dom0-only.txt"))
    assert summary(rows) == [("Domain-0", 0, 1023, 1, "r-----")]
    assert rows[0]["time"] == 121152.6


def test_ganeti_list_four_instances(corpus):
    rows = xlparse.parse_xl_list(read(corpus, "list-output/ganeti/xen-xl-list-4.0.1-four-instances.txt"))
    assert summary(rows) == [
        ("Domain-0", 0, 1023, 1, "r-----"),
        ("server01.example.com", 1, 1024, 1, "-b----"),
        ("web3106215069.example.com", 3, 4096, 1, "-b----"),
        ("testinstance.example.com", 2, 2048, 2, "r-----"),
    ]
    assert rows[3]["time"] == 244443.0


def test_ganeti_list_crashed_and_null_name(corpus):
    rows = xlparse.parse_xl_list(read(corpus, "list-output/ganeti/xen-xl-list-4.4-crashed-instances.txt"))
    assert summary(rows)[2:] == [("", 28441, 789, 1, "--psc-"), ("alsodying.example.com", 28448, 1024, 1, "--psc-")]
    assert rows[2]["flags"]["crashed"] and rows[2]["shutdown_reason"] == "crash"
    assert rows[3]["time"] == 1.4


def test_list_row_edge_cases():
    text = ("Name                                        ID   Mem VCPUs\tState\tTime(s)\n"
            "a name with spaces                           5   512     1     -b----       1.0\n"
            "a-very-long-domain-name-longer-than-forty-characters 6   256     2     r-----       2.5\n"
            "libxl: warning: something unrelated\n")
    assert summary(xlparse.parse_xl_list(text)) == [("a name with spaces", 5, 512, 1, "-b----"),
                                                     ("a-very-long-domain-name-longer-than-forty-characters", 6,
                                                      256, 2, "r-----")]


# --- xl list -l --------------------------------------------------------------------------------------


def test_xl_list_long_real(corpus):
    domains = xlparse.parse_xl_list_long((pathlib.Path(corpus) / "xl-real/xl-list-l.json").read_text())
    dom0, domu1 = domains
    assert (dom0["domid"], dom0["name"], dom0["uuid"], dom0["type"], dom0["memory"], dom0["maxmem"]) == (
        0, "Domain-0", "", "pv", 1535, 1536)
    assert (domu1["domid"], domu1["name"], domu1["uuid"], domu1["type"]) == (
        1, "domu1", "e1065f12-e910-11f1-acd3-9d423be3f618", "pv")
    assert (domu1["memory"], domu1["maxmem"], domu1["vcpus"], domu1["max_vcpus"]) == (128, 256, 1, 2)
    assert domu1["vifs"] == [{"devid": 0, "mac": "00:16:3e:00:00:01", "bridge": "xenbr0", "ip": "", "model": "",
                              "nictype": "vif", "script": ""}]
    assert (domu1["kernel"], domu1["ramdisk"], domu1["cmdline"]) == (
        "/root/domu/vmlinuz", "/root/domu/initrd.cpio.gz", "console=hvc0 quiet")
    assert domu1["disks"] == [] and domu1["vnc"]["enabled"] is False
    assert (domu1["on_poweroff"], domu1["on_reboot"], domu1["on_crash"]) == ("destroy", "restart", "destroy")


def test_xl_list_long_one_domain_and_pvh(corpus):
    (domu1,) = xlparse.parse_xl_list_long((pathlib.Path(corpus) / "xl-real/xl-list-l-domu1.json").read_text())
    assert (domu1["domid"], domu1["name"]) == (1, "domu1")
    (pvh,) = xlparse.parse_xl_list_long((pathlib.Path(corpus) / "xl-real/xl-list-l-pvh.json").read_text())
    assert (pvh["domid"], pvh["name"], pvh["type"], pvh["uuid"]) == (
        9, "domu-pvh", "pvh", "507fb9af-0cde-4f33-a92d-f1eb6dfadc0e")
    assert pvh["vifs"][0]["mac"] == "00:16:3e:00:00:02"


def test_xl_list_long_unknown_is_empty(corpus):
    assert xlparse.parse_xl_list_long((pathlib.Path(corpus) / "xl-real/xl-list-l-unknown.json").read_text()) == []


def test_xl_create_dry_run_json(corpus):
    text = read(corpus, "xl-real/xl-create-dry-run.txt")
    (domain,) = xlparse.parse_xl_list_long(text.split("\n", 1)[1])  # after "Parsing config from ..."
    assert (domain["domid"], domain["name"], domain["uuid"]) == (None, "domu1", "de869b94-e910-11f1-b380-ef8108c1de52")
    assert domain["vifs"][0]["bridge"] == "xenbr0"


LIBXL_JSON = {
    # file: (name, type, uuid, memory, maxmem, vcpus, macs, bridges, disks, vnc enabled, vnc port)
    "basic-hvm.json": ("test-hvm", "hvm", "2147d599-9cc6-c0dc-92ab-4064b5446e9b", 1024, 1024, 4,
                       ["00:16:3e:66:12:b4"], ["br0"], ["/var/lib/xen/images/test-hvm.img"], True, 5900),
    "basic-pv.json": ("test-pv", "pv", "039e9ee6-4a84-3055-4c81-8ba426ae2656", 512, 512, 4,
                      ["00:16:3e:3e:86:60"], ["br0"], ["/var/lib/xen/images/test-pv.img"], True, 5900),
    "basic-pvh.json": ("test-pvh", "pvh", "039e9ee6-4a84-3055-4c81-8ba426ae2656", 512, 512, 4,
                       ["00:16:3e:3e:86:60"], ["br0"], ["/var/lib/xen/images/test-pv.img"], False, None),
    "moredevs-hvm.json": ("test-hvm", "hvm", "2147d599-9cc6-c0dc-92ab-4064b5446e9b", 1024, 1024, 4,
                          ["00:16:3e:7a:35:ce"], ["br0"], ["/var/lib/xen/images/test-hvm.img", "/root/boot.iso"],
                          True, 5900),
    "multiple-ip.json": ("test-pv", "pv", "039e9ee6-4a84-3055-4c81-8ba426ae2656", 512, 512, 4,
                         ["00:16:3e:3e:86:60"], [""], [], False, None),
}


@pytest.mark.parametrize("name,expected", sorted(LIBXL_JSON.items()))
def test_libxl_json_configs(corpus, name, expected):
    (domain,) = xlparse.parse_xl_list_long((pathlib.Path(corpus) / "libvirt-configs/libxl-json" / name).read_text())
    got = (domain["name"], domain["type"], domain["uuid"], domain["memory"], domain["maxmem"], domain["vcpus"],
           [v["mac"] for v in domain["vifs"]], [v["bridge"] for v in domain["vifs"]], domain["disks"],
           domain["vnc"]["enabled"], domain["vnc"]["port"])
    assert got == expected
    assert domain["domid"] is None


def test_every_libxl_json_file_is_covered(corpus):
    assert {p.name for p in (pathlib.Path(corpus) / "libvirt-configs/libxl-json").glob("*.json")} == set(LIBXL_JSON)


def test_libxl_json_details(corpus):
    base = pathlib.Path(corpus) / "libvirt-configs/libxl-json"
    (multi,) = xlparse.parse_xl_list_long((base / "multiple-ip.json").read_text())
    assert multi["vifs"][0]["ip"] == "10.0.0.1 2000:abcd::1"
    assert multi["bootloader"] == "pygrub"
    (more,) = xlparse.parse_xl_list_long((base / "moredevs-hvm.json").read_text())
    assert [d["cdrom"] for d in more["disk_devices"]] == [False, True]
    assert more["vifs"][0]["model"] == "netfront"
    (hvm,) = xlparse.parse_xl_list_long((base / "basic-hvm.json").read_text())
    assert hvm["vnc"] == {"enabled": True, "listen": "0.0.0.0", "display": None, "findunused": False, "port": 5900}
    (pvh,) = xlparse.parse_xl_list_long((base / "basic-pvh.json").read_text())
    assert (pvh["kernel"], pvh["ramdisk"]) == ("/boot/vmlinuz", "/boot/initrd.img")


def test_vnc_settings_runtime_port_and_display():
    assert xlparse.vnc_settings({}, [{"vnc": {"enable": "True"}}])["port"] is None  # findunused defaults on
    fixed = xlparse.vnc_settings({"type.hvm": {"vnc": {"enable": "True", "display": 3, "findunused": "False"}}})
    assert (fixed["display"], fixed["port"]) == (3, 5903)
    assert xlparse.vnc_settings({}, [{"vnc": {"enable": "False"}}])["enabled"] is False


def test_list_long_sxp_is_delegated(corpus):
    domains = xlparse.parse_xl_list_long(read(corpus, "list-output/ganeti/xen-xl-list-long-4.0.1.txt"))
    assert [(d["domid"], d["name"]) for d in domains] == [(0, "Domain-0"), (119, "instance1.example.com")]


def test_list_long_garbage_is_a_toolstack_error():
    with pytest.raises(ToolstackError) as info:
        xlparse.parse_xl_list_long("[{broken")
    assert "\n" not in str(info.value)


# --- xl info -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["xl-info.txt", "xl-v-info.txt", "xl-info-n.txt"])
def test_xl_info_real(corpus, name):
    info = xlparse.parse_xl_info(read(corpus, f"xl-real/{name}"))
    assert info["host"] == "dom0"
    assert info["release"] == "6.1.0-56-amd64"
    assert info["version"] == "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)"
    assert (info["nr_cpus"], info["total_memory"], info["free_memory"]) == (2, 3071, 1502)
    assert (info["xen_major"], info["xen_minor"], info["xen_extra"], info["xen_version"]) == (4, 17, ".7", "4.17.7")
    assert info["xen_caps"] == "xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64"
    assert info["hw_caps"] == "178bf3fd:80002001:20100800:00000007:00000000:00000000:00000000:00000000"
    assert info["xen_scheduler"] == "credit2" and info["xen_changeset"] == ""
    assert info["cc_compile_date"] == "Wed Nov  4 16:52:28 UTC 2026"
    assert info["xend_config_format"] == 4 and info["cpu_mhz"] == "2600.000"


def test_xl_info_numa_tables(corpus):
    info = xlparse.parse_xl_info(read(corpus, "xl-real/xl-info-n.txt"))
    assert info["cpu_topology"] == ["cpu:    core    socket     node", "  0:       0        0        0",
                                    "  1:       1        0        0"]
    assert info["numa_info"][1].split() == ["0:", "3071", "1502", "10"]
    assert info["device topology"] == ["device           node", "No device topology data available"]
    assert "cpu" not in info and "node" not in info  # table lines are not keys


def test_xl_info_ganeti(corpus):
    info = xlparse.parse_xl_info(read(corpus, "list-output/ganeti/xen-xl-info-4.0.1.txt"))
    assert (info["host"], info["nr_cpus"], info["total_memory"], info["free_memory"]) == ("host.example.com", 4, 16378,
                                                                                         8004)
    assert (info["xen_major"], info["xen_minor"], info["xen_extra"]) == (4, 0, ".1")
    assert "xen_version" not in info  # xl 4.0.1 did not print it
    assert info["xen_caps"] == "xen-3.0-x86_64 xen-3.0-x86_32p"
    assert info["virt_caps"] == "" and info["node_to_cpu"] == "node0:0-3"
    assert info["cc_compiler"] == "gcc version 4.4.5 (Debian 4.4.5-8)"


# --- xl uptime -----------------------------------------------------------------------------------------


def test_xl_uptime_real(corpus):
    rows = xlparse.parse_xl_uptime(read(corpus, "xl-real/xl-uptime.txt"))
    assert [(r["name"], r["domid"], r["uptime"], r["seconds"]) for r in rows] == [
        ("Domain-0", 0, "0:00:37", 37), ("domu1", 1, "0:00:16", 16)]


def test_xl_uptime_short_real(corpus):
    rows = xlparse.parse_xl_uptime(read(corpus, "xl-real/xl-uptime-s.txt"))
    assert [(r["name"], r["domid"], r["now"], r["seconds"]) for r in rows] == [
        ("Domain-0", 0, "20:43:49", 0), ("domu1", 1, "20:43:49", 0)]


def test_xl_uptime_ganeti_days(corpus):
    rows = xlparse.parse_xl_uptime(read(corpus, "list-output/ganeti/xen-xl-uptime-4.0.1.txt"))
    assert [(r["name"], r["domid"], r["uptime"]) for r in rows] == [
        ("Domain-0", 0, "98 days, 2:27:44"), ("instance1.example.com", 119, "15 days, 20:57:07")]
    assert rows[0]["seconds"] == ((98 * 24 + 2) * 60 + 27) * 60 + 44
    assert rows[1]["seconds"] == ((15 * 24 + 20) * 60 + 57) * 60 + 7


def test_uptime_seconds_forms():
    assert xlparse.uptime_seconds(" 0:00:37") == 37
    assert xlparse.uptime_seconds("1 day,  1:00:00") == 90000
    assert xlparse.uptime_seconds("2:27") == 2 * 3600 + 27 * 60


# --- xl network-list -----------------------------------------------------------------------------------


def test_network_list_real(corpus):
    assert xlparse.parse_network_list(read(corpus, "xl-real/xl-network-list.txt")) == [{
        "idx": 0, "backend_id": 0, "mac": "00:16:3e:00:00:01", "handle": 0, "state": 4, "evtch": -1,
        "tx_ring_ref": 520, "rx_ring_ref": 521, "backend_path": "/local/domain/0/backend/vif/1/0"}]


def test_network_list_unknown_has_only_the_header(corpus):
    assert xlparse.parse_network_list(read(corpus, "xl-real/xl-network-list-unknown.txt")) == []


def test_network_list_xm_spacing():
    text = ("Idx BE     MAC Addr.     handle state evt-ch tx-/rx-ring-ref BE-path\n"
            "0   0  00:16:3E:1D:06:15    0     4    13     768  /769    /local/domain/0/backend/vif/5/0\n")
    (vif,) = xlparse.parse_network_list(text)
    assert (vif["mac"], vif["tx_ring_ref"], vif["rx_ring_ref"]) == ("00:16:3e:1d:06:15", 768, 769)


# --- xenstore ------------------------------------------------------------------------------------------


def test_vnc_ports_from_xenstore_ls(corpus):
    text = read(corpus, "xl-real/xenstore-ls-domu1.txt")
    assert xlparse.parse_vnc_ports(text) == {}  # domu1 has no VNC display
    text += '/local/domain/1/console/vnc-port = "5901"\n/local/domain/7/console/vnc-port = "5900"\n'
    assert xlparse.parse_vnc_ports(text) == {1: 5901, 7: 5900}
