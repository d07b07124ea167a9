"""``Toolstack``: the one place that runs ``xl`` (or legacy ``xm``), and ``xenstore-*``.

Rules every call follows:

* argv lists only, never a shell; stdin is /dev/null; ``LC_ALL=C`` so that the error texts we
  match (``strerror`` words like "No such file or directory") are the English ones;
* every call has a timeout: ``timeout`` for queries, ``long_timeout`` for create, save, restore
  and ``shutdown -w`` (seconds to minutes on a real host: xen-lab measured 6-10 s for a create
  under TCG).  The child runs in its own session; on timeout its whole process group gets
  SIGTERM, then SIGKILL after a short grace, and :class:`ToolstackTimeout` is raised, so no
  ``xl`` (nor a helper it forked) is left behind.  SIGTERM first because an unprivileged caller
  may signal ``sudo`` (its real uid is ours) and sudo relays SIGTERM to the root ``xl``, while
  SIGKILL to a root process would be refused;
* the privilege prefix of spec §9.4 (``sudo -n`` never prompts; ``ksu -q -e``) goes before every
  command, xenstore tools included, and the binary is given by absolute path so that sudo's
  ``secure_path`` cannot pick another one;
* every argv run is appended to ``calls``, so tests and the bench can count them;
* a failure becomes one typed error of :mod:`xenctys.errors`, matched on the real stderr texts of
  Xen 4.17 (``corpus/xl-real``): see :func:`classify_failure`.

What one LIST (:meth:`Toolstack.list_domains`) costs, whatever the number of domains:

* xl: ``xl list -v`` (state flags, live memory/vcpus, uuid of every domain, also those without
  a stored config) + ``xl list -l`` (config: type, vifs with MACs, disks, VNC settings) = 2
  calls, + 1 ``xenstore-ls -f /local/domain`` only when some domain has VNC with a port chosen
  at run time (``vncunused``, libxl's default); VNC displays fixed in the config need no call.
  So 2 or 3.  (``xl list`` alone has no uuid, ``xl list -l`` no state: 2 is the minimum.)
* xm: ``xm list --long`` (SXP, state included) = 1 call, + the same optional xenstore-ls.

The independent calls of one LIST (``list -v`` and ``list -l``, and ``xl info`` when
:meth:`Toolstack.snapshot` asks for it) run at the same time (:meth:`Toolstack.run_all`): the
LIST waits for the slowest of them, not for their sum.  Each keeps its own timeout, process
group and typed error, and ``calls`` records them in the order given.  xenstore-ls, which is
needed only when ``list -l`` shows a runtime VNC port, follows them, unless the caller expects
such a port (``snapshot(vnc_ports=True)``: the minion's LIST does when a discovered config has
one) and it runs in the same round.

A domain in ``xl list -v`` without a ``-l`` entry (Domain-0 on some versions, domains whose
config libxl cannot retrieve) is still listed, with the plain columns only (``has_config``
False, no MACs).  Domains that appear between the two calls are ignored until the next LIST;
``xl list -v`` decides what exists.
"""

import glob
import os
import re
import shutil
import signal
import subprocess
import threading
import time

from xenctys import xlparse
from xenctys.errors import (
    DomainExistsError,
    NoHypervisorError,
    StateFileError,
    ToolstackError,
    ToolstackNotFound,
    ToolstackPermissionError,
    ToolstackTimeout,
    UnknownDomainError,
)
from xenctys.sxp import domains_from_sxp

TOOLSTACKS = ("auto", "xl", "xm")
PRIVILEGE_PREFIXES = {"none": (), "sudo": ("sudo", "-n"), "ksu": ("ksu", "-q", "-e")}
# Where Xen installs its tools when they are not on PATH (Debian: /usr/lib/xen-4.17/bin).
SYSTEM_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")
XEN_LIB_GLOBS = ("/usr/lib/xen-*/bin", "/usr/lib64/xen/bin", "/usr/lib/xen/bin")
KILL_GRACE = 0.5  # seconds between SIGTERM and SIGKILL of a timed-out call
VNC_PORT_NODE = "/local/domain/{domid}/console/vnc-port"

