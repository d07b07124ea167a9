"""xenctys.ctyskeys: #@# keys, #@#IP<n> entries, the .ctys side-file lookup order (spec §8)."""

import pytest

from xenctys.cfgsyntax import CtysLine
from xenctys.ctyskeys import (
    collect_ctys_keys,
    interface_index,
    ip_entries,
    parse_ip_value,
    sidecar_paths,
)
from xenctys.domconfig import IPEntry


@pytest.mark.parametrize(
    "key, prefix, index",
    [("IP", "IP", 0), ("IP0", "IP", 0), ("IP3", "IP", 3), ("IP12", "IP", 12), ("MAC", "MAC", 0),
     ("MAC2", "MAC", 2), ("MACHINE", "MAC", None), ("IPADDR", "IP", None), ("IP²", "IP", None),
     ("DIST", "IP", None)],
)
def test_interface_index(key, prefix, index):
    assert interface_index(key, prefix) == index


def test_parse_ip_value_the_manual_example():
    # [UM §33.7.4]: two addresses on interface 3.
    value = "11.0.0.1%255.255.255.0%xenbr0%eth3%222,11.0.1.0%255.255.255.0%xenbr1%eth3:1%223"
    assert parse_ip_value(3, value) == [
        IPEntry(3, "11.0.0.1", "255.255.255.0", "xenbr0", "eth3", "222", ""),
        IPEntry(3, "11.0.1.0", "255.255.255.0", "xenbr1", "eth3:1", "223", ""),
    ]


def test_parse_ip_value_partial_full_empty_and_extra_fields():
    assert parse_ip_value(0, "192.168.1.220") == [IPEntry(0, "192.168.1.220")]
    assert parse_ip_value(1, "10.0.0.2%255.0.0.0%%eth1%22%10.0.0.1") == [
        IPEntry(1, "10.0.0.2", "255.0.0.0", "", "eth1", "22", "10.0.0.1")]
    assert parse_ip_value(1, " , ,") == []
    assert parse_ip_value(2, "a%b%c%d%e%f%g%h") == [IPEntry(2, "a", "b", "c", "d", "e", "f")]


def test_ip_entries_are_ordered_by_interface():
    values = {"IP2": "10.0.0.3", "DIST": "CentOS", "IP": "10.0.0.1,10.0.0.11"}
    assert [(e.interface, e.ip) for e in ip_entries(values)] == [(0, "10.0.0.1"), (0, "10.0.0.11"), (2, "10.0.0.3")]


# --- side-file lookup order ----------------------------------------------------------------------


def test_sidecar_paths_follow_spec_8_1():
    assert sidecar_paths("/vm/tst100/tst100.conf", "/etc/ctys.d/vm.conf") == [
        "/vm/tst100/tst100.conf.ctys",  # ${X%.vdi}.ctys
        "/vm/tst100/tst100.ctys",  # ${X%.*}.ctys
        "/vm/tst100.ctys",  # ${X%/*}.ctys
        "/etc/ctys.d/vm.conf",  # the common file
    ]


def test_sidecar_paths_special_cases():
    assert sidecar_paths("/vm/d/disk.vdi") == ["/vm/d/disk.ctys", "/vm/d.ctys"]  # ${X%.vdi} = ${X%.*}
    assert sidecar_paths("/vm/d.x/noext") == ["/vm/d.x/noext.ctys", "/vm/d.x.ctys"]  # not "/vm/d.ctys"
    assert sidecar_paths("/vm/d/vm.ctys") == ["/vm/d/vm.ctys.ctys", "/vm/d.ctys"]  # never X itself
    assert sidecar_paths("/vm.conf") == ["/vm.conf.ctys", "/vm.ctys"]  # no "${X%/*}.ctys" = ".ctys"
    assert sidecar_paths("/vm/d/vm.conf", common_file=None)[-1] == "/vm/d.ctys"  # no common file


def _tree(tmp_path, files):
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(tmp_path / "tst100" / "tst100.conf")


