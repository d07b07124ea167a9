"""xenctys.cfgsyntax: the xl grammar, the literal subset of xm (Python) configs, #@# lines."""

import pytest

from xenctys.cfgsyntax import (
    MAX_VALUE_SIZE,
    MAX_WARNINGS,
    SYNTAX_XL,
    SYNTAX_XM,
    CtysLine,
    parse_number,
    parse_text,
    scan_ctys_lines,
)
from xenctys.errors import ConfigError

PATH = "/etc/xen/vm.cfg"


def settings_of(text):
    return parse_text(text, PATH).settings


# --- xl grammar ----------------------------------------------------------------------------------


def test_xl_both_quote_styles_numbers_and_comments():
    parsed = parse_text(
        "name = 'single'   # a comment after the value\n"
        'kernel="double"\n'
        "memory = 512\n"
        "octal = 010\n"
        "hex = 0x1F\n"
        "# a whole-line comment\n",
        PATH,
    )
    assert parsed.syntax == SYNTAX_XL
    assert parsed.settings == {"name": "single", "kernel": "double", "memory": 512, "octal": 8, "hex": 31}
    assert parsed.lines == {"name": 1, "kernel": 2, "memory": 3, "octal": 4, "hex": 5}
    assert parsed.warnings == []


def test_xl_semicolon_separators():
    assert settings_of('name="h0"; type="hvm";memory=64\n') == {"name": "h0", "type": "hvm", "memory": 64}


def test_xl_multiline_lists_trailing_commas_nesting_and_comments_inside():
    parsed = parse_text(
        "disk = [ 'phy:/dev/vg/a,xvda,w',   # first disk\n"
        "         'phy:/dev/vg/b,xvdb,w',\n"
        "\n"
        "       ]\n"
        "vif = []\n"
        "nested = [ [ 1, 'a' ], [], ]\n"
        "name = 'after'\n",
        PATH,
    )
    assert parsed.settings["disk"] == ["phy:/dev/vg/a,xvda,w", "phy:/dev/vg/b,xvdb,w"]
    assert parsed.settings["vif"] == []
    assert parsed.settings["nested"] == [[1, "a"], []]
    assert parsed.lines["name"] == 7  # lines keep counting inside lists


def test_xl_last_assignment_wins_like_xl_and_plus_equals_appends():
    parsed = parse_text("name = 'a'\nname = 'b'\nvif = ['x']\nvif += ['y']\nextra = 'q'\nextra += ' s'\n", PATH)
    assert parsed.settings == {"name": "b", "vif": ["x", "y"], "extra": "q s"}
    assert parsed.lines["name"] == 2


def test_xl_double_quoted_escapes_as_libxlu_dequotes_them():
    assert settings_of(r'a = "x\"y\\z\tq\x41\101"') == {"a": 'x"y\\z\tqAA'}
    assert settings_of(r"b = 'c:\\d'") == {"b": "c:\\d"}


def test_xl_keys_with_dots_and_no_trailing_newline():
    assert settings_of('vif.default.backend="0"') == {"vif.default.backend": "0"}


def test_empty_and_comment_only_files_are_xl_without_settings():
    for text in ("", "\n\n", "# only a comment\n#another"):
        parsed = parse_text(text, PATH)
        assert (parsed.syntax, parsed.settings) == (SYNTAX_XL, {})


def test_crlf_line_ends():
    assert settings_of("name = 'a'\r\nmemory = 1\r\n") == {"name": "a", "memory": 1}


@pytest.mark.parametrize(
    "text, line, fragment",
    [
        ("name = 'a'\nmemory = 1024M\n", 2, "expected end of line"),
        ("name = 'a'\n\nkernel = \n", 3, "expected a value"),
        ("name = 'unterminated\n", 1, "unterminated string"),
        ("= 1\n", 1, "expected a key, found '='"),
        ("name = 'a'\n(xend-relocation-server yes)\n", 2, "unexpected character '('"),
        ("a = [1, 2\n", 1, "expected ',' or ']', found end of file"),
        ("name = 'a' + 'b'\nmemory = 1 +\n", 2, "invalid syntax (Python)"),  # Python got further
    ],
)
def test_text_that_is_neither_xl_nor_python_is_one_config_error(text, line, fragment):
    with pytest.raises(ConfigError) as caught:
        parse_text(text, PATH)
    error = caught.value
    assert (error.path, error.line) == (PATH, line)
    assert fragment in error.reason
    assert str(error).startswith(f"{PATH}:{line}: neither xl nor xm syntax: ")
    assert "\n" not in str(error)


