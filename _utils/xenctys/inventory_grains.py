"""The ``xen`` grains of a minion, computed without Salt: role, toolstack, version, DomU inventory.

Grains run when the minion starts and on every grains refresh, before anything else works, so
this must be cheap and must never hang:

* the DomU configs come from discovery with the minion's own inventory cache (the same file and
  the same arguments as the execution module, so both keep one cache warm), summarised for the
  grains in ``grains.msgpack`` beside it (see "the grains' summary" below);
* the running domains cost exactly one toolstack call (``xl list``);
* both run under one deadline (``xen:grains_timeout``, default 5 s): a hung toolstack or a
  stuck network file system costs at most that, and the grains then come without that part
  (and say so in ``xen:errors``);
* the Xen version is read from ``/sys/hypervisor`` (no ``xl info`` call);
* a host without Xen (no /proc/xen, no Xen subtype grain, no toolstack) gets no grains at all.

Options come from the minion config only (``__opts__``: pillar does not exist at grain time).
"""

import gc
import os
import re
import stat
import threading
import time

import msgpack

from xenctys import invcache, resolve
from xenctys.address import expand_base_paths
from xenctys.domconfig import normalize_uuid
from xenctys.errors import ToolstackNotFound, XenError
from xenctys.fsutil import atomic_write
from xenctys.minion import build_host

DEFAULT_TIMEOUT = 5.0
ROLES = ("dom0", "domU", "none")
DOMU_SUBTYPES = ("Xen PV DomU", "Xen HVM DomU", "Xen PVH DomU")


# --- options -------------------------------------------------------------------------------------


def opts_getter(opts):
    """``get(key, default)`` over the minion config: ``xen: {key: ...}`` or a flat ``xen:key``."""
    section = opts.get("xen") or {}
    if not isinstance(section, dict):
        section = {}

    def get(key, default=None):
        short = key.split(":", 1)[1] if key.startswith("xen:") else key
        if short in section:
            return section[short]
        return opts.get(key, default)

    return get


def grains_timeout(get):
    """Seconds the grains may spend on the toolstack and the inventory together."""
    value = get("xen:grains_timeout", DEFAULT_TIMEOUT)
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise XenError(f"option xen:grains_timeout must be a number, not {value!r}") from None
    if seconds <= 0:
        raise XenError("option xen:grains_timeout must be positive")
    return seconds


# --- what kind of Xen host this is ---------------------------------------------------------------


def _read(path):
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read().strip()
    except OSError:
        return None


def detect_role(core_grains, proc_root="/proc"):
    """``dom0``, ``domU`` or ``none``.

    /proc/xen/capabilities holds ``control_d`` only in the control domain.  Salt's core grains
    (``virtual_subtype``) say the same from more sources, and also spot a DomU without xenfs.
    """
    capabilities = _read(os.path.join(proc_root, "xen", "capabilities"))
    subtype = str((core_grains or {}).get("virtual_subtype") or "")
    if (capabilities and "control_d" in capabilities) or subtype == "Xen Dom0":
        return "dom0"
    if subtype in DOMU_SUBTYPES or os.path.isdir(os.path.join(proc_root, "xen")):
        return "domU"
    return "none"


def hypervisor_version(sys_root="/sys"):
    """``4.17.7`` from /sys/hypervisor/version (what ``xl info`` calls xen_version); "" elsewhere."""
    folder = os.path.join(sys_root, "hypervisor")
    if _read(os.path.join(folder, "type")) != "xen":
        return ""
    major = _read(os.path.join(folder, "version", "major"))
    minor = _read(os.path.join(folder, "version", "minor"))
    if not major or minor is None:
        return ""
    return f"{major}.{minor}{_read(os.path.join(folder, 'version', 'extra')) or ''}"


# --- a deadline for everything that may hang -----------------------------------------------------


