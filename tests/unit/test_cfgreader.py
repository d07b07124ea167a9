"""xenctys.cfgreader.read_config: the corpus, typed fields, secrets, limits, and that nothing runs."""

import os
import subprocess
import sys
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xenctys.cfgreader import parse_spec, read_config, redact
from xenctys.cfgsyntax import parse_text
from xenctys.domconfig import DomUConfig, IPEntry, Vif
from xenctys.errors import ConfigError, XenError

# --- every corpus config: parsed with these identities, or rejected on this line -----------------

GUEST1 = ("XenGuest1", "45b60f51-88a9-47a8-a3b3-5e66d71b2283", ["5a:36:0e:be:00:09"])
GUEST2 = ("XenGuest2", "c7a5fdb2-cdaf-9455-926a-d65c16db1809", ["00:16:3e:66:92:9c"])
GUEST2_NO_VIF = ("XenGuest2", "c7a5fdb2-cdaf-9455-926a-d65c16db1809", [])
XM_GUEST1 = ("XenGuest1", "c7a5fdb0-cdaf-9455-926a-d65c16db1809", ["00:16:3e:66:94:9c"])
XM_TEST = ("test", "cc2315e7-d26a-307a-438c-6d188ec4c09c", ["00:16:3e:0a:7b:39"])
NO_IDENTITY = ("", "", [])  # no name/uuid/MAC written: xl generates them, or xm computed them

# relative path -> (label, uuid, MACs); read by eye from each file.
EXPECTED = {
    "xen-configs/xl.conf": NO_IDENTITY,  # xl's global settings: all commented out, valid xl, no DomU
    "xen-configs/xlexample.hvm": ("example.hvm", "", []),
    "xen-configs/xlexample.pvhlinux": ("example.pvhlinux", "", []),
    "xen-configs/xlexample.pvlinux": ("example.pvlinux", "", []),
    "xen-configs/xmexample": NO_IDENTITY,  # name = "VM%d" % vmid: vmid comes from xm_vars
    "xen-configs/xmexample.hvm": ("ExampleHVMDomain", "", []),
    "xen-configs/xmexample.hvm-dm": NO_IDENTITY,  # a stub-domain fragment without a name
    "xen-configs/xmexample.hvm-stubdom": ("xmexample.hvm", "", []),
    "xen-configs/xmexample.nbd": ("nbd4", "", []),
    "xen-configs/xmexample.pv-grub": ("ExampleDomain", "", []),
    "xen-configs/xmexample.vti": ("ExampleVTIDomain", "", []),
    "xen-configs/xmexample1": ("ExampleDomain", "", []),
    "xen-configs/xmexample2": NO_IDENTITY,
    "xen-configs/xmexample3": NO_IDENTITY,
    "libvirt-configs/xl/test-channel-unix.cfg": GUEST1,
    "libvirt-configs/xl/test-disk-positional-parms-full.cfg": GUEST2,
    "libvirt-configs/xl/test-disk-positional-parms-partial.cfg": GUEST2,
    "libvirt-configs/xl/test-fullvirt-multiserial.cfg": GUEST2,
    "libvirt-configs/xl/test-fullvirt-ovmf.cfg": GUEST2,
    "libvirt-configs/xl/test-fullvirt-ovswitch-tagged.cfg": GUEST2,
    "libvirt-configs/xl/test-fullvirt-pci.cfg": GUEST2_NO_VIF,
    "libvirt-configs/xl/test-fullvirt-type.cfg": GUEST2_NO_VIF,
    "libvirt-configs/xl/test-net-fakemodel.cfg": GUEST2,
    "libvirt-configs/xl/test-new-disk.cfg": GUEST2,
    "libvirt-configs/xl/test-paravirt-cmdline-extra-root.cfg": GUEST2,
    "libvirt-configs/xl/test-paravirt-cmdline.cfg": GUEST2,
    "libvirt-configs/xl/test-paravirt-e820_host.cfg": GUEST1,
    "libvirt-configs/xl/test-paravirt-maxvcpus.cfg": GUEST1,
    "libvirt-configs/xl/test-paravirt-type.cfg": GUEST2_NO_VIF,
    "libvirt-configs/xl/test-pvh-type.cfg": GUEST2_NO_VIF,
    "libvirt-configs/xl/test-rbd-multihost-noauth.cfg": GUEST2,
    "libvirt-configs/xl/test-spice-features.cfg": GUEST2,
    "libvirt-configs/xl/test-usbctrl.cfg": GUEST1,
    "libvirt-configs/xl/test-vif-multi-ip.cfg": GUEST2,
    "libvirt-configs/xl/test-vif-rate.cfg": GUEST2,
    "libvirt-configs/xl/test-vif-typename.cfg": GUEST2,
    "libvirt-configs/xm/sexpr2xml-pv-bootloader.cfg": ("pvtest", "596a5d21-71f4-8fb2-e068-e2386a5c413e", []),
    "libvirt-configs/xm/test-disk-drv-blktap2-raw.cfg": XM_GUEST1,
    "libvirt-configs/xm/test-escape-paths.cfg": ("XenGuest2&test", GUEST2[1], GUEST2[2]),
    "libvirt-configs/xm/test-fullvirt-localtime.cfg": GUEST2,
    "libvirt-configs/xm/test-fullvirt-net-netfront.cfg": GUEST2,
    "libvirt-configs/xm/test-fullvirt-new-cdrom.cfg": GUEST2,
    "libvirt-configs/xm/test-fullvirt-serial-tcp-telnet.cfg": GUEST2,
    "libvirt-configs/xm/test-fullvirt-usbtablet.cfg": GUEST2,
    "libvirt-configs/xm/test-no-source-cdrom.cfg": XM_TEST,
    "libvirt-configs/xm/test-paravirt-extra-root.cfg": XM_GUEST1,
    "libvirt-configs/xm/test-paravirt-maxvcpus.cfg": XM_GUEST1,
    "libvirt-configs/xm/test-paravirt-net-e1000.cfg": XM_GUEST1,
    "libvirt-configs/xm/test-paravirt-net-vifname.cfg": XM_GUEST1,
    "libvirt-configs/xm/test-paravirt-new-pvfb-vncdisplay.cfg": XM_GUEST1,
    "libvirt-configs/xm/test-paravirt-root.cfg": XM_GUEST1,
    "libvirt-configs/xm/test-paravirt-vcpu.cfg": XM_GUEST1,
    "libvirt-configs/xm/test-pci-dev-syntax.cfg": XM_TEST,
    "libvirt-configs/xm/test-pci-devs.cfg": XM_TEST,
}
# Files that need Python to parse (everything else is plain xl syntax, whatever the folder says).
XM_SYNTAX = {"xen-configs/xmexample", "xen-configs/xmexample.vti", "xen-configs/xmexample2",
             "xen-configs/xmexample3", "libvirt-configs/xm/test-escape-paths.cfg"}
