"""``read_config(path) -> DomUConfig``: one DomU config file as a typed record, never executed.

Syntax is :mod:`xenctys.cfgsyntax`'s job, ``#@#`` keys and side files :mod:`xenctys.ctyskeys`';
this module gives the keys their meaning (``xl.cfg(5)``, ``xmdomain.cfg(5)``, spec §8.3):

* ``label`` = ``name``, else ``#@#LABEL``; ``uuid`` = ``uuid``, else ``#@#UUID``;
* ``type`` = ``type`` (pv/pvh/hvm), else ``builder = "hvm"``, else a ``kernel`` naming hvmloader
  (old HVM configs), else pv;
* ``cmdline`` as xl builds it: ``cmdline``, else ``root=<root> <extra>``;
* ``vifs``: each ``vif`` entry's ``mac``/``bridge``/``ip``; a malformed MAC is a warning and "";
* ``vnc``: ``vnc``, ``vncunused``, ``vncdisplay``, ``vnclisten``, ``vncconsole`` from the
  top-level keys (HVM) or the first VNC ``vfb`` entry (PV); top-level keys win;
* ``raw``: every key as parsed.

Passwords never reach the record: ``vncpasswd`` is not a ``vnc`` key, and in ``raw`` and in the
``#@#`` keys every non-empty value of a password-like key, or ``passwd=``-like part of a spec
string, reads ``***``.  ctys' habit of taking MACs from commented-out ``vif`` lines (spec §10.10)
is not copied: a comment is a comment.
"""

import os
import re

from xenctys.cfgsyntax import DEFAULT_MAX_BYTES, decode_config_bytes, parse_number, parse_text, read_config_text
from xenctys.ctyskeys import collect_ctys_keys
from xenctys.domconfig import DomUConfig, Vif, normalize_mac
from xenctys.errors import ConfigError

__all__ = ["DEFAULT_MAX_BYTES", "read_config", "parse_spec", "redact"]

GUEST_TYPES = ("pv", "pvh", "hvm")
VNC_KEYS = ("vnc", "vncunused", "vncdisplay", "vnclisten", "vncconsole")
REDACTED = "***"
# Words (any case) that make a key a secret: vncpasswd, spicepasswd, password, passphrase, ..._secret.
_SECRET_WORDS = ("passw", "passphrase", "secret")


def read_config(path, sidecars=True, common_file=None, max_bytes=DEFAULT_MAX_BYTES, data=None, info=None,
                listings=None):
    """Read one DomU config file (xl or xm syntax) and its ctys side files as a :class:`DomUConfig`.

    ``sidecars``: also read the ``.ctys`` side files of spec §8.1; ``common_file``: the common
    ctys file consulted last (ctys: ``ctyskeys.DEFAULT_COMMON_FILE``; None: none).  Raises
    :class:`~xenctys.errors.ConfigError` for a file that is unreadable, not a regular file, larger
    than ``max_bytes``, binary (NUL bytes), or neither xl nor xm syntax.

    For a caller that has read the file already (discovery): ``data`` its bytes and ``info`` the
    ``os.stat_result`` they were read with (then the file is not opened again), ``listings`` a
    mapping folder -> set of names it listed (a side file not listed is not opened).
    """
    path = os.path.abspath(path)  # ctys: the ID of a VM is its config's absolute path
    if data is None or info is None:
        text, info = read_config_text(path, max_bytes)
    elif len(data) > max_bytes:
        raise ConfigError(path, 0, f"larger than {max_bytes} bytes")
    else:
        text = decode_config_bytes(data, path)
    parsed = parse_text(text, path)
    keys = collect_ctys_keys(path, parsed.ctys, sidecars, common_file, max_bytes, listings=listings)
    config = DomUConfig(path=path, syntax=parsed.syntax, mtime=info.st_mtime, size=info.st_size,
                        ctys={key: redact(key, value) for key, value in keys.values.items()},
                        ctys_ips=keys.ips, magic=list(dict.fromkeys(marker for marker, _ in parsed.markers)),
                        raw=_redacted_settings(parsed, text),
                        warnings=parsed.warnings + keys.warnings, sources=[path] + keys.sources)
    _Interpreter(config, parsed).fill()
    return config


