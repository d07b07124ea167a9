#!/usr/bin/env python3
"""Benchmark the fleet LIST of the ``xen`` runner (issue 6).

Two measurements, each the median of ``--repeats`` runs:

* **live**: a throw-away salt-master and two salt-minions on 127.0.0.1 (``demo/fleet.py``), each
  minion with its own simulated Xen host (``tests/xlsim``: three DomU configs, two DomUs
  running).  In the same run, alternating: ``salt '*' test.ping`` and ``salt-run xen.list``
  (the default TAB_TCP text).  Target: xen.list <= 1.2 x test.ping.  The minions load the
  extension's execution module and grains, as ``saltutil.sync_all`` or the pip entry point
  deploy it.  Python may write bytecode caches (``__pycache__``, git-ignored) as on an installed
  system: an inherited ``PYTHONDONTWRITEBYTECODE`` would make every job process compile the
  extension's sources again, which no deployment does (``--no-bytecode`` keeps it).
* **cached**: 50,000 mine-like LIST rows of 100 hosts merged into one fleet table, sorted by
  label, rendered as TAB_TCP and TAB_CPORT text plus the JSON rows (what ``salt-run xen.list
  cached=True`` does after reading the mine).  Target: <= 1 s.

Exit status 1 when a target is missed.

Usage: ``python bench/bench_fleet_list.py [--repeats 7] [--rows 50000] [--skip-live] [--keep] [--no-bytecode]``
"""

import argparse
import getpass
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
for _path in (os.path.join(REPO, "_utils"), os.path.join(REPO, "tests"), os.path.join(REPO, "demo")):
    sys.path.insert(0, _path)

from xenctys import fleet  # noqa: E402  pylint: disable=wrong-import-position
from xenctys.records import LIST_KEYS  # noqa: E402  pylint: disable=wrong-import-position

LIVE_RATIO_TARGET = 1.2
CACHED_TARGET_S = 1.0
SEED_DOMUS = (("tst100", "00:50:56:13:11:40", "6842caf9-1e3e-4324-9ed5-96b8b9f2c5c2"),
              ("tst101", "00:50:56:13:11:41", "6842caf9-1e3e-4324-9ed5-96b8b9f2c5c3"),
              ("tst104", "00:50:56:13:11:44", "6842caf9-1e3e-4324-9ed5-96b8b9f2c5c6"))
RUNNING = ("tst100", "tst101")


# --- live: master + 2 minions ------------------------------------------------------------------------


def write_domu_configs(base_dir):
    """The seed's DomUs as xl configs under ``<base>/xen/tst-ctys/<label>/<label>.conf``."""
    paths = {}
    for label, mac, uuid in SEED_DOMUS:
        folder = os.path.join(base_dir, "xen", "tst-ctys", label)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"{label}.conf")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(
                f'name = "{label}"\nuuid = "{uuid}"\nmemory = 256\nvcpus = 1\n'
                f"vif = [ 'mac={mac},bridge=xenbr0' ]\n"
                f"disk = [ 'file:{folder}/disk.img,xvda,w' ]\n"
                f"vfb = [ 'vnc=1,vncunused=1' ]\n"
            )
        paths[label] = path
    return paths


def start_domus(host, paths):
    for label in RUNNING:
        proc = subprocess.run(["xl", "create", paths[label]], env=host.env, capture_output=True, text=True,
                              check=False, timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"xl create {label} failed on {host.minion_id}: {proc.stderr.strip()}")


def lab_fleet(root, keep=False):
    """A Fleet whose minions run the repository's modules against their own simulated hosts."""
    from fleet import Fleet  # pylint: disable=import-outside-toplevel  # demo/fleet.py
    from harness import make_lab_host  # pylint: disable=import-outside-toplevel  # tests/harness.py

    user = getpass.getuser()
    minions = {}
    for minion_id in ("lab00", "lab01"):
        host = make_lab_host(os.path.join(root, "hosts"), minion_id)
        start_domus(host, write_domu_configs(str(host.base_dir)))
        # The extension as saltutil.sync_all or the pip entry point deploys it: execution module
        # and grains (the grains import the core in the minion's main process at start, so the
        # job processes forked from it find it imported).
        opts = dict(host.minion_config, user=user, module_dirs=[os.path.join(REPO, "_modules")],
                    grains_dirs=[os.path.join(REPO, "_grains")], utils_dirs=[os.path.join(REPO, "_utils")])
        minions[minion_id] = (opts, host.env)
    master = {"user": user, "utils_dirs": [os.path.join(REPO, "_utils")]}
    return Fleet(minions, root=os.path.join(root, "salt"), master_opts=master, keep=keep)


def timed(fleet_, program, *args):
    """(wall seconds, CPU seconds of the command's own process, stdout).  The CPU time shows the
    client side's cost apart from the machine's load and the minions' work."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = fleet_.command(program, *args, timeout=60)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{program} {' '.join(args)} exited {proc.returncode}: {proc.stderr[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu, proc.stdout


def check_list(fleet_):
    """The runner really lists both hosts' DomUs (a fast wrong answer would prove nothing)."""
    proc = fleet_.command("salt-run", "xen.list", "--out=json", timeout=60)
    try:
        data = json.loads(proc.stdout or "null")
    except ValueError:
        data = None
    rows = data.get("rows") if isinstance(data, dict) else None
    labels = {(row["minion"], row["label"]) for row in rows or ()}
    wanted = {(m, label) for m in ("lab00", "lab01") for label in RUNNING}
    if not wanted <= labels or data.get("no_response") or data.get("errors"):
        raise RuntimeError(f"salt-run xen.list gave unexpected data: {json.dumps(data)[:800]} {proc.stderr[-500:]}")


