"""Pure parsers of the text ``xl`` (and ``xm``) prints: list, list -l, info, uptime, network-list.

Every function takes the command's stdout as text and returns plain dicts and lists; none runs
anything.  The formats were read off real Xen 4.17 output (``corpus/xl-real``) and older xl/xm
output (``corpus/list-output/ganeti``); the details that matter:

* ``xl list`` pads with spaces *and* TABs (``VCPUs\\tState\\tTime(s)``) and the name column is
  ``%-40s``: a row is parsed from its right end, so names with spaces and names longer than 40
  characters both work.  The six state flags are positional: ``r b p s <reason> d``, where the
  fifth is the shutdown reason letter (``-`` poweroff, ``r`` reboot, ``s`` suspend, ``c`` crash,
  ``w`` watchdog, ``S`` soft reset), so ``--psc-`` is a crashed domain and ``---sr-`` one shut
  down for a reboot that nobody restarted.
* ``xl list -l`` is JSON (a list of ``{"domid", "config"}``) unless ``xl.conf`` asks for SXP;
  SXP (and the xend ``xm list --long`` format) is handed to :mod:`xenctys.sxp`.
* ``xl info`` is ``%-23s: %s``; ``xl info -n`` adds tables (cpu_topology, numa_info) whose
  lines also contain colons.
"""

import json
import re

from xenctys.domconfig import normalize_mac
from xenctys.errors import ToolstackError

VNC_BASEPORT = 5900

# Shutdown reason letters of the fifth state flag (xl_list.c: "-rscwS").
SHUTDOWN_REASONS = {"-": "poweroff", "r": "reboot", "s": "suspend", "c": "crash", "w": "watchdog", "S": "soft_reset"}

_LIST_ROW = re.compile(
    r"^(?P<name>.*?)\s+(?P<domid>\d+)\s+(?P<memory>\d+)\s+(?P<vcpus>\d+)\s+"
    r"(?P<state>[-rbpscdwS?]{6})\s+(?P<time>\d+(?:\.\d+)?)(?P<rest>.*)$"
)
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_INFO_KEY = re.compile(r"^(?P<key>[A-Za-z_][\w ]*?)\s*:(?: (?P<value>.*)|(?P<empty>))$")
# xl prints "%-23s: "; a colon much further left belongs to a table line ("cpu:    core ...").
_INFO_KEY_MIN_COLON = 16
_INFO_NUMERIC = {
    "nr_cpus", "max_cpu_id", "nr_nodes", "cores_per_socket", "threads_per_core", "total_memory",
    "free_memory", "sharing_freed_memory", "sharing_used_memory", "outstanding_claims", "free_cpus",
    "xen_major", "xen_minor", "xen_pagesize", "xend_config_format", "max_node_id",
}
_UPTIME_ROW = re.compile(r"^(?P<name>.*?)\s+(?P<domid>\d+)\s+(?P<uptime>(?:\d+ days?,\s+)?\d+:\d\d(?::\d\d)?)\s*$")
_UPTIME_SHORT_ROW = re.compile(
    r"^\s*(?P<now>\d+:\d\d:\d\d) up\s+(?P<uptime>(?:\d+ days?,\s+)?\d+:\d\d), (?P<name>.*) \((?P<domid>\d+)\)\s*$"
)
_NETWORK_ROW = re.compile(
    r"^(?P<idx>\d+)\s+(?P<backend_id>\d+)\s+(?P<mac>[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5})\s+(?P<handle>-?\d+)\s+"
    r"(?P<state>-?\d+)\s+(?P<evtch>-?\d+)\s+(?P<tx>-?\d+)\s*/\s*(?P<rx>-?\d+)\s+(?P<path>\S+)"
)


# --- xl list ---------------------------------------------------------------------------------------


def parse_xl_list(text):
    """``xl list`` (also ``-v``, ``-Z``, ``-n``, ``xm list``) -> one dict per domain row.

    Keys: name, domid, memory (MiB), vcpus, state (the six flags as printed), time (CPU seconds),
    flags (running, blocked, paused, shutdown, dying, crashed: bools), shutdown_reason ("" while
    not shut down); with ``-v`` also uuid and reason_code, with ``-v``/``-Z`` security_label,
    with ``-n`` node_affinity.  A ``(null)`` name (a domain being torn down whose xenstore entry
    is already gone) becomes "".  Lines that are not rows (header, warnings) are skipped.
    """
    columns = _extra_columns("")
    rows = []
    for line in text.splitlines():
        if line.startswith("Name") and "ID" in line:
            columns = _extra_columns(line)
            continue
        match = _LIST_ROW.match(line.rstrip())
        if match:
            rows.append(_list_row(match, columns))
    return rows


