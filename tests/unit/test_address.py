"""Machine addresses and suboptions (spec §2, §1.3.1, §1.4): every seed form, every refusal."""

import pickle

import pytest
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from xenctys.address import Address, expand_base_paths, parse_address, split_percent_list
from xenctys.errors import AddressError

TST100 = "/homen/acue/xen/tst-ctys/tst100/tst100.conf"


# --- every address form of the seed ------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("f:xen/tst-ctys/tst100/tst100.conf", Address(filename="xen/tst-ctys/tst100/tst100.conf")),
        ("f:tst-ctys/tst100/tst100.conf", Address(filename="tst-ctys/tst100/tst100.conf")),
        ("f:tst100/tst100.conf", Address(filename="tst100/tst100.conf")),
        (f"p:{TST100}", Address(pathname=TST100)),
        (f"i:{TST100}", Address(pathname=TST100)),
        (f"ID:{TST100}", Address(pathname=TST100)),
        (f"PNAME:{TST100}", Address(pathname=TST100)),
        (f"PathName:{TST100}", Address(pathname=TST100)),
        ("l:tst100", Address(label="tst100")),
        ("LABEL:tst100", Address(label="tst100")),
        ("u:6842caf91e3e43249ed596b8b9f2c5c2", Address(uuid="6842caf91e3e43249ed596b8b9f2c5c2")),
        ("UUID:6842CAF9-1E3E-4324-9ED5-96B8B9F2C5C2", Address(uuid="6842caf91e3e43249ed596b8b9f2c5c2")),
        ("m:00:50:56:13:11:40", Address(mac="00:50:56:13:11:40")),
        ("MAC:00-50-56-13-11-4A", Address(mac="00:50:56:13:11:4a")),
        ("t:192.168.1.220", Address(tcp="192.168.1.220")),
        ("TCP:ws2.soho", Address(tcp="ws2.soho")),
        ("t:2000:0::1", Address(tcp="2000::1")),
        ("fname:tst100.conf", Address(filename="tst100.conf")),
        ("l:tst100,b:xen%/etc/ctys.d", Address(label="tst100", base_paths=("xen", "/etc/ctys.d"))),
        ("BASEPATH:~/xen,L:tst100", Address(label="tst100", base_paths=("~/xen",))),
    ],
)
def test_seed_address_forms(text, expected):
    address, options = parse_address(text)
    assert address == expected
    assert options == {}


@pytest.mark.parametrize(
    "form",
    ["f:xen/tst-ctys/tst100/tst100.conf", "f:tst100/tst100.conf", f"p:{TST100}", f"i:{TST100}", "l:tst100",
     "u:6842caf91e3e43249ed596b8b9f2c5c2", "m:00:50:56:13:11:40", "t:192.168.1.220"],
)
def test_seed_connect_forms_carry_console_and_connect(form):
    address, options = parse_address(f"{form},CONSOLE:cli,connect", action="create")
    assert not address.is_empty()
    assert options == {"console": "cli", "mode": "connect"}


def test_keys_case_insensitive_values_keep_case():
    address, options = parse_address("L:TstVM,console:VNC", action="create")
    assert address.label == "TstVM"
    assert options == {"console": "vnc"}


def test_describe_is_canonical_and_reparses():
    address, _ = parse_address("M:00-50-56-13-11-40,L:tst100,b:/a%%b%/c")
    assert address.describe() == "l:tst100,m:00:50:56:13:11:40,b:/a%%b%/c"
    assert parse_address(address.describe())[0] == address
    assert str(address) == address.describe()


def test_address_is_plain_and_picklable():
    address, _ = parse_address("l:tst100,m:00:50:56:13:11:40,b:/x%/y")
    assert pickle.loads(pickle.dumps(address)) == address
    assert hash(address) == hash(pickle.loads(pickle.dumps(address)))
    with pytest.raises(Exception):
        address.label = "other"  # frozen


def test_paths_normalized():
    assert parse_address("p://srv//xen/./a.conf")[0].pathname == "/srv/xen/a.conf"
    assert parse_address("f:/tst100/tst100.conf")[0].filename == "tst100/tst100.conf"


def test_spaces_around_parts_ignored_and_trailing_comma():
    address, options = parse_address(" l:tst100 , CONSOLE:none ,", action="create")
    assert address.label == "tst100" and options == {"console": "none"}


# --- bare words --------------------------------------------------------------------------------


def test_bare_word_is_a_label():
    assert parse_address("tst100")[0] == Address(label="tst100")
    assert parse_address("tst100,connect", action="create") == (Address(label="tst100"), {"mode": "connect"})


def test_bare_word_same_as_l_is_fine_different_is_not():
    assert parse_address("tst100,l:tst100")[0].label == "tst100"
    with pytest.raises(AddressError, match="twice"):
        parse_address("tst100,l:tst101")


