"""The ``xen`` grains of a minion, computed without Salt: role, toolstack, version, DomU inventory.

Grains run when the minion starts and on every grains refresh, before anything else works, so
this must be cheap and must never hang:

* the DomU configs come from discovery with the minion's own inventory cache (the same file and
  the same arguments as the execution module, so both keep one cache warm);
* the running domains cost exactly one toolstack call (``xl list``);
* both run under one deadline (``xen:grains_timeout``, default 5 s): a hung toolstack or a
  stuck network file system costs at most that, and the grains then come without that part
  (and say so in ``xen:errors``);
* the Xen version is read from ``/sys/hypervisor`` (no ``xl info`` call);
* a host without Xen (no /proc/xen, no Xen subtype grain, no toolstack) gets no grains at all.

Options come from the minion config only (``__opts__``: pillar does not exist at grain time).
"""

import os
import threading
import time

from xenctys.domconfig import normalize_uuid
from xenctys.errors import ToolstackNotFound, XenError
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


def canonical_uuid(uuid):
    """``6842caf9-1e3e-4324-9ed5-96b8b9f2c5c2`` (as ``xl list -v`` prints it); "" when malformed."""
    hexdigits = normalize_uuid(uuid)
    if not hexdigits:
        return ""
    return "-".join((hexdigits[:8], hexdigits[8:12], hexdigits[12:16], hexdigits[16:20], hexdigits[20:]))


def domu_grains(configs, domains):
    """``{"domus": {label: {uuid, macs, config}}, "labels", "uuids", "macs"}``.

    Configs first (sorted by path, so the first config of a label is stable); a label that
    several configs use lists the others in ``other_configs``.  Running domains without a config
    add their label and uuid.  The flat lists hold every label, uuid and MAC seen, for
    ``salt -G 'xen:labels:tst100'``.
    """
    domus, uuids, macs = {}, set(), set()
    for config in sorted(configs, key=lambda c: c.path):
        if not config.label:
            continue
        uuid = canonical_uuid(config.uuid)
        uuids.add(uuid)
        macs.update(config.macs)
        entry = domus.get(config.label)
        if entry is None:
            domus[config.label] = {"uuid": uuid, "macs": list(config.macs), "config": config.path}
        else:
            entry.setdefault("other_configs", []).append(config.path)
    for domain in domains:
        label = str(domain.get("name") or "")
        if not label or domain.get("domid") == 0 or label == "Domain-0":
            continue
        uuid = canonical_uuid(domain.get("uuid", ""))
        uuids.add(uuid)
        entry = domus.setdefault(label, {"uuid": uuid, "macs": [], "config": ""})
        entry["uuid"] = entry["uuid"] or uuid
    uuids.discard("")
    return {"domus": domus, "labels": sorted(domus), "uuids": sorted(uuids), "macs": sorted(macs)}


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
    outcomes = run_with_deadline({"configs": lambda: host.inventory().configs,
                                  "domains": host.toolstack.list_plain}, timeout)
    errors = []
    parts = {}
    for part, what in (("configs", "DomU configs"), ("domains", "running domains")):
        outcome, value = outcomes[part]
        if outcome == "ok":
            parts[part] = value
            continue
        parts[part] = []
        reason = value if outcome == "error" else f"not known within {timeout:g} s (xen:grains_timeout)"
        errors.append(f"{what}: {reason}")
    grains = domu_grains(parts["configs"], parts["domains"])
    if errors:
        grains["errors"] = errors
    return grains