def _extra_columns(header):
    """Which optional columns follow Time(s), in xl's print order (xl_list.c list_domains)."""
    return {
        "uuid": "UUID" in header,
        "reason_code": "Reason-Code" in header,
        "claimed": "Claimed" in header,
        "security_label": "Security Label" in header,
        "cpupool": "Cpupool" in header,
        "node_affinity": "NODE Affinity" in header,
    }


def _list_row(match, columns):
    name = match.group("name").strip()
    state = match.group("state")
    row = {
        "name": "" if name == "(null)" else name,
        "domid": int(match.group("domid")),
        "memory": int(match.group("memory")),
        "vcpus": int(match.group("vcpus")),
        "state": state,
        "time": float(match.group("time")),
    }
    row.update(state_flags(state))
    row.update(_extra_values(match.group("rest").split(), columns))
    return row


def state_flags(state):
    """The six positional state flags -> ``{"flags": {...}, "shutdown_reason": ...}``."""
    state = (state or "------").ljust(6, "-")
    shutdown = state[3] == "s"
    reason = SHUTDOWN_REASONS.get(state[4], "unknown") if shutdown else ""
    flags = {
        "running": state[0] == "r",
        "blocked": state[1] == "b",
        "paused": state[2] == "p",
        "shutdown": shutdown,
        "crashed": state[4] == "c",
        "dying": state[5] == "d",
    }
    return {"flags": flags, "shutdown_reason": reason}


def _extra_values(tokens, columns):
    values = {}
    tokens = list(tokens)
    if columns["uuid"] and tokens and _UUID.match(tokens[0]):
        values["uuid"] = tokens.pop(0)
    if columns["reason_code"] and tokens:
        values["reason_code"] = tokens.pop(0)
    if columns["claimed"] and tokens:
        values["claimed"] = tokens.pop(0)
    if columns["security_label"] and tokens:
        values["security_label"] = tokens.pop(0)
    if columns["cpupool"] and tokens:
        values["cpupool"] = tokens.pop(0)
    if columns["node_affinity"] and tokens:
        values["node_affinity"] = " ".join(tokens)
    return values


# --- xl list -l ------------------------------------------------------------------------------------


def parse_xl_list_long(text):
    """``xl list -l`` -> one dict per domain (see :func:`domain_from_libxl`).

    Accepts the JSON list xl prints, a single ``libxl_domain_config`` object (``xl create -n``,
    libvirt's libxl-json files: domid None), and SXP (``xl.conf`` output_format="sxp", old xl,
    ``xm list --long``), which :func:`xenctys.sxp.domains_from_sxp` reads.  Empty text -> [].
    """
    stripped = (text or "").strip()
    if not stripped:
        return []
    if stripped.startswith("("):
        from xenctys.sxp import domains_from_sxp  # pylint: disable=import-outside-toplevel  # sxp imports us

        return domains_from_sxp(stripped)
    try:
        data = json.loads(stripped)
    except ValueError as exc:
        raise ToolstackError(f"xl list -l printed no valid JSON: {exc}") from None
    if isinstance(data, dict):
        return [domain_from_libxl(data, None)]
    if not isinstance(data, list):
        raise ToolstackError(f"xl list -l printed JSON {type(data).__name__}, expected a list")
    entries = [entry for entry in data if isinstance(entry, dict)]
    return [domain_from_libxl(entry.get("config") or {}, entry.get("domid")) for entry in entries]


