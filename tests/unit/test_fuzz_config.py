"""Fuzzing the config reader (cfgsyntax.parse_text, cfgreader.read_config) with hypothesis.

Grammar-aware inputs, not only random text: real configs of the shared corpus mutated (slices
cut, doubled, moved, fragments spliced in), xl.cfg(5) fragments (strings with escapes, numbers
of every base and size, lists nested past the depth limit, ``+=``), python-ish xm fragments
(imports, calls, lambdas, decorators, comprehensions, f-strings, ``%`` formats with huge widths,
``'x' * 10**9``, aliases built up to the value size limit), ctys ``#@#`` lines, random text and
bytes with NULs.  Every xm payload that could run would create ``MARKER``.

The properties (:func:`check_text`, :func:`check_file`, also used by ``bench/bench_fuzz.py``):

* nothing but :class:`~xenctys.errors.ConfigError` (a XenError) escapes;
* nothing is executed: ``MARKER`` never appears;
* a config read is plain data that Salt and the inventory cache can carry: ``msgpack`` packs
  ``DomUConfig.to_dict()`` with strict UTF-8 (as ``salt.payload`` does);
* every input is read in bounded time (:data:`SLOW_SECONDS`, generous on a shared 2-core box).

The tests here run a fixed-seed set (``derandomize=True``); the 100,000-input run is the bench.
"""

import os
import pathlib
import tempfile
import time
import tracemalloc

import msgpack
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from xenctys.cfgreader import read_config, redact
from xenctys.cfgsyntax import DEFAULT_MAX_BYTES, MAX_VALUE_SIZE, parse_text
from xenctys.errors import ConfigError, XenError

CORPUS = pathlib.Path(os.environ.get("XEN_CORPUS") or pathlib.Path(__file__).resolve().parents[3] / "shared" / "corpus")
# Created by any payload that runs: its existence after a run means something was executed.
MARKER = os.path.join(tempfile.gettempdir(), f"xenctys-fuzz-executed-{os.getpid()}")
SLOW_SECONDS = 5.0  # one input; the largest legitimate ones take a few milliseconds
FIXED_SEED = settings(derandomize=True, database=None, max_examples=300, deadline=None,
                      suppress_health_check=list(HealthCheck))


# --- corpus ----------------------------------------------------------------------------------------


def corpus_texts():
    """The real DomU configs of the shared corpus (xl and xm), as text; () when it is absent."""
    folders = [CORPUS / "xen-configs", CORPUS / "libvirt-configs" / "xl", CORPUS / "libvirt-configs" / "xm"]
    texts = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.is_file() and (path.name.startswith(("xl", "xm")) or path.suffix == ".cfg"):
                texts.append(path.read_bytes().decode("utf-8", errors="replace"))
    return tuple(texts)


CORPUS_TEXTS = corpus_texts()
FALLBACK_CONFIG = (
    '#@#MAGICID-XEN\nname = "tst100"\nuuid = "6842caf91e3e43249ed596b8b9f2c5c2"\nmemory = 128\nvcpus = 1\n'
    "kernel = \"/boot/vmlinuz-xen\"\ndisk = [ 'file:/srv/xvda.img,xvda,w' ]\n"
    "vif = [ 'mac=00:50:56:13:11:40, bridge=xenbr0' ]\nvfb = [ 'vnc=1, vncunused=1, vncpasswd=s3cret' ]\n"
)


# --- strategies: pieces ----------------------------------------------------------------------------

ODD_CHARS = "\u202e\u200b\u200d\ufeff\u0301\u0338\x7f\x85\u2028\u00a0\t\r\x0b\x0c\\'\"#@%;,[]=+:$`|&()<>{}*?!~\n"
odd_text = st.text(alphabet=st.one_of(st.characters(codec="utf-8"), st.sampled_from(ODD_CHARS)), max_size=40)
KEYS = ("name", "memory", "maxmem", "vcpus", "uuid", "vif", "disk", "vfb", "kernel", "ramdisk", "extra", "root",
        "cmdline", "builder", "type", "on_crash", "on_reboot", "vnc", "vncdisplay", "vnclisten", "vncunused",
        "vncpasswd", "spicepasswd", "bootloader", "device_model_version", "pci", "serial")
