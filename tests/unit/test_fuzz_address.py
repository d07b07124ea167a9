"""Fuzzing the ctys machine address parser (address.parse_address) with hypothesis.

Inputs are built from the parser's real key set (every alias of p/f/l/u/m/t/b, every CREATE
and CANCEL suboption, in random case) with values that are sometimes right (UUIDs with and
without dashes, MACs with ':'/'-', IPv4/IPv6, absolute and relative paths, ``%``/``%%`` lists)
and sometimes hostile (shell metacharacters, ``..``, 5,000 characters, NUL and other control
characters, RTL override, zero-width and combining characters, lone surrogates), joined with
``,`` and stray spaces; plus non-string inputs.

The properties (:func:`check_address`, also used by ``bench/bench_fuzz.py``):

* nothing but :class:`~xenctys.errors.AddressError` (a XenError) escapes, with a one-line message;
* what is accepted is normalized and safe: no control or format characters anywhere, no ``..``
  component in p:/f:/b:/statefile paths, p: absolute, u: 32 lower-case hex digits, m:
  ``aa:bb:cc:dd:ee:ff``, labels without white space and at most 255 characters, at least one
  identifying part (or CANCEL ALL alone);
* the canonical text (:meth:`Address.describe`) parses back to the same address.
"""

import time
import unicodedata

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from xenctys.address import (
    ADDRESS_KEYS,
    CANCEL_OPTIONS,
    CREATE_OPTIONS,
    IDENTIFYING_FIELDS,
    MAX_ADDRESS_LENGTH,
    Address,
    parse_address,
)
from xenctys.errors import AddressError

SLOW_SECONDS = 2.0
FIXED_SEED = settings(derandomize=True, database=None, max_examples=400, deadline=None,
                      suppress_health_check=list(HealthCheck))

HOSTILE = ("; rm -rf /", "$(touch /tmp/pwned)", "`id`", "| nc -e sh", "& reboot", "'quoted'", '"dq"', "../../etc",
           "..", "a/../b", "~root", "-rf", "--help", "\x00", "\n", "\r", "\t", "\x1b[2J", "\u202e", "\u200b",
           "\u200d", "\ufeff", "e\u0301", "\u0338", "\ud800", "\udcff", "\U0001f600", "%", "%%", "%%%", "*", "?",
           "[a-z]", "{a,b}", "\\", "\\,", ",,", ":", "::", "A" * 5000)
ODD = "".join(ch for ch in HOSTILE if len(ch) == 1)

hex_digits = st.text(alphabet="0123456789abcdefABCDEF", min_size=32, max_size=32)
uuids = st.one_of(
    hex_digits,
    hex_digits.map(lambda h: f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"),
    st.text(alphabet="0123456789abcdefg-", max_size=40),
)
macs = st.one_of(
    st.lists(st.integers(0, 255), min_size=6, max_size=6).map(lambda b: ":".join(f"{x:02x}" for x in b)),
    st.lists(st.integers(0, 255), min_size=6, max_size=6).map(lambda b: "-".join(f"{x:02X}" for x in b)),
    st.text(alphabet="0123456789abcdefxyz:-", max_size=20),
)
ips = st.one_of(st.ip_addresses().map(str), st.from_regex(r"[a-z0-9][a-z0-9.-]{0,30}", fullmatch=True),
                st.sampled_from(["999.1.1.1", "1.2.3", "::", "fe80::1%eth0", "localhost.", "-bad", "a..b"]))
path_parts = st.one_of(st.sampled_from(["etc", "xen", "tst100", "tst100.conf", "..", ".", "", "a b", "x%y", "~"]),
                       st.text(alphabet=st.characters(codec="utf-8", exclude_characters=",/"), max_size=8))
paths = st.builds(lambda absolute, parts: ("/" if absolute else "") + "/".join(parts), st.booleans(),
                  st.lists(path_parts, min_size=1, max_size=6))
odd_values = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(max_size=30),
    st.text(alphabet=st.one_of(st.characters(), st.sampled_from(ODD)), max_size=30),
    st.text(alphabet="abc", min_size=4000, max_size=5000),
)
values = st.one_of(uuids, macs, ips, paths, odd_values, st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,70}", fullmatch=True))
KEYWORDS = tuple(ADDRESS_KEYS) + tuple(CREATE_OPTIONS) + tuple(CANCEL_OPTIONS) + ("x", "dbrec", "all ", " l")
keys = st.builds(lambda key, upper: key.upper() if upper else key, st.sampled_from(KEYWORDS), st.booleans())
parts = st.one_of(
    st.builds(lambda key, value: f"{key}:{value}", keys, values),
    keys,
    values,
    st.builds(lambda key, value: f" {key} : {value} ", keys, values),
)
address_texts = st.one_of(
    st.builds(lambda items, separator: separator.join(items), st.lists(parts, min_size=1, max_size=8),
              st.sampled_from([",", ",", ", ", ",,", " ,"])),
    st.text(max_size=100),
    st.text(alphabet=st.sampled_from(list(",:%/.lLpPfFuUmMtTbB0123456789-") + list(ODD)), max_size=60),
)
actions = st.sampled_from([None, "create", "cancel", "CREATE", "bogus"])
non_strings = st.one_of(st.none(), st.integers(), st.binary(max_size=20), st.lists(st.text(max_size=5), max_size=3))