@pytest.mark.parametrize("word", ["connect", "REBOOT", "all", "force", "paused"])
def test_keyword_is_never_a_label(word):
    try:
        address, options = parse_address(word)
    except AddressError:
        return  # a keyword alone is no address
    assert address.label != word and options == {"all": True}  # ALL alone is a CANCEL target


@pytest.mark.parametrize("word", ["p", "l", "label", "uuid"])
def test_address_key_without_value_is_refused(word):
    with pytest.raises(AddressError, match="needs a value"):
        parse_address(f"l:x,{word}")


def test_bare_word_not_a_valid_label_is_refused():
    with pytest.raises(AddressError, match="cannot read"):
        parse_address("tst/100")


# --- CREATE suboptions ---------------------------------------------------------------------------


@pytest.mark.parametrize("console", ["cli", "XTERM", "gterm", "Emacs", "emacsa", "emacsm", "emacsam", "vnc", "sdl",
                                     "none"])
def test_every_console(console):
    assert parse_address(f"l:a,CONSOLE:{console}", "create")[1] == {"console": console.lower()}


def test_create_modes_and_resume_statefile():
    assert parse_address("l:a,REUSE", "create")[1] == {"mode": "reuse"}
    assert parse_address("l:a,reconnect", "create")[1] == {"mode": "reconnect"}
    assert parse_address("l:a,RESUME", "create")[1] == {"mode": "resume"}
    assert parse_address("l:a,RESUME:/var/lib/xen/save/A.Stat", "create")[1] == {
        "mode": "resume", "statefile": "/var/lib/xen/save/A.Stat"}
    assert parse_address("l:a,paused", "create")[1] == {"paused": True}


@pytest.mark.parametrize("text", ["l:a,connect,reuse", "l:a,RESUME,CONNECT", "l:a,reconnect,reuse"])
def test_create_modes_are_exclusive(text):
    with pytest.raises(AddressError, match="choose one of CONNECT, REUSE, RECONNECT, RESUME"):
        parse_address(text, "create")


def test_unknown_console_and_cancel_keyword_in_create():
    with pytest.raises(AddressError, match="unknown console"):
        parse_address("l:a,CONSOLE:rdp", "create")
    with pytest.raises(AddressError, match="not a CREATE suboption"):
        parse_address("l:a,REBOOT", "create")
    with pytest.raises(AddressError, match="needs a value"):
        parse_address("l:a,CONSOLE", "create")
    with pytest.raises(AddressError, match="takes no value"):
        parse_address("l:a,CONNECT:yes", "create")


# --- CANCEL suboptions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, options",
    [
        (f"poweroff:0,p:{TST100}", {"method": "poweroff", "delay": 0}),
        ("l:tst100,POWEROFF", {"method": "poweroff"}),
        ("l:tst100,S5:30", {"method": "poweroff", "delay": 30}),
        ("l:tst100,RESET", {"method": "reset"}),
        ("l:tst100,FORCE,RESET", {"method": "reset", "force": True}),
        ("l:tst100,REBOOT", {"method": "reboot"}),
        (f"FORCE,REBOOT,p:{TST100}", {"method": "reboot", "force": True}),
        ("l:tst100,PAUSE", {"method": "pause"}),
        ("l:tst100,S3", {"method": "pause"}),
        ("l:tst100,SUSPEND,STATEFILE:/var/lib/xen/save/t.sav", {"method": "suspend",
                                                              "statefile": "/var/lib/xen/save/t.sav"}),
        ("l:tst100,S4", {"method": "suspend"}),
        ("l:tst100,INIT:0", {"method": "init", "init": "0"}),
        ("l:tst100,FORCE,INIT:6", {"method": "init", "init": "6", "force": True}),
        ("l:tst100,STACK,SELF,TIMEOUT:60,BOTH", {"force": False, "self": True, "timeout": 60, "scope": "both"}),
        ("ALL,poweroff:0", {"all": True, "method": "poweroff", "delay": 0}),
    ],
)
def test_cancel_seed_forms(text, options):
    assert parse_address(text, action="cancel")[1] == options


@pytest.mark.parametrize(
    "text, message",
    [
        ("l:a,REBOOT,RESET", "choose one of POWEROFF, REBOOT"),
        ("l:a,POWEROFF,S3", "choose one of POWEROFF"),
        ("l:a,CLIENT,SERVER", "choose one of CLIENT, SERVER, BOTH"),
        ("l:a,FORCE,STACK", "choose one of FORCE, STACK"),
        ("l:a,POWEROFF:10,S5:20", "twice"),
        ("l:a,INIT", "needs a value"),
        ("l:a,INIT:9", "init state"),
        ("l:a,TIMEOUT:soon", "whole number"),
        ("l:a,POWEROFF:-1", "whole number"),
        ("l:a,CONSOLE:cli", "not a CANCEL suboption"),
        ("ALL,l:tst100", "ALL stands for every DomU"),
        ("FORCE", "no machine address"),
        ("l:a,DBREC:3", "unknown key"),
        ("l:a,USER:root", "unknown key"),
        ("l:a,STATEFILE:/x/../etc/passwd", "'..'"),
    ],
)
def test_cancel_refusals(text, message):
    with pytest.raises(AddressError, match=message):
        parse_address(text, action="cancel")


