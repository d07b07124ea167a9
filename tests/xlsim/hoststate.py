"""The simulated host's state: one JSON file under a file lock, plus time and faults.

Directory ``$XLSIM_STATE`` holds:

``state.json``
    ``{"boot_time", "next_domid", "hostname", "domains": [...]}``; each domain a dict with
    domid, name, uuid, type, memory/maxmem (MiB), vcpus/max_vcpus, paused, shutdown
    (None or {"reason", "at"}), pending (a shutdown/reboot the guest is carrying out:
    {"reason", "at"}), reap_at (when xl's monitor acts on a shut-down domain), monitor (False
    after ``save -c``, xen-lab pitfall 8), created, config_path, config (libxl JSON),
    vnc_port, on_poweroff/on_reboot/on_crash.  Domain-0 is domain 0 of the list.
``faults.json``
    optional switches, read at every call (``$XLSIM_FAULTS``, JSON, is merged over it):
    ``latency`` (seconds, or {verb: seconds, "*": seconds}), ``hang`` (true, or a list of verbs:
    sleep until killed), ``fail_next`` ({"count", "stderr", "rc", "verbs"}: the next calls fail
    like that), ``no_hypervisor`` / ``not_root`` (true: every call fails as on a host without
    Xen / run as non-root), ``ignore_shutdown`` (names: such guests ignore shutdown and reboot
    requests; destroy works), ``crash`` (names, or {name: seconds after start}: such guests
    crash, then on_crash decides), ``shutdown_seconds`` (seconds a guest takes to shut down, or
    {name: seconds, "*": seconds}), ``reap_seconds`` (how long a shut-down domain stays listed
    ``--ps--`` before xl's monitor destroys or restarts it), ``min_memory`` (MiB below which
    the kernel does not fit, default 74: ``memory=64`` fails as in xl-create-too-little-memory).
``lock``
    the fcntl lock file: every read-modify-write of state.json holds it, so concurrent calls
    (and several simulated hosts in several directories) are safe.

Time is lazy: nothing runs between calls; each call first advances the domains to "now"
(shutdowns that completed, monitors that reaped, crashes that happened).
"""

import contextlib
import fcntl
import json
import os
import time
import uuid as uuidlib

STATE_FILE = "state.json"
FAULTS_FILE = "faults.json"
LOCK_FILE = "lock"
DEFAULTS = {"shutdown_seconds": 0.2, "reap_seconds": 0.5, "min_memory": 74, "rebuild_seconds": 0.2}
VNC_BASEPORT = 5900
DOM0_UUID = "00000000-0000-0000-0000-000000000000"


class SimExit(Exception):
    """End the simulated command: ``stderr`` lines are printed, ``rc`` is the exit status."""

    def __init__(self, rc, *stderr):
        super().__init__(rc)
        self.rc = rc
        self.stderr = [line for line in stderr if line is not None]


def state_dir():
    """``$XLSIM_STATE``, created if missing; a clear error when the variable is not set."""
    folder = os.environ.get("XLSIM_STATE")
    if not folder:
        raise SimExit(2, "xlsim: XLSIM_STATE is not set: it must name the simulated host's state directory "
                         "(see tests/xlsim/control.py make_host)")
    os.makedirs(folder, exist_ok=True)
    return folder


# --- files -----------------------------------------------------------------------------------------


def read_json(path, default):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return default


def write_json(path, data):
    """Atomic: a reader never sees half a file (write a temporary file, then rename it)."""
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1)  # key order matters: it is xl list -l's
    os.replace(temporary, path)