# relative path -> (line, reason): not DomU configs, and neither xl nor Python.
REJECTED = {
    "xen-configs/sysconfig.xendomains.in": (56, "neither xl nor xm syntax: unexpected character '@' (xl)"),  # shell
    "xen-configs/xend-config.sxp": (65, "neither xl nor xm syntax: unexpected character '(' (xl)"),  # SXP
}
CORPUS_FOLDERS = ("xen-configs", "libvirt-configs/xl", "libvirt-configs/xm")


def test_the_tables_cover_every_corpus_config(corpus):
    found = {f"{folder}/{name}" for folder in CORPUS_FOLDERS for name in os.listdir(corpus / folder)}
    assert found == set(EXPECTED) | set(REJECTED)


@pytest.mark.parametrize("relpath", sorted(EXPECTED))
def test_corpus_config_parses_with_its_identity(corpus, relpath):
    config = read_config(str(corpus / relpath))
    assert (config.label, config.uuid, config.macs) == EXPECTED[relpath]
    assert config.syntax == ("xm" if relpath in XM_SYNTAX else "xl")
    assert config.path == str(corpus / relpath)
    assert config.sources == [config.path]
    assert config.size == os.path.getsize(config.path) and config.mtime > 0
    assert all(w.startswith(f"{config.path}:") for w in config.warnings)


@pytest.mark.parametrize("relpath", sorted(REJECTED))
def test_corpus_non_config_is_rejected_in_one_line(corpus, relpath):
    with pytest.raises(ConfigError) as caught:
        read_config(str(corpus / relpath))
    line, reason = REJECTED[relpath]
    assert str(caught.value) == f"{corpus / relpath}:{line}: {reason}"


