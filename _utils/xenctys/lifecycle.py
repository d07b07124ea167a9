"""CREATE and CANCEL on one Xen host: resolve, check, act through the toolstack, report.

Salt-free.  The execution module builds one :class:`XenHost` per call from the minion's options
and turns :class:`~xenctys.errors.XenError` into ``CommandExecutionError``.

Rules kept from ctys, and its defects fixed (spec §10):
* an address must resolve to exactly one DomU; none or several is an error naming the
  candidates, and nothing is touched (defects 6, 16);
* CANCEL matches running domains exactly, never by regex, and never falls back to "all" (16);
* RESUME restores from a state file (defect 1); SUSPEND saves to one and never overwrites (8).
"""

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from xenctys import discovery, resolve
from xenctys.assoc import AssociationStore
from xenctys.domconfig import normalize_uuid
from xenctys.errors import (
    AddressError,
    AmbiguousAddressError,
    NoMatchError,
    StateFileError,
    ToolstackError,
    UnknownDomainError,
    XenError,
)
from xenctys.fsutil import domain_lock
from xenctys.sessions import VNC_BASEPORT, config_for_domain

DEFAULT_SAVE_DIR = "/var/lib/xen/save"
# ctys' LOCAL_PORTREMAP: first local port of a client-side VNC tunnel.
LOCAL_PORTREMAP = 5950
# Consoles that need a desktop on the dom0 (ctys X11/EMACS plugins): no place in a Salt call.
DESKTOP_CONSOLES = ("xterm", "gterm", "emacs", "emacsa", "emacsm", "emacsam", "sdl")
CONSOLES = ("none", "vnc", "cli") + DESKTOP_CONSOLES
CANCEL_MODES = ("poweroff", "reboot", "reset", "pause", "suspend", "init")


@dataclass
class HostSettings:
    """Where one host keeps its things; all paths come from the minion's options."""

    base_paths: list
    cache_file: Optional[str]
    assoc_file: str
    lock_dir: str
    save_dir: str = DEFAULT_SAVE_DIR
    hostname: str = ""
    poll_interval: float = 0.5
    lock_timeout: float = 120.0
    common_ctys_file: Optional[str] = None
    extra: dict = field(default_factory=dict)
    # xl info's static part between LISTs (xenctys.staticinfo); None: xl info at every LIST.
    info_cache_file: Optional[str] = None


def _no_events(_action, _data):
    return None