def _safe_text(text):
    return all(ch.isprintable() or ch == " " for ch in text) and "\x00" not in text


def check_address(text, action=None):
    """Parse one address; "ok" or the error's class name.  Raises on a broken property."""
    start = time.perf_counter()
    try:
        address, options = parse_address(text, action=action)
    except AddressError as err:
        assert "\n" not in str(err), repr(str(err))
        outcome = type(err).__name__
    else:
        outcome = "ok"
        _check_accepted(text, action, address, options)
    elapsed = time.perf_counter() - start
    assert elapsed < SLOW_SECONDS, f"{elapsed:.1f} s for {text!r:.200}"
    return outcome


def _check_accepted(text, action, address, options):
    assert isinstance(text, str) and len(text) <= MAX_ADDRESS_LENGTH and _safe_text(text)
    for field in ("pathname", "filename", "label", "uuid", "mac", "tcp"):
        value = getattr(address, field)
        assert isinstance(value, str) and _safe_text(value), (field, value)
    for path in (address.pathname, address.filename, *address.base_paths, options.get("statefile") or ""):
        assert ".." not in path.split("/"), path
    assert not address.pathname or address.pathname.startswith("/")
    assert not address.uuid or (len(address.uuid) == 32 and set(address.uuid) <= set("0123456789abcdef"))
    assert not address.mac or (len(address.mac) == 17 and address.mac == address.mac.lower())
    assert not any(ch.isspace() for ch in address.label) and len(address.label) <= 255
    if options.get("all"):
        assert address.is_empty()
    else:
        assert any(getattr(address, field) for field in IDENTIFYING_FIELDS)
    if action:
        allowed = {"create": CREATE_OPTIONS, "cancel": CANCEL_OPTIONS}[action.lower()]
        assert set(options) <= {o.arg_dest or o.dest for o in allowed.values()} | {o.dest for o in allowed.values()}
    # The canonical text names the same DomU (values are stripped when parsed, so one that ends
    # in a space after normalization, f:'a /' -> 'a ', has no canonical text: skipped).
    texts = [getattr(address, field) for field in IDENTIFYING_FIELDS] + list(address.base_paths)
    if not address.is_empty() and all(value == value.strip() for value in texts):
        again, _ = parse_address(address.describe())
        assert again == address, (address.describe(), again, address)


# --- fixed-seed fuzz tests --------------------------------------------------------------------------


@example("l:tst100,CONSOLE:vnc", "create")
@example("b:a%%b%c,l:x", None)
@example("tst100", "cancel")
@FIXED_SEED
@given(address_texts, actions)
def test_parse_address_raises_only_address_error(text, action):
    if action == "bogus":
        with pytest.raises(AddressError, match="unknown action"):
            parse_address(text, action=action)
        return
    check_address(text, action)


@FIXED_SEED
@given(non_strings)
def test_non_strings_are_address_errors(value):
    with pytest.raises(AddressError):
        parse_address(value)


@FIXED_SEED
@given(st.sampled_from(["l", "f", "p", "b", "u", "m", "t"]), st.sampled_from(HOSTILE), st.sampled_from(HOSTILE))
def test_hostile_values_are_refused_or_kept_literally(key, left, right):
    text = f"{key}:/{left}x{right}" if key in ("p", "b") else f"{key}:{left}x{right}"
    outcome = check_address(text)
    if outcome == "ok" and key == "l" and "," not in text:  # "," separates parts, by design
        address, _ = parse_address(text)
        assert address.label == f"{left}x{right}".strip()  # literal: nothing expanded, nothing dropped


@pytest.mark.parametrize("char", ["\u202e", "\u200b", "\u200d", "\ufeff", "\x00", "\x1b", "\ud800", "\udcff", "\x85"])
def test_invisible_and_control_characters_are_refused(char):
    with pytest.raises(AddressError):
        parse_address(f"l:tst{char}100")


def test_combining_characters_are_kept_literally():
    address, _ = parse_address("l:te\u0301st")
    assert address.label == "te\u0301st" and unicodedata.normalize("NFC", address.label) != address.label


@pytest.mark.parametrize("text", ["p:/etc/xen/../../root/x.cfg", "f:../x.cfg", "b:/etc/xen/..%/srv", "b:..",
                                  "l:x,STATEFILE:/var/lib/xen/save/../../../etc/cron.d/x", "RESUME:../x,l:a"])
def test_dot_dot_path_components_are_refused(text):
    with pytest.raises(AddressError, match=r"'\.\.' path components are refused"):
        parse_address(text)


def test_overlong_address_is_refused_before_it_is_split():
    start = time.perf_counter()
    with pytest.raises(AddressError, match="too long"):
        parse_address("l:" + "a," * 100_000)
    assert time.perf_counter() - start < SLOW_SECONDS


def test_describe_round_trip_of_a_full_address():
    address, _ = parse_address("p:/srv/x.conf,f:x.conf,l:tst;100,u:6842CAF9-1E3E-4324-9ED5-96B8B9F2C5C2,"
                               "m:00-50-56-13-11-40,t:192.168.1.220,b:/a%%b%/c")
    assert parse_address(address.describe())[0] == address
    assert address == Address(pathname="/srv/x.conf", filename="x.conf", label="tst;100",
                              uuid="6842caf91e3e43249ed596b8b9f2c5c2", mac="00:50:56:13:11:40",
                              tcp="192.168.1.220", base_paths=("/a%b", "/c"))