identifiers = st.one_of(st.sampled_from(KEYS), st.from_regex(r"[A-Za-z_][A-Za-z0-9_.]{0,12}", fullmatch=True))
SPEC_STRINGS = ("mac=00:16:3e:00:00:01, bridge=xenbr0", "mac=zz:16:3e", "vnc=1,vncpasswd=secret,keymap=de",
                "type=vnc,vncdisplay=7", "passwd=" + "passw" * 40, "file:/srv/a.img,xvda,w", "ip=10.0.0.1 10.0.0.2",
                "mac=00:16:3e:00:00:01,mac=00:16:3e:00:00:02", ",,,=,=", "passw" * 200)


def _xl_quote(text, quote):
    if quote == '"':
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return "'" + text.replace("'", "").replace("\n", "") + "'"


xl_strings = st.one_of(
    st.builds(_xl_quote, odd_text, st.sampled_from("\"'")),
    st.builds(_xl_quote, st.sampled_from(SPEC_STRINGS), st.sampled_from("\"'")),
    st.sampled_from(['"\\x41\\101\\777\\q\\x"', "'unterminated", '"ends in backslash\\', '"\\', "''", '""',
                     '"a"b"', "'tab\there'", '"\\u202e"']),
)
xl_numbers = st.one_of(
    st.integers(-(2**80), 2**80).map(str),
    st.sampled_from(["0x1F", "0X", "0777", "08", "0x", "1e5", "00", "9" * 5000, "0x" + "f" * 300, "-1", "+1"]),
)
xl_scalars = st.one_of(xl_strings, xl_numbers)
xl_values = st.one_of(
    st.recursive(xl_scalars, lambda inner: st.lists(inner, max_size=5).map(lambda items: "[" + ", ".join(items) + "]"),
                 max_leaves=15),
    st.integers(1, 80).map(lambda depth: "[" * depth + "1" + "]" * depth),  # past MAX_LIST_DEPTH (32)
    st.integers(1, 3).map(lambda depth: "[" * depth + "\n 'a',\n" + "]" * depth),
)
xl_lines = st.builds(
    lambda key, op, value, end: f"{key} {op} {value}{end}",
    identifiers, st.sampled_from(["=", "=", "=", "+=", "==", "", ":"]), xl_values,
    st.sampled_from(["", "", ";", " # a comment", ",", " trailing"]),
)