def test_no_action_accepts_either_actions_suboptions():
    assert parse_address("l:a,CONSOLE:cli,connect")[1] == {"console": "cli", "mode": "connect"}
    assert parse_address("l:a,poweroff:0")[1] == {"method": "poweroff", "delay": 0}


def test_unknown_action():
    with pytest.raises(AddressError, match="unknown action"):
        parse_address("l:a", action="list")


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("   ", "empty"),
        (",,,", "no machine address"),
        ("x:1", "unknown key 'x'"),
        ("label=tst100", "cannot read"),
        ("%%%", "cannot read"),
        ("m:00:50:56:13:11", "not a MAC"),
        ("m:00:50:56:13:11:4g", "not a MAC"),
        ("u:6842caf91e3e43249ed596b8b9f2c5c", "not a UUID"),
        ("u:6842caf91e3e43249ed596b8b9f2c5cz", "not a UUID"),
        ("l:a\x00b", "NUL"),
        ("l:a\tb", "control character"),
        ("l:a\nb", "control character"),
        ("l:a\x1bb", "control character"),
        ("p:relative/a.conf", "absolute"),
        ("p:/srv/../etc/a.conf", "'..'"),
        ("f:../a.conf", "'..'"),
        ("b:/srv/xen%../x,l:a", "'..'"),
        ("l:" + "a" * 4100, "too long"),
        ("l:a,l:b", "L given twice"),
        ("m:00:50:56:13:11:40,mac:00:50:56:13:11:41", "M given twice"),
        ("t:999.1.1.1", "not an IP address or host name"),
        ("t:bad_host!", "not an IP address or host name"),
        ("l:a b", "no spaces"),
        ("b:%,l:a", "no base path"),
        ("f:/", "empty file name"),
    ],
)
def test_refusals_are_one_line_address_errors(text, message):
    with pytest.raises(AddressError, match=message) as info:
        parse_address(text)
    assert "\n" not in str(info.value)


def test_same_key_twice_with_same_value_is_fine():
    address, _ = parse_address("m:00:50:56:13:11:40,M:00-50-56-13-11-40,u:6842caf91e3e43249ed596b8b9f2c5c2,"
                               "u:6842CAF9-1E3E-4324-9ED5-96B8B9F2C5C2")
    assert address.mac == "00:50:56:13:11:40"


def test_unknown_key_lists_known_ones():
    with pytest.raises(AddressError) as info:
        parse_address("q:1")
    assert "P|PATHNAME|PNAME|I|ID" in str(info.value) and "M|MAC" in str(info.value)


def test_non_string_refused():
    with pytest.raises(AddressError, match="string"):
        parse_address(None)
    with pytest.raises(AddressError, match="string"):
        parse_address(b"l:a")


# --- helpers -------------------------------------------------------------------------------------


def test_split_percent_list():
    assert split_percent_list("a%b") == ["a", "b"]
    assert split_percent_list("a%%b%c") == ["a%b", "c"]


def test_expand_base_paths_ctys_semantics():
    home = "/home/u"
    assert expand_base_paths("~%xen%/etc/ctys.d%~/vm%/etc/ctys.d/", home=home) == [
        "/home/u", "/home/u/xen", "/etc/ctys.d", "/home/u/vm"]
    assert expand_base_paths(["/a//b", "", "c"], home=home) == ["/a/b", "/home/u/c"]
    assert expand_base_paths(None, home=home) == []


# --- property: only AddressError escapes ---------------------------------------------------------

_PIECES = st.sampled_from(["p:", "i:", "f:", "l:", "u:", "m:", "t:", "b:", "CONSOLE:", "POWEROFF:", "INIT:", ",",
                           ":", "%", "%%", "/", "..", "tst100", "00:50:56:13:11:40", "6842caf91e3e43249ed596b8b9f2c5c2",
                           "connect", "all", "reboot", "reset", "force", "stack", "192.168.1.220", "~", " ",
                           "\x00", "\n", "é", "-", "RESUME:", "TIMEOUT:", "x"])


@seed(20260611)
@settings(max_examples=600, deadline=None, derandomize=True)
@given(text=st.one_of(st.text(max_size=80), st.lists(_PIECES, max_size=12).map("".join)),
       action=st.sampled_from([None, "create", "cancel"]))
def test_parse_address_only_raises_address_error(text, action):
    try:
        address, options = parse_address(text, action=action)
    except AddressError as err:
        assert "\n" not in str(err)
        return
    assert isinstance(address, Address) and isinstance(options, dict)
    assert not address.is_empty() or options.get("all")
    if not address.is_empty():
        assert parse_address(address.describe())[0] == address  # the canonical text means the same