# Failure patterns, in the order they are tried (first match wins).  Each: error class, regex on
# the whole stderr.  Permission comes before "no hypervisor": a non-root xl says both
# "privileged command interface: Permission denied" and "cannot init xl context".
_FAILURES = (
    (DomainExistsError, r'Domain with name "[^"]*" already exists|Domain \S+ already exists'),
    (UnknownDomainError, r"is an invalid domain identifier|Can't get domid of domain name"
                         r"|Can't get domain name of domain id|Domain '[^']*' does not exist"),
    (StateFileError, r"Can't open restore file|File has wrong magic number|File has wrong byte order"
                     r"|Failed to open temp file .* for writing|Short read of"),
    (ToolstackPermissionError, r"Permission denied|must be run as root|need root access|Operation not permitted"
                               r"|a password is required|is not in the sudoers file|is not allowed to execute"
                               r"|Authorization denied|not authorized"),
    (NoHypervisorError, r"Could not obtain handle on privileged command interface|cannot open libxc handle"
                        r"|cannot connect to xenstore|cannot init xl context|Unable to connect to xend"
                        r"|Is xend running"),
)
# stderr lines that report progress, not the failure.
_NOISE = re.compile(
    r"^(Parsing config from|xc: progress:|Waiting for \d+ domains|Saving to|Loading new save file"
    r"|Savefile contains|xc: info:|Shutting down domain|Rebooting domain)"
)
# A libxl error line names its source position: "libxl: error: libxl_domain.c:81:func: ".
_LIBXL_PREFIX = re.compile(r"^libxl: error: \S+:\d+:\S+: ")
# The first libxl error says what went wrong with a numeric id that names no domain
# (xl accepts any number as a domid and only libxl finds out).
_NO_SUCH_DOMID = re.compile(r"Domain \d+:Non-exist[ae]nt domain$")


