"""ctys machine addresses and the CREATE / CANCEL suboptions that travel with them (spec §2, §1.3.1, §1.4).

One string such as ``f:tst100/tst100.conf,CONSOLE:cli,connect`` carries both the machine address
(which DomU) and the action's suboptions (what to do).  :func:`parse_address` splits it into an
:class:`Address` and an ``options`` dict, and rejects anything malformed with one
:class:`~xenctys.errors.AddressError` line.

Syntax kept from ctys (``cliSplitSubOpts``/``cliGetKey``/``cliGetArg``):

* parts are separated by ``,``; a part is ``KEY:value`` or a bare keyword; keys are
  case-insensitive, values keep their case (keyword values such as ``CONSOLE:CLI`` are folded to
  lower case, they are keywords too);
* the value is everything after the first ``:``, so ``m:00:50:56:13:11:40`` is the key ``m``
  with the value ``00:50:56:13:11:40`` (ctys has to re-join it; splitting once needs no re-join);
* in ``b:`` lists a single ``%`` separates paths and ``%%`` is a literal ``%``.

Decisions (documented deviations from ctys):

* A bare word with no key (``tst100``) is taken as a label, but only when it is a valid ctys label
  (``[A-Za-z0-9_][A-Za-z0-9_.-]*``, at most 64 characters) and not a suboption keyword of either
  action (``connect``, ``reboot``, ``all`` ...) nor an address key name (``p``, ``label`` ...).
  ctys itself requires the ``l:`` key; accepting the bare form is a convenience for Salt users
  (``salt host xen.create tst100``) that cannot shadow a keyword.
* ``ID``/``I`` is the config path for XEN ("id==pathname"), so it is one key with ``P``.
* A key given twice with the same value is harmless; with different values it is an error
  (ctys ORs several ``P:`` in CANCEL; we want one meaning per call).
* ``,,`` / ``\\,`` literal commas are not supported (no valid address part needs a comma).
* ``DBRECORD``/``DBREC``/``DR`` (ctys-vhost record numbers) do not exist here: unknown key.
* ``ALL`` (CANCEL) stands instead of an address: combining it with address parts is an error.
"""

import ipaddress
import os
import posixpath
import re
from dataclasses import dataclass

from xenctys.domconfig import normalize_mac, normalize_uuid
from xenctys.errors import AddressError

MAX_ADDRESS_LENGTH = 4096
MAX_LABEL_LENGTH = 64
ACTIONS = ("create", "cancel")

# Address keys: every alias -> the Address field it fills.
ADDRESS_KEYS = {
    "p": "pathname", "pathname": "pathname", "pname": "pathname", "i": "pathname", "id": "pathname",
    "f": "filename", "filename": "filename", "fname": "filename",
    "l": "label", "label": "label",
    "u": "uuid", "uuid": "uuid",
    "m": "mac", "mac": "mac",
    "t": "tcp", "tcp": "tcp",
    "b": "base_paths", "basepath": "base_paths", "base": "base_paths",
}
# Parts that identify a DomU; ``b:`` only narrows where to look, so it is not enough alone.
IDENTIFYING_FIELDS = ("pathname", "filename", "label", "uuid", "mac", "tcp")
# Canonical order and key of each field in Address.describe().
CANONICAL_KEYS = (("pathname", "p"), ("filename", "f"), ("label", "l"), ("uuid", "u"), ("mac", "m"),
                  ("tcp", "t"), ("base_paths", "b"))

CONSOLES = ("cli", "xterm", "gterm", "emacs", "emacsa", "emacsm", "emacsam", "vnc", "sdl", "none")
INIT_LEVELS = ("0", "1", "2", "3", "4", "5", "6")

_LABEL_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")
_HOSTNAME_RE = re.compile(
    r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?\Z"
)