def test_xmexample2_dynamic_lines_are_skipped_and_the_rest_is_read(corpus):
    config = read_config(str(corpus / "xen-configs/xmexample2"))
    path = config.path
    assert config.warnings == [
        f"{path}:23: skipped: function definition 'vmid_check'",
        f"{path}:30: skipped: call of xm_vars.var",
        f"{path}:35: skipped: call of xm_vars.check",
        f"{path}:56: skipped: assignment to 'name': 'vmid' is not a literal assigned earlier",
        f"{path}:102: skipped: assignment to 'disk': 'vmid' is not a literal assigned earlier",
        f"{path}:166: skipped: assignment to 'extra': 'vmid' is not a literal assigned earlier",
    ]
    assert (config.kernel, config.memory, config.vcpus, config.type) == ("/boot/vmlinuz-2.6.10-xenU", 64, 4, "pv")
    assert config.vifs == [Vif(index=0, spec="")]
    assert config.disks == []  # computed from vmid: unknown
    assert config.cmdline == "root=/dev/sda1 ro"  # extra was computed, root is literal


def test_xmexample3_keeps_its_literal_network_keys(corpus):
    config = read_config(str(corpus / "xen-configs/xmexample3"))
    assert [int(w.split(":")[1]) for w in config.warnings] == [23, 30, 35, 56, 67, 75, 88, 133, 137, 139, 152]
    assert config.kernel == "/path/to/domU/kernel"
    assert {k: config.raw[k] for k in ("dhcp", "netmask", "memory")} == {
        "dhcp": "off", "netmask": "255.255.255.0", "memory": 64}
    assert "ip" not in config.raw and "vif" not in config.raw


def test_xmexample_vti_concatenates_a_literal_name_and_skips_os(corpus):
    config = read_config(str(corpus / "xen-configs/xmexample.vti"))
    assert config.raw["device_model"] == "/usr/lib/xen/bin/qemu-dm"
    assert "arch" not in config.raw
    assert (config.type, config.memory, config.vnc) == ("hvm", 256, {"vnc": 0})
    assert config.raw["vncpasswd"] == ""  # an empty password is no secret and stays visible
    assert config.disks == ["file:/var/images/xenia64.img,hda,w", ",hdc:cdrom,r"]


def test_libvirt_xm_triple_quoted_disk_and_redacted_vnc_password(corpus):
    config = read_config(str(corpus / "libvirt-configs/xm/test-escape-paths.cfg"))
    assert config.disks == ["phy:/dev/HostVG/XenGuest2,hda,w", "phy:/dev/HostVG/XenGuest'\",hdb,w",
                            "file:/root/boot.iso&test,hdc:cdrom,r"]
    assert config.raw["vncpasswd"] == "***"
    assert config.vnc == {"vnc": 1, "vncunused": 1, "vnclisten": "127.0.0.1"}
    assert (config.type, config.kernel) == ("hvm", "/usr/lib/xen/boot/hvmloader&test")


def test_libvirt_pv_vfb_gives_the_vnc_settings_without_the_password(corpus):
    config = read_config(str(corpus / "libvirt-configs/xm/test-paravirt-new-pvfb-vncdisplay.cfg"))
    assert config.vnc == {"vnc": 1, "vncunused": 0, "vncdisplay": 25, "vnclisten": "127.0.0.1"}
    assert config.raw["vfb"] == ["type=vnc,vncunused=0,vncdisplay=25,vnclisten=127.0.0.1,vncpasswd=***"]
    assert "123poi" not in repr(config.to_dict())


def test_libvirt_spice_password_is_redacted(corpus):
    config = read_config(str(corpus / "libvirt-configs/xl/test-spice-features.cfg"))
    assert config.raw["spicepasswd"] == "***"
    assert "thebeast" not in repr(config.to_dict())


def test_libvirt_fields_of_a_full_hvm_config(corpus):
    config = read_config(str(corpus / "libvirt-configs/xl/test-vif-multi-ip.cfg"))
    assert config.vifs == [Vif(index=0, mac="00:16:3e:66:92:9c", bridge="xenbr1", ip="10.0.0.1 10.1.1.1 2000::1",
                               spec="mac=00:16:3e:66:92:9c,bridge=xenbr1,ip=10.0.0.1 10.1.1.1 2000::1,"
                                    "script=vif-bridge,type=vif")]
    assert (config.memory, config.maxmem, config.vcpus, config.type) == (394, 579, 1, "hvm")
    assert (config.on_poweroff, config.on_reboot, config.on_crash) == ("destroy", "restart", "restart")
    assert config.disks == ["format=raw,vdev=hda,access=rw,backendtype=phy,target=/dev/HostVG/XenGuest2"]


