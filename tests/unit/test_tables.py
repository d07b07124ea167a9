"""ctys tables: TAB_TCP, tab_gen column specs with cut flags, macros."""

import pytest

from xenctys import tables
from xenctys.errors import XenError
from xenctys.records import ENUMERATE_FIELDS, LIST_FIELDS


def _row(**values):
    base = {key: "" for _, _, key in LIST_FIELDS}
    base.update(values)
    return base


SEED_ROWS = [
    _row(host="ws2.soho", label="tst100", sesstype="VNC", cstype="CLIENT", uid="acue", gid="ldapusers"),
    _row(host="ws2.soho", tcp="ws2.soho.", label="ws2", sesstype="PM", cstype="SERVER"),
    _row(host="ws2.soho", label="tst100", sesstype="SSH(XEN)", cstype="TUNNEL", uid="acue", gid="ldapusers",
         cport="5950"),
]


def test_tab_tcp_matches_the_seed_layout():
    text = tables.build_table("TAB_TCP", SEED_ROWS).render()
    assert text.splitlines() == [
        "TCP-container|TCP-guest|label |sesstype|c|user|group",
        "ws2.soho     |-        |tst100|VNC     |C|acue|ldapusers",
        "ws2.soho     |ws2.soho.|ws2   |PM      |S|-   |-",
        "ws2.soho     |-        |tst100|SSH(XEN)|T|acue|ldapusers",
    ]


def test_tab_tcp_is_the_default_and_truncates_to_column_width():
    row = _row(host="h" * 30, label="l" * 30, sesstype="XEN", cstype="odd")
    table = tables.build_table(None, [row])
    assert table.rows[0][0] == "h" * 17
    assert table.rows[0][2] == "l" * 20
    assert table.rows[0][4] == "?"


def test_tab_cport_macro_expands_to_the_manuals_columns():
    text = tables.expand_macros("macro:TAB_CPORT")
    assert text == "tab_gen:3_Label_10%%2_stype_8%%9_cport_5%%1_PM_15%%6_MAC_18%%7_TCP_15"
    table = tables.build_table("macro:TAB_CPORT", [_row(label="tst100", sesstype="XEN", cport="5900",
                                                         host="lab00.soho", mac="00:50:56:13:11:40")])
    assert table.headers == ["Label", "stype", "cport", "PM", "MAC", "TCP"]
    assert table.as_dicts() == [{"Label": "tst100", "stype": "XEN", "cport": "5900", "PM": "lab00.soho",
                                 "MAC": "00:50:56:13:11:40", "TCP": ""}]
    lines = table.render().splitlines()
    assert lines[0] == "Label     |stype   |cport|PM             |MAC               |TCP            "
    assert lines[1] == "----------+--------+-----+---------------+------------------+---------------"
    assert lines[2].startswith("tst100    |XEN     |5900 |lab00.soho     |00:50:56:13:11:40 |")


def test_bare_macro_name_and_braced_form_work():
    rows = [_row(label="a")]
    assert tables.build_table("TAB_CPORT", rows).headers == tables.build_table("{macro:TAB_CPORT}", rows).headers


def test_cut_flags_left_and_break():
    row = _row(id="/very/long/path/to/tst100/tst100.conf", label="abcdefghijkl")
    table = tables.build_table("tab_gen:4_ID_10_L%%3_label_5_B%%3_plain_4", [row])
    assert table.rows[0] == ["tst100.conf"[-10:], "abcde", "abcd"]
    assert table.rows[1] == ["", "fghij", ""]
    assert table.rows[2] == ["", "kl", ""]


def test_enumerate_indexes_reach_47_and_list_only_22():
    tables.parse_tab_gen("tab_gen:47_console_8", ENUMERATE_FIELDS)
    with pytest.raises(XenError, match="not in 1..22"):
        tables.parse_tab_gen("tab_gen:47_console_8", LIST_FIELDS)


@pytest.mark.parametrize("spec", ["tab_gen:", "tab_gen:x_y_3", "tab_gen:3_a_4_Q", "macro:NOPE", "fancy"])
def test_bad_specs_are_one_line_errors(spec):
    with pytest.raises(XenError) as err:
        tables.build_table(spec, [_row()])
    assert "\n" not in str(err.value)


def test_macro_recursion_is_bounded():
    with pytest.raises(XenError, match="recursion"):
        tables.expand_macros("macro:A", {"A": "macro:A"})


def test_user_macros_override_and_extend():
    macros = dict(tables.DEFAULT_MACROS, MINE="tab_gen:macro:F_LABEL%%macro:F_L_PID")
    table = tables.build_table("macro:MINE", [_row(label="tst100", pid="7")], macros=macros)
    assert table.as_dicts() == [{"label": "tst100", "pid": "7"}]
