#!/usr/bin/env python3
"""Fuzz the config reader and the address parser with >= 100,000 generated inputs (issue 9).

The grammar-aware hypothesis strategies and the property checks are the unit tests' own
(``tests/unit/test_fuzz_config.py``, ``tests/unit/test_fuzz_address.py``); here they run with
many more examples, in batches of ``--batch`` (each batch a new hypothesis run with its own
seed, so its bookkeeping does not grow without end):

* ``config-text``: ``cfgsyntax.parse_text`` of mutated corpus configs, xl and xm fragments, xm
  payloads that would create a marker file if anything ran them, ``#@#`` lines, random text;
* ``config-file``: the same as bytes (UTF-8, Latin-1, random, with NULs) in a file, read by
  ``cfgreader.read_config`` with side files;
* ``address``: ``address.parse_address`` of addresses built from the real key set with right,
  hostile and random values, for CREATE, CANCEL and neither.

Counted: inputs, wall time, outcomes (parsed / the project's XenError subclasses by name),
exceptions of any other type ("escaped": each one is a defect), property violations (a result
msgpack cannot carry, an input slower than ``SLOW_SECONDS``, a marker file: something ran),
the slowest input, and the peak RSS of the process.  Then a 10 MiB config in three shapes
(realistic, dense xl list, dense xm list), each in a fresh process: refused at the default
``max_bytes`` (time, tracemalloc peak), and read with ``max_bytes`` = 16 MiB (time, tracemalloc
peak, peak RSS).

Exit status 1 when anything escaped, a property was violated, or a marker file exists.

Usage: ``python bench/bench_fuzz.py [--config-text 50000] [--config-file 20000] [--address 40000]
[--batch 5000] [--seed 0] [--json FILE] [--skip-10mb]``
"""

import argparse
import collections
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path[:0] = [os.path.join(REPO, "_utils"), os.path.join(REPO, "tests", "unit")]

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402

import test_fuzz_address as fuzz_address  # noqa: E402  pylint: disable=wrong-import-position
import test_fuzz_config as fuzz_config  # noqa: E402  pylint: disable=wrong-import-position
from xenctys.errors import XenError  # noqa: E402  pylint: disable=wrong-import-position


class Tally:
    """What one target's inputs gave."""

    def __init__(self, name):
        self.name = name
        self.inputs = 0
        self.outcomes = collections.Counter()  # "xl"/"xm"/"ok" or a XenError subclass name
        self.escaped = collections.Counter()  # any other exception type: a defect
        self.violations = collections.Counter()  # property checks that failed
        self.examples = []  # (kind, repr of the input, message), the first few
        self.slowest = (0.0, "")
        self.seconds = 0.0

    def run_one(self, check, value, *args):
        self.inputs += 1
        start = time.perf_counter()
        try:
            outcome = check(value, *args)
        except AssertionError as err:
            self.violations[str(err).split(":", 1)[0][:60]] += 1
            self._example("violation", value, err)
        except XenError as err:  # a check lets through only the expected family; others count here
            self.outcomes[type(err).__name__] += 1
        except Exception as err:  # pylint: disable=broad-except  # the point: nothing else may escape
            self.escaped[type(err).__name__] += 1
            self._example("escaped", value, err)
        else:
            self.outcomes[outcome] += 1
        elapsed = time.perf_counter() - start
        if elapsed > self.slowest[0]:
            self.slowest = (elapsed, repr(value)[:120])

    def _example(self, kind, value, err):
        if len(self.examples) < 10:
            self.examples.append((kind, repr(value)[:300], f"{type(err).__name__}: {str(err)[:300]}"))

    def as_dict(self):
        return {"inputs": self.inputs, "seconds": round(self.seconds, 1),
                "inputs_per_second": round(self.inputs / self.seconds) if self.seconds else None,
                "outcomes": dict(self.outcomes.most_common()), "escaped": dict(self.escaped),
                "violations": dict(self.violations), "slowest_seconds": round(self.slowest[0], 3),
                "slowest_input": self.slowest[1], "examples": self.examples}


