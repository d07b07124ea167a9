"""xenctys.sxp: the tokenizer and parser, and every xend SXP record of the corpus."""

import pathlib

import pytest

from xenctys import sxp
from xenctys.errors import ToolstackError


def sxp_file(corpus, name):
    return (pathlib.Path(corpus) / "libvirt-configs/xm-sxp" / name).read_text(encoding="utf-8")


# --- tokens and nesting ----------------------------------------------------------------------------


def test_tokens_quotes_and_escapes():
    tokens = list(sxp.tokenize("(a 'b c' \"d\\\"e\" f\\n)"))
    assert tokens == ["(", ("atom", "a"), ("atom", "b c"), ("atom", 'd"e'), ("atom", "f\\n"), ")"]


def test_parse_nested_and_empty_lists():
    assert sxp.parse_sxp("(cpus (()))(bootloader )") == [["cpus", [[]]], ["bootloader"]]


def test_value_helpers():
    (domain,) = sxp.parse_sxp("(domain (domid 6) (name 'pv') (bootloader ) (device (vif (mac x))) (device (vbd)))")
    assert sxp.value(domain, "name") == "pv"
    assert sxp.value(domain, "bootloader") == ""
    assert sxp.value(domain, "missing", "dflt") == "dflt"
    assert len(sxp.children(domain, "device")) == 2


def test_unclosed_list_is_closed_by_the_end_of_the_text():
    assert sxp.parse_sxp("(a (b c") == [["a", ["b", "c"]]]
    assert sxp.sxp_balance("(a (b c") == 2
    with pytest.raises(ToolstackError):
        sxp.parse_sxp("(a (b c", strict=True)


def test_stray_closing_paren_is_skipped_unless_strict():
    assert sxp.parse_sxp(")(a)") == [["a"]]
    with pytest.raises(ToolstackError):
        sxp.parse_sxp(")(a)", strict=True)


def test_unterminated_quote_ends_at_eof():
    assert sxp.parse_sxp("(name 'abc") == [["name", "abc"]]


# --- the corpus: libvirt's xm-sxp records ----------------------------------------------------------

PVTEST_UUID = "596a5d21-71f4-8fb2-e068-e2386a5c413e"
XM_SXP = {
    # file: (domid, name, uuid, memory, maxmem, vcpus, max_vcpus, type, macs, bridges, ips, disks, vnc on)
    "sexpr2xml-bridge-ipaddr.sexpr": (6, "pvtest", PVTEST_UUID, 420, 420, 2, 2, "pv", ["00:11:22:33:44:55"],
                                      ["xenbr2"], ["192.0.2.1"], ["/root/some.img"], False),
    "sexpr2xml-curmem.sexpr": (5, "rhel5", "4f77abd2-3019-58e8-3bab-6fbf2118f880", 175, 385, 1, 1, "pv",
                               ["00:16:3e:1d:06:15"], ["xenbr0"], [""], ["/xen/rhel5.img"], True),
    "sexpr2xml-fv.sexpr": (3, "fvtest", "b5d70dd2-75cd-aca5-1776-9660b059d8bc", 400, 400, 1, 1, "hvm",
                           ["00:16:3e:1b:b1:47"], ["xenbr0"], [""], ["/root/foo.img"], True),
    "sexpr2xml-net-bridged.sexpr": (6, "pvtest", PVTEST_UUID, 420, 420, 2, 2, "pv", ["00:11:22:33:44:55"], ["xenbr2"],
                                    [""], ["/root/some.img"], False),
    "sexpr2xml-pci-devs.sexpr": (6, "pvtest", PVTEST_UUID, 420, 420, 2, 2, "pv", [], [], [], ["/dev/MainVG/GuestVG"],
                                 False),
    "sexpr2xml-pv-vcpus.sexpr": (6, "pvtest", PVTEST_UUID, 420, 420, 2, 4, "pv", [], [], [], ["/root/some.img"], False),
}


@pytest.mark.parametrize("name,expected", sorted(XM_SXP.items()))
def test_xm_sxp_records(corpus, name, expected):
    (domain,) = sxp.domains_from_sxp(sxp_file(corpus, name))
    got = (domain["domid"], domain["name"], domain["uuid"], domain["memory"], domain["maxmem"], domain["vcpus"],
           domain["max_vcpus"], domain["type"], [v["mac"] for v in domain["vifs"]],
           [v["bridge"] for v in domain["vifs"]], [v["ip"] for v in domain["vifs"]], domain["disks"],
           domain["vnc"]["enabled"])
    assert got == expected