@contextlib.contextmanager
def locked(folder):
    """Hold the host's exclusive lock for the duration of the block."""
    fd = os.open(os.path.join(folder, LOCK_FILE), os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def load_faults(folder):
    faults = dict(DEFAULTS)
    faults.update(read_json(os.path.join(folder, FAULTS_FILE), {}))
    extra = os.environ.get("XLSIM_FAULTS")
    if extra:
        faults.update(json.loads(extra))
    return faults


def fresh_state(hostname="dom0"):
    now = time.time()
    dom0 = {
        "domid": 0, "name": "Domain-0", "uuid": DOM0_UUID, "type": "pv", "memory": 1536, "maxmem": 1536,
        "vcpus": 2, "max_vcpus": 2, "paused": False, "shutdown": None, "pending": None, "reap_at": None,
        "monitor": False, "created": now, "config_path": "", "config": None, "vnc_port": None,
        "on_poweroff": "destroy", "on_reboot": "restart", "on_crash": "destroy",
    }
    return {"boot_time": now, "next_domid": 1, "hostname": hostname, "domains": [dom0]}


@contextlib.contextmanager
def transaction(folder, now=None):
    """Lock, load, advance to now, yield the Host, save (also when the command fails)."""
    with locked(folder):
        path = os.path.join(folder, STATE_FILE)
        state = read_json(path, None) or fresh_state()
        host = Host(state, load_faults(folder), now if now is not None else time.time())
        host.advance()
        try:
            yield host
        finally:
            write_json(path, host.state)
            if host.faults_changed:
                write_json(os.path.join(folder, FAULTS_FILE), host.file_faults(folder))


# --- the host --------------------------------------------------------------------------------------


class Host:
    """The state of one simulated host at one moment, with the rules of how it changes."""

    def __init__(self, state, faults, now):
        self.state = state
        self.faults = faults
        self.now = now
        self.faults_changed = False
        self._consumed_failures = 0

    @property
    def domains(self):
        return self.state["domains"]

    def file_faults(self, folder):
        """faults.json after this call (fail_next counted down)."""
        faults = read_json(os.path.join(folder, FAULTS_FILE), {})
        failing = faults.get("fail_next")
        if failing:
            failing["count"] = max(0, int(failing.get("count", 1)) - self._consumed_failures)
            if not failing["count"]:
                faults.pop("fail_next")
        return faults

    # --- finding domains -------------------------------------------------------------------------

    def by_domid(self, domid):
        return next((d for d in self.domains if d["domid"] == domid), None)

    def by_name(self, name):
        return next((d for d in self.domains if d["name"] == name), None)

    def find(self, qualifier):
        """A domain by name or number, as xl's find_domain; None when there is none."""
        if qualifier.isdigit():
            return self.by_domid(int(qualifier))
        return self.by_name(qualifier)

    def next_domid(self):
        """xl never reuses a domid within a boot; a failed create still uses one up."""
        domid = self.state["next_domid"]
        self.state["next_domid"] = domid + 1
        return domid

    # --- faults ----------------------------------------------------------------------------------

    def seconds(self, key, name="*"):
        value = self.faults.get(key, DEFAULTS.get(key, 0))
        if isinstance(value, dict):
            return float(value.get(name, value.get("*", DEFAULTS.get(key, 0))))
        return float(value)

    def ignores_shutdown(self, name):
        return name in (self.faults.get("ignore_shutdown") or ())

    def take_failure(self, verb):
        """The scripted failure for this call, if ``fail_next`` has one left: (stderr, rc)."""
        failing = self.faults.get("fail_next")
        if not failing or int(failing.get("count", 1)) <= 0:
            return None
        if failing.get("verbs") and verb not in failing["verbs"]:
            return None
        self._consumed_failures += 1
        self.faults_changed = True
        return failing.get("stderr", "libxl: error: simulated failure"), int(failing.get("rc", 1))

    # --- time ------------------------------------------------------------------------------------

    def advance(self):
        """Bring every domain to ``now``: crashes, finished shutdowns, the monitor's actions."""
        for domain in list(self.domains):
            if domain["domid"] == 0:
                continue
            self._maybe_crash(domain)
            self._maybe_finish_shutdown(domain)
            self._maybe_reap(domain)

    def _maybe_crash(self, domain):
        crash = self.faults.get("crash") or {}
        after = crash.get(domain["name"]) if isinstance(crash, dict) else (0 if domain["name"] in crash else None)
        if after is None or domain["shutdown"] or self.now < domain["created"] + float(after):
            return
        crashed_at = domain["created"] + float(after)
        domain.update(shutdown={"reason": "crash", "at": crashed_at}, pending=None)
        domain["reap_at"] = crashed_at if domain["monitor"] else None

    def _maybe_finish_shutdown(self, domain):
        pending = domain["pending"]
        if not pending or domain["paused"] or self.now < pending["at"]:
            return
        domain.update(shutdown={"reason": pending["reason"], "at": pending["at"]}, pending=None)
        domain["reap_at"] = pending["at"] + self.seconds("reap_seconds") if domain["monitor"] else None

    def _maybe_reap(self, domain):
        if not domain["shutdown"] or domain["reap_at"] is None or self.now < domain["reap_at"]:
            return
        reason = domain["shutdown"]["reason"]
        action = {"poweroff": domain["on_poweroff"], "reboot": domain["on_reboot"],
                  "crash": domain["on_crash"]}.get(reason, "destroy") or "destroy"
        if action in ("destroy", "coredump-destroy"):
            self.domains.remove(domain)
        elif action == "preserve":
            domain.update(reap_at=None, monitor=False, paused=True)
        else:  # restart, rename-restart, coredump-restart, soft-reset: a new domain, same config
            self.restart(domain, at=domain["reap_at"])

    # --- changes ---------------------------------------------------------------------------------

    def restart(self, domain, at=None):
        """The domain comes back as a new domid (xl's monitor re-creates it from its config)."""
        start = at if at is not None else self.now
        # Real xl (xenlab captured-notable/xl-list-*-during-reboot-rebuild): while the monitor
        # rebuilds the domain, `xl list` shows the new domid paused with Time 0.0 and `xl list -l`
        # leaves it out; that lasted ~16 s under TCG.
        domain.update(domid=self.next_domid(), shutdown=None, pending=None, reap_at=None, paused=False,
                      created=start, restarted_at=start)
        if domain.get("config"):
            domain["vcpus"] = len(domain["config"]["b_info"].get("avail_vcpus") or [0])
        domain["vnc_port"] = self.vnc_port_for(domain)
        self.domains.sort(key=lambda d: d["domid"])

    def request_shutdown(self, domain, reason):
        """The guest is asked to power off or reboot; it obeys after shutdown_seconds."""
        if domain["domid"] == 0 or domain["shutdown"] or self.ignores_shutdown(domain["name"]):
            return
        domain["pending"] = {"reason": reason, "at": self.now + self.seconds("shutdown_seconds", domain["name"])}

    def add_domain(self, domain):
        domain["vnc_port"] = self.vnc_port_for(domain)
        self.domains.append(domain)
        self.domains.sort(key=lambda d: d["domid"])

    def vnc_port_for(self, domain):
        """5900 + vncdisplay, or with findunused the first port from there that no domain holds."""
        vnc = vnc_of_config(domain.get("config"))
        if not vnc or vnc.get("enable") != "True":
            return None
        start = VNC_BASEPORT + int(vnc.get("display", 0))
        if vnc.get("findunused") != "True":
            return start
        taken = {d.get("vnc_port") for d in self.domains if d is not domain}
        port = start
        while port in taken:
            port += 1
        return port

    # --- what xl shows ---------------------------------------------------------------------------

    def flags(self, domain):
        """The state letters' meaning: Domain-0 runs; an idle guest is blocked (b)."""
        shutdown = domain["shutdown"]
        being_reaped = bool(shutdown) and domain["monitor"] and domain["reap_at"] is not None
        return {
            "running": domain["domid"] == 0,
            "blocked": domain["domid"] != 0 and not shutdown and not domain["paused"] and not self.rebuilding(domain),
            # libxl pauses a domain it destroys, and a domain the monitor is rebuilding
            "paused": domain["paused"] or being_reaped or self.rebuilding(domain),
            "shutdown": bool(shutdown),
            "reason": shutdown["reason"] if shutdown else "",
            "dying": False,
        }

    def rebuilding(self, domain):
        """True while xl's monitor re-creates a restarted domain (see restart)."""
        started = domain.get("restarted_at")
        return started is not None and self.now < started + self.seconds("rebuild_seconds", domain["name"])

    def shown_name(self, domain):
        """``(null)`` in the last half of the reap window: while xl's monitor destroys a shut-down
        domain, real xl lists it nameless (captured-notable/xl-list-v-null-name-while-monitor-destroys)."""
        reap_at = domain.get("reap_at")
        if domain["shutdown"] and domain["monitor"] and reap_at is not None:
            if self.now >= reap_at - self.seconds("reap_seconds") / 2:
                return "(null)"
        return domain["name"]

    def cpu_time(self, domain):
        if self.rebuilding(domain):
            return 0.0
        elapsed = max(0.0, self.now - domain["created"])
        return 10.0 + elapsed * 0.5 if domain["domid"] == 0 else 0.2 + elapsed * 0.01

    def free_memory(self):
        used = sum(d["memory"] for d in self.domains if d["domid"] != 0)
        return max(0, 1502 - used)


def vnc_of_config(config):
    """The VNC settings in a libxl JSON config: the HVM device model's or the first vfb's."""
    if not config:
        return None
    hvm = config.get("b_info", {}).get("type.hvm", {}).get("vnc")
    if hvm:
        return hvm
    for vfb in config.get("vfbs") or ():
        if vfb.get("vnc"):
            return vfb["vnc"]
    return None


def new_uuid():
    return str(uuidlib.uuid4())
