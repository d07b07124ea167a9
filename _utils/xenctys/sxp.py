"""xend's S-expressions (SXP): the ``xm list --long`` format, and what old ``xl list -l`` printed.

``parse_sxp(text)`` gives nested Python lists of strings: ``(domain (domid 6)(name 'pv'))`` ->
``[["domain", ["domid", "6"], ["name", "pv"]]]``.  Atoms stay strings (``'1'`` and ``1`` are the
same to xend); quotes ('...' or "...", with backslash escapes) only group characters.

Unbalanced input: real files end early (one of libvirt's test records,
``sexpr2xml-bridge-ipaddr.sexpr``, lacks its last ``)``), and ``xm`` killed by a timeout leaves
a cut record.  By default the end of the text closes every open list, so what was there is kept;
a stray ``)`` at the top level is skipped.  ``strict=True`` raises :class:`ToolstackError` for
both instead, and :func:`sxp_balance` tells how many lists the end of the text had to close.

``domains_from_sxp(text)`` turns ``(domain ...)`` records into the domain dicts of
:func:`xenctys.xlparse.domain_from_libxl`, plus ``state`` (xend prints the six xl flags) and
``time`` (cpu_time).
"""

from xenctys.domconfig import normalize_mac, normalize_uuid
from xenctys.errors import ToolstackError
from xenctys.xlparse import VNC_BASEPORT, defbool

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}
_DELIMITERS = "()'\""
# Prefixes of a vbd/tap ``uname`` before the source path: file:, phy:, tap:aio:, tap2:tapdisk:vhd:...
_DISK_DRIVERS = ("file", "phy", "tap", "tap2", "tapdisk", "aio", "qcow", "qcow2", "vhd", "raw", "drbd", "iscsi")


# --- tokens and lists ------------------------------------------------------------------------------


def tokenize(text):
    """Yield ``(`` and ``)`` as themselves and every atom as ``("atom", value)``."""
    index, length = 0, len(text)
    while index < length:
        char = text[index]
        if char.isspace():
            index += 1
        elif char in "()":
            yield char
            index += 1
        elif char in "'\"":
            value, index = _quoted(text, index)
            yield ("atom", value)
        else:
            start = index
            while index < length and not text[index].isspace() and text[index] not in _DELIMITERS:
                index += 1
            yield ("atom", text[start:index])


def _quoted(text, index):
    """The quoted atom starting at ``text[index]`` and the index after it (EOF ends it too)."""
    quote, index, chars = text[index], index + 1, []
    while index < len(text) and text[index] != quote:
        if text[index] == "\\" and index + 1 < len(text):
            index += 1
            chars.append(_ESCAPES.get(text[index], text[index]))
        else:
            chars.append(text[index])
        index += 1
    return "".join(chars), index + 1


def _parse(text, strict):
    """(top-level expressions, number of lists the end of the text closed)."""
    top, stack = [], []
    for token in tokenize(text):
        if token == "(":
            stack.append([])
        elif token == ")":
            if not stack:
                if strict:
                    raise ToolstackError("SXP: unbalanced ')'")
                continue  # a stray ')' closes nothing: skip it
            done = stack.pop()
            (stack[-1] if stack else top).append(done)
        else:
            (stack[-1] if stack else top).append(token[1])
    unclosed = len(stack)
    if unclosed and strict:
        raise ToolstackError(f"SXP: {unclosed} list(s) not closed at the end of the text")
    while stack:  # the end of the text closes what is still open
        done = stack.pop()
        (stack[-1] if stack else top).append(done)
    return top, unclosed


def parse_sxp(text, strict=False):
    """SXP text -> list of top-level expressions (lists of strings and lists).  See module doc."""
    return _parse(text, strict)[0]


def sxp_balance(text):
    """How many lists were still open at the end of ``text`` (0 for a complete record)."""
    return _parse(text, False)[1]


# --- looking things up in an expression ------------------------------------------------------------


def children(expr, key):
    """Every sub-list of ``expr`` whose head is ``key``."""
    return [item for item in expr[1:] if isinstance(item, list) and item and item[0] == key]


def child(expr, key):
    """The first sub-list of ``expr`` whose head is ``key``, or None."""
    found = children(expr, key)
    return found[0] if found else None


def value(expr, key, default=""):
    """The first atom after ``key`` in ``(key atom)``; ``default`` when absent; "" for ``(key )``."""
    item = child(expr, key) if expr else None
    if item is None:
        return default
    return item[1] if len(item) > 1 and isinstance(item[1], str) else ""


def _int(text, default=None):
    try:
        return int(str(text).strip(), 0)
    except ValueError:
        try:
            return int(float(text))
        except (TypeError, ValueError):
            return default


def _float(text, default=None):
    try:
        return float(text)
    except (TypeError, ValueError):
        return default


# --- domains ---------------------------------------------------------------------------------------


def domains_from_sxp(text):
    """Every ``(domain ...)`` record of ``text`` -> domain dicts (see module doc)."""
    return [domain_from_sxp(expr) for expr in parse_sxp(text) if isinstance(expr, list) and expr[:1] == ["domain"]]