# Each of these would create MARKER if any part of it ran.
PAYLOADS = tuple(line.replace("MARKER", MARKER) for line in (
    "import os\nos.system('touch MARKER')",
    "__import__('os').system('touch MARKER')",
    "open('MARKER', 'w').write('ran')",
    "name = (lambda: open('MARKER', 'w'))()",
    "exec(\"open('MARKER', 'w')\")",
    "eval(compile(\"open('MARKER', 'w')\", 'x', 'exec'))",
    "@(lambda f: open('MARKER', 'w'))\ndef g():\n    pass",
    "def g(a=open('MARKER', 'w')):\n    pass",
    "class C(object, metaclass=type('M', (type,), {'x': open('MARKER', 'w')})):\n    pass",
    "name = '%s' % open('MARKER', 'w')",
    "name = '{}'.format(open('MARKER', 'w'))",
    "name = f\"{open('MARKER', 'w')}\"",
    "with open('MARKER', 'w') as handle:\n    pass",
    "for item in [open('MARKER', 'w')]:\n    pass",
    "if open('MARKER', 'w'):\n    pass",
    "try:\n    open('MARKER', 'w')\nexcept Exception:\n    pass",
    "while open('MARKER', 'w'):\n    break",
    "assert open('MARKER', 'w')",
    "name = [open('MARKER', 'w') for _ in 'a']",
    "name = (y := open('MARKER', 'w'))",
    "memory = __builtins__['open']('MARKER', 'w')",
    "globals()['name'] = open('MARKER', 'w')",
    "import subprocess\nsubprocess.call(['touch', 'MARKER'])",
    "from os import *\nsystem('touch MARKER')",
    "name = 'tst' if open('MARKER', 'w') else 'x'",
    "name = open('MARKER', 'w') and 'tst'",
    "name = {open('MARKER', 'w'): 1}",
    "name = 'a'[open('MARKER', 'w'):]",
    "memory = 128 + len(open('MARKER', 'w').name)",
    "name = ('%(x)s' % {'x': open('MARKER', 'w')})",
    "x = open\nname = x('MARKER', 'w')",
    "async def g():\n    await open('MARKER', 'w')",
    "match open('MARKER', 'w'):\n    case _:\n        pass",
    "lambda: open('MARKER', 'w')",
    "name = yield open('MARKER', 'w')",
))
XM_EXPRESSIONS = (
    "'x' * 10**9", "[1] * 10**9", "2**10**10", "10**400", "-(2**63)", "2**64", "-2**64 + 1", "1e308 * 10",
    "1e308 * 10 - 1e308 * 10", "'%999999d' % 1", "'%*d' % (10**9, 1)", "'%.2000f' % 1e308", "'%1000.1000f' % 1e308",
    "'%c' % 0xd800", "'%c' % 0x110000", "'%d' % 'x'", "'%(' % ()", "'%s%s' % ('a',)", "'%s' % [1, [2, [3]]]",
    "'\\ud800'", "'\\udcff'", "'\\U0010ffff'", "b'bytes'", "1j", "...", "None", "True + True", "-True",
    "'a' + 1", "[1] + (1,)", "(1,) + (2,)", "'ab' - 'a'", "7 // 2", "7 / 2", "~1", "not 1", "1 < 2", "x.y",
    "x[0]", "{'a': 1}", "{1, 2}", "(i for i in 'ab')", "'%s-%d' % ('tst', 100)", "'%(name)s' % ()",
    "name", "memory * 2", "'%-5s|' % 'a'", "'%%' % ()", "-1.5", "+'a'",
)
xm_expressions = st.one_of(
    st.sampled_from(XM_EXPRESSIONS),
    xl_values,
    st.integers(1, 200).map(lambda depth: "(" * depth + "1" + ")" * depth),
    st.integers(1, 60).map(lambda depth: "[" * depth + "'a'" + "]" * depth),
    st.integers(1, 60).map(lambda count: " + ".join(["'abcdefgh' * 1"] * count)),
    st.builds(lambda text: repr(text), odd_text),
)
xm_lines = st.one_of(
    st.builds(lambda key, op, value: f"{key} {op} {value}", identifiers,
              st.sampled_from(["=", "+=", "-=", "*=", "%=", "//=", "**="]), xm_expressions),
    st.builds(lambda a, b, value: f"{a} = {b} = {value}", identifiers, identifiers, xm_expressions),
    st.sampled_from(["a, b = 1, 2", "x.y = 1", "x[0] = 1", "del name", "global name", "pass", "'''doc'''",
                     "name: str = 'annotated'", "if True:\n    name = 'in block'", "def name():\n    pass",
                     "class name:\n    pass", "import name", "from x import name", "name = name", "    x = 1"]),
    st.sampled_from(PAYLOADS),
)

CTYS_KEYS = ("LABEL", "UUID", "MAC0", "IP0", "IP1", "DIST", "DISTREL", "OS", "OSREL", "SERNO", "CATEGORY",
             "VNCPASSWD", "PASSWORD", "_x", "x y")