def test_libvirt_xl_escapes_in_double_quoted_strings(corpus):
    config = read_config(str(corpus / "libvirt-configs/xl/test-rbd-multihost-noauth.cfg"))
    assert config.disks[1].endswith(r"mon_host=mon1.example.org\:6321\;mon2.example.org\:6322\;mon3.example.org\:6322")


@pytest.mark.parametrize(
    "relpath, cmdline",
    [
        ("libvirt-configs/xl/test-paravirt-cmdline.cfg", "root=/dev/xvda1 console=hvc0"),
        ("libvirt-configs/xl/test-paravirt-cmdline-extra-root.cfg", "root=/dev/xvda1 console=hvc0"),
        ("libvirt-configs/xm/test-paravirt-root.cfg", "root=/dev/xvda2"),
        ("libvirt-configs/xm/test-paravirt-vcpu.cfg", "console=hvc0"),
        ("xen-configs/xmexample.pv-grub", "(hd0,0)/boot/grub/menu.lst"),
    ],
)
def test_cmdline_is_built_like_xl_builds_it(corpus, relpath, cmdline):
    assert read_config(str(corpus / relpath)).cmdline == cmdline


# --- synthetic configs ---------------------------------------------------------------------------


def write(folder, name, text):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return str(path)


TST100_CONF = """#@#MAGICID-XEN
name = "tst100"
memory = 1024
disk = [ 'tap:aio:/homen/acue/xen/tst-ctys/tst100/xvda.img,xvda,w', ]
vif = ['mac=00:50:56:13:11:40, bridge=xenbr0']
bootloader="/usr/bin/pygrub"
vcpus = 1
on_reboot = 'restart'
on_crash = 'restart'
dhcp="dhcp"
uuid="6842caf91e3e43249ed596b8b9f2c5c2"
vnc = 1
vncconsole = 1
vncunused = 1
"""
TST100_CTYS = """#@#MAGICID-IGNORE
#@#IP = "192.168.1.220"
#@#DIST = "CentOS"
#@#DISTREL = "5"
#@#OS = "Linux"
#@#OSREL = "2.6.18"
#@#SERNO = "20080427002200"
#@#CATEGORY = "VM"
"""


def test_the_seed_tst100_with_its_side_file(tmp_path):
    """Spec §8.5: the seed's tst100.conf and tst100.ctys, read together."""
    path = write(tmp_path, "tst100/tst100.conf", TST100_CONF)
    side = write(tmp_path, "tst100/tst100.ctys", TST100_CTYS)
    config = read_config(path)
    assert (config.label, config.uuid_hex, config.memory, config.vcpus) == (
        "tst100", "6842caf91e3e43249ed596b8b9f2c5c2", 1024, 1)
    assert config.vifs == [Vif(0, "00:50:56:13:11:40", "xenbr0", "", "mac=00:50:56:13:11:40, bridge=xenbr0")]
    assert config.disks == ["tap:aio:/homen/acue/xen/tst-ctys/tst100/xvda.img,xvda,w"]
    assert (config.bootloader, config.on_reboot, config.on_crash, config.on_poweroff) == (
        "/usr/bin/pygrub", "restart", "restart", "")
    assert config.vnc == {"vnc": 1, "vncconsole": 1, "vncunused": 1}
    assert config.magic == ["MAGICID-XEN"]  # the side file's IGNORE is about the side file
    assert config.ctys == {"IP": "192.168.1.220", "DIST": "CentOS", "DISTREL": "5", "OS": "Linux",
                           "OSREL": "2.6.18", "SERNO": "20080427002200", "CATEGORY": "VM"}
    assert config.ctys_ips == [IPEntry(0, "192.168.1.220")]
    assert config.ips == ["192.168.1.220"]
    assert config.sources == [path, side]
    assert config.raw["dhcp"] == "dhcp" and config.warnings == []