@dataclass(frozen=True)
class Address:
    """A parsed machine address: every part the caller gave, normalized; empty = not given.

    Plain and immutable (picklable, hashable), so it can cross process boundaries and be
    used as a key.
    """

    pathname: str = ""  # absolute config path (p:, i:), os.path-normalized
    filename: str = ""  # path suffix (f:), matched on whole path components
    label: str = ""  # Xen domain name (l:), exact and case-sensitive
    uuid: str = ""  # 32 lower-case hex digits (u:)
    mac: str = ""  # ``aa:bb:cc:dd:ee:ff`` lower case (m:)
    tcp: str = ""  # IP address (normalized) or host name as given (t:)
    base_paths: tuple = ()  # b: paths as given (``~`` and relative paths are expanded by discovery)

    def is_empty(self):
        """True when no part that identifies a DomU was given (``b:`` alone does not)."""
        return not any(getattr(self, name) for name in IDENTIFYING_FIELDS)

    def describe(self):
        """Canonical text of the address, for messages: ``l:tst100,m:00:50:56:13:11:40``."""
        parts = []
        for name, key in CANONICAL_KEYS:
            value = getattr(self, name)
            if name == "base_paths":
                value = "%".join(path.replace("%", "%%") for path in value)
            if value:
                parts.append(f"{key}:{value}")
        return ",".join(parts)

    def __str__(self):
        return self.describe()


# --- suboptions ----------------------------------------------------------------------------------
# Each suboption keyword (and alias) maps to an _Option saying where its value goes.  Options of
# one exclusive group share ``dest``: giving two of them is "choose one of ...".


@dataclass(frozen=True)
class _Option:
    dest: str  # key in the options dict
    value: object = True  # what a bare keyword stores (the group member's canonical name)
    arg: str = "none"  # "none", "optional" or "required"
    kind: str = "text"  # how the argument is checked: text, seconds, console, init, path
    arg_dest: str = ""  # options key of the argument (defaults to dest)
    group: tuple = ()  # the names offered in the "choose one of" message


_CREATE_MODES = ("connect", "reuse", "reconnect", "resume")
_CANCEL_METHODS = ("poweroff", "reboot", "reset", "pause", "suspend", "init")
_SCOPES = ("client", "server", "both")
_PROPAGATION = ("force", "stack")

CREATE_OPTIONS = {
    "console": _Option("console", arg="required", kind="console"),
    "connect": _Option("mode", "connect", group=_CREATE_MODES),
    "reuse": _Option("mode", "reuse", group=_CREATE_MODES),
    "reconnect": _Option("mode", "reconnect", group=_CREATE_MODES),
    "resume": _Option("mode", "resume", arg="optional", kind="path", arg_dest="statefile", group=_CREATE_MODES),
    "paused": _Option("paused"),
}
CANCEL_OPTIONS = {
    "poweroff": _Option("method", "poweroff", arg="optional", kind="seconds", arg_dest="delay",
                        group=_CANCEL_METHODS),
    "s5": _Option("method", "poweroff", arg="optional", kind="seconds", arg_dest="delay", group=_CANCEL_METHODS),
    "reboot": _Option("method", "reboot", group=_CANCEL_METHODS),
    "reset": _Option("method", "reset", group=_CANCEL_METHODS),
    "pause": _Option("method", "pause", group=_CANCEL_METHODS),
    "s3": _Option("method", "pause", group=_CANCEL_METHODS),
    "suspend": _Option("method", "suspend", group=_CANCEL_METHODS),
    "s4": _Option("method", "suspend", group=_CANCEL_METHODS),
    "init": _Option("method", "init", arg="required", kind="init", arg_dest="init", group=_CANCEL_METHODS),
    "force": _Option("force", True, group=_PROPAGATION),
    "stack": _Option("force", False, group=_PROPAGATION),  # STACK is ctys' default: propagate first
    "self": _Option("self"),
    "timeout": _Option("timeout", arg="required", kind="seconds"),
    "client": _Option("scope", "client", group=_SCOPES),
    "server": _Option("scope", "server", group=_SCOPES),
    "both": _Option("scope", "both", group=_SCOPES),
    "all": _Option("all"),
    "statefile": _Option("statefile", arg="required", kind="path"),
}
_OPTIONS_BY_ACTION = {"create": CREATE_OPTIONS, "cancel": CANCEL_OPTIONS}
# Every suboption keyword of either action: never a bare label.
ALL_OPTION_KEYWORDS = frozenset(CREATE_OPTIONS) | frozenset(CANCEL_OPTIONS)