ctys_lines = st.one_of(
    st.builds(lambda key, space, quote, value: f"#@#{key}{space}={space}{quote}{value}{quote}",
              st.one_of(st.sampled_from(CTYS_KEYS), identifiers), st.sampled_from(["", " ", "\t"]),
              st.sampled_from(["", '"', "'"]), odd_text.map(lambda text: text.replace("\n", " "))),
    st.sampled_from(["#@#MAGICID-XEN", "#@#MAGICID-IGNORE", "#@#MAGICID-NOENUM", "#@#MAGICID-KVM", "#@#", "#@#=",
                     '#@#IP0 = "192.168.1.220%255.255.255.0%xenbr0%eth0%22%192.168.1.1"', '#@#IP0 = "%%%%%%%"',
                     '#@#IP9 = "not an ip"', "  #@#LABEL = 'indented'", "name = 'x' #@#LABEL = 'inline'"]),
)
other_lines = st.one_of(st.just(""), st.just("# a comment"), odd_text, st.sampled_from(["\x00", "\r\n", "\\"]))


def _joined(lines, separator):
    return separator.join(lines)


xl_configs = st.builds(_joined, st.lists(st.one_of(xl_lines, xl_lines, ctys_lines, other_lines), max_size=25),
                       st.sampled_from(["\n", "\n", ";", "\r\n"]))
xm_configs = st.builds(_joined, st.lists(st.one_of(xm_lines, xm_lines, xl_lines, ctys_lines, other_lines),
                                         max_size=25), st.just("\n"))


def _mutate(text, operations):
    """Apply (operation, where, where2, fragment) tuples to a text; where/where2 are fractions."""
    for operation, where, where2, fragment in operations:
        start, end = sorted((int(where * len(text)), int(where2 * len(text))))
        if operation == "cut":
            text = text[:start] + text[end:]
        elif operation == "double":
            text = text[:end] + text[start:end] + text[end:]
        elif operation == "splice":
            text = text[:start] + fragment + text[start:]
        elif operation == "replace":
            text = text[:start] + fragment + text[end:]
        elif operation == "truncate":
            text = text[:start]
        elif operation == "swap_halves":
            text = text[start:] + text[:start]
    return text


fragments = st.one_of(xl_lines, xm_lines, ctys_lines, other_lines, st.sampled_from(list("'\"[]=#,;+\n\\%")))
mutated_corpus = st.builds(
    _mutate, st.sampled_from(CORPUS_TEXTS or (FALLBACK_CONFIG,)),
    st.lists(st.tuples(st.sampled_from(["cut", "double", "splice", "replace", "truncate", "swap_halves"]),
                       st.floats(0, 1), st.floats(0, 1), fragments), min_size=1, max_size=6),
)
# Values built up to the value-size limit by aliasing, then used many times: the shapes that
# cost memory or time when an evaluator does not bound what it builds.
AMPLIFIERS = (
    "n = -9223372036854775808\nb = [n, n, n, n, n, n, n, n, n, n]\nc = b + b + b + b + b + b + b + b + b + b\n"
    "d = c + c + c + c + c + c + c + c + c + c\ne = d + d + d + d + d + d + d + d + d + d\nf = e + e + e + e + e + e",
)
amplified = st.builds(
    lambda base, statement, count: base + ("\n" + statement) * count,
    st.sampled_from(AMPLIFIERS),
    st.sampled_from(["y = f + b", "y = '%s' % f", "y = '%s%s%s%s' % (f, f, f, f)", "y = [f, f, f]", "f += b",
                     "y = '%s' % (f,)", "y = [[f]]", "y = f"]),
    st.integers(1, 400),
)
bulk_config_texts = st.one_of(mutated_corpus, xl_configs, xm_configs, st.text(max_size=300))
config_texts = st.one_of(bulk_config_texts, amplified)
# The bench's mix: an amplified input costs about 0.25 s (the whole evaluation budget), so 1 in 100.
bench_config_texts = st.integers(0, 99).flatmap(lambda n: amplified if n == 0 else bulk_config_texts)


def _config_bytes(texts):
    return st.one_of(
        texts.map(lambda text: text.encode("utf-8", errors="surrogatepass")),
        texts.map(lambda text: text.encode("latin-1", errors="replace")),
        st.binary(max_size=300),
        st.builds(lambda text, at: text.encode("utf-8", errors="surrogatepass")[:at] + b"\x00"
                  + text.encode("utf-8", errors="surrogatepass")[at:], texts, st.integers(0, 400)),
    )