def test_label_and_uuid_fall_back_to_ctys_keys(tmp_path):
    path = write(tmp_path, "vm/vm.conf", "memory = 256\n#@#UUID = '06ed00fe-1162-4fc4-b5d8-11993ee4a8b9'\n")
    write(tmp_path, "vm/vm.ctys", '#@#LABEL = "fromside"\n#@#UUID = "ignored: the config said it first"\n')
    config = read_config(path)
    assert (config.label, config.uuid) == ("fromside", "06ed00fe-1162-4fc4-b5d8-11993ee4a8b9")
    assert read_config(path, sidecars=False).label == ""


def test_common_file_is_consulted_last_and_only_when_given(tmp_path):
    path = write(tmp_path, "vm/vm.conf", 'name = "vm"\n')
    common = write(tmp_path, "etc/vm.conf", '#@#DEFAULTCONSOLE = "VNC"\n')
    assert read_config(path, common_file=common).ctys == {"DEFAULTCONSOLE": "VNC"}
    assert read_config(path).ctys == {}


def test_magic_markers_of_the_config(tmp_path):
    path = write(tmp_path, "a.conf", "#@#MAGICID-NOENUM\nname = 'a'  #@#MAGICID-IGNORE\n#@#MAGICID-IGNORE\n")
    assert read_config(path).magic == ["MAGICID-NOENUM", "MAGICID-IGNORE"]


@pytest.mark.parametrize(
    "text, guest_type",
    [
        ("", "pv"),
        ("type = 'hvm'\n", "hvm"),
        ("type = 'PVH'\n", "pvh"),
        ("type = 'pv'\nbuilder = 'hvm'\n", "pv"),  # type= wins over the legacy key
        ("builder = 'hvm'\n", "hvm"),
        ("builder = 'generic'\n", "pv"),
        ("kernel = '/usr/lib/xen/boot/hvmloader'\n", "hvm"),
        ("kernel = '/boot/vmlinuz'\n", "pv"),
    ],
)
def test_guest_type(tmp_path, text, guest_type):
    assert read_config(write(tmp_path, "t.cfg", text)).type == guest_type


def test_xl_vfb_vnc_settings_and_top_level_keys_win(tmp_path):
    path = write(tmp_path, "v.cfg",
                 "vfb = [ 'type=sdl', 'vnc=1,vncunused=0,vncdisplay=3,vnclisten=0.0.0.0,vncpasswd=s3cret' ]\n"
                 "vnclisten = '127.0.0.1'\n")
    config = read_config(path)
    assert config.vnc == {"vnc": 1, "vncunused": 0, "vncdisplay": 3, "vnclisten": "127.0.0.1"}
    assert config.raw["vfb"][1] == "vnc=1,vncunused=0,vncdisplay=3,vnclisten=0.0.0.0,vncpasswd=***"
    assert "s3cret" not in repr(config.to_dict())


def test_password_like_keys_are_redacted_everywhere(tmp_path):
    path = write(tmp_path, "p.cfg", "vncpasswd = 'a'\nspicepasswd = 'b'\nmy_secret = 'c'\n"
                                    "#@#ROOT_PASSWORD = 'd'\nempty_passwd = ''\n")
    config = read_config(path)
    assert config.raw == {"vncpasswd": "***", "spicepasswd": "***", "my_secret": "***", "empty_passwd": ""}
    assert config.ctys == {"ROOT_PASSWORD": "***"}


@pytest.mark.parametrize("text", [
    "vfb = [ 'vnc=1,vnc\\x70asswd=s3cret' ]\n",  # an xl escape spells the word: not in the text as such
    "vfb = [ 'vnc=1,vncpa' \n 'sswd=s3cret' ]\n",  # no xl: the xm subset joins adjacent strings
    "k = 'vnc=1,vncpa'\nk += 'sswd=s3cret'\n",  # xl's += joins them
])
def test_secrets_built_from_pieces_are_redacted_too(tmp_path, text):
    """Values that are not verbatim pieces of the text are redacted one by one."""
    config = read_config(write(tmp_path, "p.cfg", text))
    assert "s3cret" not in repr(config.raw) and "***" in repr(config.raw), config.raw


def test_secret_words_in_any_case_are_found_in_a_literal_text(tmp_path):
    config = read_config(write(tmp_path, "p.cfg", "name = 'a'\nSpice_PassWD = 'x'\nvfb = [ 'VNCPASSWD=y' ]\n"))
    assert config.raw == {"name": "a", "Spice_PassWD": "***", "vfb": ["VNCPASSWD=***"]}