class XenHost:
    """One dom0: its configs, its running domains, and the actions on them."""

    def __init__(self, toolstack, settings, fire_event: Callable = _no_events, caller=None):
        self.toolstack = toolstack
        self.settings = settings
        self.fire_event = fire_event
        self.caller = caller or {}  # user, group, jid of whoever asked (for LIST's uid/gid/jobid)
        self.associations = AssociationStore(settings.assoc_file)

    # --- what is there ---------------------------------------------------------------------------

    def inventory(self, base_paths=None, use_cache=True):
        return discovery.discover(
            base_paths=base_paths or self.settings.base_paths,
            cache_file=self.settings.cache_file,
            use_cache=use_cache,
        )

    def annotate(self, domains, configs):
        """Add ``config_path`` to each domain: recorded association, unique label, or convention."""
        by_label = {}
        for config in configs:
            by_label.setdefault(config.label, []).append(config)
        associations = self.associations.load()
        by_path = {config.path: config for config in configs}
        for domain in domains:
            domain.setdefault("macs", [v.get("mac") for v in domain.get("vifs", ()) if v.get("mac")])
            if domain.get("domid") == 0:
                domain["config_path"] = ""
                continue
            domain["config_path"], domain["config_source"] = config_for_domain(domain, associations, by_label)
            if not domain["macs"] and domain["config_path"] in by_path:
                # xl list -l leaves a domain out while xl's monitor rebuilds it after a reboot
                # (real xl): its config still says which MACs it has.
                domain["macs"] = list(by_path[domain["config_path"]].macs)
        return domains

    def resolve_config(self, address, use_cache=True):
        """The one DomU config an address names (NoMatchError / AmbiguousAddressError otherwise)."""
        base = list(address.base_paths) or None
        inventory = self.inventory(base_paths=base, use_cache=use_cache)
        return resolve.resolve_config(address, inventory.configs)

    def find_running(self, label, uuid=""):
        """The running domain named ``label`` (Xen names are unique per host), or None."""
        want_uuid = normalize_uuid(uuid) if uuid else None
        for domain in self.toolstack.list_domains():
            if domain.get("name") == label:
                if want_uuid and normalize_uuid(domain.get("uuid", "")) not in (None, want_uuid):
                    # Same name, other machine: a different config owns the running domain.
                    raise XenError(
                        f"a domain named {label!r} is running with uuid {domain.get('uuid')}, "
                        f"not the configured {uuid}"
                    )
                return domain
        return None

    def status(self, address, statefile=None, use_cache=True):
        """Where a DomU is now: running, paused, crashed, shutdown, dying, saved or off.

        The address names a config (unique, as for CREATE) or, failing that, a running domain
        without a discovered config.  ``saved`` means: not running and its state file exists.
        """
        config = None
        try:
            config = self.resolve_config(address, use_cache=use_cache)
            label = config.label
        except NoMatchError:
            try:
                label = self.match_running(address, use_cache=use_cache)[0]["name"]
            except NoMatchError:
                raise NoMatchError(f"no DomU matches {address.describe()}: no config below the base paths "
                                   f"and no running domain") from None
        domain = self.find_running(label, config.uuid if config else "")
        statefile = statefile or self.default_statefile(label)
        result = {
            "label": label,
            "config": config.path if config else "",
            "statefile": statefile,
            "domid": None,
            "uuid": config.uuid if config else "",
            "vnc_port": None,
        }
        if domain is not None:
            result.update(state=domain_state(domain.get("state", ""), domain.get("has_config", True)),
                          domid=domain.get("domid"),
                          uuid=domain.get("uuid", ""), vnc_port=domain.get("vnc_port"), flags=domain.get("state", ""))
        else:
            result["state"] = "saved" if os.path.isfile(statefile) else "off"
        return result

    # --- CREATE ----------------------------------------------------------------------------------

    def create(self, address, console="none", connect=False, reuse=False, resume=False, paused=False,
               keep_statefile=False, use_cache=True):
        """Start the DomU an address names (or connect to it, or resume it); spec §1.3."""
        console = (console or "none").lower()
        if console not in CONSOLES:
            raise AddressError(f"unknown console {console!r}: use one of {', '.join(CONSOLES)}")
        if console in DESKTOP_CONSOLES:
            raise AddressError(
                f"console {console} needs a desktop on the dom0; start headless and attach with "
                f"console=vnc (a viewer through the returned ssh tunnel) or console=cli (xl console)"
            )
        if connect and (resume or reuse):
            raise AddressError("choose one of connect, reuse, resume")
        config = self.resolve_config(address, use_cache=use_cache)
        if console == "vnc" and not vnc_enabled(config):
            raise XenError(
                f"console=vnc: {config.path} has no VNC display (set vnc=1, or vfb=['vnc=1'] for PV)"
            )
        with domain_lock(self.settings.lock_dir, config.label, self.settings.lock_timeout):
            domain = self.find_running(config.label, config.uuid)
            if domain is not None:
                if not (connect or reuse):
                    raise XenError(
                        f"DomU {config.label} is already running (domid {domain.get('domid')}); "
                        f"use connect=True to attach to it"
                    )
                return self._session(config, domain, console, started=False, action="connected")
            if connect:
                raise XenError(f"cannot connect: DomU {config.label} is not running")
            if resume:
                statefile = resume if isinstance(resume, str) else self.default_statefile(config.label)
                domain = self._restore(statefile, paused, expect_label=config.label, keep=keep_statefile)
                action = "restored"
            else:
                self.toolstack.create(config.path, paused=paused)
                domain = self._wait_listed(config.label)
                action = "created"
            self.associations.record(
                config.label, config.path, uuid=normalize_uuid(domain.get("uuid", "")) or "",
                user=self.caller.get("user", ""), group=self.caller.get("group", ""),
                jid=self.caller.get("jid", ""),
            )
        session = self._session(config, domain, console, started=True, action=action)
        self.fire_event(action, _event_data(domain, self.settings.hostname))
        return session

    def default_statefile(self, label):
        """Where SUSPEND saves and RESUME restores by default: ``<save_dir>/<label>.save``."""
        if not label or "/" in label or label in (".", ".."):
            raise AddressError(f"label {label!r} cannot name a state file")
        return os.path.join(self.settings.save_dir, f"{label}.save")

    def _restore(self, statefile, paused, expect_label=None, keep=False):
        if not os.path.isfile(statefile):
            raise StateFileError(f"cannot resume: no state file {statefile}")
        before = {d.get("domid") for d in self.toolstack.list_domains()}
        self.toolstack.restore(statefile, paused=paused)
        domain = self._new_domain(before, expect_label)
        if not keep:
            # A state file restored once must not be restored again: the guest's disks have moved
            # on, and a second restore would run the old memory image against them.
            os.unlink(statefile)
        return domain

    def _new_domain(self, before, expect_label=None):
        for domain in self.toolstack.list_domains():
            if domain.get("domid") not in before and (expect_label is None or domain.get("name") == expect_label):
                return domain
        raise ToolstackError("the toolstack reported success but the domain is not listed")

    def _wait_listed(self, label):
        domain = self.find_running(label)
        if domain is None:
            raise ToolstackError(f"xl create reported success but {label} is not listed")
        return domain

    def _session(self, config, domain, console, started, action):
        port = domain.get("vnc_port")
        host = self.settings.hostname
        session = {
            "label": config.label,
            "host": host,
            "domid": domain.get("domid"),
            "uuid": domain.get("uuid", ""),
            "config": config.path,
            "state": domain.get("state", ""),
            "started": started,
            "action": action,
            "console": console,
            "vnc": None,
        }
        if port:
            display = int(port) - VNC_BASEPORT
            session["vnc"] = {"host": host, "port": int(port), "display": display}
        if console == "vnc":
            session["connect"] = vnc_hints(config.label, host, port)
        elif console == "cli":
            session["connect"] = {"command": " ".join(self.toolstack.console_argv(config.label))}
        return session

    # --- CANCEL ----------------------------------------------------------------------------------

    def match_running(self, address, use_cache=True, allow_many=False):
        """The running DomUs an address names; exactly one unless ``allow_many``."""
        domains = self.toolstack.list_domains()
        configs = []
        if address.pathname or address.filename or address.base_paths or address.tcp:
            configs = self.inventory(base_paths=list(address.base_paths) or None, use_cache=use_cache).configs
        else:
            with_label = [d.get("name") for d in domains]
            configs = [c for c in self.inventory(use_cache=use_cache).configs if c.label in with_label]
        self.annotate(domains, configs)
        if allow_many and address.is_empty():  # CANCEL ALL: every DomU, never Domain-0
            return [d for d in domains if d.get("domid") not in (0, None)]
        matches = resolve.match_domains(address, domains, configs)
        if not matches:
            raise NoMatchError(f"no running DomU matches {address.describe()}: nothing was touched")
        if len(matches) > 1 and not allow_many:
            listed = "; ".join(f"{d.get('name')} (domid {d.get('domid')}, {d.get('config_path') or 'config unknown'})"
                               for d in matches)
            raise AmbiguousAddressError(
                f"{address.describe()} matches {len(matches)} running DomUs: {listed}; nothing was touched",
                candidates=[_candidate(d) for d in matches],
            )
        return matches

    def cancel(self, address, mode="poweroff", timeout=20, force=False, statefile=None, init_level=None,
               use_cache=True, all_domains=False):
        """Stop, reboot, reset, pause or suspend the running DomU an address names (spec §5)."""
        mode = (mode or "poweroff").lower()
        if mode not in CANCEL_MODES:
            raise AddressError(f"unknown cancel mode {mode!r}: use one of {', '.join(CANCEL_MODES)}")
        if mode == "init" and str(init_level) not in ("0", "6"):
            raise AddressError(f"INIT:{init_level} is refused: only INIT:0 (poweroff) and INIT:6 (reboot) map to Xen")
        timeout = _seconds(timeout)
        if mode == "suspend" and statefile and os.path.exists(statefile):
            raise StateFileError(f"state file {statefile} exists: refusing to overwrite it")
        results = []
        for domain in self.match_running(address, use_cache=use_cache, allow_many=all_domains):
            results.append(self._cancel_one(domain, mode, timeout, force, statefile, init_level))
        return results if all_domains else results[0]

    def _cancel_one(self, domain, mode, timeout, force, statefile, init_level):
        name = domain["name"]
        result = {"label": name, "domid": domain.get("domid"), "uuid": domain.get("uuid", ""), "mode": mode}
        if mode == "poweroff":
            result["result"] = self.poweroff(name, timeout=timeout, force=force, destroy=True)
        elif mode == "init" and str(init_level) == "0":
            result["result"] = self.poweroff(name, timeout=timeout, force=force, destroy=False)
        elif mode in ("reboot", "init"):
            self.toolstack.reboot(name, force=force)
            result["result"] = "rebooted"
            self.fire_event("rebooted", _event_data(domain, self.settings.hostname))
        elif mode == "reset":
            result["result"] = self.reset(domain)
        elif mode == "pause":
            self.toolstack.pause(name)
            result["result"] = "paused"
            self.fire_event("paused", _event_data(domain, self.settings.hostname))
        elif mode == "suspend":
            result["statefile"] = self.save(name, statefile or self.default_statefile(name), domain=domain)
            result["result"] = "saved"
        return result

    def reset(self, domain):
        """Hard reset.  HVM: ``xl trigger DOM reset`` (same domid).  PV and PVH guests have no
        reset trigger (xl(1): triggers are for HVM), so there a hard reset is what it means on
        real hardware: the domain is destroyed and started again from the config it came from.
        """
        name = domain["name"]
        if domain.get("type") == "hvm":
            self.toolstack.reset(name)
            self.fire_event("rebooted", _event_data(domain, self.settings.hostname, reset=True))
            return "rebooted"
        config_path = domain.get("config_path") or self.annotate([domain], self.inventory().configs)[0]["config_path"]
        if not config_path:
            raise XenError(f"cannot reset PV DomU {name}: the config it was started from is unknown")
        with domain_lock(self.settings.lock_dir, name, self.settings.lock_timeout):
            self.toolstack.destroy(name)
            if not self.wait_gone(name, 10):
                raise ToolstackError(f"DomU {name} was destroyed but is still listed after 10 s")
            self.toolstack.create(config_path)
            new = self._wait_listed(name)
            self.associations.record(name, config_path, uuid=normalize_uuid(new.get("uuid", "")) or "",
                                     user=self.caller.get("user", ""), group=self.caller.get("group", ""),
                                     jid=self.caller.get("jid", ""))
        self.fire_event("rebooted", _event_data(new, self.settings.hostname, reset=True))
        return "rebooted"

    def poweroff(self, name, timeout=20, force=False, destroy=True):
        """Graceful shutdown, wait up to ``timeout`` s, then destroy when ``destroy`` (ctys POWEROFF).

        Returns "shutdown" (the guest went down by itself) or "destroyed".  Without ``destroy`` a
        guest still up after the timeout is an error: it was asked, it did not go.
        """
        domain = self.find_running(name)
        if domain is None:
            raise UnknownDomainError(f"DomU {name} is not running")
        self.toolstack.shutdown(name, wait=False, force=force)
        if self.wait_gone(name, timeout):
            self.fire_event("shutdown", _event_data(domain, self.settings.hostname))
            return "shutdown"
        if not destroy:
            raise ToolstackError(f"DomU {name} did not shut down within {timeout:g} s")
        self.destroy(name, domain=domain)
        return "destroyed"

    def destroy(self, name, domain=None):
        domain = domain or self.find_running(name) or {"name": name}
        try:
            self.toolstack.destroy(name)
        except UnknownDomainError:
            return "gone"  # it went down by itself between our last look and the destroy
        except ToolstackError:
            # Real xl: racing the xl monitor that is reaping a powered-off domain, destroy exits 1
            # ("destroy failed (rc=-15)") although the domain is gone (real-Xen lab).  Look again.
            if not self.wait_gone(name, 2):
                raise
            return "gone"
        if not self.wait_gone(name, 10):
            raise ToolstackError(f"xl destroy {name} succeeded but the domain is still listed after 10 s")
        self.fire_event("destroyed", _event_data(domain, self.settings.hostname))
        return "destroyed"

    def wait_gone(self, name, timeout):
        """Poll until no domain ``name`` is listed; True if it went within ``timeout`` seconds.

        Real xl keeps a shut-down domain listed as ``--ps--`` for a second or two until its
        monitor reaps it (xen-lab pitfall 7), so "gone" means: not listed at all.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            if all(d.get("name") != name for d in self.toolstack.list_plain()):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(self.settings.poll_interval)

    def save(self, name, statefile, checkpoint=False, domain=None):
        """Save a DomU's memory to ``statefile`` (``xl save``); never overwrites an existing file.

        xl writes to a temporary name beside the target, renamed only after xl succeeded, so a
        crash half-way never leaves a truncated file where RESUME would look for a good one.
        """
        domain = domain or self.find_running(name)
        if domain is None:
            raise UnknownDomainError(f"DomU {name} is not running")
        statefile = os.path.abspath(statefile)
        with domain_lock(self.settings.lock_dir, name, self.settings.lock_timeout):
            if os.path.exists(statefile):
                raise StateFileError(f"state file {statefile} exists: refusing to overwrite it")
            try:
                os.makedirs(os.path.dirname(statefile), exist_ok=True)
            except (OSError, ValueError) as err:  # read-only, no permission, NUL byte in the name
                raise StateFileError(f"cannot create the folder of {statefile!r}: {err}") from None
            # One name per call: two saves of different DomUs onto one file (same minion process
            # when multiprocessing is off, so the pid alone is not enough) never share a partial.
            partial = f"{statefile}.partial-{os.getpid()}-{threading.get_ident()}"
            try:
                self.toolstack.save(name, partial, checkpoint=checkpoint)
            except ToolstackError:
                if os.path.exists(partial):
                    os.unlink(partial)
                raise
            _publish_without_overwrite(partial, statefile)
        self.fire_event("saved", dict(_event_data(domain, self.settings.hostname), statefile=statefile))
        return statefile

    def restore(self, statefile, paused=False, keep_statefile=True):
        """``xl restore`` a state file; returns the restored domain's session data."""
        statefile = os.path.abspath(statefile)
        domain = self._restore(statefile, paused, keep=keep_statefile)
        self.fire_event("restored", dict(_event_data(domain, self.settings.hostname), statefile=statefile))
        return {"label": domain.get("name"), "domid": domain.get("domid"), "uuid": domain.get("uuid", ""),
                "state": domain.get("state", ""), "statefile": statefile}

    def simple_action(self, address, action, use_cache=True, **kwargs):
        """pause / unpause / reboot / reset / destroy / shutdown on the one running DomU an address names."""
        domain = self.match_running(address, use_cache=use_cache)[0]
        name = domain["name"]
        if action == "destroy":
            outcome = self.destroy(name, domain=domain)
        elif action == "shutdown" and kwargs.get("wait"):
            outcome = self.poweroff(name, timeout=_seconds(kwargs.get("timeout", 20)),
                                    force=kwargs.get("force", False), destroy=False)
        elif action == "shutdown":
            outcome = self._shutdown_nowait(domain, kwargs.get("force", False))
        else:
            method = getattr(self.toolstack, action)
            if action == "reset":
                return {"label": name, "domid": domain.get("domid"), "uuid": domain.get("uuid", ""),
                        "result": self.reset(domain)}
            if action == "reboot":
                method(name, force=kwargs.get("force", False))
            else:
                method(name)
            outcome = {"pause": "paused", "unpause": "unpaused", "reboot": "rebooted", "reset": "rebooted"}[action]
            self.fire_event(outcome, _event_data(domain, self.settings.hostname))
        return {"label": name, "domid": domain.get("domid"), "uuid": domain.get("uuid", ""), "result": outcome}

    def _shutdown_nowait(self, domain, force):
        self.toolstack.shutdown(domain["name"], wait=False, force=force)
        self.fire_event("shutdown", _event_data(domain, self.settings.hostname))
        return "shutdown requested"