config_bytes = _config_bytes(config_texts)
bench_config_bytes = _config_bytes(bench_config_texts)


# --- the properties ---------------------------------------------------------------------------------


def _packable(data):
    """msgpack with strict UTF-8, as salt.payload and the inventory cache pack returns."""
    msgpack.packb(data, use_bin_type=True, default=str)


def check_text(text):
    """Parse one text; the name of the outcome ("xl", "xm" or "ConfigError").  Raises on a broken
    property (an escaping exception type, an unpackable result, a slow input, a run payload)."""
    start = time.perf_counter()
    try:
        parsed = parse_text(text, "/fuzz/vm.cfg")
        outcome = parsed.syntax
        _packable({"settings": parsed.settings, "lines": parsed.lines, "warnings": parsed.warnings,
                   "ctys": [(c.key, c.value, c.line) for c in parsed.ctys], "markers": parsed.markers})
    except ConfigError as err:
        assert "\n" not in str(err)
        outcome = "ConfigError"
    elapsed = time.perf_counter() - start
    assert elapsed < SLOW_SECONDS, f"{elapsed:.1f} s for {len(text)} characters: {text[:200]!r}"
    assert not os.path.exists(MARKER), f"something was executed: {text[:300]!r}"
    return outcome


def check_file(path, data):
    """Write ``data`` to ``path`` and read it as a DomU config (side files too); the outcome's name."""
    with open(path, "wb") as handle:
        handle.write(data)
    start = time.perf_counter()
    try:
        config = read_config(path, sidecars=True)
        _packable(config.to_dict())
        outcome = config.syntax
    except ConfigError as err:
        assert "\n" not in str(err)
        outcome = "ConfigError"
    elapsed = time.perf_counter() - start
    assert elapsed < SLOW_SECONDS, f"{elapsed:.1f} s for {len(data)} bytes: {data[:200]!r}"
    assert not os.path.exists(MARKER), f"something was executed: {data[:300]!r}"
    return outcome


@pytest.fixture(autouse=True)
def no_marker():
    if os.path.exists(MARKER):
        os.unlink(MARKER)
    yield
    assert not os.path.exists(MARKER), "a fuzz input was executed"


# --- fixed-seed fuzz tests ------------------------------------------------------------------------------


@FIXED_SEED
@given(config_texts)
def test_parse_text_raises_only_config_error_and_runs_nothing(text):
    check_text(text)


@FIXED_SEED
@given(st.sampled_from(PAYLOADS), st.sampled_from(CORPUS_TEXTS or (FALLBACK_CONFIG,)))
def test_payload_in_a_real_config_is_skipped_with_a_warning(payload, config):
    parsed = parse_text(config + "\n" + payload + "\n", "/fuzz/vm.cfg")
    assert parsed.syntax == "xm"
    assert any("skipped" in warning for warning in parsed.warnings)