class Toolstack:
    """Runs one host's ``xl`` (or ``xm``).  Methods are named after the xl verbs they run.

    toolstack: "auto" (xl if found, else xm), "xl" or "xm".
    privilege: "none", "sudo" (``sudo -n``) or "ksu" (``ksu -q -e``), spec §9.4.
    timeout / long_timeout: seconds for queries / for create, save, restore, ``shutdown -w``.
    path: where to look for the binaries instead of ``$PATH``: a PATH-like string of folders, or
      the path of the xl/xm binary itself.  The Xen folders (/usr/sbin, /usr/lib/xen-*/bin) are
      searched after it.
    env: the environment of the child processes (default: ours); LC_ALL=C is always added.
    """

    def __init__(self, toolstack="auto", privilege="none", timeout=30, long_timeout=300, path=None, env=None):
        if toolstack not in TOOLSTACKS:
            raise ToolstackError(f"unknown toolstack {toolstack!r}: use one of {', '.join(TOOLSTACKS)}")
        if privilege not in PRIVILEGE_PREFIXES:
            raise ToolstackError(f"unknown privilege {privilege!r}: use one of {', '.join(PRIVILEGE_PREFIXES)}")
        self.toolstack = toolstack
        self.privilege = privilege
        self.timeout = float(timeout)
        self.long_timeout = float(long_timeout)
        self.path = path
        self.env = dict(env) if env is not None else None
        self.calls = []  # every argv run, in order (prefix included)
        self._binary = None
        self._prefix = None

    # --- finding the binaries --------------------------------------------------------------------

    @property
    def binary(self):
        """Absolute path of xl/xm; raises ToolstackNotFound.  Resolved once."""
        if self._binary is None:
            self._binary = self._find_toolstack()
        return self._binary

    @property
    def name(self):
        """"xl" or "xm": which command language this toolstack speaks."""
        if self.toolstack != "auto":
            return self.toolstack
        return "xm" if os.path.basename(self.binary).startswith("xm") else "xl"

    @property
    def is_xm(self):
        return self.name == "xm"

    def search_dirs(self):
        """Folders searched for binaries: ``path`` (or $PATH), then the Xen system folders."""
        if self.path and not os.path.isdir(self.path) and os.path.isfile(self.path):
            first = [os.path.dirname(self.path)]
        else:
            env_path = (self.env or os.environ).get("PATH", os.defpath)
            first = (self.path or env_path).split(os.pathsep)
        xen_dirs = [d for pattern in XEN_LIB_GLOBS for d in sorted(glob.glob(pattern), reverse=True)]
        dirs = []
        for folder in first + list(SYSTEM_DIRS) + xen_dirs:
            if folder and folder not in dirs:
                dirs.append(folder)
        return dirs

    def which(self, name):
        """Absolute path of executable ``name`` in :meth:`search_dirs`, or None."""
        for folder in self.search_dirs():
            candidate = os.path.join(folder, name)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return os.path.abspath(candidate)
        return None

    def _find_toolstack(self):
        if self.path and os.path.isfile(self.path) and os.access(self.path, os.X_OK):
            return os.path.abspath(self.path)
        names = ("xl", "xm") if self.toolstack == "auto" else (self.toolstack,)
        for name in names:
            found = self.which(name)
            if found:
                return found
        where = ", ".join(self.search_dirs()[:6])
        raise ToolstackNotFound(f"no {' or '.join(names)} toolstack found (searched {where}, ...)")

    @property
    def prefix(self):
        """The privilege prefix as an argv list (resolved once; ToolstackNotFound if missing)."""
        if self._prefix is None:
            words = PRIVILEGE_PREFIXES[self.privilege]
            if words:
                tool = self.which(words[0]) or shutil.which(words[0])
                if not tool:
                    raise ToolstackNotFound(f"privilege {self.privilege}: {words[0]} is not installed")
                words = (tool,) + tuple(words[1:])
            self._prefix = list(words)
        return self._prefix

    # --- running ---------------------------------------------------------------------------------

    def _child_env(self):
        env = dict(self.env if self.env is not None else os.environ)
        env["LC_ALL"] = "C"  # the stderr texts we match are the untranslated ones
        return env

    def _argv(self, args):
        return self.prefix + [self.binary] + [str(a) for a in args]

    def _what(self, args):
        return f"{self.name} {args[0]}" if args else self.name

    def run(self, args, long=False):
        """Run ``<prefix> <xl|xm> args``; return stdout.  Raises a typed ToolstackError on failure."""
        argv = self._argv(args)
        stdout, stderr, returncode = self._execute(argv, self.long_timeout if long else self.timeout,
                                                   self._what(args))
        if returncode != 0:
            raise classify_failure(self.name, args, returncode, stderr, argv=argv)
        return stdout

    def run_all(self, arg_lists):
        """Run several independent queries at the same time; their stdouts, in the order given.

        Each call is a :meth:`run` of its own: same argv, its own ``timeout``, process group and
        kill on timeout.  All of them have ended (or been killed and reaped) when this returns or
        raises.  A failure raises the typed error of the first failing call in the order given,
        as running them one after the other would have.
        """
        jobs = self._query_jobs(arg_lists)
        return self._checked(arg_lists, jobs, self._execute_all(jobs))

    def _query_jobs(self, arg_lists):
        """``(argv, timeout, what)`` of each query (prefix and binary resolved here, once)."""
        return [(self._argv(args), self.timeout, self._what(args)) for args in arg_lists]

    def _checked(self, arg_lists, jobs, outcomes):
        """The stdouts of :meth:`_execute_all` outcomes; raises the first failure in order."""
        for args, (argv, _, _), outcome in zip(arg_lists, jobs, outcomes):
            if isinstance(outcome, BaseException):
                raise outcome
            if outcome[2] != 0:
                raise classify_failure(self.name, args, outcome[2], outcome[1], argv=argv)
        return [outcome[0] for outcome in outcomes]

    def _execute(self, argv, timeout, what):
        """Run argv with a timeout; kill its process group on timeout.  -> (stdout, stderr, rc).

        ``what`` names the call in the timeout message ("xl list").
        """
        self.calls.append(list(argv))
        return self._run_argv(argv, timeout, what)

    def _execute_all(self, jobs):
        """:meth:`_execute` of several ``(argv, timeout, what)`` at the same time, one thread each.

        -> one ``(stdout, stderr, rc)`` or raised ToolstackError per job, in order.  ``calls``
        records them in the order given, before any starts.
        """
        for argv, _, _ in jobs:
            self.calls.append(list(argv))
        outcomes = [None] * len(jobs)

        def one(index):
            try:
                outcomes[index] = self._run_argv(*jobs[index])
            except BaseException as exc:  # pylint: disable=broad-except  # handed to the caller
                outcomes[index] = exc

        threads = [threading.Thread(target=one, args=(index,), name=f"xenctys-{jobs[index][2]}", daemon=True)
                   for index in range(1, len(jobs))]
        for thread in threads:
            thread.start()
        if jobs:
            one(0)  # the first in this thread: one thread fewer to start
        for thread in threads:
            thread.join()  # each ends within its own timeout (+ the kill grace): see _kill_group
        return outcomes

    def _run_argv(self, argv, timeout, what):
        """The run itself, without recording it in ``calls``: (stdout, stderr, rc)."""
        try:
            proc = subprocess.Popen(  # pylint: disable=consider-using-with  # waited for below
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env=self._child_env(), start_new_session=True,
            )
        except OSError as exc:
            raise ToolstackNotFound(f"cannot run {argv[0]}: {exc.strerror}", argv=argv) from None
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise ToolstackTimeout(f"{what} did not answer within {timeout:g} s: killed", argv=argv) from None
        return _text(stdout), _text(stderr), proc.returncode

    # --- queries ---------------------------------------------------------------------------------

    def list_plain(self, domain=None):
        """``xl list [-v] [DOM]`` rows (xlparse.parse_xl_list); xl adds ``-v`` for the uuid column."""
        args = ["list"] if self.is_xm else ["list", "-v"]
        if domain is not None:
            args.append(_domain_arg(domain))
        return xlparse.parse_xl_list(self.run(args))

    def list_long(self, domain=None):
        """``xl list -l [DOM]`` / ``xm list --long [DOM]`` -> config dicts (xlparse/sxp)."""
        args = ["list", "--long"] if self.is_xm else ["list", "-l"]
        if domain is not None:
            args.append(_domain_arg(domain))
        return xlparse.parse_xl_list_long(self.run(args))

    def list_domains(self):
        """Every domain with state and config: name, domid, uuid, state, memory, vcpus, time,
        flags, shutdown_reason, type, maxmem, max_vcpus, vifs, disks, disk_devices, vnc,
        vnc_port, kernel, ramdisk, cmdline, bootloader, on_*, has_config.

        Costs a constant number of calls, see the module docstring.
        """
        return self.snapshot()[0]

    def snapshot(self, info=False, vnc_ports=False):
        """``(list_domains(), info() or None)``, the independent calls at the same time.

        info: ``xl info`` too (one call more, no more wait).
        vnc_ports: the caller expects a domain with a VNC port chosen at run time (its configs
          say so): ``xenstore-ls`` then runs in the same round instead of after ``list -l``.
          Its answer is used only if a domain needs it; without the hint it runs only then.
        """
        list_args = [["list", "--long"]] if self.is_xm else [["list", "-v"], ["list", "-l"]]
        args = list_args + ([["info"]] if info else [])
        jobs = self._query_jobs(args)
        xenstore = self._xenstore_ls_argv() if vnc_ports else None
        outcomes = self._execute_all(jobs + ([(xenstore, self.timeout, "xenstore-ls")] if xenstore else []))
        outputs = self._checked(args, jobs, outcomes[:len(jobs)])
        if self.is_xm:
            domains = [_with_plain_defaults(d) for d in domains_from_sxp(outputs[0])]
        else:
            domains = merge_domains(xlparse.parse_xl_list(outputs[0]), xlparse.parse_xl_list_long(outputs[1]))
        ports = _vnc_ports_from(outcomes[-1]) if xenstore else None
        self._fill_vnc_ports(domains, ports)
        return domains, (xlparse.parse_xl_info(outputs[len(list_args)]) if info else None)

    def _fill_vnc_ports(self, domains, ports=None):
        """vnc_port of each domain: the config's fixed port, else xenstore's, read in ONE call
        (``ports``, when it has been read already)."""
        unknown = False
        for domain in domains:
            vnc = domain.get("vnc") or {}
            domain["vnc_port"] = vnc.get("port") if vnc.get("enabled") else None
            unknown = unknown or (vnc.get("enabled") and vnc.get("port") is None)
        if not unknown:
            return
        if ports is None:
            ports = self.xenstore_vnc_ports()
        for domain in domains:
            if domain["vnc_port"] is None and (domain.get("vnc") or {}).get("enabled"):
                domain["vnc_port"] = ports.get(domain.get("domid"))

    def _xenstore_ls_argv(self):
        """The argv of ``xenstore-ls -f /local/domain``, or None when there is no xenstore-ls."""
        tool = self._xenstore_tool("xenstore-ls")
        return self.prefix + [tool, "-f", "/local/domain"] if tool else None

    def xenstore_vnc_ports(self):
        """{domid: port} from one ``xenstore-ls -f /local/domain``; {} when that is impossible.

        Best effort: a missing xenstore-ls or a failing call leaves the ports unknown (None)
        rather than failing the whole LIST.
        """
        argv = self._xenstore_ls_argv()
        if not argv:
            return {}
        try:
            outcome = self._execute(argv, self.timeout, "xenstore-ls")
        except ToolstackError as exc:
            outcome = exc
        return _vnc_ports_from(outcome)

    def _xenstore_tool(self, name):
        """xenstore-* beside the toolstack binary (Debian: both in /usr/sbin), else on the path."""
        beside = os.path.join(os.path.dirname(self.binary), name)
        if os.path.isfile(beside) and os.access(beside, os.X_OK):
            return beside
        return self.which(name)

    def info(self):
        """``xl info`` as a dict (xlparse.parse_xl_info)."""
        return xlparse.parse_xl_info(self.run(["info"]))

    def uptime(self):
        """``xl uptime`` rows (xlparse.parse_xl_uptime)."""
        return xlparse.parse_xl_uptime(self.run(["uptime"]))

    def network_list(self, dom):
        """``xl network-list DOM`` rows (xlparse.parse_network_list)."""
        return xlparse.parse_network_list(self.run(["network-list", _domain_arg(dom)]))

    def domid(self, name):
        """``xl domid NAME`` -> int."""
        out = self.run(["domid", _domain_arg(name)]).strip()
        if not out.isdigit():
            raise ToolstackError(f"{self.name} domid {name}: unexpected answer {out[:40]!r}")
        return int(out)

    def vnc_port(self, dom):
        """The VNC port of one running domain, or None when it has no VNC display.

        From ``xl list -l DOM``: no VNC -> None; else xenstore's console/vnc-port (the port qemu
        really took, needed for vncunused) when xenstore-read is there and answers; else the
        config's 5900 + vncdisplay.
        """
        domains = self.list_long(dom)
        if not domains:
            return None
        domain = domains[0]
        vnc = domain.get("vnc") or {}
        if not vnc.get("enabled"):
            return None
        domid = domain.get("domid")
        if domid is None:
            domid = self.domid(dom)
        return self.xenstore_vnc_port(domid) or vnc.get("port")

    def xenstore_vnc_port(self, domid):
        """``xenstore-read /local/domain/<domid>/console/vnc-port`` -> int, or None."""
        tool = self._xenstore_tool("xenstore-read")
        if not tool:
            return None
        argv = self.prefix + [tool, VNC_PORT_NODE.format(domid=int(domid))]
        try:
            stdout, _, returncode = self._execute(argv, self.timeout, "xenstore-read")
        except ToolstackError:
            return None
        text = stdout.strip()
        return int(text) if returncode == 0 and text.isdigit() else None

    def console_argv(self, dom):
        """The argv that attaches a terminal to the domain's console (for the user to run)."""
        return self.prefix + [self.binary, "console", _domain_arg(dom)]

    # --- life cycle ------------------------------------------------------------------------------

    def create(self, config_path, paused=False, extra_args=()):
        """``xl create [-p] CONFIG [key=value ...]``.  Never ``-c``: a console would block."""
        args = ["create"] + (["-p"] if paused else []) + [_path_arg(config_path)] + [str(a) for a in extra_args]
        self.run(args, long=True)

    def shutdown(self, dom, wait=False, force=False):
        """``xl shutdown [-w] [-F] DOM``.

        With ``wait`` xl returns once the guest has shut down, but the domain stays listed
        (``--ps--``) until xl's monitor has destroyed it (xen-lab pitfall 7): poll ``list_plain``
        to know it is gone.  ``force`` (-F: ACPI power button for HVM guests without PV drivers)
        is ignored by xm, which has no such option.
        """
        args = ["shutdown"] + (["-w"] if wait else []) + (["-F"] if force and not self.is_xm else [])
        self.run(args + [_domain_arg(dom)], long=wait)

    def destroy(self, dom):
        """``xl destroy DOM``: immediate, like pulling the plug."""
        self.run(["destroy", _domain_arg(dom)])

    def reboot(self, dom, force=False):
        """``xl reboot [-F] DOM``; with on_reboot=restart the domain comes back with a new domid."""
        self.run(["reboot"] + (["-F"] if force and not self.is_xm else []) + [_domain_arg(dom)])

    def reset(self, dom):
        """``xl trigger DOM reset``: a hard reset, the guest is not asked."""
        self.run(["trigger", _domain_arg(dom), "reset"])

    def pause(self, dom):
        self.run(["pause", _domain_arg(dom)])

    def unpause(self, dom):
        self.run(["unpause", _domain_arg(dom)])

    def save(self, dom, statefile, checkpoint=False):
        """``xl save [-c] DOM FILE``; with ``checkpoint`` the domain keeps running.

        After ``-c`` xl's monitor of that domain has gone (xen-lab pitfall 8): a later reboot
        leaves it shut down (``---sr-``) instead of restarting it.
        """
        args = ["save"] + (["-c"] if checkpoint else []) + [_domain_arg(dom), _path_arg(statefile)]
        self.run(args, long=True)

    def restore(self, statefile, paused=False):
        """``xl restore [-p] FILE``."""
        self.run(["restore"] + (["-p"] if paused else []) + [_path_arg(statefile)], long=True)

    def rename(self, dom, new_name):
        self.run(["rename", _domain_arg(dom), _domain_arg(new_name)])