def domain_from_libxl(config, domid=None):
    """One ``libxl_domain_config`` (JSON, as a dict) -> the domain dict of the core.

    Keys: domid, name, uuid, type, memory/maxmem (MiB, from target/max_memkb), vcpus (online,
    from avail_vcpus), max_vcpus, kernel, ramdisk, cmdline, bootloader, vifs (devid, mac,
    bridge, ip, model, nictype, script), disks (source paths), disk_devices, vnc (see
    :func:`vnc_settings`), on_poweroff/on_reboot/on_crash (libxl defaults filled in),
    has_config True.
    """
    c_info = config.get("c_info") or {}
    b_info = config.get("b_info") or {}
    guest_type = c_info.get("type") or _type_from_b_info(b_info)
    pv_info = b_info.get("type.pv") or {}
    return {
        "domid": domid,
        "name": c_info.get("name", ""),
        "uuid": c_info.get("uuid", ""),
        "type": guest_type,
        "memory": _kib_to_mib(b_info.get("target_memkb")),
        "maxmem": _kib_to_mib(b_info.get("max_memkb")),
        "vcpus": _online_vcpus(b_info),
        "max_vcpus": b_info.get("max_vcpus"),
        "kernel": b_info.get("kernel") or pv_info.get("kernel", ""),
        "ramdisk": b_info.get("ramdisk") or pv_info.get("ramdisk", ""),
        "cmdline": b_info.get("cmdline") or pv_info.get("cmdline", ""),
        "bootloader": b_info.get("bootloader") or pv_info.get("bootloader", ""),
        "vifs": [_vif_from_nic(index, nic) for index, nic in enumerate(config.get("nics") or ())],
        "disks": [d.get("pdev_path") for d in config.get("disks") or () if d.get("pdev_path")],
        "disk_devices": [_disk_device(d) for d in config.get("disks") or ()],
        "vnc": vnc_settings(b_info, config.get("vfbs") or ()),
        "on_poweroff": config.get("on_poweroff", "destroy"),
        "on_reboot": config.get("on_reboot", "restart"),
        "on_crash": config.get("on_crash", "destroy"),
        "has_config": True,
    }


def _type_from_b_info(b_info):
    for guest_type in ("hvm", "pvh", "pv"):
        if f"type.{guest_type}" in b_info:
            return guest_type
    return ""


def _kib_to_mib(kib):
    return int(kib) // 1024 if isinstance(kib, int) else None


def _online_vcpus(b_info):
    """avail_vcpus is a bitmap printed as the list of set bits; absent means all max_vcpus."""
    avail = b_info.get("avail_vcpus")
    if isinstance(avail, list):
        return len(avail)
    return b_info.get("max_vcpus")


def _vif_from_nic(index, nic):
    mac = nic.get("mac", "")
    return {
        "devid": nic.get("devid", index),
        "mac": normalize_mac(mac) or mac,
        "bridge": nic.get("bridge", ""),
        "ip": nic.get("ip", ""),
        "model": nic.get("model", ""),
        "nictype": nic.get("nictype", ""),
        "script": nic.get("script", ""),
    }


def _disk_device(disk):
    return {
        "path": disk.get("pdev_path", ""),
        "vdev": disk.get("vdev", ""),
        "format": disk.get("format", ""),
        "backend": disk.get("backend", ""),
        "readwrite": bool(disk.get("readwrite", 0)),
        "cdrom": bool(disk.get("is_cdrom", 0)),
    }


