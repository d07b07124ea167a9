"""The simulated host, seen from a test: set it up, switch faults on, look at its state.

    env = control.make_host(tmp_path / "host")          # {"PATH": ..., "XLSIM_STATE": ...}
    subprocess.run(["xl", "create", cfg], env={**os.environ, **env})
    control.set_fault(tmp_path / "host", hang=True)       # the next calls hang until killed
    control.read_state(tmp_path / "host")["domains"]

Several hosts live side by side, one state directory each.  Nothing here talks to the
executables: it edits the same files under the same lock, so a test can also change a running
host (crash a guest, make shutdowns slow) between two calls of the code under test.
"""

import os
import sys
import time

from xlsim import hoststate

XLSIM_DIR = os.path.dirname(os.path.abspath(__file__))
FAULT_KEYS = ("latency", "hang", "fail_next", "no_hypervisor", "not_root", "ignore_shutdown", "crash",
              "shutdown_seconds", "reap_seconds", "min_memory", "pv_triggers", "rebuild_seconds")


def make_host(state_dir, hostname="dom0", **faults):
    """Create (or reset) a simulated host in ``state_dir``; return the env a caller needs.

    The returned dict has ``XLSIM_STATE`` and a ``PATH`` that starts with the simulator's folder
    (``xl``, ``xenstore-read``, ``xenstore-ls``), then the running interpreter's folder, then the
    current PATH.  ``faults`` are
    written to faults.json (see :func:`set_fault`).
    """
    state_dir = os.fspath(state_dir)
    os.makedirs(state_dir, exist_ok=True)
    with hoststate.locked(state_dir):
        hoststate.write_json(os.path.join(state_dir, hoststate.STATE_FILE), hoststate.fresh_state(hostname))
        hoststate.write_json(os.path.join(state_dir, hoststate.FAULTS_FILE), {})
    if faults:
        set_fault(state_dir, **faults)
    # The running interpreter's folder comes second so that ``#!/usr/bin/env python3`` finds a real
    # python3 before a slow launcher (pyenv shims cost ~0.3 s per call).
    folders = [XLSIM_DIR, os.path.dirname(sys.executable), os.environ.get("PATH", os.defpath)]
    return {"XLSIM_STATE": state_dir, "PATH": os.pathsep.join(folders)}


def set_fault(state_dir, **faults):
    """Switch faults on (or off, with None) in faults.json.  Keys (see hoststate's docstring):

    latency=seconds or {verb: seconds}; hang=True or [verbs]; fail_next=N with stderr=..., rc=...,
    verbs=[...]; no_hypervisor=True; not_root=True; ignore_shutdown=[names]; crash=[names] or
    {name: seconds}; shutdown_seconds=seconds or {name: seconds}; reap_seconds=seconds;
    min_memory=MiB; pv_triggers=True (let ``xl trigger`` act on PV guests); rebuild_seconds=seconds
    (how long a restarted domain stays paused and out of ``xl list -l``, default 0.2).
    """
    state_dir = os.fspath(state_dir)
    failure = {key: faults.pop(key) for key in ("stderr", "rc", "verbs") if key in faults}
    unknown = set(faults) - set(FAULT_KEYS)
    if unknown:
        raise ValueError(f"unknown xlsim fault(s): {', '.join(sorted(unknown))}")
    path = os.path.join(state_dir, hoststate.FAULTS_FILE)
    with hoststate.locked(state_dir):
        current = hoststate.read_json(path, {})
        for key, value in faults.items():
            if key == "fail_next" and value:
                value = dict({"count": int(value), "rc": 1, "stderr": "libxl: error: simulated failure"}, **failure)
            if value is None or value is False:
                current.pop(key, None)
            else:
                current[key] = value
        hoststate.write_json(path, current)


def clear_faults(state_dir):
    state_dir = os.fspath(state_dir)
    with hoststate.locked(state_dir):
        hoststate.write_json(os.path.join(state_dir, hoststate.FAULTS_FILE), {})


def read_state(state_dir):
    """The host's state as xl would see it now (shutdowns and reaps done), as a dict."""
    with hoststate.transaction(os.fspath(state_dir)) as host:
        return host.state


def domains(state_dir):
    """{name: domain dict} of the domains listed now (Domain-0 included)."""
    return {d["name"]: d for d in read_state(state_dir)["domains"]}


def crash_domain(state_dir, name):
    """The guest ``name`` crashes now; its on_crash decides (destroy: gone at once)."""
    with hoststate.transaction(os.fspath(state_dir)) as host:
        domain = host.by_name(name)
        if domain is None:
            raise KeyError(name)
        domain.update(shutdown={"reason": "crash", "at": host.now}, pending=None,
                      reap_at=host.now if domain["monitor"] else None)
        host.advance()


def hang_pids(state_dir):
    """The pids a hanging call recorded (the xl process and its helper), for leak checks."""
    path = os.path.join(os.fspath(state_dir), "hang.pids")
    try:
        with open(path, encoding="ascii") as handle:
            return [int(p) for line in handle for p in line.split()]
    except FileNotFoundError:
        return []


def wait_hang_pids(state_dir, count=2, timeout=5.0):
    """Wait until a hanging call has recorded ``count`` pids; return them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = hang_pids(state_dir)
        if len(pids) >= count:
            return pids
        time.sleep(0.02)
    return hang_pids(state_dir)