# --- public entry point --------------------------------------------------------------------------


def parse_address(text, action=None):
    """Parse a ctys machine address with optional suboptions: ``(Address, options)``.

    ``action`` is ``"create"``, ``"cancel"`` or None.  With an action only that action's
    suboptions are accepted; with None the suboptions of both are (so a string written for
    either action can be resolved as is), each still checked.

    ``options`` has lower-case keys; what is not given is absent:

    * CREATE: ``console`` (``cli`` ... ``none``, lower case), ``mode`` (``connect``, ``reuse``,
      ``reconnect`` or ``resume``), ``statefile`` (``RESUME:<file>``), ``paused`` (True).
    * CANCEL: ``method`` (``poweroff``, ``reboot``, ``reset``, ``pause``, ``suspend``, ``init``;
      S5/S3/S4 are folded), ``delay`` (int, ``POWEROFF:<s>``), ``init`` (str ``0``-``6``),
      ``force`` (True for FORCE, False for STACK), ``self``, ``all`` (True), ``timeout`` (int),
      ``scope`` (``client``, ``server``, ``both``), ``statefile`` (str).

    An address part that identifies a DomU (p/i, f, l, u, m, t) is mandatory, except for CANCEL
    ``ALL``, which excludes every address part.  Raises :class:`AddressError` (one line).
    """
    action = _check_action(action)
    _check_text(text)
    known_options = _known_options(action)
    fields, options, chosen = {}, {}, {}
    for part in _split_parts(text):
        _apply_part(part, fields, options, chosen, known_options, action)
    address = Address(**fields)
    _check_completeness(address, options, text)
    return address, options


# --- steps ---------------------------------------------------------------------------------------


def _check_action(action):
    if action is None:
        return None
    lowered = str(action).lower()
    if lowered not in ACTIONS:
        raise AddressError(f"unknown action {action!r}: use one of {', '.join(ACTIONS)}")
    return lowered


def _check_text(text):
    if not isinstance(text, str):
        raise AddressError(f"a machine address must be a string, not {type(text).__name__}")
    if len(text) > MAX_ADDRESS_LENGTH:
        raise AddressError(f"machine address too long ({len(text)} characters, at most {MAX_ADDRESS_LENGTH})")
    if "\x00" in text:
        raise AddressError("machine address contains a NUL byte")
    bad = next((ch for ch in text if not ch.isprintable() and ch != " "), None)
    if bad is not None:
        raise AddressError(f"machine address contains the control character {bad!r}")
    if not text.strip():
        raise AddressError("empty machine address")


def _known_options(action):
    if action is not None:
        return _OPTIONS_BY_ACTION[action]
    merged = dict(CANCEL_OPTIONS)
    merged.update(CREATE_OPTIONS)  # "statefile" etc. exist in one action only; no name clashes
    return merged