# --- helpers -----------------------------------------------------------------------------------------


def merge_domains(plain_rows, long_rows):
    """``xl list -v`` rows + ``xl list -l`` configs -> one dict per listed domain (by domid).

    The plain row wins for what changes at run time (name after a rename, memory after
    mem-set, vcpus, state); the config adds type, vifs, disks, VNC, maxima.  A config uuid is
    preferred: ``-v`` shows zeros for Domain-0, which has none.
    """
    configs = {row["domid"]: row for row in long_rows if row.get("domid") is not None}
    domains = []
    for row in plain_rows:
        domain = _with_plain_defaults({})
        config = configs.get(row["domid"])
        if config:
            domain.update(config)
        domain.update({k: v for k, v in row.items() if k != "uuid"})
        domain["uuid"] = (config or {}).get("uuid") or row.get("uuid", "")
        domains.append(domain)
    return domains


def _with_plain_defaults(domain):
    """The keys every domain dict has, with "unknown" values, then ``domain``'s own."""
    merged = {
        "name": "", "domid": None, "uuid": "", "state": "", "memory": None, "vcpus": None, "time": None,
        "type": "", "maxmem": None, "max_vcpus": None, "vifs": [], "disks": [], "disk_devices": [],
        "vnc": {"enabled": False, "listen": "", "display": None, "findunused": None, "port": None},
        "kernel": "", "ramdisk": "", "cmdline": "", "bootloader": "",
        "on_poweroff": "", "on_reboot": "", "on_crash": "", "has_config": False,
    }
    merged.update(domain)
    if "flags" not in merged:
        merged.update(xlparse.state_flags(merged.get("state") or ""))
    return merged