def test_lists_nested_too_deeply_are_an_error_not_a_crash():
    with pytest.raises(ConfigError):
        parse_text("a = " + "[" * 5000 + "]" * 5000, PATH)


def test_parse_number_reads_like_strtol_base_0():
    assert [parse_number(t) for t in ("0", "12", "010", "0x1f", "-7", "1e5")] == [0, 12, 8, 31, -7, "1e5"]


# --- xm: the literal subset of Python ------------------------------------------------------------


def test_xm_string_concatenation_and_names_assigned_earlier():
    parsed = parse_text(
        "arch_libdir = 'lib'\n"
        "device_model = '/usr/' + arch_libdir + '/xen/bin/qemu-dm'\n"
        "disk = ['phy:a,xvda,w'] + ['phy:b,xvdb,w']\n"
        "name = 'vm' 'one'\n",  # implicit concatenation is Python-only
        PATH,
    )
    assert parsed.syntax == SYNTAX_XM
    assert parsed.settings["device_model"] == "/usr/lib/xen/bin/qemu-dm"
    assert parsed.settings["disk"] == ["phy:a,xvda,w", "phy:b,xvdb,w"]
    assert parsed.settings["name"] == "vmone"
    assert parsed.warnings == []


def test_xm_percent_formatting_of_literals():
    settings = settings_of(
        "vmid = 3\n"
        'name = "VM%d" % vmid\n'
        "disk = ['phy:sda%d,sda1,w' % (7 + vmid)]\n"
        'extra = "%s-%02d %r" % ("a", 5, "q")\n'
        "memory = 2 * 1024 - 512\n"
        "neg = -1\n"
    )
    assert settings["name"] == "VM3"
    assert settings["disk"] == ["phy:sda10,sda1,w"]
    assert settings["extra"] == "a-05 'q'"
    assert settings["memory"] == 1536
    assert settings["neg"] == -1


def test_xm_tuples_become_lists_and_constants_are_kept():
    settings = settings_of("cpus = ('2', '3')\nacpi = True\nmaybe = None\nratio = 0.5\nx = 1; y = x\n")
    assert settings == {"cpus": ["2", "3"], "acpi": True, "maybe": None, "ratio": 0.5, "x": 1, "y": 1}


def test_xm_triple_quoted_strings():
    assert settings_of('disk = [ """phy:/dev/HostVG/XenGuest\'",hdb,w""" ]\n') == {
        "disk": ["phy:/dev/HostVG/XenGuest'\",hdb,w"]}


@pytest.mark.parametrize(
    "statement, reason",
    [
        ("import os", "import"),
        ("from os import path", "import"),
        ("def f(x):\n    return x", "function definition 'f'"),
        ("class C:\n    pass", "class definition 'C'"),
        ("if vmid:\n    name = 'x'", "if block"),
        ("for i in [1]:\n    pass", "for loop"),
        ("xm_vars.check()", "call of xm_vars.check"),
        ("name = vmid", "assignment to 'name': 'vmid' is not a literal assigned earlier"),
        ("arch = os.uname()[4]", "assignment to 'arch': subscript os.uname()[4]"),
        ("kernel = os.path.join('a', 'b')", "assignment to 'kernel': call of os.path.join"),
        ("kernel = os.sep + ''", "assignment to 'kernel': attribute access os.sep"),
        ("kernel = 'x' * 3", "assignment to 'kernel': str * int"),
        ("os.name = 'x' + 'y'", "assignment to attribute access os.name"),
        ("a, b = 1, 2", "assignment to Tuple expression"),
        ("kernel = f'{1}'", "assignment to 'kernel': JoinedStr expression"),
        ("kernel = b'bytes'", "assignment to 'kernel': bytes constant"),
        ("memory = 2 ** 10", "assignment to 'memory': operator Pow"),
        ("memory = 1 << 100", "assignment to 'memory': operator LShift"),
        ("memory = 99999999999999999999999 + 1", "assignment to 'memory': number with more than 64 bits"),
        ("del memory", "del statement"),
    ],
)
def test_xm_statements_outside_the_literal_subset_are_skipped_with_a_warning(statement, reason):
    parsed = parse_text("memory = 64\n" + statement + "\nname = 'after'\n", PATH)
    assert parsed.syntax == SYNTAX_XM
    assert parsed.warnings == [f"{PATH}:2: skipped: {reason}"]
    assert parsed.settings["name"] == "after"  # the rest of the file is still read