def run_with_deadline(jobs, timeout, clock=time.monotonic):
    """Run ``{name: callable}`` side by side; ``{name: (outcome, value)}`` within ``timeout`` s.

    outcome is ``ok`` (value = the return value), ``error`` (value = the XenError's message) or
    ``timeout`` (value = None).  A job still running at the deadline is left behind in a daemon
    thread: Python cannot kill a thread, and a hung ``xl`` is exactly what we must not wait for.
    """
    started = []
    for name, job in jobs.items():
        box = {}
        thread = threading.Thread(target=_run_into, args=(job, box), name=f"xen-grains-{name}", daemon=True)
        thread.start()
        started.append((name, thread, box))
    deadline = clock() + timeout
    outcomes = {}
    for name, thread, box in started:
        thread.join(max(0.0, deadline - clock()))
        outcomes[name] = box.get("outcome", ("timeout", None))
    return outcomes


def _run_into(job, box):
    try:
        box["outcome"] = ("ok", job())
    except XenError as exc:
        box["outcome"] = ("error", exc.message)
    except Exception as exc:  # pylint: disable=broad-except  # a grain must never raise
        box["outcome"] = ("error", f"{type(exc).__name__}: {exc}")


# --- the inventory as grains ---------------------------------------------------------------------


_UUID_HEX = re.compile(r"[0-9a-f]{32}")


def canonical_uuid(uuid):
    """``6842caf9-1e3e-4324-9ed5-96b8b9f2c5c2`` (as ``xl list -v`` prints it); "" when malformed."""
    # Facts already hold 32 lower-case hex digits: the quick test saves most of the warm time.
    hexdigits = uuid if isinstance(uuid, str) and _UUID_HEX.fullmatch(uuid) else normalize_uuid(uuid)
    if not hexdigits:
        return ""
    return f"{hexdigits[:8]}-{hexdigits[8:12]}-{hexdigits[12:16]}-{hexdigits[16:20]}-{hexdigits[20:]}"


def config_rows(configs):
    """``[[path, label, uuid, macs]]`` of an inventory's configs (uuid: 32 hex digits or "").

    An inventory from the cache keeps its records packed; its ``facts()`` (``resolve.ConfigFacts``
    order: path, label, uuid, macs, ...) give the same values without unpacking 10,000 of them.
    """
    facts = configs.facts() if hasattr(configs, "facts") else [resolve.config_facts(c) for c in configs]
    return [[item[0], item[1], item[2], list(item[3])] for item in facts]


def config_grains(rows):
    """``{"domus": {label: {uuid, macs, config}}, "labels", "uuids", "macs"}`` of the configs.

    Rows are taken in path order so the first config of a label is stable; a label that several
    configs use lists the others in ``other_configs``.  The flat lists hold every label, uuid
    and MAC, for ``salt -G 'xen:labels:tst100'``.
    """
    domus, uuids, macs = {}, set(), set()
    for path, label, uuid, config_macs in sorted(rows, key=lambda row: row[0]):
        if not label:
            continue
        uuid = canonical_uuid(uuid)
        uuids.add(uuid)
        macs.update(config_macs)
        entry = domus.get(label)
        if entry is None:
            domus[label] = {"uuid": uuid, "macs": list(config_macs), "config": path}
        else:
            entry.setdefault("other_configs", []).append(path)
    uuids.discard("")
    return {"domus": domus, "labels": sorted(domus), "uuids": sorted(uuids), "macs": sorted(macs)}


def add_running(grains, domains):
    """Add the running domains to :func:`config_grains` (in place): a label without a config,
    a uuid the config did not write down.  Domain-0 is the host, not a DomU."""
    domus = grains["domus"]
    new_uuids = set()
    for domain in domains:
        label = str(domain.get("name") or "")
        if not label or domain.get("domid") == 0 or label == "Domain-0":
            continue
        uuid = canonical_uuid(domain.get("uuid", ""))
        entry = domus.get(label)
        if entry is None:
            domus[label] = {"uuid": uuid, "macs": [], "config": ""}
        elif not entry["uuid"]:
            entry["uuid"] = uuid
        new_uuids.add(uuid)
    if len(domus) != len(grains["labels"]):
        grains["labels"] = sorted(domus)
    new_uuids.discard("")
    if not new_uuids.issubset(grains["uuids"]):  # sorting 10,000 uuids again only when needed
        grains["uuids"] = sorted(new_uuids.union(grains["uuids"]))
    return grains


