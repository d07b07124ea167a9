#!/usr/bin/env python3
"""Benchmark the ``xen`` grains on a dom0 with 10,000 DomU configs (issue 7: grains are cheap).

Generates the discovery bench's tree (10,000 realistic xl configs in 1,000 folders), puts a fake
``xl`` on PATH that answers ``xl list -v`` with 50 running domains and counts its runs, then:

* cold: no inventory cache, no grains summary (discovery reads and parses every file);
* warm: caches present, nothing changed: the median of ``--repeats`` runs of the real entry point
  ``xenctys.inventory_grains.compute(opts, core_grains)``, exactly what ``_grains/xen.py`` calls;
* after a change: one new config file, the next call must list it.

Targets: warm <= 50 ms (wall time, median); at most one toolstack call per grains computation; the grains list every
config and every running domain.  Exit status 1 when one is missed.

The wall time depends on what else runs on the machine (the load average is printed); the CPU
time of the computation is printed beside it.  The fake ``xl`` is a shell script so that the toolstack's own start-up (a real ``xl list`` takes
a few ms) is not mistaken for the cost of our code.

Usage: ``python bench/bench_grains.py [--configs 10000] [--folders 1000] [--repeats 11] [--keep]``
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, "_utils"))
sys.path.insert(0, HERE)

from bench_discovery import generate_tree  # noqa: E402  pylint: disable=wrong-import-position
from xenctys import inventory_grains  # noqa: E402  pylint: disable=wrong-import-position

WARM_TARGET_S = 0.050
MAX_TOOLSTACK_CALLS = 1
RUNNING = 50  # domains the fake xl lists besides Domain-0

FAKE_XL = """#!/bin/sh
# Fake xl for bench_grains.py: counts its runs, answers "xl list -v".
echo "$*" >> "{counter}"
cat "{listing}"
"""


def write_fake_xl(workdir, running_labels):
    """A fake ``xl`` in ``workdir/bin``; returns (bin folder, counter file)."""
    bin_dir = os.path.join(workdir, "bin")
    os.makedirs(bin_dir)
    counter = os.path.join(workdir, "xl-calls")
    listing = os.path.join(workdir, "xl-list-v.txt")
    lines = ["Name                                        ID   Mem VCPUs\tState\tTime(s)   UUID                            "
             "Reason-Code\tSecurity Label",
             "Domain-0                                     0  1536     2     r-----      26.7 "
             "00000000-0000-0000-0000-000000000000        -                -"]
    for domid, label in enumerate(running_labels, start=1):
        lines.append(f"{label:<40} {domid:>5}   512     1     -b----       3.8 "
                     f"{domid:08x}-0000-4000-8000-{domid:012x}        -                -")
    with open(listing, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    xl = os.path.join(bin_dir, "xl")
    with open(xl, "w", encoding="utf-8") as handle:
        handle.write(FAKE_XL.format(counter=counter, listing=listing))
    os.chmod(xl, 0o755)
    open(counter, "w", encoding="utf-8").close()
    return bin_dir, counter


def count_calls(counter):
    with open(counter, encoding="utf-8") as handle:
        return sum(1 for _ in handle)


def timed_compute(opts, counter):
    """One grains computation: (wall seconds, grains, toolstack calls it made, CPU seconds of
    this process: every thread of it, not the xl child)."""
    before = count_calls(counter)
    cpu_start = time.process_time()
    start = time.perf_counter()
    grains = inventory_grains.compute(opts, {"virtual": "physical"})
    seconds = time.perf_counter() - start
    return seconds, grains.get("xen", {}), count_calls(counter) - before, time.process_time() - cpu_start


def age_folders(tree, seconds=60):
    """Folder mtimes of a tree written a minute ago (a freshly written one is inside the racy
    window of any cache for a moment, and a real dom0's configs are older than that)."""
    old = time.time() - seconds
    for folder, _, _ in os.walk(tree):
        os.utime(folder, (old, old))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--configs", type=int, default=10000)
    parser.add_argument("--folders", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--keep", action="store_true", help="keep the generated tree")
    args = parser.parse_args(argv)

    workdir = tempfile.mkdtemp(prefix="bench-grains-")
    tree = os.path.join(workdir, "tree")
    try:
        start = time.perf_counter()
        generate_tree(tree, args.configs, args.folders)
        age_folders(tree)
        print(f"generated {args.configs} configs in {args.folders} folders in {time.perf_counter() - start:.1f} s")
        return measure(args, workdir, tree)
    finally:
        if args.keep:
            print(f"tree kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def measure(args, workdir, tree):
    running = [f"vm{index:04d}-0" for index in range(RUNNING)]
    bin_dir, counter = write_fake_xl(workdir, running)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    opts = {"id": "bench", "cachedir": os.path.join(workdir, "cachedir"),
            "xen": {"toolstack": "xl", "base_paths": [tree], "grains_timeout": 120}}

    cold_s, cold, cold_calls, _ = timed_compute(opts, counter)
    warm_runs = [timed_compute(opts, counter) for _ in range(args.repeats)]
    warm_s = statistics.median(run[0] for run in warm_runs)
    warm_cpu_s = statistics.median(run[3] for run in warm_runs)
    warm = warm_runs[-1][1]
    most_calls = max([cold_calls] + [run[2] for run in warm_runs])

    new_config = os.path.join(tree, "pool00", "vm0000", "added-later.cfg")
    with open(os.path.join(tree, "pool00", "vm0000", "vm0000-1.conf"), encoding="utf-8") as handle:
        text = handle.read().replace('name = "vm0000-1"', 'name = "added-later"')
    with open(new_config, "w", encoding="utf-8") as handle:
        handle.write(text)
    changed_s, changed, _, _ = timed_compute(opts, counter)

    rows = [
        ("grains cold (no caches)", cold_s, "", True),
        (f"grains warm (median of {args.repeats})", warm_s, f"<= {WARM_TARGET_S * 1000:.0f} ms",
         warm_s <= WARM_TARGET_S),
        ("grains warm, CPU time of this process", warm_cpu_s, "(information)", True),
        ("grains after adding one config", changed_s, "", True),
    ]
    configured = args.configs
    checks = [
        ("toolstack calls per computation", most_calls <= MAX_TOOLSTACK_CALLS,
         f"at most {most_calls} (target <= {MAX_TOOLSTACK_CALLS})"),
        ("warm lists every config", len([d for d in warm.get("domus", {}).values() if d["config"]]) == configured,
         f"{len(warm.get('domus', {}))} DomUs"),
        ("running domains known", set(running) <= set(warm.get("labels", ())), f"{RUNNING} running"),
        ("MACs and uuids listed (random MACs may repeat)", len(warm.get("macs", ())) >= 0.99 * configured and len(warm.get("uuids", ())) >= configured,
         f"{len(warm.get('macs', ()))} MACs, {len(warm.get('uuids', ()))} uuids"),
        ("new config seen", "added-later" in changed.get("labels", ()), "added-later.cfg"),
        ("no errors", not (cold.get("errors") or warm.get("errors")), f"{cold.get('errors') or warm.get('errors')}"),
    ]
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"\nload average {load} on {os.cpu_count()} CPUs (timings scale with it)")
    print(f"{'measure':<40} {'ms':>9}  {'target':<14} ok")
    for name, seconds, target, ok in rows:
        print(f"{name:<40} {seconds * 1000:>9.1f}  {target:<14} {'yes' if ok else 'NO'}")
    print()
    for name, ok, detail in checks:
        print(f"check {name:<50} {'yes' if ok else 'NO'}  ({detail})")
    missed = [name for name, _, _, ok in rows if not ok] + [name for name, ok, _ in checks if not ok]
    if missed:
        print(f"\nMISSED: {', '.join(missed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