def _publish_without_overwrite(partial, statefile):
    """Give the finished ``partial`` its final name unless that name exists meanwhile.

    ``os.link`` fails when the target exists, where a rename would silently replace it; the
    partial then stays, with the message naming it: after ``xl save`` it may hold the only image
    of the (now stopped) DomU.
    """
    try:
        os.link(partial, statefile)
    except FileExistsError:
        raise StateFileError(f"state file {statefile} appeared while saving: kept both, see {partial}") from None
    except OSError:  # no hard links on this file system: check, then rename (a small window)
        if os.path.exists(statefile):
            raise StateFileError(f"state file {statefile} appeared while saving: kept both, see {partial}") from None
        os.rename(partial, statefile)
        return
    os.unlink(partial)


def domain_state(flags, has_config=True):
    """xl's state flags (``r b p s c d``, spec of xl list) -> one word.

    Order matters: a paused domain also shows ``b`` or ``r`` on some hosts, and a domain that is
    shutting down keeps its other flags for a moment.  A paused domain that ``xl list -l`` cannot
    describe is being rebuilt by xl's monitor after a reboot (real xl: ``--p---``, Time 0.0,
    "Fail to get domain configuration"): it is ``starting``, not paused by anyone.
    """
    flags = flags or ""
    for letter, word in (("d", "dying"), ("c", "crashed"), ("s", "shutdown")):
        if letter in flags:
            return word
    if "p" in flags:
        return "paused" if has_config else "starting"
    return "running"  # r (running), b (blocked: idle, waiting for events) or no flag at all