def test_every_xm_sxp_file_is_covered(corpus):
    assert {p.name for p in (pathlib.Path(corpus) / "libvirt-configs/xm-sxp").iterdir()} == set(XM_SXP)


def test_the_unbalanced_corpus_record(corpus):
    text = sxp_file(corpus, "sexpr2xml-bridge-ipaddr.sexpr")
    assert sxp.sxp_balance(text) == 1  # its last ")" is missing
    with pytest.raises(ToolstackError):
        sxp.parse_sxp(text, strict=True)
    (domain,) = sxp.domains_from_sxp(text)
    assert domain["vifs"][0]["script"] == "vif-bridge"  # the last device was still read


def test_curmem_details(corpus):
    (domain,) = sxp.domains_from_sxp(sxp_file(corpus, "sexpr2xml-curmem.sexpr"))
    assert domain["state"] == "-b----" and domain["time"] == pytest.approx(137.189121425)
    assert domain["bootloader"] == "/usr/bin/pygrub"
    assert domain["cmdline"] == "ro root=/dev/VolGroup00/LogVol00 rhgb quiet"
    assert domain["disk_devices"] == [{"path": "/xen/rhel5.img", "vdev": "xvda", "format": "", "backend": "tap",
                                       "readwrite": True, "cdrom": False}]
    # (vncunused 1): the port is chosen at run time; "(display localhost:10.0)" is X11's, not VNC's
    assert domain["vnc"] == {"enabled": True, "listen": "", "display": None, "findunused": True, "port": None}
    assert (domain["on_poweroff"], domain["on_reboot"], domain["on_crash"]) == ("destroy", "restart", "restart")


def test_fv_details(corpus):
    (domain,) = sxp.domains_from_sxp(sxp_file(corpus, "sexpr2xml-fv.sexpr"))
    assert domain["kernel"] == "/usr/lib/xen/boot/hvmloader"
    assert domain["disk_devices"][0]["vdev"] == "hda"
    assert domain["vifs"][0]["nictype"] == "ioemu"
    assert domain["state"] == ""  # a config record: no run-time state


def test_pv_vcpus_mask(corpus):
    (domain,) = sxp.domains_from_sxp(sxp_file(corpus, "sexpr2xml-pv-vcpus.sexpr"))
    assert (domain["vcpus"], domain["max_vcpus"]) == (2, 4)  # vcpu_avail 3 = 0b11


def test_ganeti_xm_list_long(corpus):
    text = (pathlib.Path(corpus) / "list-output/ganeti/xen-xl-list-long-4.0.1.txt").read_text(encoding="utf-8")
    dom0, instance = sxp.domains_from_sxp(text)
    assert (dom0["domid"], dom0["name"], dom0["uuid"], dom0["memory"], dom0["vcpus"], dom0["max_vcpus"]) == (
        0, "Domain-0", "00000000-0000-0000-0000-000000000000", 1023, 1, 24)
    assert dom0["state"] == "r-----" and dom0["time"] == pytest.approx(184000.41332)
    assert (instance["domid"], instance["name"], instance["uuid"]) == (
        119, "instance1.example.com", "e430b4b8-dc91-9390-dfe0-b83c138ea0aa")
    assert (instance["memory"], instance["maxmem"], instance["state"]) == (128, 128, "-b----")
    assert instance["vifs"][0]["mac"] == "aa:00:00:30:8d:9d" and instance["vifs"][0]["bridge"] == "xen-br0"
    assert instance["disks"] == ["/var/run/ganeti/instance-disks/instance1.example.com:0"]
    assert (instance["kernel"], instance["cmdline"]) == ("/boot/vmlinuz-ganetixenu", "root=/dev/xvda1 ro")


def test_vfb_location_gives_the_port():
    text = "(domain (domid 4)(name x)(device (vfb (type vnc)(vncunused 1)(location 127.0.0.1:5903))))"
    (domain,) = sxp.domains_from_sxp(text)
    assert domain["vnc"]["port"] == 5903
    fixed = "(domain (domid 4)(name x)(image (hvm (vnc 1)(vncunused 0)(vncdisplay 7))))"
    assert sxp.domains_from_sxp(fixed)[0]["vnc"]["port"] == 5907
    by_domid = "(domain (domid 4)(name x)(image (hvm (vnc 1)(vncunused 0))))"
    assert sxp.domains_from_sxp(by_domid)[0]["vnc"]["port"] == 5904  # xend: display = domid


def test_non_domain_expressions_are_ignored():
    assert sxp.domains_from_sxp("(xend (version 3))(domain (name a))")[0]["name"] == "a"
