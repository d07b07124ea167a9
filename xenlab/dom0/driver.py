#!/usr/bin/python3
"""The in-dom0 test driver of the real-Xen lab: the project driven through Salt's loader
(``salt-call --local --out=json``) against the real ``xl`` of a real Xen 4.17 hypervisor.

Runs with Debian's /usr/bin/python3 (stdlib only); Salt itself is in /opt/salt.  Every step is one
command (almost always one salt-call), its result (pass, fail with the reason) and its wall time.
``<out>/results.json`` is rewritten after every step, so an overall timeout still leaves everything
that ran.  Real outputs worth keeping as corpus tests go to ``<out>/captured/``.

Harness work that is not a step (waiting for a guest's netfront, reading xl list for a check) uses
xl/xenstore directly and is timed in the step's ``notes``.
"""

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time

REPO = "/srv/saltext-xen"
BASE = "/root/xen"
TST100 = "/root/xen/tst-ctys/tst100/tst100.conf"
TST101 = "/root/xen/tst-ctys/tst101/tst101.conf"
UUID100 = "6842caf91e3e43249ed596b8b9f2c5c2"
UUID101 = "6842caf91e3e43249ed596b8b9f2c5c3"
MAC100 = "00:50:56:13:11:40"
SAVE_DIR = "/var/lib/xen/save"

OUT = "/out"
T0 = time.monotonic()
STEPS = []
META = {}


class Fail(Exception):
    """A step's check failed: the message is the reason."""


class Killed(BaseException):
    """SIGTERM (the overall timeout of /init): the running step is recorded, the rest are not run."""


def _sigterm(_signum, _frame):
    raise Killed()


# steps per driver block: a run that records fewer did not finish
BLOCK_STEPS = {"infra": 4, "grains": 1, "read": 2, "life": 11, "stubborn": 2, "state": 4, "vnc": 3}