def test_xm_a_skipped_statement_forgets_the_names_it_could_rebind():
    parsed = parse_text(
        "name = 'old'\nkernel = 'k'\nmemory = 64\n"
        "name = make_name()\n"  # name now holds something we cannot know
        "def kernel():\n    pass\n"
        "import memory\n"
        "ramdisk = name\n",
        PATH,
    )
    assert parsed.settings == {}
    assert [w.split(": ", 1)[0] for w in parsed.warnings] == [f"{PATH}:{n}" for n in (4, 5, 7, 8)]


def test_xm_names_local_to_a_skipped_function_are_not_forgotten_but_globals_are():
    parsed = parse_text(
        "name = 'vm'\nkernel = 'k'\nmemory = 64\n"
        "def helper(memory=1):\n    name = 'local'\n    global kernel\n    kernel = 'other'\n"
        "class Holder:\n    name = 'attribute'\n",
        PATH,
    )
    assert parsed.settings == {"name": "vm", "memory": 64}


def test_xm_star_import_may_rebind_anything():
    parsed = parse_text("name = 'vm'\nfrom os import *\nmemory = 64\n", PATH)
    assert parsed.settings == {"memory": 64}
    assert parsed.warnings == [f"{PATH}:2: skipped: import"]


def test_xm_percent_format_that_would_blow_up_is_skipped():
    parsed = parse_text("a = '%0999999999d' % 1\nb = '%*d' % (999999999, 1)\nc = '%c' % 99999999\n"
                        "d = '%d %d' % (1,)\ne = 'ok'\n", PATH)
    assert parsed.settings == {"e": "ok"}
    assert len(parsed.warnings) == 4


def test_xm_values_that_grow_without_bound_are_skipped():
    text = "s = '" + "y" * 1000 + "'\n" + "s = s + s\n" * 40 + "t = s + ''\nname = 'end'\n"
    parsed = parse_text(text, PATH)
    # 1000 * 2**6 characters still fit; the 7th doubling is skipped, and with it s is gone.
    assert f"{PATH}:8: skipped: assignment to 's': value larger than {MAX_VALUE_SIZE} characters" in parsed.warnings
    assert "s" not in parsed.settings and "t" not in parsed.settings
    assert parsed.settings["name"] == "end"


def test_xm_warnings_are_capped_per_file():
    parsed = parse_text("name = 'a' + 'b'\n" + "f()\n" * (MAX_WARNINGS + 5), PATH)
    assert len(parsed.warnings) == MAX_WARNINGS + 1
    assert parsed.warnings[-1] == f"{PATH}:{MAX_WARNINGS + 6}: skipped: 5 more statements"


def test_xm_deeply_nested_lists_are_skipped_not_a_crash():
    text = "a = 1\n" + "a = [a]\n" * 100 + "name = 'end'\n"
    parsed = parse_text(text, PATH)
    assert parsed.settings["name"] == "end"
    assert any("nested too deeply" in warning for warning in parsed.warnings)


# --- ctys #@# lines ------------------------------------------------------------------------------


def test_scan_ctys_lines_keys_quotes_and_line_numbers():
    text = (
        "#@#MAGICID-XEN\n"
        'name = "tst100"\n'
        '#@#IP = "192.168.1.220"\n'
        "#@#DIST = 'CentOS'   # trailing comment\n"
        "\t #@#OSREL=2.6.18  # unquoted, up to the comment\n"
        "# #@#NOTAKEY = 'x'\n"  # ctys needs #@# at the start of the line
        "#@#EMPTY = ''\n"
    )
    keys, markers = scan_ctys_lines(text)
    assert keys == [CtysLine("IP", "192.168.1.220", 3), CtysLine("DIST", "CentOS", 4),
                    CtysLine("OSREL", "2.6.18", 5), CtysLine("EMPTY", "", 7)]
    assert markers == [("MAGICID-XEN", 1)]


def test_magic_markers_anywhere_in_a_line_like_enumfilter_awk():
    text = "name = 'x'  #@#MAGICID-IGNORE\n\n# old: #@#MAGICID-NOENUM\n#@#MAGICID-XEN\n#@#MAGICID-Linux\n"
    assert scan_ctys_lines(text)[1] == [("MAGICID-IGNORE", 1), ("MAGICID-NOENUM", 3), ("MAGICID-XEN", 4)]


def test_parse_text_attaches_ctys_lines_for_both_syntaxes():
    for text in ("#@#LABEL = 'l'\nname = 'x'\n", "#@#LABEL = 'l'\nname = 'x' + 'y'\n"):
        parsed = parse_text(text, PATH)
        assert parsed.ctys == [CtysLine("LABEL", "l", 1)]