def test_a_text_without_secrets_keeps_every_value(tmp_path):
    text = "name = 'a'\nvif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0' ]\nmemory = 0x400\n"
    assert read_config(write(tmp_path, "a.cfg", text)).raw == {
        "name": "a", "vif": ["mac=00:16:3e:00:00:01,bridge=xenbr0"], "memory": 1024}


def test_redact_and_parse_spec_helpers():
    assert redact("vfb", ["vnc=1, vncpasswd=x ,keymap=de", "password=y"]) == [
        "vnc=1, vncpasswd=***,keymap=de", "password=***"]  # the value, blanks and all, is hidden
    assert redact("passthrough", "enabled") == "enabled"
    assert parse_spec(" mac=00:16:3e:00:00:01 , bridge = xenbr0,noequals,mac=last") == {
        "mac": "last", "bridge": "xenbr0"}


def test_a_malformed_vif_mac_is_a_warning_naming_file_and_line(tmp_path):
    path = write(tmp_path, "m.cfg",
                 "name = 'm'\nvif = [ 'mac=00:16:3E:00:00:01',\n  'mac=00:16:3e:zz:00:02,bridge=br1' ]\n")
    config = read_config(path)
    assert [(v.index, v.mac, v.bridge) for v in config.vifs] == [(0, "00:16:3e:00:00:01", ""), (1, "", "br1")]
    assert config.warnings == [f"{path}:2: vif: entry 1: malformed MAC '00:16:3e:zz:00:02': ignored"]


def test_numbers_as_strings_and_values_of_the_wrong_shape(tmp_path):
    path = write(tmp_path, "n.cfg",
                 "memory = '0x200'\nmaxmem = '1024'\nvcpus = 'two'\nname = ['a']\ndisk = 'phy:x,xvda,w'\n")
    config = read_config(path)
    assert (config.memory, config.maxmem, config.vcpus, config.label) == (512, 1024, None, "")
    assert config.disks == ["phy:x,xvda,w"]
    assert config.warnings == [f"{path}:4: name: expected a single value, found a list: ignored",
                               f"{path}:3: vcpus: expected a number, found 'two': ignored"]


def test_relative_paths_become_absolute_and_latin1_is_read(tmp_path, monkeypatch):
    write(tmp_path, "l.cfg", "name = 'caf\xe9'\n".encode("latin-1"))
    monkeypatch.chdir(tmp_path)
    config = read_config("l.cfg")
    assert (config.path, config.label) == (str(tmp_path / "l.cfg"), "caf\xe9")


def test_the_record_round_trips_through_a_dict(tmp_path):
    config = read_config(write(tmp_path, "tst100/tst100.conf", TST100_CONF))
    assert DomUConfig.from_dict(config.to_dict()) == config


# --- files that are no config at all -------------------------------------------------------------


def test_binary_file_is_rejected_naming_the_line(tmp_path):
    path = write(tmp_path, "b.cfg", b"name = 'x'\nmem\x00ory = 1\n")
    with pytest.raises(ConfigError, match=r"b\.cfg:2: binary file \(NUL byte\)"):
        read_config(path)


def test_too_large_file_is_rejected(tmp_path):
    path = write(tmp_path, "big.cfg", "name = 'x'\n" + "#" * 100 + "\n")
    assert read_config(path, max_bytes=112).label == "x"
    with pytest.raises(ConfigError, match=r"big\.cfg: larger than 111 bytes$"):
        read_config(path, max_bytes=111)


