"""A throw-away Salt fleet on 127.0.0.1: one salt-master and several salt-minions.

Used by ``make demo`` (and the fleet bench).  Every daemon runs from the venv's own Salt with
configs in a temporary directory, listens on 127.0.0.1 only, and is stopped (SIGTERM, then
SIGKILL) when the fleet is closed, whatever happened before.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Fleet:
    """Start with ``with Fleet(minions={id: (minion_opts, env)}) as fleet:``; ``fleet.salt(...)``."""

    def __init__(self, minions, root=None, master_opts=None, keep=False):
        self.root = root or tempfile.mkdtemp(prefix="saltext-xen-fleet-")
        self.minions = minions
        self.master_extra = master_opts or {}
        self.keep = keep
        self.procs = []
        self.master_conf = os.path.join(self.root, "master.conf.d")

    # --- life cycle ------------------------------------------------------------------------------

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self, timeout=90):
        publish, ret = free_port(), free_port()
        self._write_master(publish, ret)
        self._spawn("salt-master", self.master_conf, os.environ.copy())
        for minion_id, (opts, env) in self.minions.items():
            confdir = self._write_minion(minion_id, ret, opts)
            self._spawn("salt-minion", confdir, dict(os.environ, **env))
        self.wait_ready(list(self.minions), timeout)

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs = []
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def _spawn(self, program, confdir, env):
        log = open(os.path.join(self.root, f"{program}-{len(self.procs)}.log"), "ab")  # noqa: SIM115
        self.procs.append(subprocess.Popen(  # pylint: disable=consider-using-with
            [os.path.join(BIN, program), "-c", confdir, "-l", "warning"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True,
        ))

    def _write_master(self, publish, ret):
        os.makedirs(self.master_conf, exist_ok=True)
        opts = {
            "root_dir": os.path.join(self.root, "master"),
            "interface": "127.0.0.1",
            "publish_port": publish,
            "ret_port": ret,
            "auto_accept": True,
            "user": "root",
            "file_roots": {"base": [REPO]},
            "runner_dirs": [os.path.join(REPO, "_runners")],
            "utils_dirs": [os.path.join(REPO, "_utils")],  # the runner imports the core from there
            "outputter_dirs": [os.path.join(REPO, "_output")],
            # The repository holds .venv (~15,000 files): never serve it, and cache the file lists
            # (with 0, every sync walks it again: ~55 s instead of a few).
            "file_ignore_regex": [r"(^|/)(\.git|\.venv[^/]*|__pycache__|\.pytest_cache|\.hypothesis|build|dist)(/|$)"],
            "fileserver_list_cache_time": 3600,
            "worker_threads": 3,
        }
        opts.update(self.master_extra)
        self.ports = (publish, ret)
        _dump(os.path.join(self.master_conf, "master"), opts)

    def _write_minion(self, minion_id, ret, extra):
        confdir = os.path.join(self.root, f"minion-{minion_id}")
        os.makedirs(confdir, exist_ok=True)
        opts = {
            "id": minion_id,
            "root_dir": confdir,
            "master": "127.0.0.1",
            "master_port": ret,
            "user": "root",
            "acceptance_wait_time": 1,
            "random_reauth_delay": 0,
            "loop_interval": 1,
        }
        opts.update(extra)
        _dump(os.path.join(confdir, "minion"), opts)
        return confdir

    # --- talking to it ---------------------------------------------------------------------------

    def command(self, program, *args, timeout=120):
        """Run ``salt``/``salt-run``/``salt-key`` against this fleet; returns the CompletedProcess."""
        argv = [os.path.join(BIN, program), "-c", self.master_conf, *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False,
                              stdin=subprocess.DEVNULL)

    def json(self, program, *args, timeout=120):
        proc = self.command(program, *args, "--out=json", "--static", timeout=timeout)
        try:
            return json.loads(proc.stdout or "null"), proc
        except ValueError:
            return None, proc

    def wait_ready(self, minion_ids, timeout=90):
        """Poll with short ``test.ping``s (a plain one can block ~10 s on a fresh master)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data, _ = self.json("salt", "-t", "2", "*", "test.ping", timeout=15)
            if isinstance(data, dict) and all(data.get(m) is True for m in minion_ids):
                return
            time.sleep(1)
        raise RuntimeError(f"minions {minion_ids} did not answer within {timeout} s; logs in {self.root}")


def _dump(path, data):
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump(data, handle, default_flow_style=False)
