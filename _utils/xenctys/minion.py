"""What the ``xen`` execution module does on a minion, without importing Salt.

The module passes in its ``__opts__``, a ``config.get``-like getter, ``__grains__`` and the raw
kwargs; everything here is plain data in, plain data out, and raises only XenError.
"""

import grp
import os
import pwd
import time
from dataclasses import dataclass, field

import msgpack

from xenctys import procscan, records, resolve, sessions, staticinfo
from xenctys.address import parse_address
from xenctys.domconfig import normalize_mac
from xenctys.enumrec import enumerate_records
from xenctys.errors import AddressError, XenError
from xenctys.lifecycle import HostSettings, XenHost
from xenctys.options import load_options, split_paths
from xenctys.toolstack import Toolstack

SESSION_TYPES = ("xen", "pm", "vnc", "tunnel")


# --- what Salt can send ---------------------------------------------------------------------------


def sendable(data):
    """``data`` as Salt can send it back to the master.

    A file name that is not UTF-8 (Linux allows any bytes) reaches Python as a string with lone
    surrogates (``surrogateescape``); msgpack, and so Salt's return, cannot encode it, and the
    whole return would be lost.  One msgpack pass checks; only when it fails is a copy made with
    such bytes shown as ``\\xff`` escapes.  Everything else is returned as it is.
    """
    try:
        msgpack.packb(data, use_bin_type=True, default=str)
    except UnicodeEncodeError:
        return _escaped(data)
    return data


