#!/usr/bin/env python3
"""Host side of ``make test-xen``: the dom0's results (read back from the virtio disk) plus the
host's own figures -> ``real-xen-results.json``, ``real-xen-results.md``, ``status``, ``captured/``.

Exit 0 when every step passed, 1 otherwise (also when the dom0 never wrote results), and writes a
skip record with ``--skip REASON`` (run.sh then exits 77).
"""

import argparse
import json
import os
import re
import shutil
import sys
import time

# A complete run records meta.expected_steps steps (driver.py); fewer means it was cut short.
EXPECTED_MIN_STEPS = 24


def read_env(path):
    env = {}
    if os.path.exists(path):
        with open(path) as handle:
            for line in handle:
                if "=" in line:
                    key, value = line.rstrip("\n").split("=", 1)
                    env[key] = value
    return env


def read_xltrace(folder):
    """The dom0's xl trace (INDEX.tsv + <start>.out/.err) as one list, in call order."""
    index = os.path.join(folder, "INDEX.tsv")
    if not os.path.exists(index):
        return []
    calls = []
    with open(index) as handle:
        for line in handle:
            if not line.strip():
                continue
            start, rc, ms, argline = line.rstrip("\n").split("\t", 3)
            streams = {}
            for name in ("out", "err"):
                path = os.path.join(folder, f"{start}.{name}")
                with open(path, errors="replace") if os.path.exists(path) else open(os.devnull) as stream:
                    streams[name] = stream.read()
            calls.append({"start_ns": int(start), "argv": ["xl"] + argline.split(" "), "rc": int(rc),
                          "ms": int(ms), "stdout": streams["out"], "stderr": streams["err"]})
    return calls


def milestones(serial):
    """Seconds since QEMU start of the boot milestones, from the timestamped serial log."""
    marks = {
        "xen_up": r"\(XEN\) Xen version",
        "dom0_init": r"LAB: dom0 /init",
        "xen_daemons_up": r"LAB: /etc/init\.d/xen start",
        "driver_start": r"LAB: driver start",
        "driver_done": r"LAB: driver finished",
        "results_written": r"LAB: results written",
        "poweroff": r"LAB: powering off",
    }
    found = {}
    if not os.path.exists(serial):
        return found
    with open(serial, errors="replace") as handle:
        for line in handle:
            for key, pattern in marks.items():
                if key not in found and re.search(pattern, line):
                    try:
                        found[key] = float(line.split()[0])
                    except (ValueError, IndexError):
                        pass
    return found


def fmt_s(value):
    return "" if value is None else f"{value:.1f} s"