@FIXED_SEED
@given(config_bytes)
def test_read_config_of_any_bytes(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("cfg", numbered=True)
    check_file(str(folder / "vm.cfg"), data)


@FIXED_SEED
@given(st.sampled_from(CORPUS_TEXTS or (FALLBACK_CONFIG,)), st.lists(ctys_lines, max_size=8), st.lists(ctys_lines, max_size=8))
def test_read_config_with_hostile_side_files(tmp_path_factory, config, own, side):
    folder = tmp_path_factory.mktemp("side", numbered=True)
    (folder / "vm.ctys").write_text("\n".join(side), encoding="utf-8", errors="surrogatepass")
    check_file(str(folder / "vm.conf"), (config + "\n" + "\n".join(own)).encode("utf-8", errors="surrogatepass"))


@FIXED_SEED
@given(identifiers, st.lists(st.sampled_from(SPEC_STRINGS + ("passwd=x", "a=b")), max_size=6))
def test_redact_keeps_no_password_value(key, parts):
    spec = ",".join(parts)
    redacted = redact(key, spec)
    for part in redacted.split(","):
        name, equals, value = part.partition("=")
        if equals and value and "passw" in name.lower():
            assert value == "***"


# --- the shapes that broke the reader once (regressions) -----------------------------------------------


@pytest.mark.parametrize("count", [400])
@pytest.mark.parametrize("statement", ["y = f + b", "y = '%s' % f", "f += b", "y = [f, f, f]"])
def test_aliased_values_used_many_times_cost_bounded_time(statement, count):
    text = AMPLIFIERS[0] + ("\n" + statement) * count
    start = time.perf_counter()
    parsed = parse_text(text, "/fuzz/amp.cfg")
    assert time.perf_counter() - start < SLOW_SECONDS
    assert parsed.syntax == "xm" and parsed.warnings


def test_format_with_many_aliased_arguments_is_refused_without_building_it():
    """950 bytes that made the evaluator build a 260 MB string (and GBs with a longer line)."""
    k = 2000
    text = AMPLIFIERS[0] + "\nx = '" + "%s" * k + "' % (" + ",".join(["f"] * k) + ",)\n"
    tracemalloc.start()
    try:
        parsed = parse_text(text, "/fuzz/fmt.cfg")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "x" not in parsed.settings and any("'x'" in warning for warning in parsed.warnings)
    assert peak < 64 << 20, f"peak {peak >> 20} MiB"


def test_many_xl_list_appends_are_linear():
    text = "a = [1]\n" + "a += [1,1,1,1,1,1,1,1]\n" * 20000
    start = time.perf_counter()
    parsed = parse_text(text, "/fuzz/append.cfg")
    assert time.perf_counter() - start < SLOW_SECONDS
    assert len(parsed.settings["a"]) == 1 + 8 * 20000


def test_long_password_like_spec_is_redacted_in_linear_time():
    value = "passw" * 40000  # 200,000 characters, no "=": the old regex backtracked quadratically
    start = time.perf_counter()
    assert redact("vfb", value) == value
    assert redact("vfb", "vncpasswd=" + value + ",keymap=de") == "vncpasswd=***,keymap=de"
    assert time.perf_counter() - start < SLOW_SECONDS


@pytest.mark.parametrize("literal", ["'tst\\ud800'", "'\\udcff'", "'%c' % 0xdfff", "['ok', '\\ud83d']"])
def test_lone_surrogates_in_xm_strings_are_skipped_not_carried(literal):
    parsed = parse_text(f"name = {literal}\nmemory = 128\nimport os\n", "/fuzz/s.cfg")
    assert "name" not in parsed.settings and parsed.settings["memory"] == 128
    _packable(parsed.settings)


@example(b"")
@FIXED_SEED
@given(st.binary(max_size=64))
def test_oversized_file_is_refused_before_it_is_read(tmp_path_factory, head):
    path = tmp_path_factory.mktemp("big", numbered=True) / "big.cfg"
    with open(path, "wb") as handle:
        handle.write(head)
        handle.truncate(DEFAULT_MAX_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(ConfigError, match="larger than"):
        read_config(str(path))


# --- a 10 MB config -----------------------------------------------------------------------------------------


def ten_mb_config(kind):
    """A 10 MiB config: ``realistic`` (a real config, then 10 MiB of comment and setting lines),
    ``dense_xl`` (one list of 2.5 million small strings), ``dense_xm`` (the same as Python after an import)."""
    size = 10 << 20
    if kind == "realistic":
        block = "".join(f"# note {i:06d}: this DomU serves the lab\nextra_{i} = 'console=hvc0 root=/dev/xvda1'\n"
                        for i in range(1000))
        text = FALLBACK_CONFIG + block * (size // len(block) + 1)
    elif kind == "dense_xl":
        text = "name = 'dense'\ndisk = [" + "'a'," * (size // 4) + "]\n"
    else:
        text = "import os\nname = 'dense'\ndisk = [" + "'a'," * (size // 4) + "]\n"
    return text[: text.rindex("\n", 0, size) + 1] if kind == "realistic" else text


def read_measured(path, max_bytes):
    """(outcome, seconds, tracemalloc peak bytes) of one read_config."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        outcome = read_config(str(path), sidecars=False, max_bytes=max_bytes).syntax
    except XenError as err:
        outcome = f"{type(err).__name__}: {err}"
    finally:
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return outcome, seconds, peak


def test_ten_mb_config_is_refused_fast_by_default_and_read_in_bounded_memory_when_allowed(tmp_path):
    path = tmp_path / "huge.cfg"
    path.write_text(ten_mb_config("realistic"), encoding="utf-8")
    outcome, seconds, peak = read_measured(path, DEFAULT_MAX_BYTES)
    assert "larger than" in outcome and seconds < 1.0 and peak < 1 << 20, (outcome, seconds, peak)

    outcome, seconds, peak = read_measured(path, 16 << 20)
    assert outcome == "xl", outcome
    assert peak < 20 * (10 << 20), f"peak {peak >> 20} MiB for 10 MiB"  # about 10x, see docs/reliability.md


def test_large_python_config_is_refused_before_python_parses_it(tmp_path):
    path = tmp_path / "dense.cfg"
    path.write_text(ten_mb_config("dense_xm")[: 300 * 1024] + "]\n", encoding="utf-8")
    outcome, seconds, peak = read_measured(path, DEFAULT_MAX_BYTES)
    assert "characters for xm (Python) syntax" in outcome, outcome
    assert peak < 64 << 20, f"peak {peak >> 20} MiB"


# --- the xl fast path --------------------------------------------------------------------------------

simple_xl_lines = st.builds(
    lambda key, blank, value, tail: f"{key}{blank}={blank}{value}{tail}",
    identifiers, st.sampled_from(["", " ", "\t", " \r"]),
    st.one_of(xl_strings, xl_numbers, st.lists(xl_strings, max_size=4).map(lambda items: "[ " + ", ".join(items) + " ]"),
              st.lists(xl_strings, max_size=3).map(lambda items: "[" + ",".join(items) + ",]")),
    st.sampled_from(["", " ", " # comment", "#c", ";", " x"]),
)
simple_xl_configs = st.builds(_joined, st.lists(st.one_of(simple_xl_lines, simple_xl_lines, ctys_lines, other_lines),
                                                max_size=25), st.sampled_from(["\n", "\n", "\r\n", ";"]))


def _full_or_problem(text):
    from xenctys import cfgsyntax  # pylint: disable=import-outside-toplevel
    try:
        return cfgsyntax._parse_xl_full(text)  # pylint: disable=protected-access
    except cfgsyntax._SyntaxProblem as problem:  # pylint: disable=protected-access
        return ("problem", problem.line, problem.reason)


@FIXED_SEED
@given(st.one_of(simple_xl_configs, xl_configs, st.sampled_from(CORPUS_TEXTS or (FALLBACK_CONFIG,))))
def test_xl_fast_path_reads_what_the_full_parser_reads(text):
    from xenctys import cfgsyntax  # pylint: disable=import-outside-toplevel
    fast = cfgsyntax._parse_xl_simple(text)  # pylint: disable=protected-access
    if fast is not None:  # None: not simple, the full parser decides (errors included)
        assert fast == _full_or_problem(text)


def test_xl_fast_path_takes_the_common_configs():
    from xenctys import cfgsyntax  # pylint: disable=import-outside-toplevel
    text = FALLBACK_CONFIG + "# comment\n\n  memory = 0x20 # hex\nextra='a#b'\nvif = []\r\n"
    fast = cfgsyntax._parse_xl_simple(text)  # pylint: disable=protected-access
    assert fast is not None and fast == cfgsyntax._parse_xl_full(text)  # pylint: disable=protected-access
    assert fast.settings["memory"] == 32 and fast.settings["extra"] == "a#b" and fast.lines["vif"] == 14
    for other in ("a = 1; b = 2\n", "a += 'x'\n", "a = 'x\\n'\n", "a = [\n'x']\n", "a = [1]\n", "a = -1\n"):
        assert cfgsyntax._parse_xl_simple(other) is None  # pylint: disable=protected-access