def vnc_enabled(config):
    """True when the DomU will have a VNC display: ``vnc=1`` (HVM default) or a vfb with vnc."""
    value = config.vnc.get("vnc")
    if value is None:
        return config.type == "hvm"  # xl.cfg(5): vnc defaults to 1 for HVM guests
    return str(value).lower() in ("1", "true", "yes", "on")


def vnc_hints(label, host, port):
    """How a client reaches the DomU's VNC console: directly, or through an ``ssh -L`` tunnel (ctys -L CF)."""
    if not port:
        return {"note": f"{label} has no VNC port yet; call xen.list later"}
    display = int(port) - VNC_BASEPORT
    local = LOCAL_PORTREMAP + display
    return {
        "viewer": f"vncviewer {host}:{display}",
        "tunnel": f"ssh -f -L {local}:127.0.0.1:{port} root@{host} 'sleep 120 # DYNREMAP:XEN:{label}:{host}'",
        "tunnel_viewer": f"vncviewer -name {label}:{display} 127.0.0.1::{local}",
    }


def _seconds(value):
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise AddressError(f"timeout must be a number of seconds, not {value!r}") from None
    if seconds < 0:
        raise AddressError(f"timeout must not be negative: {value!r}")
    return seconds


def _event_data(domain, host, **extra):
    data = {"label": domain.get("name", ""), "uuid": domain.get("uuid", ""), "domid": domain.get("domid"),
            "host": host}
    data.update(extra)
    return data


def _candidate(domain):
    return {"label": domain.get("name", ""), "domid": domain.get("domid"), "uuid": domain.get("uuid", ""),
            "config": domain.get("config_path", ""),
            "macs": [v.get("mac") for v in domain.get("vifs", ()) if v.get("mac")]}