def _escaped(data):
    if isinstance(data, str):
        try:
            data.encode("utf-8")
        except UnicodeEncodeError:
            try:
                return data.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            except UnicodeEncodeError:  # a surrogate outside U+DC80-U+DCFF: no byte behind it
                return data.encode("utf-8", "backslashreplace").decode("utf-8")
        return data
    if isinstance(data, dict):
        return {_escaped(key): _escaped(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [_escaped(item) for item in data]
    return data


# --- building the host ---------------------------------------------------------------------------


def _toolstack(options):
    return Toolstack(
        toolstack=options.toolstack,
        privilege=options.privilege,
        timeout=options.timeout,
        long_timeout=options.long_timeout,
        path=options.toolstack_path or None,
    )


def toolstack_available(opts):
    """(True, "") when xl or xm can be found with the minion's own options, else (False, why)."""
    section = opts.get("xen") or {}

    def get(key, default):
        return section.get(key.split(":", 1)[1], opts.get(key, default))

    try:
        _toolstack(load_options(get)).binary  # pylint: disable=expression-not-assigned
    except XenError as exc:
        return False, exc.message
    return True, ""


def xen_dir(opts):
    """This minion's own folder for the inventory cache, associations and locks."""
    return os.path.join(opts.get("cachedir") or "/var/cache/salt/minion", "xen")


def caller_from_kwargs(kwargs):
    """Who asked, for LIST's uid/gid/jobid (ctys' job file): the master's publishing user from
    Salt's ``__pub_*`` kwargs, else (salt-call) the user this minion runs as."""
    user = str(kwargs.get("__pub_user", "") or "")
    group = ""
    if not user:
        try:
            user = pwd.getpwuid(os.geteuid()).pw_name
            group = grp.getgrgid(os.getegid()).gr_name
        except KeyError:
            user = str(os.geteuid())
    return {"user": user, "group": group, "jid": str(kwargs.get("__pub_jid", "") or "")}


def build_host(opts, get, kwargs, fire_event):
    options = load_options(get)
    folder = xen_dir(opts)
    settings = HostSettings(
        base_paths=options.base_paths,
        cache_file=os.path.join(folder, "inventory.msgpack") if options.cache else None,
        assoc_file=os.path.join(folder, "associations.json"),
        lock_dir=os.path.join(folder, "locks"),
        save_dir=options.save_dir,
        hostname=options.hostname or opts.get("id", ""),
        poll_interval=options.poll_interval,
        common_ctys_file=options.common_ctys_file or None,
        extra={"options": options},
        info_cache_file=os.path.join(folder, "xlinfo.json") if options.cache else None,
    )
    return XenHost(_toolstack(options), settings, fire_event=fire_event, caller=caller_from_kwargs(kwargs))


# --- requests: the ctys argument string plus Salt keyword arguments ------------------------------


@dataclass
class Request:
    address: object
    options: dict = field(default_factory=dict)


def public_kwargs(kwargs):
    """Keyword arguments the user gave, without Salt's ``__pub_*`` and ``__`` internals."""
    return {k: v for k, v in kwargs.items() if not str(k).startswith("__")}


def _reject_unknown(kwargs):
    unknown = sorted(public_kwargs(kwargs))
    if unknown:
        raise AddressError(f"unknown argument(s): {', '.join(unknown)}")


def _address_text(address):
    if address is None or address == "":
        raise AddressError("a machine address is required, e.g. l:tst100 or f:tst100/tst100.conf")
    if isinstance(address, (list, tuple)):  # Salt may split a comma list given on the CLI
        address = ",".join(str(part) for part in address)
    return str(address)


def _given(*values):
    """The first value that was given (not None)."""
    for value in values:
        if value is not None:
            return value
    return None


def parse_request(address, action, kwargs, **explicit):
    """Parse an address string with its ctys suboptions; explicit keyword arguments win."""
    _reject_unknown(kwargs)
    parsed, sub = parse_address(_address_text(address), action=None if action == "address" else action)
    use_cache = _given(explicit.get("cache"), True)
    options = {"use_cache": _bool(use_cache)}
    if action == "create":
        options.update(_create_options(sub, explicit))
    elif action == "cancel":
        options.update(_cancel_options(sub, explicit))
    elif sub:
        raise AddressError(f"suboptions {', '.join(sorted(sub))} do not apply here")
    return Request(address=parsed, options=options)


def _bool(value):
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _create_options(sub, explicit):
    """CREATE options: the string's CONSOLE:, CONNECT/REUSE/RECONNECT/RESUME[:file], PAUSED."""
    mode = sub.get("mode", "")
    resume = _given(explicit.get("resume"), sub.get("statefile") if mode == "resume" else None,
                    mode == "resume")
    if isinstance(resume, str) and resume.lower() in ("true", "false", "1", "0", "yes", "no"):
        resume = _bool(resume)
    return {
        "console": str(_given(explicit.get("console"), sub.get("console"), "none")).lower(),
        "connect": _bool(_given(explicit.get("connect"), mode == "connect")),
        # RECONNECT in ctys kills the old viewers first; there are none on the dom0 here.
        "reuse": _bool(_given(explicit.get("reuse"), mode in ("reuse", "reconnect"))),
        "resume": resume,
        "paused": _bool(_given(explicit.get("paused"), sub.get("paused"), False)),
    }


def _cancel_options(sub, explicit):
    """CANCEL options: the method, POWEROFF:<s> / TIMEOUT:<s>, INIT:<n>, FORCE, ALL, STATEFILE:."""
    if sub.get("self"):
        raise AddressError("SELF would halt this dom0 itself: use system.poweroff / system.reboot for that")
    if sub.get("scope") == "client":
        raise AddressError("CLIENT: a dom0 holds no client sessions of its DomUs; stop viewers with ps.pkill")
    timeout = _given(explicit.get("timeout"), sub.get("delay"), sub.get("timeout"), 20)
    return {
        "mode": str(_given(explicit.get("mode"), sub.get("method"), "poweroff")).lower(),
        "timeout": timeout,
        "force": _bool(_given(explicit.get("force"), sub.get("force"), False)),
        "statefile": _given(explicit.get("statefile"), sub.get("statefile")),
        "init_level": sub.get("init"),
        "all_domains": _bool(sub.get("all", False)),
    }


# --- LIST ----------------------------------------------------------------------------------------


def _host_mac(options, grains):
    """The host's MAC for the PM row: the option, else the Xen bridge, else the first real NIC."""
    if options.host_mac:
        return normalize_mac(options.host_mac) or options.host_mac
    interfaces = grains.get("hwaddr_interfaces") or {}
    for name in sorted(interfaces, key=lambda n: (not n.startswith("xenbr"), n)):
        mac = normalize_mac(interfaces[name])
        if name != "lo" and mac and mac != "00:00:00:00:00:00":
            return mac
    return ""


def host_info(host, grains, xl_info=None):
    options = host.settings.extra["options"]
    name = options.hostname or grains.get("fqdn") or grains.get("host") or host.settings.hostname
    xl_info = xl_info or {}
    return {
        "host": name,
        "label": name.split(".")[0],
        "fqdn": name,
        "mac": _host_mac(options, grains),
        "execpath": host.toolstack.binary,
        "hyperrelrun": sessions.hypervisor_release(xl_info.get("xen_version", "")),
        "arch": sessions.arch_from_caps(xl_info.get("xen_caps", "")),
    }


def runtime_vnc_port(vnc):
    """Whether a config's VNC settings leave the port to be chosen at run time (``vncunused``,
    libxl's default), so that only xenstore knows it (as xlparse.vnc_settings decides it)."""
    return _bool(vnc.get("vnc", 0)) and _bool(vnc.get("vncunused", 1))


def parse_types(types):
    if types is None or types == "":
        return set(SESSION_TYPES)
    chosen = {t.strip().lower() for t in (types if isinstance(types, (list, tuple)) else str(types).split(","))}
    unknown = chosen - set(SESSION_TYPES)
    if unknown:
        raise AddressError(f"unknown session type(s) {', '.join(sorted(unknown))}: use {', '.join(SESSION_TYPES)}")
    return chosen


def _row_type(row):
    return {"XEN": "xen", "PM": "pm", "VNC": "vnc", "SSH(XEN)": "tunnel"}.get(row["sesstype"], "xen")


def list_sessions(host, opts, grains, list_opts="", types=None, cache=None, proc_root="/proc"):
    """LIST of this host: rows as dicts, or ctys MACHINE lines when ``list_opts`` asks for them."""
    flags, _ = parse_list_opts(list_opts)
    wanted = parse_types(types)
    use_cache = _bool(_given(cache, True))
    configs = host.inventory(use_cache=use_cache).configs if "xen" in wanted else []
    # The toolstack calls run at the same time: xl info only when its static part is not kept yet
    # (or cache=False), xenstore-ls in the same round when a config has a VNC port chosen at run time.
    domains, xl_info = staticinfo.list_snapshot(host.toolstack, host.settings.info_cache_file, refresh=not use_cache,
                                                vnc_ports=any(runtime_vnc_port(c.vnc) for c in configs))
    scan_clients = host.settings.extra["options"].list_clients and wanted & {"vnc", "tunnel"}
    clients = procscan.client_sessions(proc_root) if scan_clients else []
    rows = sessions.list_records(host_info(host, grains, xl_info), domains, configs,
                                 host.associations.load(), clients)
    rows = [row for row in rows if _row_type(row) in wanted]
    return format_records(rows, records.LIST_FIELDS, flags)


def parse_list_opts(text, allow_base=False):
    """ctys LIST/ENUMERATE output keywords: MACHINE, TITLEIDX, TITLE, TERSE (and ``b:`` for ENUMERATE).

    Returns (flags, base_paths).  Tables are the runner's business (``salt-run xen.list table=``).
    """
    flags, base = set(), []
    for word in (w.strip() for w in str(text or "").split(",")):
        if not word:
            continue
        key, sep, value = word.partition(":")
        if allow_base and sep and key.lower() in ("b", "base", "basepath"):
            base += split_paths(value)
        elif word.lower() in ("machine", "titleidx", "title", "terse"):
            flags.add(word.lower())
        else:
            extra = ", b:<path>[%<path>]" if allow_base else ""
            raise AddressError(
                f"unknown output option {word!r}: use machine, titleidx, title, terse{extra} "
                f"(tables come from the runner: salt-run xen.list 'macro:TAB_CPORT')"
            )
    return flags, base


def format_records(rows, fields, flags):
    if "machine" not in flags:
        return rows
    keys = tuple(key for _, _, key in fields)
    lines = [records.to_machine(row, keys) for row in rows]
    if "titleidx" in flags and "terse" not in flags:
        lines.insert(0, records.titleidx(fields))
    elif "title" in flags and "terse" not in flags:
        lines.insert(0, ";".join(name for _, name, _ in fields))
    return lines


# --- ENUMERATE, resolve, vhost -------------------------------------------------------------------


def enumerate_configs(host, opts, grains, enum_opts="", base=None, cache=True, types=None):
    """ENUMERATE of this host: one record per config and interface address, plus the PM row."""
    flags, base_in_opts = parse_list_opts(enum_opts, allow_base=True)
    wanted = parse_types(types) & {"xen", "pm"}
    base_paths = split_paths(base) + base_in_opts or None
    inventory = host.inventory(base_paths=base_paths, use_cache=_bool(cache))
    info = host_info(host, grains)
    uid, gid = str(os.getuid()), str(os.getgid())
    rows = []
    if "xen" in wanted:
        for config in inventory.configs:
            rows += enumerate_records(config, info["host"], uid=uid, gid=gid)
    if "pm" in wanted:
        rows.append(pm_enum_record(info))
    return {
        "host": info["host"],
        "records": format_records(rows, records.ENUMERATE_FIELDS, flags),
        "problems": list(inventory.problems),
        "base_paths": list(inventory.base_paths),
        "configs": len(inventory.configs),
    }


def pm_enum_record(info):
    """ctys' PM plugin row in ENUMERATE: the host itself with its MAC."""
    row = records.empty_record(records.ENUMERATE_KEYS)
    row.update(host=info["host"], sesstype="PM", label=info["label"], mac=info["mac"], category="PM",
               tcp=info.get("fqdn", ""), arch=info.get("arch", ""))
    return row


def config_summary(config):
    return {
        "label": config.label,
        "path": config.path,
        "uuid": config.uuid,
        "macs": config.macs,
        "ips": config.ips,
        "type": config.type,
        "memory": config.memory,
        "vcpus": config.vcpus,
        "vnc": dict(config.vnc),
        "syntax": config.syntax,
        "sources": list(config.sources),
        "warnings": list(config.warnings),
    }


def vhost(host, address, all_matches=False, cache=True):
    """ctys-vhost: ``-M unique`` (the one match, else an error) or ``-M all`` (every match)."""
    parsed, sub = parse_address(_address_text(address))
    if sub:
        raise AddressError(f"suboptions {', '.join(sorted(sub))} do not apply to vhost")
    inventory = host.inventory(base_paths=list(parsed.base_paths) or None, use_cache=_bool(cache))
    if all_matches:
        matches = resolve.match_configs(parsed, inventory.configs)
    else:
        matches = [resolve.resolve_config(parsed, inventory.configs)]
    return [dict(config_summary(c), host=host.settings.hostname) for c in matches]


# --- SHOW and INFO -------------------------------------------------------------------------------


def _proc_uptime():
    try:
        with open("/proc/uptime", encoding="ascii") as handle:
            return float(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def show(host, grains):
    """ctys SHOW: the host's dynamic data."""
    xl_info = host.toolstack.info()
    domains = host.toolstack.list_plain()
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {
        "host": host.settings.hostname,
        "time": time.time(),
        "uptime_seconds": _proc_uptime(),
        "load": list(load) if load else None,
        "xen": {k: xl_info.get(k) for k in ("total_memory", "free_memory", "nr_cpus", "xen_version") if k in xl_info},
        "domains": [{"name": d.get("name"), "domid": d.get("domid"), "state": d.get("state"),
                     "memory": d.get("memory"), "vcpus": d.get("vcpus")} for d in domains],
        "running": sum(1 for d in domains if d.get("domid") not in (0, None)),
    }


def info(host, opts, version):
    """ctys INFO: the static data of the host and this module."""
    options = host.settings.extra["options"]
    xl_info = host.toolstack.info()
    caps = xl_info.get("xen_caps", "")
    cache_file = host.settings.cache_file
    return {
        "host": host.settings.hostname,
        "module_version": version,
        "toolstack": host.toolstack.name,
        "toolstack_path": host.toolstack.binary,
        "privilege": options.privilege,
        "xen_version": xl_info.get("xen_version", ""),
        "xen_caps": caps,
        "accelerator": "HVM" if "hvm" in caps else "PARA",
        "arch": sessions.arch_from_caps(caps),
        "base_paths": list(options.base_paths),
        "save_dir": options.save_dir,
        "cache": {"enabled": bool(cache_file), "file": cache_file,
                  "present": bool(cache_file and os.path.exists(cache_file))},
        "timeouts": {"call": options.timeout, "long": options.long_timeout},
    }