def bench_live(repeats, root, keep=False):
    with lab_fleet(root, keep) as fleet_:
        check_list(fleet_)
        for _ in range(2):  # warm both paths: page cache, minion module loading, inventory cache
            timed(fleet_, "salt", "*", "test.ping")
            timed(fleet_, "salt-run", "xen.list")
        runs = {"ping": [], "list": [], "salt xen.list": []}
        for _ in range(repeats):
            runs["ping"].append(timed(fleet_, "salt", "*", "test.ping"))
            runs["list"].append(timed(fleet_, "salt-run", "xen.list"))
            # The same minion work through the salt CLI: what the minions cost, without the runner.
            runs["salt xen.list"].append(timed(fleet_, "salt", "*", "xen.list"))
        text = timed(fleet_, "salt-run", "xen.list")[2]
    return runs, text


# --- cached: 50,000 rows --------------------------------------------------------------------------------


def mine_like_hosts(total_rows, hosts=100):
    """``hosts`` minions' xen.list rows as the mine holds them (full 22-field dicts plus state)."""
    per_host = total_rows // hosts
    results = []
    for number in range(hosts):
        minion = f"lab{number:03d}"
        rows = []
        for index in range(per_host):
            row = dict.fromkeys(LIST_KEYS, "")
            row.update(host=f"{minion}.soho", sesstype="XEN", label=f"tst{index:04d}", cstype="SERVER",
                       id=f"/srv/xen/tst-ctys/tst{index:04d}/tst{index:04d}.conf", pid=str(index + 1),
                       uuid=f"{number:08x}{index:024x}", mac=f"00:16:3e:{number:02x}:{index >> 8:02x}:{index & 255:02x}",
                       cport=str(5900 + index), display=str(index), state="-b----")
            rows.append(row)
        results.append(fleet.HostResult(minion, rows, age=30.0))
    return results


def bench_cached(total_rows, repeats):
    hosts = mine_like_hosts(total_rows)
    timings = {}
    for table in ("TAB_TCP", "macro:TAB_CPORT"):
        walls, cpus = [], []
        for _ in range(repeats):
            start, start_cpu = time.perf_counter(), time.process_time()
            choice = fleet.parse_options([table])
            choice.sort = fleet.parse_sort("label")
            merged = fleet.fleet_table(hosts, choice, source="mine")
            data, text = merged.data(), merged.text()
            walls.append(time.perf_counter() - start)
            cpus.append(time.process_time() - start_cpu)
            assert len(data["rows"]) == total_rows and text.count("\n") >= total_rows
        timings[table] = (statistics.median(walls), statistics.median(cpus))
    return timings


# --- main -----------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--rows", type=int, default=50000)
    parser.add_argument("--skip-live", action="store_true", help="only the cached (in-process) measurement")
    parser.add_argument("--keep", action="store_true", help="keep the fleet's directory (logs)")
    parser.add_argument("--no-bytecode", action="store_true",
                        help="keep an inherited PYTHONDONTWRITEBYTECODE (every job compiles the sources)")
    args = parser.parse_args()
    missed = []

    cached = bench_cached(args.rows, args.repeats)
    for table, (seconds, cpu) in cached.items():
        print(f"cached LIST {args.rows} rows, {table}, sorted, text + rows: {seconds:.3f} s "
              f"(CPU {cpu:.3f} s; target <= {CACHED_TARGET_S:.1f} s)")
        if seconds > CACHED_TARGET_S:
            missed.append(f"cached {table}")

    if not args.skip_live:
        import tempfile  # pylint: disable=import-outside-toplevel

        root = tempfile.mkdtemp(prefix="bench-fleet-")
        if not args.no_bytecode:
            os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # the daemons and commands inherit os.environ
        bytecode = "PYTHONDONTWRITEBYTECODE" not in os.environ
        runs, text = bench_live(args.repeats, root, args.keep)
        labels = {"ping": "salt '*' test.ping", "list": "salt-run xen.list", "salt xen.list": "salt '*' xen.list"}
        medians = {}
        for key, label in labels.items():
            walls = [wall for wall, _, _ in runs[key]]
            medians[key] = statistics.median(walls)
            cpu = statistics.median(c for _, c, _ in runs[key])
            print(f"{label:20s} (2 minions): median {medians[key]:.3f} s, client CPU {cpu:.3f} s; "
                  f"runs {' '.join(f'{t:.2f}' for t in walls)}")
        ratio = medians["list"] / medians["ping"]
        print(f"ratio salt-run xen.list / salt '*' test.ping: {ratio:.2f} (target <= {LIVE_RATIO_TARGET}); "
              f"salt '*' xen.list / test.ping: {medians['salt xen.list'] / medians['ping']:.2f} (minion side); "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; "
              f"bytecode caches {'on' if bytecode else 'off'}")
        print(text.rstrip())
        if ratio > LIVE_RATIO_TARGET:
            missed.append("live ratio")
        if args.keep:
            print(f"kept {root}")
        else:
            import shutil  # pylint: disable=import-outside-toplevel

            shutil.rmtree(root, ignore_errors=True)

    if missed:
        print(f"MISSED: {', '.join(missed)}")
        return 1
    print("all targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