def domu_grains(rows, domains):
    """The DomU part of the grains from config rows and running domains."""
    return add_running(config_grains(rows), domains)


# --- the grains' summary of the inventory --------------------------------------------------------
#
# Even warm, discovery stats every candidate file and loads the whole inventory cache: hundreds
# of milliseconds for 10,000 configs.  The grains keep their own summary (the config part of
# the grains, ready to use) with the mtime of every folder below the base paths and the
# signature of the inventory cache.  While none of those changed, the summary is the inventory: adding,
# removing or renaming a config (and any editor or Salt file.managed write, which renames a new
# file into place) changes its folder's mtime; any discovery that sees an in-place edit rewrites
# the inventory cache.  Only an in-place edit that no xen call has looked at yet goes unseen.

SUMMARY_KIND = "xenctys-grains-summary"
SUMMARY_FORMAT = 2
SUMMARY_NAME = "grains.msgpack"
MAX_SUMMARY_BYTES = 64 << 20


def _signature(path):
    """``[mtime_ns, size, inode]`` of a file, or None when it is not there."""
    try:
        stat_result = os.stat(path)
    except OSError:
        return None
    return [stat_result.st_mtime_ns, stat_result.st_size, stat_result.st_ino]


def _folder_mtime(path):
    try:
        stat_result = os.stat(path)
    except OSError:
        return None
    return stat_result.st_mtime_ns if stat.S_ISDIR(stat_result.st_mode) else None


def folder_stamps(bases):
    """``[[folder, mtime_ns or None]]`` of each base path and every folder below it.

    Walked like discovery walks: folder symlinks followed, each folder (device, inode) once.
    """
    stamps, seen = [], set()
    for base in bases:
        stamps.append([base, _folder_mtime(base)])
        try:
            info = os.stat(base)
        except OSError:
            continue
        if (info.st_dev, info.st_ino) in seen or stamps[-1][1] is None:
            continue  # missing, not a folder, or walked already below an earlier base path
        seen.add((info.st_dev, info.st_ino))
        stack = [base]
        while stack:
            folder = stack.pop()
            for sub in _subfolders(folder, seen):
                stamps.append([sub, _folder_mtime(sub)])
                stack.append(sub)
    return stamps


def _subfolders(folder, seen):
    found = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                try:
                    if not entry.is_dir():
                        continue
                    info = entry.stat()
                except OSError:
                    continue
                identity = (info.st_dev, info.st_ino)
                if identity not in seen:
                    seen.add(identity)
                    found.append(entry.path)
    except OSError:
        pass  # unreadable: discovery reports it; its mtime still tells when it changes
    return found


def load_summary(path):
    """The summary dict, or None when it is missing, damaged or not ours."""
    try:
        if os.path.getsize(path) > MAX_SUMMARY_BYTES:
            return None
        with open(path, "rb") as handle:
            blob = handle.read()
        # Tens of thousands of new containers would start the cyclic GC several times over;
        # none of them can form a cycle, so it has nothing to find.
        collecting = gc.isenabled()
        gc.disable()
        try:
            summary = msgpack.unpackb(blob, raw=False)
        finally:
            if collecting:
                gc.enable()
    except Exception:  # pylint: disable=broad-except  # any damage means: build it again
        return None
    if not isinstance(summary, dict) or summary.get("kind") != SUMMARY_KIND:
        return None
    return summary if summary.get("format") == SUMMARY_FORMAT else None


def summary_is_current(summary, bases, inventory_file):
    """True while no folder, no base path and not the inventory cache changed since the summary."""
    if summary.get("bases") != list(bases) or summary.get("inventory") != _signature(inventory_file):
        return False
    scanned_ns = summary.get("scanned_ns", 0)
    for folder, mtime_ns in summary.get("folders", ()):
        if _folder_mtime(folder) != mtime_ns:
            return False
        if mtime_ns is not None and invcache.is_racy(mtime_ns, scanned_ns):
            return False  # changed within the clock's granularity of our look: look again
    return True