def domain_from_sxp(domain):
    """One ``(domain ...)`` expression -> the domain dict (keys as in ``xlparse.domain_from_libxl``)."""
    image = _image(domain)
    devices = [d[1] for d in children(domain, "device") if len(d) > 1 and isinstance(d[1], list)]
    domid = _int(value(domain, "domid", None)) if child(domain, "domid") else None
    return {
        "domid": domid,
        "name": value(domain, "name"),
        "uuid": _dashed_uuid(value(domain, "uuid")),
        "type": "hvm" if image and image[0] == "hvm" else "pv",
        "memory": _int(value(domain, "memory", None)),
        "maxmem": _int(value(domain, "maxmem", None)),
        "vcpus": _online_vcpus(domain),
        "max_vcpus": _int(value(domain, "vcpus", None)),
        "kernel": value(image, "kernel") if image else "",
        "ramdisk": value(image, "ramdisk") if image else "",
        "cmdline": value(image, "args") if image else "",
        "bootloader": value(domain, "bootloader"),
        "vifs": [_vif(index, dev) for index, dev in enumerate(d for d in devices if d[0] == "vif")],
        "disks": [p for p in (_disk_path(value(d, "uname")) for d in devices if d[0] in ("vbd", "tap", "tap2")) if p],
        "disk_devices": [_disk_device(d) for d in devices if d[0] in ("vbd", "tap", "tap2")],
        "vnc": _vnc(image, [d for d in devices if d[0] == "vfb"], domid),
        "on_poweroff": value(domain, "on_poweroff", "destroy"),
        "on_reboot": value(domain, "on_reboot", "restart"),
        "on_crash": value(domain, "on_crash", "restart"),  # xend's default, unlike libxl's
        "has_config": True,
        "state": value(domain, "state"),
        "time": _float(value(domain, "cpu_time", None)),
    }


def _image(domain):
    """The ``(linux ...)`` or ``(hvm ...)`` inside ``(image ...)``, or None."""
    image = child(domain, "image")
    if image and len(image) > 1 and isinstance(image[1], list):
        return image[1]
    return None


def _dashed_uuid(text):
    """xend prints UUIDs with or without dashes; give the usual 8-4-4-4-12 form when it is one."""
    hexdigits = normalize_uuid(text)
    if not hexdigits:
        return text
    return "-".join((hexdigits[:8], hexdigits[8:12], hexdigits[12:16], hexdigits[16:20], hexdigits[20:]))


def _online_vcpus(domain):
    """online_vcpus when xend reports it; else the bits of the vcpu_avail mask; else vcpus."""
    online = _int(value(domain, "online_vcpus", None))
    if online is not None:
        return online
    mask = _int(value(domain, "vcpu_avail", None))
    if mask is not None:
        return bin(mask).count("1")
    return _int(value(domain, "vcpus", None))


def _vif(index, device):
    mac = value(device, "mac")
    return {
        "devid": index,
        "mac": normalize_mac(mac) or mac,
        "bridge": value(device, "bridge"),
        "ip": value(device, "ip"),
        "model": value(device, "model"),
        "nictype": value(device, "type"),
        "script": value(device, "script"),
    }


def _disk_path(uname):
    """``file:/x.img`` / ``tap:aio:/x.img`` / ``phy:/dev/vg/lv`` -> the path after the drivers."""
    parts = uname.split(":")
    while len(parts) > 1 and parts[0] in _DISK_DRIVERS:
        parts.pop(0)
    return ":".join(parts)


def _disk_device(device):
    dev = value(device, "dev")
    return {
        "path": _disk_path(value(device, "uname")),
        "vdev": dev.split(":")[-1] if dev.startswith("ioemu:") else dev.split(":")[0],
        "format": "",
        "backend": device[0],
        "readwrite": value(device, "mode", "w").startswith("w"),
        "cdrom": dev.endswith(":cdrom"),
    }


def _vnc(image, vfbs, domid):
    """VNC of a vfb device (PV) or of the image (HVM, old PV): same dict as ``xlparse.vnc_settings``.

    A running xend record has ``(location host:port)`` in the vfb; without it the port is known
    only when vncunused is 0: 5900 + vncdisplay (xend's default display is the domid).
    """
    for source in vfbs + ([image] if image else []):
        if defbool(value(source, "vnc", "0")) or value(source, "type") == "vnc":
            return _vnc_dict(source, domid)
    return {"enabled": False, "listen": "", "display": None, "findunused": None, "port": None}


def _vnc_dict(source, domid):
    findunused = defbool(value(source, "vncunused", "1"))
    findunused = True if findunused is None else findunused
    display = _int(value(source, "vncdisplay", None))
    location = value(source, "location")
    port = _int(location.rpartition(":")[2]) if location else None
    if port is None and not findunused:
        shown = display if display is not None else domid
        port = VNC_BASEPORT + shown if shown is not None else None
    return {"enabled": True, "listen": value(source, "vnclisten"), "display": display, "findunused": findunused,
            "port": port}
