#!/usr/bin/env python3
"""Replay the xl calls the project made against the REAL xl (the lab's xl trace) on the simulated
host of tests/xlsim, and list where the simulator answers differently.

    python3 xenlab/simdiff.py [DIR] [--out xenlab/results/simdiff.md]

DIR holds a lab run's ``xltrace.json`` (default xenlab/results, where make test-xen keeps it) or
a raw run's ``xltrace/``: ``INDEX.tsv`` (one
line per xl call: start ns, exit code, wall ms, argv) and ``<start>.out`` / ``<start>.err``.
The calls are replayed in order on a fresh simulated host (configs from xenlab/dom0/xen, tst101
set to ignore shutdown requests as the lab's guest does), with the real gaps between calls scaled
down (the simulator's guests shut down in 0.2 s, TCG's in seconds).  Compared per call: exit code,
stderr (numbers and paths normalised), stdout (``list -l``: the JSON key paths and the values that
do not depend on timing; ``list``: header and the columns of each row; else the normalised text).

Differences of state (a domain one side still lists) are reported as such, so that a timing
artefact of the replay is not mistaken for a format difference.  Development tool: the lab run
itself does not depend on it.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path[:0] = [os.path.join(REPO, "tests"), os.path.join(REPO, "_utils")]


def norm_text(text, paths):
    for real, local in paths:
        text = text.replace(local, real)
    text = re.sub(r"\.partial-[0-9-]+", ".partial-PID", text)
    text = re.sub(r"0x[0-9a-f]+", "0xN", text)
    text = re.sub(r"\d+(\.\d+)?", "N", text)
    # lab-only values of xl info (the QEMU CPU's clock, the lab's Xen command line)
    return [line.rstrip() for line in text.splitlines()
            if line.strip() and not line.startswith(("cpu_mhz", "xen_commandline"))]


def key_paths(value, prefix=""):
    paths = set()
    if isinstance(value, dict):
        for key, sub in value.items():
            paths.add(f"{prefix}/{key}")
            paths |= key_paths(sub, f"{prefix}/{key}")
    elif isinstance(value, list):
        for sub in value:
            paths |= key_paths(sub, f"{prefix}[]")
    return paths


# values of `xl list -l` that must agree (the rest: memory targets, timings, generated ids)
STABLE = ("c_info/type", "c_info/name", "c_info/uuid", "b_info/max_memkb", "b_info/max_vcpus",
          "b_info/type.pv/kernel", "b_info/type.pv/ramdisk", "b_info/type.pv/cmdline",
          "on_poweroff", "on_reboot", "on_crash")


def dig(value, path):
    for part in path.split("/"):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def compare_list_long(real, sim):
    notes = []
    try:
        real_data, sim_data = json.loads(real or "[]"), json.loads(sim or "[]")
    except ValueError as exc:
        return [f"JSON does not parse: {exc}"]
    real_names = [dig(e, "config/c_info/name") for e in real_data]
    sim_names = [dig(e, "config/c_info/name") for e in sim_data]
    if real_names != sim_names:
        notes.append(f"state: domains {real_names} (real) vs {sim_names} (sim)")
    for r_entry in real_data:
        name = dig(r_entry, "config/c_info/name")
        s_entry = next((e for e in sim_data if dig(e, "config/c_info/name") == name), None)
        if s_entry is None:
            continue
        r_keys, s_keys = key_paths(r_entry), key_paths(s_entry)
        if r_keys - s_keys:
            notes.append(f"{name}: keys only in real: {sorted(r_keys - s_keys)}")
        if s_keys - r_keys:
            notes.append(f"{name}: keys only in sim: {sorted(s_keys - r_keys)}")
        for path in STABLE:
            a, b = dig(r_entry.get("config", {}), path), dig(s_entry.get("config", {}), path)
            if a != b:
                notes.append(f"{name}: {path} = {a!r} (real) vs {b!r} (sim)")
        r_nics = [{k: v for k, v in n.items() if k in ("mac", "bridge", "devid", "nictype")}
                  for n in dig(r_entry, "config").get("nics", [])]
        s_nics = [{k: v for k, v in n.items() if k in ("mac", "bridge", "devid", "nictype")}
                  for n in dig(s_entry, "config").get("nics", [])]
        if r_nics != s_nics:
            notes.append(f"{name}: nics {r_nics} (real) vs {s_nics} (sim)")
    return notes


def compare_list(real, sim):
    notes = []
    r_lines, s_lines = real.splitlines(), sim.splitlines()
    if r_lines[:1] != s_lines[:1]:
        notes.append(f"header {r_lines[:1]!r} (real) vs {s_lines[:1]!r} (sim)")
    r_rows = {ln.split()[0]: ln for ln in r_lines[1:] if ln.strip()}
    s_rows = {ln.split()[0]: ln for ln in s_lines[1:] if ln.strip()}
    if sorted(r_rows) != sorted(s_rows):
        notes.append(f"state: rows {sorted(r_rows)} (real) vs {sorted(s_rows)} (sim)")
    for name in set(r_rows) & set(s_rows):
        r_cols, s_cols = r_rows[name].split(), s_rows[name].split()
        if len(r_cols) != len(s_cols):
            notes.append(f"{name}: {len(r_cols)} columns (real) vs {len(s_cols)} (sim): {r_rows[name]!r} / {s_rows[name]!r}")
            continue
        seps_r = re.sub(r"[^\t ]+", "x", r_rows[name])
        seps_s = re.sub(r"[^\t ]+", "x", s_rows[name])
        if seps_r.replace(" ", "") != seps_s.replace(" ", ""):
            notes.append(f"{name}: tab/space layout differs: {r_rows[name]!r} / {s_rows[name]!r}")
        state_idx = 4
        if name != "Domain-0" and r_cols[state_idx] != s_cols[state_idx]:
            notes.append(f"state: {name} flags {r_cols[state_idx]} (real) vs {s_cols[state_idx]} (sim)")
    return notes


OUTPUTS = {}


def load_calls(folder):
    """[(start, rc, ms, argline)] from ``xltrace.json`` (kept results) or ``xltrace/`` (a raw run)."""
    calls = []
    if os.path.exists(os.path.join(folder, "xltrace.json")):
        with open(os.path.join(folder, "xltrace.json")) as handle:
            for call in json.load(handle):
                calls.append((str(call["start_ns"]), str(call["rc"]), str(call["ms"]), " ".join(call["argv"][1:])))
                OUTPUTS[call["start_ns"]] = (call["stdout"], call["stderr"])
        return calls
    trace = os.path.join(folder, "xltrace")
    with open(os.path.join(trace, "INDEX.tsv")) as handle:
        for line in handle:
            if line.strip():
                start, rc, ms, argline = line.rstrip("\n").split("\t", 3)
                calls.append((start, rc, ms, argline))
                with open(os.path.join(trace, f"{start}.out"), errors="replace") as out, \
                        open(os.path.join(trace, f"{start}.err"), errors="replace") as err:
                    OUTPUTS[int(start)] = (out.read(), err.read())
    return calls


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("raw", nargs="?", default=os.path.join(HERE, "results"))
    parser.add_argument("--out", default=os.path.join(HERE, "results", "simdiff.md"))
    parser.add_argument("--scale", type=float, default=0.1, help="replay gap = real gap x scale (max 3 s)")
    args = parser.parse_args()
    from xlsim import control  # pylint: disable=import-outside-toplevel

    calls = load_calls(args.raw)
    work = tempfile.mkdtemp(prefix="xenlab-simdiff-")
    try:
        cfgroot = os.path.join(work, "root-xen")
        shutil.copytree(os.path.join(HERE, "dom0", "xen"), cfgroot)
        savedir = os.path.join(work, "save")
        os.makedirs(savedir)
        paths = [("/root/xen", cfgroot), ("/var/lib/xen/save", savedir)]
        env = dict(os.environ, **control.make_host(os.path.join(work, "host"), ignore_shutdown=["tst101"]))
        rows, previous = [], None
        for start, rc, ms, argline in calls:
            start = int(start)
            if previous is not None:
                time.sleep(min(3.0, max(0.0, (start - previous) / 1e9 * args.scale)))
            previous = start
            argv = argline.split(" ")
            local = [a for a in argv]
            for real, mine in paths:
                local = [a.replace(real, mine) for a in local]
            proc = subprocess.run([os.path.join(REPO, "tests", "xlsim", "xl")] + local, env=env,
                                  capture_output=True, text=True, timeout=60)
            r_out, r_err = OUTPUTS[start]
            notes = []
            if int(rc) != proc.returncode:
                notes.append(f"exit {rc} (real) vs {proc.returncode} (sim)")
            if norm_text(r_err, paths) != norm_text(proc.stderr, paths):
                notes.append(f"stderr: real {r_err.strip()[:300]!r} vs sim {proc.stderr.strip()[:300]!r}")
            verb = argv[0]
            if verb == "list" and "-l" in argv:
                notes += compare_list_long(r_out, proc.stdout)
            elif verb == "list":
                notes += compare_list(r_out, proc.stdout)
            elif norm_text(r_out, paths) != norm_text(proc.stdout, paths):
                notes.append(f"stdout: real {r_out.strip()[:300]!r} vs sim {proc.stdout.strip()[:300]!r}")
            if verb == "save" and proc.returncode == 0 and ".partial-" in local[-1]:
                # the module saves to <file>.partial-<pid> and renames it after xl succeeded
                os.rename(local[-1], re.sub(r"\.partial-[0-9-]+$", "", local[-1]))
            rows.append((argline, rc, ms, notes))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    differing = [r for r in rows if r[3]]
    lines = ["# xl: real (lab trace) vs tests/xlsim, call by call", "",
             f"{len(rows)} calls replayed, {len(differing)} with differences "
             f"(`state:` = the two hosts disagree on what exists, often the replay's timing).", "",
             "| # | xl call | real exit | real ms | differences |", "|---|---|---|---|---|"]
    for n, (argline, rc, ms, notes) in enumerate(rows, 1):
        if notes:
            text = "<br>".join(n_.replace("|", "\\|") for n_ in notes)
            lines.append(f"| {n} | `xl {argline}` | {rc} | {ms} | {text} |")
    with open(args.out, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    print(f"{len(differing)}/{len(rows)} calls differ; see {args.out}")


if __name__ == "__main__":
    main()