def defbool(value):
    """libxl's defbool as JSON ("True", "False", "default", or a JSON bool) -> True/False/None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return bool(value)
    text = str(value or "").strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    return None


def vnc_settings(b_info, vfbs=()):
    """The VNC display of a libxl config: the HVM device model's, else the first VNC vfb's.

    Returns {"enabled", "listen", "display", "findunused", "port"}.  ``findunused`` follows
    libxl's default (True when absent), and then the port is only known at run time (xenstore
    ``/local/domain/<id>/console/vnc-port``): ``port`` is None.  Otherwise port = 5900 + display.
    """
    candidates = [(b_info.get("type.hvm") or {}).get("vnc")] + [(vfb or {}).get("vnc") for vfb in vfbs]
    for vnc in candidates:
        if isinstance(vnc, dict) and defbool(vnc.get("enable")):
            return _vnc_dict(vnc)
    return {"enabled": False, "listen": "", "display": None, "findunused": None, "port": None}


def _vnc_dict(vnc):
    findunused = defbool(vnc.get("findunused"))
    findunused = True if findunused is None else findunused
    display = vnc.get("display")
    display = int(display) if isinstance(display, int) or str(display or "").isdigit() else None
    port = None if findunused else VNC_BASEPORT + (display or 0)
    return {"enabled": True, "listen": vnc.get("listen", ""), "display": display, "findunused": findunused,
            "port": port}


# --- xl info ---------------------------------------------------------------------------------------


def parse_xl_info(text):
    """``xl info`` (also ``-n``, ``xm info``) -> {key: value}.

    Values are strings with trailing blanks removed (``xen_caps`` ends in a space), except the
    counts and sizes of ``_INFO_NUMERIC``, which are ints.  The tables of ``xl info -n``
    (cpu_topology, device topology, numa_info) are lists of their raw lines under their key.
    """
    info = {}
    table_key = None
    for line in text.splitlines():
        match = _INFO_KEY.match(line)
        if match and line.index(":") >= _INFO_KEY_MIN_COLON:
            key = match.group("key").strip()
            value = (match.group("value") or "").rstrip()
            info[key] = _info_value(key, value)
            table_key = key if not value else None
        elif table_key and line.strip():
            if not isinstance(info[table_key], list):
                info[table_key] = []
            info[table_key].append(line.rstrip())
    return info


def _info_value(key, value):
    if key in _INFO_NUMERIC and value.isdigit():
        return int(value)
    return value


# --- xl uptime -------------------------------------------------------------------------------------


def parse_xl_uptime(text):
    """``xl uptime`` or ``xl uptime -s`` -> [{name, domid, uptime (as printed), seconds}].

    ``-s`` rows also carry ``now`` (the host's clock as printed); their uptime has no seconds.
    """
    rows = []
    for line in text.splitlines():
        match = _UPTIME_SHORT_ROW.match(line) or _UPTIME_ROW.match(line)
        if not match or line.startswith("Name"):
            continue
        row = {
            "name": match.group("name").strip(),
            "domid": int(match.group("domid")),
            "uptime": " ".join(match.group("uptime").split()),
            "seconds": uptime_seconds(match.group("uptime")),
        }
        if "now" in match.groupdict():
            row["now"] = match.group("now")
        rows.append(row)
    return rows


def uptime_seconds(text):
    """``"98 days,  2:27:44"`` / ``" 0:00:37"`` / ``"2:27"`` (h:mm, short form) -> seconds."""
    days = 0
    text = text.strip()
    if "day" in text:
        count, _, text = text.partition(" ")
        days = int(count)
        text = text.split(",", 1)[1].strip()
    parts = [int(p) for p in text.split(":")]
    if len(parts) == 2:  # short form: hours and minutes
        parts.append(0)
    hours, minutes, seconds = parts
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


# --- xl network-list -------------------------------------------------------------------------------


def parse_network_list(text):
    """``xl network-list DOM`` (or ``xm network-list``) -> one dict per vif.

    Keys: idx, backend_id, mac, handle, state, evtch, tx_ring_ref, rx_ring_ref (ints) and
    backend_path.  The header (which xl prints even for an unknown domain) is skipped.
    """
    vifs = []
    for line in text.splitlines():
        match = _NETWORK_ROW.match(line.strip())
        if match:
            vifs.append({
                "idx": int(match.group("idx")),
                "backend_id": int(match.group("backend_id")),
                "mac": normalize_mac(match.group("mac")),
                "handle": int(match.group("handle")),
                "state": int(match.group("state")),
                "evtch": int(match.group("evtch")),
                "tx_ring_ref": int(match.group("tx")),
                "rx_ring_ref": int(match.group("rx")),
                "backend_path": match.group("path"),
            })
    return vifs


# --- xenstore --------------------------------------------------------------------------------------

_VNC_PORT_NODE = re.compile(r"^/local/domain/(?P<domid>\d+)/console/vnc-port\s*=\s*\"(?P<port>\d+)\"")


def parse_vnc_ports(xenstore_ls_text):
    """``xenstore-ls -f /local/domain`` -> {domid: VNC port} from the ``console/vnc-port`` nodes."""
    ports = {}
    for line in xenstore_ls_text.splitlines():
        match = _VNC_PORT_NODE.match(line.strip())
        if match:
            ports[int(match.group("domid"))] = int(match.group("port"))
    return ports