def summarised_config_grains(summary_file, bases, inventory_file, read_configs):
    """:func:`config_grains`, from the summary while it is current, else from ``read_configs()``.

    Folders are stamped before discovery runs, so a config added meanwhile changes a stamp and
    is seen next time.  A summary that cannot be written only costs time.
    """
    summary = load_summary(summary_file)
    if summary is not None and summary_is_current(summary, bases, inventory_file):
        return summary["grains"]
    scanned_ns = time.time_ns()
    folders = folder_stamps(bases)
    grains = config_grains(config_rows(read_configs()))
    summary = {"kind": SUMMARY_KIND, "format": SUMMARY_FORMAT, "bases": list(bases), "scanned_ns": scanned_ns,
               "inventory": _signature(inventory_file), "folders": folders, "grains": grains}
    try:
        atomic_write(summary_file, msgpack.packb(summary, use_bin_type=True))
    except OSError:
        pass
    return grains


def inventory_grains(host):
    """:func:`config_grains` of the host's inventory; summarised when the inventory cache is on."""
    cache_file = host.settings.cache_file
    if not cache_file:
        return config_grains(config_rows(host.inventory().configs))
    summary_file = os.path.join(os.path.dirname(cache_file), SUMMARY_NAME)
    bases = expand_base_paths(host.settings.base_paths)
    return summarised_config_grains(summary_file, bases, cache_file, lambda: host.inventory().configs)


# --- all of it -----------------------------------------------------------------------------------


def compute(opts, core_grains=None, proc_root="/proc", sys_root="/sys", make_host=build_host):
    """The grains: ``{"xen": {...}}``, or ``{}`` on a host without Xen.  Never raises.

    ``make_host`` builds the minion's XenHost (``xenctys.minion.build_host``); tests pass their own.
    """
    role = detect_role(core_grains, proc_root)
    grains = {"role": role, "toolstack": "", "version": hypervisor_version(sys_root)}
    get = opts_getter(opts)
    try:
        timeout = grains_timeout(get)
        host = make_host(opts, _with_timeout(get, timeout), {}, _no_event)
        grains["toolstack"] = host.toolstack.name if host.toolstack.binary else ""
    except ToolstackNotFound as exc:
        if role == "none":
            return {}  # no Xen here at all
        if role == "dom0":  # a DomU without xl is normal; a dom0 without one is worth a word
            grains["errors"] = [exc.message]
        return {"xen": grains}
    except XenError as exc:  # an option with a wrong value
        grains["errors"] = [exc.message]
        return {"xen": grains}
    grains.update(_inventory_grains(host, timeout))
    return {"xen": grains}


def _with_timeout(get, timeout):
    """The options getter with ``xen:timeout`` replaced by the grain timeout (for ``xl list``)."""

    def get_for_grains(key, default=None):
        return timeout if key == "xen:timeout" else get(key, default)

    return get_for_grains


def _no_event(_action, _data):
    return None


def _inventory_grains(host, timeout):
    """Configs and running domains, side by side under one deadline; what failed goes to ``errors``."""
    outcomes = run_with_deadline({"configs": lambda: inventory_grains(host),
                                  "domains": host.toolstack.list_plain}, timeout)
    errors = []
    for part, what in (("configs", "DomU configs"), ("domains", "running domains")):
        outcome, value = outcomes[part]
        if outcome != "ok":
            reason = value if outcome == "error" else f"not known within {timeout:g} s (xen:grains_timeout)"
            errors.append(f"{what}: {reason}")
    configs_outcome, grains = outcomes["configs"]
    if configs_outcome != "ok":
        grains = config_grains([])
    domains_outcome, domains = outcomes["domains"]
    add_running(grains, domains if domains_outcome == "ok" else [])
    if errors:
        grains["errors"] = errors
    return grains