class _Interpreter:
    """Gives the parsed keys of one file their xl/xm meaning and writes them into ``config``."""

    def __init__(self, config, parsed):
        self.config = config
        self.settings = parsed.settings
        self.lines = parsed.lines

    def warn(self, key, reason):
        self.config.warnings.append(f"{self.config.path}:{self.lines.get(key, 0)}: {key}: {reason}")

    def fill(self):
        config = self.config
        config.label = self.text("name") or config.ctys.get("LABEL", "")
        config.uuid = self.text("uuid") or config.ctys.get("UUID", "")
        config.memory = self.integer("memory")
        config.maxmem = self.integer("maxmem")
        config.vcpus = self.integer("vcpus")
        config.kernel = self.text("kernel")
        config.ramdisk = self.text("ramdisk")
        config.bootloader = self.text("bootloader")
        config.type = self.guest_type()
        config.cmdline = self.cmdline()
        config.disks = self.strings("disk")
        config.vifs = [self.vif(index, spec) for index, spec in enumerate(self.strings("vif"))]
        config.vnc = self.vnc()
        for event in ("on_poweroff", "on_reboot", "on_crash"):
            setattr(config, event, self.text(event))

    # --- typed getters ---------------------------------------------------------------------------

    def text(self, key):
        """The value of ``key`` as a string; "" when absent or a list (with a warning)."""
        value = self.settings.get(key)
        if value is None:
            return ""
        if isinstance(value, (list, dict)):
            self.warn(key, "expected a single value, found a list: ignored")
            return ""
        return str(value)

    def integer(self, key):
        """The value of ``key`` as an int (numbers or numeric strings); None when absent or not one."""
        value = self.settings.get(key)
        if value is None:
            return None
        number = _as_int(value)
        if number is None:
            self.warn(key, f"expected a number, found {value!r}: ignored")
        return number

    def strings(self, key):
        """A list of strings (a single string counts as a list of one); other items are warned about."""
        value = self.settings.get(key)
        if value is None:
            return []
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(item, str) for item in items):
            self.warn(key, "entries that are not strings: ignored")
        return [item for item in items if isinstance(item, str)]

    # --- derived fields --------------------------------------------------------------------------

    def guest_type(self):
        declared = self.text("type").lower()
        if declared in GUEST_TYPES:
            return declared
        if declared:
            self.warn("type", f"unknown guest type {declared!r}: guessed from builder/kernel")
        if self.text("builder").lower() == "hvm":  # xm and early xl: builder = "hvm"
            return "hvm"
        if "hvmloader" in self.config.kernel:  # xm HVM configs: kernel = "/usr/lib/xen/boot/hvmloader"
            return "hvm"
        return "pv"

    def cmdline(self):
        """xl's rule: ``cmdline`` wins; otherwise ``root=<root>`` and ``extra`` joined by a space."""
        cmdline = self.text("cmdline")
        if cmdline:
            return cmdline
        root, extra = self.text("root"), self.text("extra")
        if root and not root.startswith("root="):  # xm also accepted root = "root=/dev/..."
            root = "root=" + root
        return " ".join(part for part in (root, extra) if part)

    def vif(self, index, spec):
        options = parse_spec(spec)
        mac_text = options.get("mac", "")
        mac = normalize_mac(mac_text) if mac_text else ""
        if mac is None:
            self.warn("vif", f"entry {index}: malformed MAC {mac_text!r}: ignored")
            mac = ""
        return Vif(index=index, mac=mac, bridge=options.get("bridge", ""), ip=options.get("ip", ""), spec=spec)

    def vnc(self):
        """The VNC settings of the first VNC ``vfb`` entry, overridden by top-level keys."""
        vnc = {}
        for entry in self.strings("vfb"):
            options = parse_spec(entry)
            if options.get("type") == "vnc" or "vnc" in options:
                vnc = {key: _vnc_value(key, options[key]) for key in VNC_KEYS if key in options}
                if options.get("type") == "vnc":  # xm's vfb = ["type=vnc,..."] means vnc=1
                    vnc.setdefault("vnc", 1)
                break
        for key in VNC_KEYS:
            if key in self.settings and not isinstance(self.settings[key], list):
                vnc[key] = _vnc_value(key, self.settings[key])
        return vnc


def parse_spec(spec):
    """``"mac=00:16:3e:00:00:01, bridge=xenbr0"`` -> ``{"mac": ..., "bridge": ...}``.

    The ``key=value`` parts of a vif/vfb spec string; parts without ``=`` are skipped, a repeated
    key keeps its last value (libxl applies the parts in order).
    """
    options = {}
    for part in spec.split(","):
        key, equals, value = part.partition("=")
        if equals:
            options[key.strip()] = value.strip()
    return options


def redact(key, value):
    """``value`` with secrets replaced by ``***``: the whole value of a password-like ``key``, or
    the password-like parts of spec strings (also inside lists).  Empty values stay empty."""
    if _mentions_secret(key) and value not in ("", None, []):
        return REDACTED
    if isinstance(value, str):
        if not _mentions_secret(value):  # the common case, and far cheaper than the sub below
            return value
        return _redact_spec(value)
    if isinstance(value, list):
        return [redact("", item) for item in value]
    return value


def _redacted_settings(parsed, text):
    """``parsed.settings`` through :func:`redact`.  A literal text (see ``ParsedConfig.literal``)
    without any secret word has nothing to hide: one search of the text instead of one per value."""
    if parsed.literal and not _text_mentions_secret(text):
        return dict(parsed.settings)
    return {key: redact(key, value) for key, value in parsed.settings.items()}


def _redact_spec(spec):
    """The same inside a ``k=v,k=v`` spec string (vfb, spice options, ...): keep the key, hide a
    non-empty value.  Split, not a regex: a regex scanning for the word left of "=" backtracked
    quadratically on a long value without "=" (200 KB of "passw": minutes)."""
    parts = spec.split(",")
    for index, part in enumerate(parts):
        key, equals, value = part.partition("=")
        if equals and value and _mentions_secret(key):
            parts[index] = key + equals + REDACTED
    return ",".join(parts)


# ASCII-only case folding is exactly "in text.lower()" for these ASCII words: no other character
# lower-cases to one of their letters.  One C-level search per value (redact runs for every value).
_SECRET = re.compile("|".join(_SECRET_WORDS), re.IGNORECASE | re.ASCII)


def _mentions_secret(text):
    return _SECRET.search(text) is not None


def _text_mentions_secret(text):
    """:func:`_mentions_secret` for a whole file: a case-insensitive regex walks a long text ten
    times slower than ``in`` on its lower case.  ``str.lower`` may turn a few non-ASCII letters
    into ASCII ones (the Kelvin sign into "k"): more hits, never fewer, and a hit only means the
    values are redacted one by one."""
    lowered = text.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def _as_int(value):
    """An int from a number or a numeric string (read like xl reads numbers); None otherwise."""
    if isinstance(value, (bool, int)):
        return int(value)
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        number = parse_number(value.strip())
        return number if isinstance(number, int) else None
    return None


def _vnc_value(key, value):
    """``vnclisten`` is an address; the other VNC keys are numbers when they look like one."""
    if key == "vnclisten":
        return str(value)
    number = _as_int(value)
    return value if number is None else number