def log(msg):
    print(f"LAB: [{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def uptime():
    with open("/proc/uptime") as handle:
        return float(handle.read().split()[0])


def write_results():
    data = {"meta": META, "steps": STEPS, "elapsed_s": round(time.monotonic() - T0, 1)}
    tmp = os.path.join(OUT, "results.json.tmp")
    with open(tmp, "w") as handle:
        json.dump(data, handle, indent=1, default=str)
    os.replace(tmp, os.path.join(OUT, "results.json"))


# --- commands ------------------------------------------------------------------------------------


def run(argv, timeout=120):
    """(rc, stdout, stderr) of a command; rc 124 on timeout."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        return proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        return 124, exc.stdout or "", (exc.stderr or "") + f"\n(timeout after {timeout}s)"


class SaltResult:
    def __init__(self, argv, rc, stdout, stderr, wall):
        self.argv, self.rc, self.stdout, self.stderr, self.wall = argv, rc, stdout, stderr, wall
        self.data, self.parsed = None, False
        try:
            loaded = json.loads(stdout)
            if isinstance(loaded, dict) and "local" in loaded:
                self.data, self.parsed = loaded["local"], True
        except ValueError:
            pass

    @property
    def error(self):
        """Salt's one-line error (``Error running 'xen.x': ...`` or ``'x' is not available``)."""
        lines = [ln for ln in self.stderr.splitlines()
                 if ln.strip() and "DeprecationWarning" not in ln and "import crypt" not in ln]
        return " | ".join(lines[-3:])[:600]


SALT_CALLS = []
CLI_POLICY = "some"      # all: every step through a fresh salt-call; some: the CLI_STEPS; min: infra only
WARM = None


class Warm:
    """The warm salt-call (warmcall.py): built once, one fork of it per request."""

    def __init__(self):
        self.log = open(os.path.join(OUT, "warmcall.log"), "w")
        self.proc = subprocess.Popen(["/opt/salt/bin/python", "/root/xenlab/warmcall.py"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, text=True, bufsize=1)
        self.started = time.monotonic()
        self.ready = None

    def wait_ready(self):
        if self.ready is None:
            line = self.proc.stdout.readline()
            if not line:
                raise Fail(f"warm salt-call died while starting (see warmcall.log, rc {self.proc.poll()})")
            self.ready = json.loads(line)
            META["warm_init_s"] = self.ready.get("init_s")
            META["warm_ready_after_start_s"] = round(time.monotonic() - self.started, 1)
            log(f"warm salt-call ready: init {self.ready.get('init_s')}s")

    def call(self, argv, timeout):
        self.wait_ready()
        self.proc.stdin.write(json.dumps({"argv": argv, "timeout": timeout}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise Fail("warm salt-call died (see warmcall.log)")
        reply = json.loads(line)
        return reply["rc"], reply["stdout"], reply["stderr"]

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(10)
        except Exception:  # pylint: disable=broad-except
            self.proc.kill()


def salt(*args, timeout=180, via="cli"):
    argv = ["salt-call", "--local", "--out=json", *[str(a) for a in args]]
    start = time.monotonic()
    if via == "warm" and WARM is not None:
        rc, stdout, stderr = WARM.call(argv[3:], timeout)
    else:
        via = "cli"
        rc, stdout, stderr = run(argv, timeout)
    res = SaltResult(argv, rc, stdout, stderr, time.monotonic() - start)
    res.via = via
    SALT_CALLS.append({"via": via, "wall": round(res.wall, 2), "fun": str(args[0])})
    return res


def cmdline(argv):
    return " ".join(shlex.quote(a) for a in argv)


def xl_domains():
    """name -> {domid, state} from plain ``xl list`` (harness only)."""
    rc, out, _ = run(["/usr/sbin/xl", "list"], 30)
    doms = {}
    for line in out.splitlines()[1:] if rc == 0 else []:
        parts = line.split()
        if len(parts) >= 6:
            doms[parts[0]] = {"domid": int(parts[1]), "state": parts[4]}
    return doms


def xl_domid(name):
    dom = xl_domains().get(name)
    return dom["domid"] if dom else None


def xl_domid_quick(name):
    """``xl domid NAME`` (cheaper than a whole xl list): the domid, or None."""
    rc, out, _ = run(["/usr/sbin/xl", "domid", name], 30)
    return int(out.strip()) if rc == 0 and out.strip().isdigit() else None


def wait_guest_up(name, timeout=150):
    """Until the guest's netfront is connected (backend vif state 4): its kernel and /etc/rc ran.

    Polls xenstore once a second: under TCG every xl call costs dom0 a noticeable slice of CPU,
    which the booting guest would otherwise not get.
    """
    end = time.monotonic() + timeout
    domid = None
    while time.monotonic() < end:
        domid = domid if domid is not None else xl_domid_quick(name)
        if domid is not None:
            rc, out, _ = run(["xenstore-read", f"/local/domain/0/backend/vif/{domid}/0/state"], 10)
            if rc == 0 and out.strip() == "4":
                return domid
            if rc != 0 and xl_domid_quick(name) != domid:
                domid = None
        time.sleep(1)
    raise Fail(f"{name}: guest not up (vif not connected) within {timeout}s")


def wait_gone(name, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if xl_domid_quick(name) is None:
            return True
        time.sleep(1)
    return False


def capture(name, argv, timeout=60):
    """Real output for the corpus: ``*.json`` stdout only (stderr beside it), else both + ``# exit=N``."""
    os.makedirs(os.path.join(OUT, "captured"), exist_ok=True)
    rc, out, err = run(argv, timeout)
    path = os.path.join(OUT, "captured", name)
    with open(path, "w") as handle:
        if name.endswith(".json"):
            handle.write(out)
            if err:
                with open(path + ".stderr", "w") as errh:
                    errh.write(err)
        else:
            handle.write(out + err + f"# exit={rc}\n")
    with open(os.path.join(OUT, "captured", "MANIFEST.tsv"), "a") as man:
        man.write(f"{name}\t{rc}\t{cmdline(argv)}\n")
    return rc, out, err


def cleanup(*names):
    """Harness: leave no DomU of ours running between blocks (xl destroy, not a step)."""
    for name in names:
        if xl_domid(name) is not None:
            run(["/usr/sbin/xl", "destroy", name], 60)
            wait_gone(name, 20)
    for name in names:
        for path in (f"{SAVE_DIR}/{name}.save",):
            if os.path.exists(path):
                os.unlink(path)


# --- steps ---------------------------------------------------------------------------------------


def short(value, limit=1500):
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def step(name, what, module=True):
    """Decorator: run the function now as one step and record it.

    ``module``: the step needs the project's xen module; when it did not load, the step fails at
    once with the loader's reason instead of repeating it through salt-call.
    """

    def deco(fn):
        record = {"n": len(STEPS) + 1, "name": name, "what": what, "commands": [], "notes": []}
        start = time.monotonic()
        log(f"step {record['n']:2d} {name} ...")
        try:
            if start > DEADLINE_AT[0]:
                raise Fail(f"not run: the driver's time budget ({DEADLINE_AT[1]:.0f} s) was used up")
            if module and MODULE["error"]:
                raise Fail(f"the xen module is not loaded: {MODULE['error']}")
            fn(record)
            record["result"], record["reason"] = "pass", ""
        except Killed:
            record["result"], record["reason"] = "fail", "killed by the overall timeout of the run (lab.deadline)"
            record["wall_s"] = round(time.monotonic() - start, 2)
            STEPS.append(record)
            raise
        except Fail as exc:
            record["result"], record["reason"] = "fail", str(exc)
        except Exception as exc:  # pylint: disable=broad-except
            record["result"], record["reason"] = "fail", f"harness error: {type(exc).__name__}: {exc}"
        record["wall_s"] = round(time.monotonic() - start, 2)
        record["uptime"] = round(uptime(), 1)
        STEPS.append(record)
        write_results()
        log(f"step {record['n']:2d} {name}: {record['result'].upper()} {record['wall_s']}s {record['reason'][:300]}")
        return fn

    return deco


def call(record, *args, timeout=180, expect_error=False, cli=False):
    """One salt-call inside a step: recorded with its exit code and wall time; returns the data.

    ``cli``: this call is one of those that always run as a fresh ``salt-call`` process; the others
    use the warm caller unless the policy is ``all``.
    """
    via = "cli" if (CLI_POLICY == "all" or (cli and CLI_POLICY == "some") or WARM is None) else "warm"
    res = salt(*args, timeout=timeout, via=via)
    record["commands"].append({"command": cmdline(res.argv), "via": res.via, "rc": res.rc, "wall_s": round(res.wall, 2),
                               "return": short(res.data) if res.parsed else None,
                               "stderr": res.error if (res.rc or not res.parsed) else ""})
    if expect_error is None:  # the caller looks at the result itself
        return res
    if expect_error:
        if res.rc == 0:
            raise Fail(f"{args[0]} succeeded but must fail: {short(res.data, 300)}")
        return res
    if res.rc != 0 or not res.parsed:
        raise Fail(f"{cmdline(res.argv[3:])}: exit {res.rc}: {res.error or short(res.stdout, 300)}")
    return res.data


def expect(cond, msg):
    if not cond:
        raise Fail(msg)


def note(record, text):
    record["notes"].append(text)


# --- the run -------------------------------------------------------------------------------------

MODULE = {"error": "not checked yet"}
DEADLINE_AT = [float("inf"), 0.0]   # monotonic time after which no step starts; the budget


def main():
    global OUT, CLI_POLICY, WARM  # pylint: disable=global-statement
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="/out")
    parser.add_argument("--only", default="", help="comma list of blocks: infra,read,life,stubborn,state,grains,vnc")
    parser.add_argument("--deadline", type=float, default=0, help="seconds; no step starts in the last 20")
    parser.add_argument("--cli", default="some", choices=("all", "some", "min"),
                        help="which steps run as a fresh salt-call process (the others: warm caller)")
    args = parser.parse_args()
    OUT = args.out
    CLI_POLICY = args.cli
    if args.deadline:
        DEADLINE_AT[:] = [T0 + args.deadline - 20, args.deadline]
    META["cli_policy"] = CLI_POLICY
    os.makedirs(os.path.join(OUT, "captured"), exist_ok=True)
    blocks = set(filter(None, args.only.split(","))) or {"infra", "read", "life", "stubborn", "state", "grains", "vnc"}
    blocks.add("infra")
    META["blocks"] = sorted(blocks)
    # the PV vfb backend (Debian's qemu-system-xen) is in the image only with XENLAB_VNC=1
    META["vnc_backend"] = os.access("/usr/libexec/xen-qemu-system-i386", os.X_OK)
    if not META["vnc_backend"]:
        BLOCK_STEPS["vnc"] = 0
    META["expected_steps"] = sum(BLOCK_STEPS.get(b, 0) for b in blocks)
    signal.signal(signal.SIGTERM, _sigterm)

    rc, out, _ = run(["/usr/sbin/xl", "info"], 60)
    info = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    info = {k.strip(): v.strip() for k, v in info.items()}
    META.update(
        started_uptime=round(uptime(), 1),
        xen_version=info.get("xen_version", ""),
        xen_caps=info.get("xen_caps", ""),
        dom0_kernel=info.get("release", ""),
        total_memory_mb=info.get("total_memory", ""),
        xl_info_rc=rc,
        date_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    rc, out, _ = run(["dpkg-query", "-W", "-f", "${Version}", "xen-utils-4.17"], 30)
    META["xen_utils"] = out.strip()
    META["python"] = sys.version.split()[0]
    if os.path.exists(f"{REPO}/.xenlab-commit"):
        with open(f"{REPO}/.xenlab-commit") as handle:
            META["project_commit"] = handle.read().strip()
    write_results()
    log(f"driver: xen {META['xen_version']}, tools {META['xen_utils']}, blocks {sorted(blocks)}")

    # -- infrastructure: Salt itself, the real xl through cmd.run, the project deployed
    deploy = "pip"
    if os.path.exists(f"{REPO}/.xenlab-deploy"):
        with open(f"{REPO}/.xenlab-deploy") as handle:
            deploy = handle.read().strip() or "pip"
    META["deploy"] = deploy
    # the warm caller builds itself in the background while the first fresh salt-calls run
    # (pip: the project is installed already; sync: only after saltutil.sync_all)
    if CLI_POLICY != "all" and deploy == "pip":
        WARM = Warm()

    @step("salt test.version", "Salt runs inside dom0 (masterless)", module=False)
    def _(r):
        data = call(r, "test.version", cli=True)
        META["salt_version"] = data
        expect(str(data).startswith("3008"), f"salt version {data!r}")

    @step("xl list through cmd.run", "the real xl answers through Salt's cmd.run", module=False)
    def _(r):
        data = call(r, "cmd.run", "xl list")
        expect("Domain-0" in data, f"no Domain-0 row in {data!r}")
        with open(os.path.join(OUT, "captured", "xl-list-via-cmd-run.txt"), "w") as handle:
            handle.write(data + "\n")

    if deploy == "sync":
        @step("saltutil.sync_all", "the project's _modules/_states/_grains/_utils synced from the file_root (the repo)",
              module=False)
        def _(r):
            data = call(r, "saltutil.sync_all", cli=True)
            synced = [m for kind in data.values() if isinstance(kind, list) for m in kind]
            note(r, f"synced: {synced}")
            expect("modules.xen" in synced, f"modules.xen not synced: {data}")
    else:
        @step("saltext-xen pip-installed", "the project's wheel in /opt/salt; its salt.loader entry point names "
              "the loader folders", module=False)
        def _(r):
            code = ("import importlib.metadata as m, json; d = m.distribution('saltext-xen'); "
                    "eps = [e for e in d.entry_points if e.group == 'salt.loader']; "
                    "print(json.dumps({'version': d.version, 'entry_points': [e.value for e in eps], "
                    "'dirs': eps[0].load()() if eps else None}))")
            argv = ["/opt/salt/bin/python", "-c", code]
            rc, out, err = run(argv, 120)
            r["commands"].append({"command": cmdline(argv), "via": "harness", "rc": rc, "return": out.strip(),
                                  "stderr": err.strip()[-500:]})
            expect(rc == 0, f"exit {rc}: {err.strip()[-300:]}")
            data = json.loads(out)
            note(r, f"saltext-xen {data['version']}, loader dirs {sorted(data['dirs'] or {})}")
            expect(data["dirs"] and "modules" in data["dirs"], f"no modules folder from the entry point: {data}")

    if CLI_POLICY != "all" and WARM is None:
        WARM = Warm()

    if "grains" in blocks:
        @step("grains on dom0", "core grains say Xen Dom0; the project's xen grains when _grains/xen.py exists",
              module=False)
        def _(r):
            data = call(r, "grains.items")
            expect(data.get("virtual") == "xen", f"virtual={data.get('virtual')!r}")
            expect(data.get("virtual_subtype") == "Xen Dom0", f"virtual_subtype={data.get('virtual_subtype')!r}")
            own = {k: v for k, v in data.items() if k.startswith("xen")}
            note(r, f"xen grains: {short(own, 800)}")
            with open(os.path.join(OUT, "captured", "grains-xen.json"), "w") as handle:
                json.dump(own, handle, indent=1, default=str)
            if os.path.exists(f"{REPO}/_grains/xen.py"):
                expect(own.get("xen"), "_grains/xen.py exists but no xen grain is set")
                xen = own["xen"]
                expect(xen.get("role") == "dom0", f"xen:role {xen.get('role')!r}")
                expect(xen.get("toolstack") == "xl", f"xen:toolstack {xen.get('toolstack')!r}")
                expect(str(xen.get("version", "")).startswith("4.17"), f"xen:version {xen.get('version')!r}")
                expect({"tst100", "tst101"} <= set(xen.get("labels") or []), f"xen:labels {xen.get('labels')!r}")
                expect(not xen.get("errors"), f"xen:errors {xen.get('errors')!r}")
            else:
                note(r, "_grains/xen.py not in the repo yet: only core grains checked")

    @step("xen module loads", "xen.info: the module's __virtual__ accepts this dom0, the real xl info parsed",
          module=False)
    def _(r):
        res = call(r, "xen.info", expect_error=None)
        if res.rc != 0 or not res.parsed:
            MODULE["error"] = res.error or f"exit {res.rc}"
            raise Fail(MODULE["error"])
        MODULE["error"] = ""
        data = res.data
        expect(str(data.get("xen_version", "")).startswith("4.17"), f"xen_version {data.get('xen_version')!r}")
        expect(data.get("toolstack") == "xl", f"toolstack {data.get('toolstack')!r}")

    if blocks == {"infra"}:
        return

    if "read" in blocks:
        @step("xen.enumerate", "ENUMERATE over the config tree /root/xen")
        def _(r):
            data = call(r, "xen.enumerate")
            rows = data.get("records", [])
            mine = [row for row in rows if row.get("label") == "tst100"]
            expect(mine, f"no tst100 record among {[row.get('label') for row in rows]}")
            row = mine[0]
            expect(row.get("id") == TST100, f"tst100 id {row.get('id')!r}, expected {TST100}")
            expect(row.get("uuid", "").replace("-", "").lower() == UUID100, f"tst100 uuid {row.get('uuid')!r}")
            expect(row.get("mac", "").lower() == MAC100, f"tst100 mac {row.get('mac')!r}")
            expect(any(row.get("label") == "tst101" for row in rows), "no tst101 record")
            expect(any(row.get("sesstype") == "PM" for row in rows), "no PM record")
            expect(not data.get("problems"), f"problems: {data.get('problems')}")

        @step("xen.resolve by label, path suffixes, absolute path, UUID, MAC", "each address names tst100.conf")
        def _(r):
            for address in ("l:tst100", "f:tst100/tst100.conf", "f:xen/tst-ctys/tst100/tst100.conf",
                            f"p:{TST100}", f"u:{UUID100}", f"m:{MAC100}"):
                data = call(r, "xen.resolve", address)
                expect(data.get("path") == TST100, f"{address} -> {data.get('path')!r}")

    if "life" in blocks:
        cleanup("tst100")
        state = {}

        @step("xen.create by label", "xen.create l:tst100 starts the DomU from its config")
        def _(r):
            data = call(r, "xen.create", "l:tst100", cli=True)
            expect(data.get("action") == "created", f"action {data.get('action')!r}")
            domid = xl_domid("tst100")
            expect(domid is not None and data.get("domid") == domid, f"domid {data.get('domid')} vs xl {domid}")
            start = time.monotonic()
            state["domid"] = wait_guest_up("tst100")
            note(r, f"guest up (netfront connected) {time.monotonic() - start:.1f}s after xen.create returned")
            capture("xl-list-l-tst100.json", ["/usr/sbin/xl", "list", "-l", "tst100"])
            capture("xl-list-v-tst100-running.txt", ["/usr/sbin/xl", "list", "-v"])
            capture("xl-network-list-tst100.txt", ["/usr/sbin/xl", "network-list", "tst100"])

        @step("xen.list", "LIST: the DomU row (domid, uuid, MAC, state), Domain-0 and PM rows")
        def _(r):
            rows = call(r, "xen.list")
            dom = [row for row in rows if row.get("label") == "tst100"]
            expect(dom, f"no tst100 row among {[row.get('label') for row in rows]}")
            row = dom[0]
            expect(row.get("pid") == str(state.get("domid")), f"tst100 pid/domid {row.get('pid')!r} vs {state.get('domid')}")
            expect(row.get("uuid", "").replace("-", "").lower() == UUID100, f"uuid {row.get('uuid')!r}")
            expect(row.get("mac", "").lower() == MAC100, f"mac {row.get('mac')!r}")
            expect(row.get("id") == TST100, f"id {row.get('id')!r}")
            expect(row.get("state", "").strip("-") in ("r", "b"), f"state {row.get('state')!r}")
            expect(any(row.get("label") == "Domain-0" and row.get("pid") == "0" for row in rows), "no Domain-0 row")
            expect(any(row.get("sesstype") == "PM" for row in rows), "no PM row")

        @step("xen.cancel PAUSE", "xen.cancel 'l:tst100,PAUSE': xl shows the domain paused")
        def _(r):
            data = call(r, "xen.cancel", "l:tst100,PAUSE")
            expect(data.get("result") == "paused", f"result {data.get('result')!r}")
            st = xl_domains().get("tst100", {}).get("state", "")
            expect("p" in st, f"xl state {st!r}")
            capture("xl-list-v-tst100-paused.txt", ["/usr/sbin/xl", "list", "-v", "tst100"])

        @step("xen.unpause", "xen.unpause l:tst100")
        def _(r):
            data = call(r, "xen.unpause", "l:tst100")
            expect(data.get("result") == "unpaused", f"result {data.get('result')!r}")
            st = xl_domains().get("tst100", {}).get("state", "")
            expect(st and "p" not in st, f"xl state {st!r}")

        statefile = f"{SAVE_DIR}/tst100.save"

        @step("xen.cancel SUSPEND", "xen.cancel 'l:tst100,SUSPEND' saves to <save_dir>/tst100.save")
        def _(r):
            data = call(r, "xen.cancel", "l:tst100,SUSPEND")
            expect(data.get("result") == "saved", f"result {data.get('result')!r}")
            expect(data.get("statefile") == statefile, f"statefile {data.get('statefile')!r}")
            expect(os.path.isfile(statefile), f"no {statefile}")
            note(r, f"state file {os.path.getsize(statefile)} bytes")
            expect(xl_domid("tst100") is None, "tst100 still listed after SUSPEND")

        @step("xen.create RESUME", "xen.create 'l:tst100,RESUME' restores from the state file (removed after)")
        def _(r):
            data = call(r, "xen.create", "l:tst100,RESUME")
            expect(data.get("action") == "restored", f"action {data.get('action')!r}")
            expect(xl_domid("tst100") is not None, "tst100 not listed after RESUME")
            expect(not os.path.exists(statefile), "state file still there after RESUME")

        @step("xen.cancel POWEROFF:60", "graceful: the running guest powers itself off well within the timeout")
        def _(r):
            data = call(r, "xen.cancel", "l:tst100,POWEROFF:60")
            expect(data.get("result") == "shutdown", f"result {data.get('result')!r} (expected a graceful shutdown)")
            expect(xl_domid("tst100") is None, "tst100 still listed")

        @step("xen.create by path suffix", "xen.create f:tst100/tst100.conf")
        def _(r):
            data = call(r, "xen.create", "f:tst100/tst100.conf")
            expect(data.get("action") == "created", f"action {data.get('action')!r}")
            expect(data.get("config") == TST100, f"config {data.get('config')!r}")
            expect(xl_domid("tst100") is not None, "tst100 not listed")

        @step("xen.create when running", "a second xen.create l:tst100 is an error, nothing touched")
        def _(r):
            before = xl_domid("tst100")
            res = call(r, "xen.create", "l:tst100", expect_error=True)
            expect("already running" in res.error, f"error {res.error!r}")
            expect(xl_domid("tst100") == before, "domid changed")

        @step("xen.cancel REBOOT", "xen.cancel 'f:tst100/tst100.conf,REBOOT' of the guest (still booting): same "
              "name, new domid (on_reboot=restart)")
        def _(r):
            old = xl_domid("tst100")
            data = call(r, "xen.cancel", "f:tst100/tst100.conf,REBOOT")
            expect(data.get("result") == "rebooted", f"result {data.get('result')!r}")
            start, new = time.monotonic(), None
            while time.monotonic() - start < 120:
                new = xl_domid_quick("tst100")
                if new is not None and new != old:
                    break
                time.sleep(1)
            expect(new is not None and new != old, f"domid {old} -> {new} after 120s")
            note(r, f"domid {old} -> {new} {time.monotonic() - start:.1f}s after the call returned")
            # xl's monitor rebuilds the domain: meanwhile `xl list` shows it --p--- and `xl list -l`
            # leaves it out ("Fail to get domain configuration" on stderr, exit 0)
            capture("xl-list-v-during-reboot-rebuild.txt", ["/usr/sbin/xl", "list", "-v"])
            capture("xl-list-l-during-reboot-rebuild.json", ["/usr/sbin/xl", "list", "-l"])
            while time.monotonic() - start < 120:
                rc, out, _ = run(["/usr/sbin/xl", "list", "-l", "tst100"], 30)
                if rc == 0 and '"c_info"' in out and "tst100" in out:
                    break
                time.sleep(1)
            note(r, f"rebuilt (listed by xl list -l) {time.monotonic() - start:.1f}s after the call returned")

        @step("xen.cancel POWEROFF:0 by MAC", f"xen.cancel 'm:{MAC100},POWEROFF:0': ask, then destroy at once")
        def _(r):
            data = call(r, "xen.cancel", f"m:{MAC100},POWEROFF:0")
            expect(data.get("result") in ("destroyed", "shutdown"), f"result {data.get('result')!r}")
            expect(xl_domid("tst100") is None, "tst100 still listed")
            note(r, f"result {data.get('result')}")
        cleanup("tst100")

    if "stubborn" in blocks:
        cleanup("tst101")

        @step("xen.create by UUID", f"xen.create u:{UUID101} (tst101, the DomU that ignores shutdown requests)")
        def _(r):
            data = call(r, "xen.create", f"u:{UUID101}")
            expect(data.get("action") == "created", f"action {data.get('action')!r}")
            expect(data.get("label") == "tst101", f"label {data.get('label')!r}")
            expect(str(data.get("uuid", "")).replace("-", "").lower() == UUID101, f"uuid {data.get('uuid')!r}")
            start = time.monotonic()
            wait_guest_up("tst101")
            note(r, f"tst101 up {time.monotonic() - start:.1f}s after create")

        @step("POWEROFF of a DomU that ignores shutdown", "tst101 acknowledges xl shutdown and stays up: "
              "xen.cancel 'l:tst101,POWEROFF:15' destroys it after 15 s")
        def _(r):
            domid = xl_domid_quick("tst101")
            expect(domid is not None, "tst101 is not running")

            def watch():  # while the cancel waits: what real xl/xenstore show for a guest ignoring it
                time.sleep(8)
                capture("xl-list-v-ignoring-shutdown.txt", ["/usr/sbin/xl", "list", "-v"])
                capture("xenstore-control-shutdown-ignored.txt",
                        ["xenstore-read", f"/local/domain/{domid}/control/shutdown"])
            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            start = time.monotonic()
            data = call(r, "xen.cancel", "l:tst101,POWEROFF:15")
            took = time.monotonic() - start
            watcher.join(30)
            note(r, f"cancel took {took:.1f}s")
            expect(data.get("result") == "destroyed", f"result {data.get('result')!r}")
            expect(took >= 15, f"returned after {took:.1f}s, before the 15 s timeout")
            expect(xl_domid("tst101") is None, "tst101 still listed")
            with open("/var/log/xen/console/guest-tst101.log", errors="replace") as handle:
                console = handle.read()
            expect("ignoring PV shutdown" in console, "the guest console does not show the ignore switch")
        cleanup("tst101")

    if "state" in blocks:
        cleanup("tst100")
        for sls, wanted in (("xenlab.running", "running"), ("xenlab.poweroff", "off")):
            for attempt in (1, 2):
                @step(f"state.apply {sls} ({'first' if attempt == 1 else 'second'})",
                      f"tst100 {wanted}; " + ("changes" if attempt == 1 else "a second apply changes nothing"))
                def _(r, sls=sls, attempt=attempt, wanted=wanted):
                    data = call(r, "state.apply", sls, timeout=240)
                    expect(isinstance(data, dict) and data, f"state return {short(data, 300)}")
                    for sid, ret in data.items():
                        expect(ret.get("result") is True, f"{sid}: result {ret.get('result')}: {ret.get('comment')}")
                        if attempt == 1:
                            expect(ret.get("changes"), f"{sid}: no changes on the first apply: {ret.get('comment')}")
                        else:
                            expect(not ret.get("changes"), f"{sid}: changes on the second apply: {ret.get('changes')}")
                        note(r, f"{sid}: {ret.get('comment')} changes={short(ret.get('changes'), 200)}")
                    listed = xl_domid("tst100") is not None
                    expect(listed == (wanted == "running"), f"xl lists tst100: {listed}")
        cleanup("tst100")

    if "vnc" in blocks and META.get("vnc_backend"):
        cleanup("tst102")
        vnc = {}

        @step("xen.create CONSOLE:vnc", "xen.create 'l:tst102,CONSOLE:vnc': a PV DomU with a vfb; the session "
              "names its VNC port and the ssh -L tunnel")
        def _(r):
            data = call(r, "xen.create", "l:tst102,CONSOLE:vnc")
            expect(data.get("action") == "created", f"action {data.get('action')!r}")
            domid = xl_domid_quick("tst102")
            vnc["domid"] = domid
            capture("xl-list-l-tst102-vfb-vnc.json", ["/usr/sbin/xl", "list", "-l", "tst102"])
            capture("xl-list-v-with-vfb-domu.txt", ["/usr/sbin/xl", "list", "-v"])
            capture("xenstore-ls-tst102-vfb.txt", ["xenstore-ls", "-f", f"/local/domain/{domid}"])
            capture("xenstore-ls-backend-vfb.txt", ["xenstore-ls", "-f", f"/local/domain/0/backend/vfb/{domid}"])
            capture("ps-qemu-device-model.txt", ["sh", "-c", "ps -eo pid,args | grep [q]emu"])
            port = (data.get("vnc") or {}).get("port")
            note(r, f"session vnc {data.get('vnc')}, connect {data.get('connect')}")
            if not port:  # qemu writes the port into xenstore once its VNC server listens
                for _ in range(30):
                    rc, out, _ = run(["xenstore-read", f"/local/domain/{domid}/console/vnc-port"], 10)
                    if rc == 0 and out.strip():
                        note(r, f"xenstore console/vnc-port {out.strip()} (after create returned)")
                        break
                    time.sleep(1)
                raise Fail(f"xen.create returned no VNC port: vnc={data.get('vnc')}, connect={data.get('connect')}")
            expect(int(port) >= 5900, f"port {port}")
            vnc["port"] = int(port)

        @step("xen.list with a VNC DomU", "the tst102 row has DISPLAY and ClientAccessPort (5900 + display)")
        def _(r):
            rows = call(r, "xen.list")
            row = next((x for x in rows if x.get("label") == "tst102"), None)
            expect(row is not None, "no tst102 row")
            note(r, f"display {row.get('display')!r} cport {row.get('cport')!r}")
            expect(row.get("cport") and int(row["cport"]) >= 5900, f"cport {row.get('cport')!r}")
            expect(row.get("display") == str(int(row["cport"]) - 5900), f"display {row.get('display')!r}")

        @step("xen.cancel POWEROFF:0 of the VNC DomU", "xen.cancel 'l:tst102,POWEROFF:0'; the device model goes too")
        def _(r):
            data = call(r, "xen.cancel", "l:tst102,POWEROFF:0")
            expect(data.get("result") in ("destroyed", "shutdown"), f"result {data.get('result')!r}")
            expect(xl_domid("tst102") is None, "tst102 still listed")
        cleanup("tst102")


if __name__ == "__main__":
    try:
        main()
    except Killed:
        log("driver killed by the overall timeout")
    finally:
        if WARM is not None:
            WARM.close()
        META["salt_calls"] = SALT_CALLS
        write_results()
        log(f"driver done: {sum(1 for s in STEPS if s['result'] == 'pass')}/{len(STEPS)} passed")