def classify_failure(tool, args, returncode, stderr, argv=None):
    """A failed call -> the matching ToolstackError subclass, with a one-line message.

    Matching uses the real texts (corpus/xl-real), e.g. ``nosuchdom is an invalid domain
    identifier (rc=-6)`` -> UnknownDomainError.  The message quotes the first libxl/xc *error*
    line when there is one: libxl reports the cause first and then a cascade of clean-up
    failures ("Unable to destroy guest", ...); otherwise the last meaningful stderr line.
    """
    verb = " ".join(str(a) for a in list(args)[:1])
    line = meaningful_line(stderr)
    message = f"{tool} {verb} failed: {line or f'exit status {returncode}'}"
    if _NO_SUCH_DOMID.search(line):
        return UnknownDomainError(message, argv=argv, rc=returncode, stderr=stderr)
    for error_class, pattern in _FAILURES:
        if re.search(pattern, stderr or ""):
            return error_class(message, argv=argv, rc=returncode, stderr=stderr)
    return ToolstackError(message, argv=argv, rc=returncode, stderr=stderr)


def meaningful_line(stderr):
    """The stderr line that best says what went wrong (see :func:`classify_failure`)."""
    lines = [line.strip() for line in (stderr or "").splitlines()]
    lines = [line for line in lines if line and not _NOISE.search(line)]
    if not lines:
        return ""
    errors = [line for line in lines if "error" in line.lower() or "panic" in line.lower()]
    chosen = errors[0] if errors else lines[-1]
    return _LIBXL_PREFIX.sub("", chosen)