def test_missing_folder_and_fifo_are_rejected_without_hanging(tmp_path):
    with pytest.raises(ConfigError, match="not readable: no such file"):
        read_config(str(tmp_path / "missing.cfg"))
    with pytest.raises(ConfigError, match="not a regular file"):
        read_config(str(tmp_path))
    os.mkfifo(tmp_path / "fifo.cfg")
    with pytest.raises(ConfigError, match="not a regular file"):
        read_config(str(tmp_path / "fifo.cfg"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_is_rejected(tmp_path):
    path = write(tmp_path, "secret.cfg", "name = 'x'\n")
    os.chmod(path, 0)
    with pytest.raises(ConfigError, match="not readable: Permission denied"):
        read_config(path)


# --- nothing in a config file is ever executed ---------------------------------------------------

# Each payload would create the marker file if Python ran it (checked below by really running it in
# a child process); (text with {m} for the marker path, line the reader must name in a warning).
PAYLOADS = {
    "os.system": ("import os\nos.system('touch ' + {m})\n", 2),
    "open": ("name = 'x'\nopen({m}, 'w').close()\n", 2),
    "__import__": ("__import__('os').system('touch ' + {m})\n", 1),
    "exec": ("exec('open(' + repr({m}) + ', \"w\")')\n", 1),
    "eval": ("name = eval('open(' + repr({m}) + ', \"w\").name')\n", 1),
    "def then call": ("def side_effect():\n    open({m}, 'w').close()\n    return 'x'\nname = side_effect()\n", 4),
    "class body": ("class Touch:\n    open({m}, 'w').close()\n", 1),
    "custom % operand": ("class Touch:\n    def __str__(self):\n        open({m}, 'w').close()\n"
                         "        return 'x'\nname = 'vm%s' % Touch()\n", 5),
    "call inside concatenation": ("name = 'vm' + str(open({m}, 'w').close())\n", 1),
    "comprehension": ("disk = [open({m}, 'w').close() for _ in range(1)]\n", 1),
    "f-string": ("name = f\"{{open({m}, 'w').close()}}\"\n", 1),
    "if block": ("if True:\n    open({m}, 'w').close()\n", 1),
    "with block": ("with open({m}, 'w'):\n    pass\n", 1),
    "lambda": ("name = (lambda: open({m}, 'w').close())()\n", 1),
    "default argument": ("def f(a=open({m}, 'w').close()):\n    pass\n", 1),
    "decorator": ("@open({m}, 'w').close\ndef f():\n    pass\n", 2),
    "walrus": ("name = (touched := open({m}, 'w').close())\n", 1),
    "from import": ("from os import system as name\nname('touch ' + {m})\n", 2),
    "builtins": ("memory = __builtins__['open']({m}, 'w')\n", 1),
}


@pytest.mark.parametrize("payload", sorted(PAYLOADS))
def test_config_code_is_never_run(tmp_path, payload):
    marker = tmp_path / "pwned"
    text, line = PAYLOADS[payload]
    path = write(tmp_path, "evil.cfg", text.format(m=repr(str(marker))))

    config = read_config(path)
    assert not marker.exists()
    assert any(warning.startswith(f"{path}:{line}: skipped: ") for warning in config.warnings), config.warnings

    # The control: the same file, really run by Python, does create the marker.
    runner = ("import sys\ntry:\n    exec(compile(open(sys.argv[1]).read(), sys.argv[1], 'exec'), {})\n"
              "except Exception:\n    pass\n")
    subprocess.run([sys.executable, "-c", runner, path], check=True, timeout=30, cwd=tmp_path)
    assert marker.exists()


# --- robustness: random input never raises anything but XenError ---------------------------------

CONFIG_PIECES = ["name", "vif", " = ", "=", "+=", " ", "'", '"', "[", "]", ",", ";", "\n", "# c", "#@#IP = '1%2'",
                 "#@#MAGICID-XEN", "%", "+", "-", "*", "(", ")", "0x1f", "010", "1e5", "7", "vmid", "import os",
                 "def f():\n  pass\n", "\\", "'a'", '"b"', '"""', "\t", ".", "**", "lambda: 0", ":", "{", "}",
                 "'mac=00:16:3e:00:00:01,bridge=br0'", "'vnc=1,vncpasswd=x'", "vfb", "memory", "type", "\x00",
                 "\r\n", "é", "if x:\n", "    "]
config_like_text = st.lists(st.sampled_from(CONFIG_PIECES), max_size=40).map("".join)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), config_like_text))
def test_parse_text_raises_only_xen_errors(text):
    try:
        parse_text(text, "fuzz.cfg")
    except XenError as err:
        assert "\n" not in str(err)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), config_like_text.map(lambda text: text.encode("utf-8"))))
def test_read_config_raises_only_xen_errors(data):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "fuzz.cfg")
        with open(path, "wb") as handle:
            handle.write(data)
        try:
            config = read_config(path, max_bytes=256)
        except XenError as err:
            assert "\n" not in str(err)
        else:
            assert DomUConfig.from_dict(config.to_dict()) == config
