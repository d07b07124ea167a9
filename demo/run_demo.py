#!/usr/bin/env python3
"""``make demo``: the seed's use cases (ctys-uc-XEN) as Salt calls on a local fleet.

A salt-master and three minions on 127.0.0.1 — lab00, lab01 (Xen hosts) and ws2 (the seed's
workstation, also a dom0 here) — each over its own simulated Xen host (tests/xlsim, the test
double of ``xl`` checked against real xl 4.17 output) with the seed's config tree: tst100,
tst101, tst104 with the seed's MACs and tst100's UUID 6842caf91e3e43249ed596b8b9f2c5c2.
Every step prints the ctys call of the seed, the Salt call that does it, and what Salt
answered; every process the demo started is stopped at the end, whatever happened.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path[:0] = [HERE, os.path.join(REPO, "tests"), os.path.join(REPO, "_utils")]

from fleet import Fleet  # noqa: E402  pylint: disable=wrong-import-position
from seedtree import write_seed_tree  # noqa: E402  pylint: disable=wrong-import-position
from xlsim import control  # noqa: E402  pylint: disable=wrong-import-position

HOSTS = {  # minion id: (host name, host MAC) as in the seed's tables
    "lab00": ("lab00.soho", "00:0E:0C:35:F8:48"),
    "lab01": ("lab01.soho", "00:0E:0C:35:F8:49"),
    "ws2": ("ws2.soho", "00:1D:60:A5:89:06"),
}
STUB_SOURCE = "#include <unistd.h>\nint main(void) { for (;;) pause(); }\n"


class Demo:
    def __init__(self, root):
        self.root = root
        self.step_no = 0
        self.started = time.monotonic()
        self.clients = []
        self.hosts = {}

    # --- set-up ----------------------------------------------------------------------------------

    def minions(self):
        minions = {}
        for minion_id, (hostname, mac) in HOSTS.items():
            host_dir = os.path.join(self.root, "hosts", minion_id)
            env = control.make_host(os.path.join(host_dir, "xlsim"), hostname=hostname)
            base = os.path.join(host_dir, "home")
            self.hosts[minion_id] = {"env": env, "base": base, "configs": write_seed_tree(base)}
            opts = {"xen": {"toolstack": "xl", "base_paths": [base], "hostname": hostname, "host_mac": mac,
                            "save_dir": os.path.join(host_dir, "save"), "poll_interval": 0.2,
                            # every minion runs on this one machine: only ws2 owns the client sessions
                            "list_clients": minion_id == "ws2"}}
            # ctys' relative base paths (b:xen) are relative to the home folder: the seed's tree
            # lies in $HOME/xen, so each simulated host's home is where its tree is.
            minions[minion_id] = (opts, dict(env, HOME=base))
        return minions

    def start_clients(self):
        """What the seed's workstation runs after CONSOLE:VNC with -L CF: a VNC viewer and the
        ssh tunnel it uses.  Stand-ins (a C program that only waits) with the real argv, since
        this machine has neither a viewer nor a remote host; LIST reads them from /proc."""
        if not shutil.which("gcc"):
            print("   (no gcc: the viewer and tunnel stand-ins are skipped)")
            return
        bindir = os.path.join(self.root, "bin")
        os.makedirs(bindir, exist_ok=True)
        source = os.path.join(bindir, "stub.c")
        with open(source, "w", encoding="ascii") as handle:
            handle.write(STUB_SOURCE)
        for name in ("vncviewer", "ssh"):
            subprocess.run(["gcc", "-o", os.path.join(bindir, name), source], check=True, timeout=60)
        tunnel = ["ssh", "-f", "-L", "5950:127.0.0.1:5900", "root@lab00.soho",
                  "sleep 120 # DYNREMAP:XEN:tst100:lab00.soho"]
        viewer = ["vncviewer", "-name", "tst100:0", "127.0.0.1::5950"]
        for argv in (tunnel, viewer):
            self.clients.append(subprocess.Popen(argv, executable=os.path.join(bindir, argv[0]),  # noqa: S603
                                                 stdin=subprocess.DEVNULL, start_new_session=True))

    def stop_clients(self):
        for proc in self.clients:
            proc.kill()
            proc.wait()

    # --- output ----------------------------------------------------------------------------------

    def step(self, title, ctys=None):
        self.step_no += 1
        elapsed = time.monotonic() - self.started
        print(f"\n[{self.step_no:02d} | {elapsed:5.1f} s] {title}", flush=True)
        if ctys:
            print(f"   ctys: {ctys}")

    def run(self, fleet, program, *args, show="text"):
        """Run a Salt CLI as a user would; print the command and its answer."""
        print(f"   $ {program} {' '.join(_quote(a) for a in args)}")
        if program == "salt":  # the CLI's default 5 s is short for a first sync or a create
            args = ("-t", "60", *args)
        if show == "text":
            proc = fleet.command(program, *args)
            output = (proc.stdout + _without_salt_noise(proc.stderr)).rstrip()
        else:
            data, proc = fleet.json(program, *args)
            try:
                output = show(data)
            except (TypeError, KeyError, AttributeError):  # an error message instead of data
                output = json.dumps(data, indent=1) if data is not None else (proc.stdout + proc.stderr).rstrip()
        for line in str(output).splitlines():
            print(f"     {line}")
        return proc


def _without_salt_noise(stderr):
    """Drop the two "unclosed Runner / MasterMinion" warnings salt-run 3008 prints on every call
    (its own CLI objects, seen with test.arg too); everything else is shown."""
    return "\n".join(line for line in stderr.splitlines()
                     if not line.replace("[WARNING ] ", "").startswith("unclosed "))


def _quote(arg):
    return f"'{arg}'" if any(c in arg for c in " ,;%*[]{}") else arg


def session_line(data):
    """One line per minion of an xen.create / xen.cancel answer."""
    lines = []
    for minion, value in sorted((data or {}).items()):
        if isinstance(value, dict):
            keys = ("label", "action", "mode", "result", "domid", "state", "statefile")
            summary = ", ".join(f"{k}={value[k]}" for k in keys if value.get(k) not in (None, ""))
            if value.get("vnc"):
                summary += f", vnc={value['vnc']['host']}:{value['vnc']['port']} (display {value['vnc']['display']})"
            lines.append(f"{minion}: {summary}")
            for key, hint in (value.get("connect") or {}).items():
                lines.append(f"{minion}:   {key}: {hint}")
        else:
            lines.append(f"{minion}: {value}")
    return "\n".join(lines)


def walk(demo, fleet):
    lab00 = demo.hosts["lab00"]["configs"]["tst100"]
    lab01 = demo.hosts["lab01"]["configs"]["tst100"]

    demo.step("Deploy: sync the extension to every minion from the master's file_roots")
    fleet.command("salt-run", "fileserver.update")  # make the repository's files visible at once
    demo.run(fleet, "salt", "*", "saltutil.sync_all", show=lambda d: "\n".join(
        f"{m}: {', '.join(sorted(k for k, v in r.items() if v))}" for m, r in sorted(d.items())))

    demo.step("ENUMERATE with TAB_CPORT: the stored configs of two hosts (TCP filled, no cport)",
              "ctys -a enumerate=macro:TAB_CPORT,b:xen%/etc/ctys.d localhost lab00")
    demo.run(fleet, "salt-run", "xen.enumerate", "macro:TAB_CPORT", "tgt=ws2,lab00", "tgt_type=list")

    demo.step("ENUMERATE as raw MACHINE records with a title",
              "ctys -t xen -a enumerate=machine,title,b:xen localhost lab00")
    demo.run(fleet, "salt", "lab00", "xen.enumerate", "machine,title,b:xen", "types=xen",
             show=lambda d: "\n".join(d["lab00"]["records"][:2]) + "\n...")

    demo.step("CREATE with CONSOLE:CLI by path suffix (KSU becomes the minion's xen:privilege)",
              "ctys -t xen -a create=f:xen/tst-ctys/tst100/tst100.conf,CONSOLE:cli lab00'(-Z KSU)'")
    demo.run(fleet, "salt", "lab00", "xen.create", "f:xen/tst-ctys/tst100/tst100.conf,CONSOLE:cli", show=session_line)

    for address, ctys in (
        (f"p:{lab00}", "create=p:$HOME/xen/tst-ctys/tst100/tst100.conf,CONSOLE:cli,connect"),
        ("f:tst-ctys/tst100/tst100.conf", "create=f:tst-ctys/tst100/tst100.conf,CONSOLE:cli,connect"),
        ("f:tst100/tst100.conf", "create=f:tst100/tst100.conf,CONSOLE:cli,connect"),
        (f"i:{lab00}", "create=i:$HOME/xen/tst-ctys/tst100/tst100.conf,CONSOLE:cli,connect"),
        ("l:tst100", "create=l:tst100,CONSOLE:cli,connect"),
        ("u:6842caf91e3e43249ed596b8b9f2c5c2", "create=u:6842caf91e3e43249ed596b8b9f2c5c2,CONSOLE:cli,connect"),
        ("m:00:50:56:13:11:40", "create=m:00:50:56:13:11:40,CONSOLE:cli,connect"),
        ("t:192.168.1.220", "create=t:192.168.1.220,CONSOLE:cli,connect"),
    ):
        demo.step(f"CONNECT to the running tst100 by {address.split(':', 1)[0]}:", f"ctys -t xen -a {ctys} lab00")
        demo.run(fleet, "salt", "lab00", "xen.create", f"{address},CONSOLE:cli,connect", show=session_line)

    demo.step("An already running DomU without CONNECT is an error; nothing is started")
    demo.run(fleet, "salt", "lab00", "xen.create", "l:tst100,CONSOLE:none")

    demo.step("CREATE with CONSOLE:VNC: the VNC port, the viewer and the ssh -L tunnel (-L CF)",
              "ctys -t xen -a create=f:xen/tst-ctys/tst101/tst101.conf,CONSOLE:vnc -L CF lab00")
    demo.run(fleet, "salt", "lab00", "xen.create", "f:xen/tst-ctys/tst101/tst101.conf,CONSOLE:vnc", show=session_line)

    demo.step("CONSOLE:XTERM/GTERM/EMACS need a desktop on the dom0: refused, with the Salt way",
              "ctys -t xen -a create=f:xen/tst-ctys/tst100/tst100.conf,CONSOLE:xterm lab00")
    demo.run(fleet, "salt", "lab01", "xen.create", "f:xen/tst-ctys/tst100/tst100.conf,CONSOLE:xterm")

    demo.step("The workstation ws2 attaches a viewer through a tunnel (client sessions for LIST)")
    demo.start_clients()

    demo.step("LIST on the client machine: the viewer (C), the tunnel (T) and the PM row", "ctys -a list")
    demo.run(fleet, "salt-run", "xen.list", "tgt=ws2")

    demo.step("LIST of two machines, client and server", "ctys -a list localhost lab00")
    demo.run(fleet, "salt-run", "xen.list", "tgt=ws2,lab00", "tgt_type=list")

    demo.step("LIST reduced to XEN", "ctys -t xen -a list lab00")
    demo.run(fleet, "salt-run", "xen.list", "tgt=lab00", "types=xen")

    demo.step("LIST with the TAB_CPORT macro: cport of DomUs, tunnel and viewer; MACs",
              "ctys -a list=macro:TAB_CPORT localhost lab00")
    demo.run(fleet, "salt-run", "xen.list", "macro:TAB_CPORT", "tgt=ws2,lab00", "tgt_type=list")

    demo.step("LIST as MACHINE records with TITLEIDX (the indexes for custom tables)",
              "ctys -t xen -a list=machine,titleidx lab00")
    demo.run(fleet, "salt", "lab00", "xen.list", "machine,titleidx", "types=xen",
             show=lambda d: "\n".join(d["lab00"]))

    demo.step("A custom tab_gen table by TITLEIDX indexes")
    demo.run(fleet, "salt-run", "xen.list", "tab_gen:3_Label_10%%2_stype_8%%11_domid_5%%9_cport_5%%4_ID_30_L",
             "tgt=lab00", "types=xen")

    demo.step("CREATE multiple sessions on two hosts in one call (one result per entry)",
              "ctys -t xen -- lab00'(-a create=f:.../tst104.conf,CONSOLE:none)' lab01'(-a create=f:.../tst101.conf ...)'")
    plan = [{"tgt": "lab00", "address": "f:xen/tst-ctys/tst104/tst104.conf,CONSOLE:none"},
            {"tgt": "lab01", "address": "f:xen/tst-ctys/tst101/tst101.conf,CONSOLE:none"},
            {"tgt": "lab01", "address": "f:xen/tst-ctys/tst100/tst100.conf,CONSOLE:none"}]
    demo.run(fleet, "salt-run", "xen.create", f"plan={json.dumps(plan)}")

    demo.step("CANCEL with POWEROFF:0 by PATHNAME",
              "ctys -t xen -a cancel=poweroff:0,p:/homen/acue/xen/tst-ctys/tst100/tst100.conf lab00")
    demo.run(fleet, "salt", "lab00", "xen.cancel", f"poweroff:0,p:{lab00}", show=session_line)

    demo.step("CANCEL with REBOOT, FORCE,RESET and INIT:6 by label on lab01",
              "ctys -t xen -a cancel=l:tst100,REBOOT -c off -C off lab01")
    for address in ("l:tst100,REBOOT", "l:tst100,FORCE,RESET", "l:tst100,FORCE,INIT:6"):
        demo.run(fleet, "salt", "lab01", "xen.cancel", address, "cache=False", show=session_line)

    demo.step("CANCEL with PAUSE, then unpause", "ctys -t xen -a cancel=l:tst100,PAUSE lab01")
    demo.run(fleet, "salt", "lab01", "xen.cancel", "l:tst100,PAUSE", show=session_line)
    demo.run(fleet, "salt", "lab01", "xen.status", "l:tst100", show=lambda d: f"lab01: {d['lab01']['state']}")
    demo.run(fleet, "salt", "lab01", "xen.unpause", "l:tst100", show=session_line)

    demo.step("CANCEL with SUSPEND, then CREATE with RESUME (and VNC)",
              "ctys -t xen -a cancel=l:tst100,SUSPEND lab01; ctys -t xen -a create=l:tst100,RESUME,CONSOLE:VNC")
    demo.run(fleet, "salt", "lab01", "xen.cancel", "l:tst100,SUSPEND", show=session_line)
    demo.run(fleet, "salt", "lab01", "xen.create", "l:tst100,RESUME,CONSOLE:VNC", show=session_line)

    demo.step("An ambiguous address: a backup copy of tst100 appears on lab01 (ctys-vhost -M all)",
              "ctys-vhost -o machine -s -M all lab00 XEN tst100")
    backup = os.path.join(demo.hosts["lab01"]["base"], "backup", "tst100")
    shutil.copytree(os.path.dirname(lab01), backup)
    demo.run(fleet, "salt-run", "xen.vhost", "l:tst100", "tgt=lab01")
    demo.run(fleet, "salt", "lab01", "xen.create", "l:tst100,CONSOLE:none", "cache=False")
    demo.step("More address parts resolve it, as the seed advises")
    demo.run(fleet, "salt", "lab01", "xen.create", "l:tst100,f:xen/tst-ctys/tst100/tst100.conf,CONSOLE:none,connect",
             show=session_line)
    demo.step("CANCEL acts on running DomUs: one tst100 runs on lab01, so l:tst100 names it alone",
              "ctys -t xen -a cancel=l:tst100,POWEROFF:0 -c off lab01")
    demo.run(fleet, "salt", "lab01", "xen.cancel", "l:tst100,POWEROFF:0", "cache=False", show=session_line)

    demo.step("Fleet-wide conflicts: the same MAC, UUID or label in more than one place")
    demo.run(fleet, "salt-run", "xen.conflicts", "kinds=uuid")

    demo.step("CANCEL with INIT:0 (graceful poweroff through the toolstack)", "ctys -t xen -a cancel=l:tst104,INIT:0 lab00")
    demo.run(fleet, "salt", "lab00", "xen.cancel", "l:tst104,INIT:0", show=session_line)

    demo.step("SHOW: dynamic data of a host", "ctys -t xen -a show lab00")
    demo.run(fleet, "salt", "lab00", "xen.show", show=lambda d: "\n".join(
        f"lab00: {k} = {v}" for k, v in d["lab00"].items() if k in ("running", "xen", "load")))

    demo.step("INFO: static data of a host and the module", "ctys -t xen -a info lab01")
    demo.run(fleet, "salt", "lab01", "xen.info", show=lambda d: "\n".join(
        f"lab01: {k} = {v}" for k, v in d["lab01"].items()
        if k in ("toolstack", "xen_version", "xen_caps", "accelerator", "arch", "privilege", "module_version")))

    demo.step("The whole fleet at the end", "ctys -a list localhost lab00 lab01")
    demo.run(fleet, "salt-run", "xen.list", "tgt=*", "types=xen,pm")


def main():
    root = tempfile.mkdtemp(prefix="saltext-xen-demo-")
    demo = Demo(root)
    print("saltext-xen demo: the seed's use cases (ctys-uc-XEN) on a local Salt fleet")
    demo.step("Start a salt-master and the minions lab00, lab01, ws2 on 127.0.0.1, each over a simulated Xen host")
    rc = 0
    try:
        with Fleet(demo.minions(), root=os.path.join(root, "salt")) as fleet:
            print(f"   master and {len(HOSTS)} minions answer after {time.monotonic() - demo.started:.1f} s")
            walk(demo, fleet)
            demo.step("Stop every process the demo started")
    except Exception as exc:  # pylint: disable=broad-except
        print(f"\ndemo failed: {exc}")
        rc = 1
    finally:
        demo.stop_clients()
        shutil.rmtree(root, ignore_errors=True)
    print(f"\ndone in {time.monotonic() - demo.started:.1f} s")
    return rc


if __name__ == "__main__":
    sys.exit(main())