def _split_parts(text):
    """The non-empty, stripped comma-separated parts (a trailing or doubled comma is harmless)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def _apply_part(part, fields, options, chosen, known_options, action):
    """Put one ``KEY[:value]`` part into ``fields`` (address) or ``options`` (suboptions).

    ``chosen`` remembers which keyword filled each exclusive group, for the error message.
    """
    key, sep, value = part.partition(":")
    keyword = key.strip().lower()
    value = value.strip()
    if keyword in ADDRESS_KEYS:
        if not sep or not value:
            raise AddressError(f"address key {key.strip().upper()} needs a value ({key.strip()}:<value>)")
        field_name = ADDRESS_KEYS[keyword]
        _store(fields, field_name, _ADDRESS_VALUE_CHECKS[field_name](value, keyword), _key_name(field_name))
    elif keyword in known_options:
        _apply_option(keyword, sep, value, options, chosen, known_options[keyword])
    elif keyword in ALL_OPTION_KEYWORDS:
        raise AddressError(f"{keyword.upper()} is not a {action.upper()} suboption: "
                           f"use one of {_known_list(known_options)}")
    elif not sep and _LABEL_RE.match(part) and len(part) <= MAX_LABEL_LENGTH:
        _store(fields, "label", part, "l")  # bare word: a label (see module docstring)
    elif not sep:
        raise AddressError(f"cannot read {part!r}: not a key:value pair, keyword or label; "
                           f"known keys: {_known_list(known_options)}")
    else:
        raise AddressError(f"unknown key {key.strip()!r}: known keys are {_known_list(known_options)}")


def _apply_option(keyword, sep, value, options, chosen, option):
    if option.arg == "none" and sep:
        raise AddressError(f"{keyword.upper()} takes no value (got {keyword.upper()}:{value})")
    if option.arg == "required" and not value:
        raise AddressError(f"{keyword.upper()} needs a value ({keyword.upper()}:<value>)")
    if option.group:
        _store_choice(options, chosen, keyword, option)
    if value:
        checked = _OPTION_VALUE_CHECKS[option.kind](value, keyword)
        _store(options, option.arg_dest or option.dest, checked, keyword.upper())
    elif not option.group:
        _store(options, option.dest, option.value, keyword.upper())


def _store(target, name, value, shown_key):
    """Set ``target[name]``; the same value twice is fine, a different one is an error."""
    if name in target and target[name] != value:
        raise AddressError(f"{shown_key.upper()} given twice with different values: "
                           f"{_show(target[name])} and {_show(value)}")
    target[name] = value


def _store_choice(options, chosen, keyword, option):
    """Set the value of an exclusive group (``mode``, ``method``, ``scope``, ``force``)."""
    if option.dest in options and options[option.dest] != option.value:
        raise AddressError(f"choose one of {', '.join(name.upper() for name in option.group)} "
                           f"(got {chosen[option.dest].upper()} and {keyword.upper()})")
    options[option.dest] = option.value
    chosen.setdefault(option.dest, keyword)


def _check_completeness(address, options, text):
    if options.get("all"):
        if not address.is_empty():
            raise AddressError(f"ALL stands for every DomU: drop the address parts ({address.describe()})")
        return
    if address.is_empty():
        raise AddressError(f"no machine address in {text.strip()!r}: give one of p:, f:, l:, u:, m:, t: "
                           f"(or ALL for CANCEL)")


# --- value checks: each returns the normalized value or raises AddressError -----------------------


def _path_components_ok(path, keyword):
    if any(component == ".." for component in path.split("/")):
        raise AddressError(f"{keyword.upper()}:{path}: '..' path components are refused")


def _check_pathname(value, keyword):
    if not value.startswith("/"):
        raise AddressError(f"{keyword.upper()}:{value}: a pathname has to be absolute (use f: for a relative "
                           f"file name)")
    _path_components_ok(value, keyword)
    return _normpath(value)


def _check_filename(value, keyword):
    _path_components_ok(value, keyword)
    suffix = _normpath(value).lstrip("/")
    if suffix in ("", "."):
        raise AddressError(f"{keyword.upper()}:{value}: empty file name")
    return suffix


def _check_label(value, keyword):
    if len(value) > 255 or any(ch.isspace() for ch in value):
        raise AddressError(f"{keyword.upper()}:{value!r}: a label has no spaces and at most 255 characters")
    return value


def _check_uuid(value, keyword):
    uuid = normalize_uuid(value)
    if uuid is None:
        raise AddressError(f"{keyword.upper()}:{value}: not a UUID (32 hex digits, dashes optional)")
    return uuid


def _check_mac(value, keyword):
    mac = normalize_mac(value)
    if mac is None:
        raise AddressError(f"{keyword.upper()}:{value}: not a MAC address (six hex pairs, ':' or '-')")
    return mac


def _check_tcp(value, keyword):
    ip = normalize_ip(value)
    if ip:
        return ip
    if _HOSTNAME_RE.match(value) and not value.replace(".", "").isdigit():
        return value
    raise AddressError(f"{keyword.upper()}:{value}: not an IP address or host name")


def _check_base_paths(value, keyword):
    paths = []
    for path in split_percent_list(value):
        if path:
            _path_components_ok(path, keyword)
            paths.append(path)
    if not paths:
        raise AddressError(f"{keyword.upper()}:{value}: no base path")
    return tuple(paths)


def _check_seconds(value, keyword):
    if not value.isdigit() or len(value) > 9:
        raise AddressError(f"{keyword.upper()}:{value}: seconds must be a whole number")
    return int(value)


def _check_console(value, keyword):
    console = value.lower()
    if console not in CONSOLES:
        raise AddressError(f"{keyword.upper()}:{value}: unknown console, use one of "
                           f"{', '.join(c.upper() for c in CONSOLES)}")
    return console


def _check_init(value, keyword):
    if value not in INIT_LEVELS:
        raise AddressError(f"{keyword.upper()}:{value}: the init state is one of {', '.join(INIT_LEVELS)}")
    return value


def _check_option_path(value, keyword):
    _path_components_ok(value, keyword)
    return value


_ADDRESS_VALUE_CHECKS = {
    "pathname": _check_pathname,
    "filename": _check_filename,
    "label": _check_label,
    "uuid": _check_uuid,
    "mac": _check_mac,
    "tcp": _check_tcp,
    "base_paths": _check_base_paths,
}
_OPTION_VALUE_CHECKS = {
    "seconds": _check_seconds,
    "console": _check_console,
    "init": _check_init,
    "path": _check_option_path,
    "text": lambda value, _keyword: value,
}


# --- small helpers shared with resolve/discovery ------------------------------------------------------


def normalize_ip(text):
    """Canonical text of an IPv4/IPv6 address (``::1``, ``192.168.1.220``), or "" when not one."""
    try:
        return str(ipaddress.ip_address(text.strip()))
    except (ValueError, AttributeError):
        return ""


def split_percent_list(value):
    """ctys ``%`` list: ``a%b`` -> [a, b]; ``%%`` is a literal ``%``."""
    # NUL never survives _check_text, so it can stand in for the literal percent.
    return [item.replace("\x00", "%") for item in value.replace("%%", "\x00").split("%")]


def expand_base_paths(base_paths, home=None):
    """Base paths as absolute, normalized, de-duplicated paths (ctys semantics).

    ``base_paths`` is a list/tuple of paths or one ctys ``p1%p2`` string.  ``~`` and ``~/x`` are the
    home directory (``~user`` works too); a relative path is relative to the home directory, as
    on a ctys target, where the remote ctys runs in ``$HOME``.
    """
    home = home or os.path.expanduser("~")
    items = split_percent_list(base_paths) if isinstance(base_paths, str) else list(base_paths or ())
    expanded = []
    for item in items:
        path = str(item).strip()
        if not path:
            continue
        if path == "~" or path.startswith("~/"):
            path = home + path[1:]
        elif path.startswith("~"):
            path = os.path.expanduser(path)
        if not path.startswith("/"):
            path = os.path.join(home, path)
        path = _normpath(path)
        if path not in expanded:
            expanded.append(path)
    return expanded


def _normpath(path):
    normalized = posixpath.normpath(path)
    # POSIX keeps a leading "//"; one root is enough for comparisons.
    return "/" + normalized.lstrip("/") if normalized.startswith("//") else normalized


def _key_name(field_name):
    return dict(CANONICAL_KEYS)[field_name]


def _known_list(known_options):
    address_keys = "P|PATHNAME|PNAME|I|ID, F|FILENAME|FNAME, L|LABEL, U|UUID, M|MAC, T|TCP, B|BASEPATH|BASE"
    return f"{address_keys}; suboptions {', '.join(sorted(k.upper() for k in known_options))}"


def _show(value):
    if isinstance(value, tuple):
        return "%".join(value)
    return str(value)