def test_first_file_with_a_non_empty_value_wins_in_lookup_order(tmp_path):
    config = _tree(tmp_path, {
        "tst100/tst100.conf.ctys": '#@#A = "conf.ctys"\n#@#LABEL = ""\n',
        "tst100/tst100.ctys": '#@#A = "tst100.ctys"\n#@#B = "tst100.ctys"\n#@#LABEL = "from-ctys"\n',
        "tst100.ctys": '#@#B = "dir.ctys"\n#@#C = "dir.ctys"\n',
        "common/vm.conf": '#@#C = "common"\n#@#D = "common"\n',
    })
    config_lines = [CtysLine("A", "config", 3), CtysLine("E", "", 4)]
    keys = collect_ctys_keys(config, config_lines, common_file=str(tmp_path / "common" / "vm.conf"))
    assert keys.values == {"A": "config", "LABEL": "from-ctys", "B": "tst100.ctys", "C": "dir.ctys", "D": "common"}
    assert keys.origins["LABEL"] == (str(tmp_path / "tst100" / "tst100.ctys"), 3)
    assert keys.sources == [str(tmp_path / p) for p in
                            ("tst100/tst100.conf.ctys", "tst100/tst100.ctys", "tst100.ctys", "common/vm.conf")]
    assert keys.warnings == []


def test_side_files_are_read_line_by_line_not_parsed(tmp_path):
    side_text = 'WRAPPER=$(echo x) ; exec foo\n#@#DIST = "CentOS"\nif [ x ]; then\n'  # shell, not xl
    config = _tree(tmp_path, {"tst100/tst100.ctys": side_text})
    assert collect_ctys_keys(config, []).values == {"DIST": "CentOS"}


def test_without_sidecars_only_the_config_counts(tmp_path):
    config = _tree(tmp_path, {"tst100/tst100.ctys": '#@#DIST = "CentOS"\n'})
    keys = collect_ctys_keys(config, [CtysLine("OS", "Linux", 1)], sidecars=False)
    assert (keys.values, keys.sources) == ({"OS": "Linux"}, [])


def test_a_broken_side_file_is_a_warning_not_an_error(tmp_path):
    config = _tree(tmp_path, {"tst100.ctys": '#@#DIST = "x"\n', "tst100/tst100.conf": ""})
    (tmp_path / "tst100" / "tst100.ctys").write_bytes(b"#@#OS = 'y'\n\x00\x01binary")
    (tmp_path / "tst100" / "tst100.conf.ctys").mkdir()  # a folder where a file is looked for
    keys = collect_ctys_keys(config, [])
    assert keys.values == {"DIST": "x"}
    assert keys.sources == [str(tmp_path / "tst100.ctys")]
    assert sorted(w.split(": ", 1)[1] for w in keys.warnings) == [
        "binary file (NUL byte): not a config file: side file ignored",
        "not a regular file: side file ignored",
    ]


def test_missing_index_is_zero_and_a_redundant_index_keeps_the_first(tmp_path):
    config = _tree(tmp_path, {"tst100/tst100.ctys": '#@#IP0 = "10.0.0.9"\n#@#MAC = "00:16:3e:00:00:09"\n'})
    lines = [CtysLine("IP", "10.0.0.1%255.0.0.0", 5), CtysLine("MAC0", "00:16:3E:00:00:01", 6),
             CtysLine("IP1", "10.1.0.1", 7), CtysLine("IP", "10.0.0.2", 8)]
    keys = collect_ctys_keys(config, lines)
    assert keys.values == {"IP": "10.0.0.1%255.0.0.0", "MAC0": "00:16:3E:00:00:01", "IP1": "10.1.0.1"}
    assert [(e.interface, e.ip, e.netmask) for e in keys.ips] == [(0, "10.0.0.1", "255.0.0.0"), (1, "10.1.0.1", "")]
    side = str(tmp_path / "tst100" / "tst100.ctys")
    assert keys.warnings == [
        f"{config}:8: #@#IP repeated (line 5 wins)",
        f"{side}:1: #@#IP0 repeats interface 0 of #@#IP ({config}:5): ignored",
        f"{side}:2: #@#MAC repeats interface 0 of #@#MAC0 ({config}:6): ignored",
    ]


def test_a_malformed_mac_key_is_warned_about(tmp_path):
    config = _tree(tmp_path, {})
    keys = collect_ctys_keys(config, [CtysLine("MAC1", "00:16:3e:zz", 2), CtysLine("MACHINE", "x", 3)])
    assert keys.warnings == [f"{config}:2: #@#MAC1: malformed MAC '00:16:3e:zz'"]
