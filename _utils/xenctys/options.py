"""The ``xen:*`` options of a minion, validated once, with their defaults.

Salt adapters pass a getter (``config.get``, which layers minion config, grains and pillar);
this module knows every option name, its default and its type, so a typo in a value is one
clear error instead of a traceback deep in a call.
"""

import os
from dataclasses import dataclass

from xenctys.errors import XenError

DEFAULT_BASE_PATHS = ["/etc/xen", "/etc/ctys.d"]
TOOLSTACKS = ("auto", "xl", "xm")
PRIVILEGES = ("none", "sudo", "ksu")


@dataclass
class XenOptions:
    base_paths: list
    toolstack: str = "auto"
    privilege: str = "none"
    timeout: float = 30.0
    long_timeout: float = 300.0
    save_dir: str = "/var/lib/xen/save"
    cache: bool = True
    hostname: str = ""
    host_mac: str = ""
    toolstack_path: str = ""
    poll_interval: float = 0.5
    common_ctys_file: str = ""
    list_clients: bool = True  # LIST scans /proc for VNC viewers and ssh tunnels


def split_paths(value):
    """Base paths as a list: a list, or a ctys ``p1%p2`` / comma-separated string."""
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    else:
        items = str(value).replace(",", "%").split("%")
    return [item.strip() for item in items if item.strip()]


def _number(name, value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise XenError(f"option xen:{name} must be a number, not {value!r}") from None
    if number < 0:
        raise XenError(f"option xen:{name} must not be negative")
    return number


def _choice(name, value, choices):
    value = str(value).lower()
    if value not in choices:
        raise XenError(f"option xen:{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def _flag(name, value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise XenError(f"option xen:{name} must be true or false, not {value!r}")


def load_options(get):
    """Read every ``xen:*`` option through ``get(key, default)``."""
    base_paths = split_paths(get("xen:base_paths", DEFAULT_BASE_PATHS))
    return XenOptions(
        base_paths=[os.path.expanduser(p) for p in base_paths],
        toolstack=_choice("toolstack", get("xen:toolstack", "auto"), TOOLSTACKS),
        privilege=_choice("privilege", get("xen:privilege", "none"), PRIVILEGES),
        timeout=_number("timeout", get("xen:timeout", 30)),
        long_timeout=_number("long_timeout", get("xen:long_timeout", 300)),
        save_dir=str(get("xen:save_dir", "/var/lib/xen/save")),
        cache=_flag("cache", get("xen:cache", True)),
        hostname=str(get("xen:hostname", "") or ""),
        host_mac=str(get("xen:host_mac", "") or ""),
        toolstack_path=str(get("xen:toolstack_path", "") or ""),
        poll_interval=_number("poll_interval", get("xen:poll_interval", 0.5)),
        common_ctys_file=str(get("xen:common_ctys_file", "") or ""),
        list_clients=_flag("list_clients", get("xen:list_clients", True)),
    )