def _domain_arg(dom):
    """A domain name or id as an argument; refuse what xl would read as an option."""
    text = str(dom).strip()
    if not text or text.startswith("-") or any(c in text for c in "\n\0"):
        raise ToolstackError(f"invalid domain name or id {dom!r}")
    return text


def _path_arg(path):
    """A file argument; ``./`` before a leading ``-`` so that xl does not take it for an option.

    A name no argv can carry (NUL byte, a lone surrogate: e.g. a ``statefile`` sent through
    salt-api) is a ToolstackError, not Popen's ValueError/UnicodeEncodeError.
    """
    text = os.fspath(path)
    if not text:
        raise ToolstackError("empty file name")
    try:
        if b"\0" in os.fsencode(text):
            raise ValueError("NUL byte")
    except (ValueError, UnicodeError):
        raise ToolstackError(f"invalid file name {text!r}") from None
    return "./" + text if text.startswith("-") else text


def _vnc_ports_from(outcome):
    """{domid: port} of a xenstore-ls outcome; {} when it failed (best effort, see
    :meth:`Toolstack.xenstore_vnc_ports`)."""
    if isinstance(outcome, BaseException):
        if not isinstance(outcome, ToolstackError):
            raise outcome
        return {}
    stdout, _, returncode = outcome
    return xlparse.parse_vnc_ports(stdout) if returncode == 0 else {}


def _text(data):
    return (data or b"").decode("utf-8", errors="replace")


def _kill_group(proc):
    """Stop a timed-out call: SIGTERM its process group, SIGKILL after KILL_GRACE, reap it.

    If even SIGKILL cannot end it (a root process under sudo that we may not signal), stop
    waiting and close our ends of its pipes rather than hang the caller.
    """
    _signal_group(proc, signal.SIGTERM)
    if not _reaped(proc, KILL_GRACE):
        _signal_group(proc, signal.SIGKILL)
        if not _reaped(proc, 5.0):
            for stream in (proc.stdout, proc.stderr):
                stream.close()
            return
    _kill_stragglers(proc.pid)


def _signal_group(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:  # nothing in the group is ours to signal: try the leader alone
        try:
            proc.send_signal(sig)
        except OSError:
            pass


def _reaped(proc, timeout):
    """Wait up to ``timeout`` for the child to exit and its pipes to close; True if they did."""
    try:
        proc.communicate(timeout=timeout)
        return True
    except subprocess.TimeoutExpired:
        return False


def _kill_stragglers(pgid):
    """The leader is gone; SIGKILL what is left of its group (helpers that ignored SIGTERM)."""
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.01)
