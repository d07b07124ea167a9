#!/usr/bin/env python3
"""Bench of one host's LIST (``xen.list``) on a simulated host with 10, 100 and 500 domains.

Targets (issue 4): the number of toolstack calls is the same whatever the number of domains, and
the time spent beyond the toolstack's own (parsing, merging, records) is at most 100 ms with 500
domains.  The toolstack's own time is measured around each subprocess call, so it is subtracted
exactly, whatever this machine's load; calls that run at the same time count once (the time
during which at least one of them ran).  The host keeps xl info's static part as a minion does
(``xlinfo.json``), so the LISTs after the first one make no ``xl info`` call.

    .venv/bin/python bench/bench_list.py
"""

import os
import statistics
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(REPO, "_utils"), os.path.join(REPO, "tests")]

from seedtree import CONFIG  # noqa: E402  pylint: disable=wrong-import-position
from xenctys import minion  # noqa: E402  pylint: disable=wrong-import-position
from xenctys.cfgreader import read_config  # noqa: E402  pylint: disable=wrong-import-position
from xenctys.lifecycle import HostSettings, XenHost  # noqa: E402  pylint: disable=wrong-import-position
from xenctys.options import load_options  # noqa: E402  pylint: disable=wrong-import-position
from xenctys.toolstack import Toolstack  # noqa: E402  pylint: disable=wrong-import-position
from xlsim import control, hoststate, xlcmd  # noqa: E402  pylint: disable=wrong-import-position

SIZES = (10, 100, 500)
REPEATS = 5
TARGET_BEYOND_MS = 100.0


class TimedToolstack(Toolstack):
    """The real client; it also records when each subprocess call ran (some run at the same time)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.intervals = []

    def _run_argv(self, argv, timeout, what):
        started = time.perf_counter()
        try:
            return super()._run_argv(argv, timeout, what)
        finally:
            self.intervals.append((started, time.perf_counter()))  # list.append: thread-safe

    @property
    def toolstack_seconds(self):
        """Wall time during which at least one call ran (the union of the intervals)."""
        total, end = 0.0, None
        for start, stop in sorted(self.intervals):
            if end is None or start > end:
                total += stop - start
                end = stop
            elif stop > end:
                total += stop - end
                end = stop
        return total


def make_host(root, count):
    """A simulated host with ``count`` running DomUs, each with a vif and a VNC display."""
    state_dir = os.path.join(root, f"sim-{count}")
    env = control.make_host(state_dir)
    base = os.path.join(root, f"configs-{count}")
    configs = []
    for index in range(count):
        label = f"dom{index:04d}"
        folder = os.path.join(base, label)
        os.makedirs(folder)
        path = os.path.join(folder, f"{label}.conf")
        mac = f"00:16:3e:{index // 65536 % 256:02x}:{index // 256 % 256:02x}:{index % 256:02x}"
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(CONFIG.format(label=label, uuid=f"{index:032x}", mac=mac, folder=folder))
        configs.append(path)
    # One transaction for all (xl create 500 times would measure the simulator, not us).
    with hoststate.transaction(state_dir) as host:
        for path in configs:
            config = read_config(path, sidecars=False)
            host.add_domain(xlcmd.new_domain(host, host.next_domid(), config, config.uuid, paused=False))
    return env, base


def one_list(env, base, root):
    os.environ.update(env)
    options = load_options(lambda key, default: {"xen:toolstack": "xl", "xen:base_paths": [base],
                                                 "xen:list_clients": False}.get(key, default))
    toolstack = TimedToolstack(toolstack="xl")
    settings = HostSettings(base_paths=[base], cache_file=os.path.join(root, f"cache-{base[-3:]}.msgpack"),
                            assoc_file=os.path.join(root, "assoc.json"), lock_dir=os.path.join(root, "locks"),
                            hostname="bench", extra={"options": options},
                            info_cache_file=os.path.join(root, "xlinfo.json"))
    host = XenHost(toolstack, settings)
    started = time.perf_counter()
    rows = minion.list_sessions(host, {}, {"fqdn": "bench"}, "")
    total = time.perf_counter() - started
    return rows, total, toolstack.toolstack_seconds, [argv[1:3] for argv in toolstack.calls]


def main():
    failures = []
    calls_by_size = {}
    with tempfile.TemporaryDirectory(prefix="bench-list-") as root:
        print(f"{'domains':>7} {'rows':>5} {'calls':>5} {'total ms':>9} {'xl ms':>8} {'beyond ms':>10}")
        for count in SIZES:
            env, base = make_host(root, count)
            one_list(env, base, root)  # warms the inventory cache, as a minion's second call finds it
            runs = [one_list(env, base, root) for _ in range(REPEATS)]
            rows, _, _, calls = runs[-1]
            total = statistics.median(r[1] for r in runs) * 1000
            xl_ms = statistics.median(r[2] for r in runs) * 1000
            beyond = statistics.median(r[1] - r[2] for r in runs) * 1000
            calls_by_size[count] = calls
            print(f"{count:>7} {len(rows):>5} {len(calls):>5} {total:>9.1f} {xl_ms:>8.1f} {beyond:>10.1f}")
            if len(rows) != count + 2:  # Domain-0 and the PM row
                failures.append(f"{count} domains gave {len(rows)} rows")
            if count == SIZES[-1] and beyond > TARGET_BEYOND_MS:
                failures.append(f"time beyond the toolstack {beyond:.1f} ms > {TARGET_BEYOND_MS:g} ms")
    distinct = {tuple(map(tuple, calls)) for calls in calls_by_size.values()}
    print(f"toolstack calls per LIST: {calls_by_size[SIZES[-1]]} (same for {', '.join(map(str, SIZES))}: "
          f"{'yes' if len(distinct) == 1 else 'NO'})")
    if len(distinct) != 1:
        failures.append(f"toolstack calls differ by size: {calls_by_size}")
    print(f"target: constant calls; beyond-toolstack time with {SIZES[-1]} domains <= {TARGET_BEYOND_MS:g} ms")
    for failure in failures:
        print("MISS:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