def markdown(data):
    meta, host = data["meta"], data["host"]
    steps = data["steps"]
    passed = sum(1 for s in steps if s["result"] == "pass")
    lines = [
        "# Real Xen run",
        "",
        f"- status: **{data['status'].upper()}**" + (f" ({data.get('reason')})" if data.get("reason") else ""),
        f"- date (UTC): {meta.get('date_utc') or host.get('date_utc', '')}",
        f"- Xen {meta.get('xen_version', '?')} (hypervisor {host.get('versions', {}).get('HYPERVISOR', '?')}), "
        f"xen-utils {meta.get('xen_utils', '?')}, dom0 kernel {meta.get('dom0_kernel', '?')}",
        f"- Salt {meta.get('salt_version', '?')} on Debian python {meta.get('python', '?')}, "
        f"project commit {meta.get('project_commit', '?')}",
        f"- QEMU {host.get('accel', 'tcg')} `-cpu {host.get('cpu', '')}`, -m {host.get('qemu_mem_mb', '?')} MiB, "
        f"peak QEMU RSS {host.get('qemu_peak_rss_mb', '?')} MiB",
        f"- steps: {passed}/{len(steps)} passed",
        f"- host: {host.get('host_cpus')} CPUs, load average at start {host.get('loadavg_start')}, at end "
        f"{' '.join(f'{x:.1f}' for x in host.get('loadavg_end') or [])} (other jobs on the host slow TCG down)",
        f"- wall: lab base {fmt_s(host.get('build_s'))} ({host.get('cache', '?')}), boot+run+poweroff "
        f"{fmt_s(host.get('boot_s'))}, whole `make test-xen` {fmt_s(host.get('total_s'))}",
    ]
    ms = host.get("milestones", {})
    if ms:
        lines.append("- since QEMU start: " + ", ".join(f"{k} {v:.1f} s" for k, v in ms.items()))
    calls = meta.get("salt_calls") or []
    for via, label in (("cli", "fresh `salt-call` process"), ("warm", "warm caller (fork of an initialised salt-call)")):
        walls = sorted(c["wall"] for c in calls if c.get("via") == via)
        if walls:
            lines.append(f"- {label}: {len(walls)} calls, median {walls[len(walls) // 2]:.1f} s, "
                         f"min {walls[0]:.1f} s, max {walls[-1]:.1f} s")
    if meta.get("warm_init_s") is not None:
        lines.append(f"- warm caller start-up (once, in the background): {meta['warm_init_s']:.1f} s")
    lines += ["", "| # | step | result | wall | command(s) | reason / notes |", "|---|---|---|---|---|---|"]
    for s in steps:
        cmds = "<br>".join(("(warm) " if c.get("via") == "warm" else "")
                           + f"`{c['command'].replace('salt-call --local --out=json ', 'salt-call … ')}`"
                           + (f" {c['wall_s']:.1f} s" if c.get("wall_s") is not None else "")
                           for c in s.get("commands", []))
        why = s.get("reason") or "; ".join(s.get("notes", []))
        why = why.replace("|", "\\|").replace("\n", " ")[:400]
        lines.append(f"| {s['n']} | {s['name']} | {s['result'].upper()} | {s['wall_s']:.1f} s | {cmds} | {why} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", required=True)
    parser.add_argument("--lab", default="")
    parser.add_argument("--qemu-rc", type=int, default=None)
    parser.add_argument("--build-s", type=float, default=None)
    parser.add_argument("--boot-s", type=float, default=None)
    parser.add_argument("--total-s", type=float, default=None)
    parser.add_argument("--skip", default=None)
    args = parser.parse_args()
    res = args.results
    out_json = os.path.join(res, "real-xen-results.json")
    out_md = os.path.join(res, "real-xen-results.md")
    host = {"date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "loadavg_end": os.getloadavg(), "loadavg_start": os.environ.get("XENLAB_LOADAVG_START", ""),
            "host_cpus": os.cpu_count()}

    if args.skip is not None:
        data = {"status": "skip", "reason": args.skip, "meta": {}, "host": host, "steps": []}
        with open(out_json, "w") as handle:
            json.dump(data, handle, indent=1)
        with open(out_md, "w") as handle:
            handle.write(f"# Real Xen run\n\n- status: **SKIP**: {args.skip}\n- date (UTC): {host['date_utc']}\n")
        return 77

    raw = os.path.join(res, "raw")
    dom0 = {}
    if os.path.exists(os.path.join(raw, "results.json")):
        with open(os.path.join(raw, "results.json")) as handle:
            dom0 = json.load(handle)
    host.update(
        lab=args.lab,
        versions=read_env(os.path.join(args.lab, "versions.env")) if args.lab else {},
        build_s=args.build_s, boot_s=args.boot_s, total_s=args.total_s, qemu_rc=args.qemu_rc,
        cache="cache hit" if (args.build_s is not None and args.build_s < 30) else "built",
        accel=os.environ.get("ACCEL", "tcg"), cpu=os.environ.get("TCG_CPU", "qemu64,+svm,+npt,model-id=x86-64 CPU (xen-lab TCG)"),
        qemu_mem_mb=int(os.environ.get("MEM", "3072")),
        milestones=milestones(os.path.join(raw, "serial.log")),
    )
    hwm = os.environ.get("XENLAB_QEMU_HWM_KB")
    if hwm and hwm.isdigit():
        host["qemu_peak_rss_mb"] = int(hwm) // 1024
    for name in ("free-dom0.txt", "df-dom0.txt", "dom0-uptime-at-end"):
        path = os.path.join(raw, name)
        if os.path.exists(path):
            with open(path, errors="replace") as handle:
                host[name.replace("-", "_").replace(".txt", "")] = handle.read().strip()

    steps = dom0.get("steps", [])
    expected = dom0.get("meta", {}).get("expected_steps") or EXPECTED_MIN_STEPS
    failed = [s for s in steps if s["result"] != "pass"]
    if not dom0:
        status, reason = "fail", f"no results from dom0 (qemu exit {args.qemu_rc}; see results/raw/serial.log)"
    elif failed:
        status, reason = "fail", f"{len(failed)} of {len(steps)} steps did not pass: " + ", ".join(
            f"{s['n']} {s['name']} ({s['result']})" for s in failed)
    elif len(steps) < expected:
        status, reason = "fail", f"only {len(steps)} of {expected} steps ran"
    else:
        status, reason = "pass", ""
    if args.qemu_rc == 124:
        status = "fail"
        reason = (reason + "; " if reason else "") + "QEMU hit its timeout"

    data = {"status": status, "reason": reason, "meta": dom0.get("meta", {}), "host": host, "steps": steps,
            "dom0_elapsed_s": dom0.get("elapsed_s")}
    with open(out_json, "w") as handle:
        json.dump(data, handle, indent=1, default=str)
    with open(out_md, "w") as handle:
        handle.write(markdown(data))
    with open(os.path.join(res, "status"), "w") as handle:
        handle.write(status + "\n")
    # real outputs kept for corpus tests: the driver's captures, and the trace of every xl call the
    # project made (xenlab/simdiff.py replays it on tests/xlsim)
    if os.path.isdir(os.path.join(raw, "captured")):
        dest = os.path.join(res, "captured")
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(os.path.join(raw, "captured"), dest)
    calls = read_xltrace(os.path.join(raw, "xltrace"))
    if calls:
        with open(os.path.join(res, "xltrace.json"), "w") as handle:
            json.dump(calls, handle, indent=1)

    for s in steps:
        print(f"  {s['result'].upper():4s} {s['wall_s']:6.1f}s  {s['n']:2d} {s['name']}"
              + (f": {s['reason'][:200]}" if s["reason"] else ""))
    line = f"{status.upper()} real-xen: {sum(1 for s in steps if s['result'] == 'pass')}/{len(steps)} steps passed"
    if reason and status != "pass":
        line += f" ({reason[:300]})"
    print(line + f"; results in {out_md}")
    return 0 if status == "pass" else 1


if __name__ == "__main__":
    sys.exit(main())
