"""The static part of ``xl info`` (Xen version and capabilities), kept between two LISTs.

A LIST row names the running hypervisor (HYPERRELRUN ``xen-4.17.7``) and the architecture (from
``xen_caps``).  Both change only when the hypervisor boots again, and that boots dom0 again too:
so the values are kept in a small file in the minion's xen cache folder, keyed by

* the dom0 kernel's ``boot_id`` (``/proc/sys/kernel/random/boot_id``, new at every boot),
* the toolstack binary's path, mtime and size (an upgraded or another xl/xm),
* the core's version (a change of what is kept).

Any other key, a missing or unreadable file, or no boot_id at all: ``xl info`` is asked again
(in the same round as the LIST's own calls, see :meth:`Toolstack.snapshot`) and the file
rewritten.  ``xen.info`` and ``xen.show`` always ask ``xl info`` live.
"""

import json
import os

from xenctys import __version__
from xenctys.fsutil import atomic_write

BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"
STATIC_KEYS = ("xen_major", "xen_minor", "xen_extra", "xen_version", "xen_caps")


def boot_key(binary, boot_id_file=None):
    """What the kept values depend on, as a dict; None when it cannot be known (no caching)."""
    try:
        with open(boot_id_file or BOOT_ID_FILE, encoding="ascii") as handle:
            boot_id = handle.read().strip()
        stat = os.stat(binary)
    except (OSError, ValueError):
        return None
    if not boot_id:
        return None
    return {"boot_id": boot_id, "binary": binary, "mtime_ns": stat.st_mtime_ns, "size": stat.st_size,
            "core": __version__}


def static_part(info):
    """The keys of ``xl info`` that only a new boot changes."""
    return {key: info[key] for key in STATIC_KEYS if key in info}


def load(path, key):
    """The kept static info when ``path`` holds it for ``key``, else None."""
    if not path or key is None:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key or not isinstance(data.get("info"), dict):
        return None
    return data["info"]


def store(path, key, info):
    """Keep ``info``'s static part for ``key``; a failure to write only costs the next LIST a call."""
    if not path or key is None:
        return
    try:
        atomic_write(path, json.dumps({"key": key, "info": static_part(info)}, sort_keys=True).encode("utf-8"))
    except OSError:
        pass


def list_snapshot(toolstack, path, refresh=False, vnc_ports=False):
    """``(domains, static xl info)`` of one LIST: ``toolstack.snapshot`` with ``xl info`` only
    when the file ``path`` has no valid static info (or ``refresh``); ``vnc_ports`` as there."""
    key = boot_key(toolstack.binary) if path else None
    info = None if refresh else load(path, key)
    if info is not None:
        return toolstack.snapshot(vnc_ports=vnc_ports)[0], info
    domains, live = toolstack.snapshot(info=True, vnc_ports=vnc_ports)
    store(path, key, live)
    return domains, static_part(live)