def fuzz(tally, strategy, body, count, batch, base_seed):
    """Run ``body(value)`` on ``count`` generated values, ``batch`` per hypothesis run."""
    start = time.perf_counter()
    done = 0
    while done < count:
        size = min(batch, count - done)

        @seed(base_seed + done)
        @settings(max_examples=size, database=None, deadline=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(strategy)
        def run(value):
            body(value)

        before = tally.inputs
        run()
        if tally.inputs == before:  # hypothesis generated nothing: do not loop for ever
            break
        done += tally.inputs - before
        print(f"  {tally.name}: {tally.inputs} inputs, {time.perf_counter() - start:.0f} s", file=sys.stderr)
    tally.seconds = time.perf_counter() - start


# --- the 10 MiB config ----------------------------------------------------------------------------------

TEN_MB_CHILD = r"""
import json, os, resource, sys, time, tracemalloc
sys.path.insert(0, os.path.join(sys.argv[1], "_utils"))
from xenctys.cfgreader import read_config
path, max_bytes, traced = sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"


def peak_rss_mib():  # VmHWM: this process image's own peak (ru_maxrss keeps the parent's across exec)
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


if path == "-":  # the baseline: this process with the reader imported, nothing read
    print(json.dumps({"peak_rss_mib": peak_rss_mib()}))
    sys.exit(0)
if traced:
    tracemalloc.start()
start = time.perf_counter()
try:
    outcome = read_config(path, sidecars=False, max_bytes=max_bytes).syntax
except Exception as err:
    outcome = f"{type(err).__name__}: {err}"
seconds = time.perf_counter() - start
peak = tracemalloc.get_traced_memory()[1] if traced else None
print(json.dumps({"outcome": outcome.replace(path, "FILE")[:160], "seconds": round(seconds, 3),
                  "tracemalloc_peak_mib": None if peak is None else round(peak / 2**20, 1),
                  "peak_rss_mib": peak_rss_mib()}))
"""


def _child(path, max_bytes, traced):
    proc = subprocess.run([sys.executable, "-c", TEN_MB_CHILD, REPO, path, str(max_bytes), "1" if traced else "0"],
                          capture_output=True, text=True, check=False, timeout=900)
    return json.loads(proc.stdout) if proc.returncode == 0 else {"error": proc.stderr[-500:]}


def ten_mb(folder):
    """Each shape read in fresh processes (importing only the core): the default limit (traced),
    max_bytes 16 MiB (peak RSS untraced: tracemalloc itself costs memory), 16 MiB traced."""
    results = {"process_baseline_rss_mib": _child("-", 0, False)["peak_rss_mib"]}
    for kind in ("realistic", "dense_xl", "dense_xm"):
        path = os.path.join(folder, f"{kind}.cfg")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(fuzz_config.ten_mb_config(kind))
        results[kind] = {"bytes": os.path.getsize(path),
                         "default_limit": _child(path, fuzz_config.DEFAULT_MAX_BYTES, True),
                         "max_bytes_16MiB": _child(path, 16 << 20, False),
                         "max_bytes_16MiB_traced": _child(path, 16 << 20, True)}
        os.unlink(path)
    return results


# --- main -----------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--config-text", type=int, default=50000)
    parser.add_argument("--config-file", type=int, default=20000)
    parser.add_argument("--address", type=int, default=40000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--skip-10mb", action="store_true")
    args = parser.parse_args()

    if os.path.exists(fuzz_config.MARKER):
        os.unlink(fuzz_config.MARKER)
    started = time.perf_counter()
    tallies = [Tally("config-text"), Tally("config-file"), Tally("address")]
    with tempfile.TemporaryDirectory(prefix="bench-fuzz-") as folder:
        config_path = os.path.join(folder, "vm.cfg")
        with open(os.path.join(folder, "vm.ctys"), "w", encoding="utf-8") as handle:
            handle.write('#@#MAGICID-IGNORE\n#@#IP0 = "192.168.1.220%255.255.255.0%xenbr0%eth0%22%192.168.1.1"\n')
        fuzz(tallies[0], fuzz_config.bench_config_texts, lambda text: tallies[0].run_one(fuzz_config.check_text, text),
             args.config_text, args.batch, args.seed)
        fuzz(tallies[1], fuzz_config.bench_config_bytes,
             lambda data: tallies[1].run_one(lambda value: fuzz_config.check_file(config_path, value), data),
             args.config_file, args.batch, args.seed + 1_000_000)
        fuzz(tallies[2], fuzz_address.address_texts.flatmap(
                 lambda text: fuzz_address.st.tuples(fuzz_address.st.just(text),
                                                     fuzz_address.st.sampled_from([None, "create", "cancel"]))),
             lambda pair: tallies[2].run_one(fuzz_address.check_address, *pair),
             args.address, args.batch, args.seed + 2_000_000)
        fuzz_seconds = time.perf_counter() - started
        peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        marker = os.path.exists(fuzz_config.MARKER)
        big = {} if args.skip_10mb else ten_mb(folder)

    total = sum(t.inputs for t in tallies)
    escaped = sum(sum(t.escaped.values()) for t in tallies)
    violations = sum(sum(t.violations.values()) for t in tallies)
    report = {"inputs": total, "fuzz_seconds": round(fuzz_seconds, 1), "peak_rss_mib": round(peak_rss, 1),
              "escaped": escaped, "violations": violations, "marker_file_created": marker,
              "targets": {t.name: t.as_dict() for t in tallies}, "ten_mib_config": big}

    print(f"{'target':<12} {'inputs':>8} {'s':>7} {'inputs/s':>9} {'escaped':>8} {'violations':>10} {'slowest s':>10}")
    for t in tallies:
        d = t.as_dict()
        print(f"{t.name:<12} {t.inputs:>8} {d['seconds']:>7} {d['inputs_per_second'] or 0:>9} "
              f"{sum(t.escaped.values()):>8} {sum(t.violations.values()):>10} {d['slowest_seconds']:>10}")
        print("  outcomes: " + ", ".join(f"{k} {v}" for k, v in t.outcomes.most_common()))
        for kind, value, message in t.examples:
            print(f"  {kind}: {message}\n    input: {value}")
    print(f"total {total} inputs in {fuzz_seconds:.0f} s; escaped {escaped}; violations {violations}; "
          f"marker file created: {marker}; peak RSS {peak_rss:.0f} MiB")
    for kind, figures in big.items():
        print(f"10 MiB {kind}: {json.dumps(figures)}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=1)
    return 1 if escaped or violations or marker else 0


if __name__ == "__main__":
    sys.exit(main())
