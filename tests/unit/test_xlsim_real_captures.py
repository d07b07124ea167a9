"""The simulator against outputs the real-Xen lab captured beyond the corpus (xenlab/results)."""

import os
import subprocess

from harness import REPO
from xlsim import control

CAPTURES = REPO / "xenlab" / "results" / "captured-notable"


def _expected(name):
    lines = (CAPTURES / name).read_text().splitlines()
    assert lines[-1].startswith("# exit=")
    return lines[:-1], int(lines[-1].split("=", 1)[1])


def test_destroy_racing_the_monitor_matches_real_xl(tmp_path):
    env = dict(os.environ, **control.make_host(str(tmp_path / "host")))
    config = tmp_path / "d.cfg"
    config.write_text('name = "domu1"\nmemory = 128\nvif = [ "mac=00:16:3e:00:00:01" ]\n')
    subprocess.run(["xl", "create", str(config)], env=env, check=True, capture_output=True, timeout=30)
    control.set_fault(str(tmp_path / "host"), shutdown_seconds=0, reap_seconds=60)
    subprocess.run(["xl", "shutdown", "domu1"], env=env, check=True, capture_output=True, timeout=30)
    proc = subprocess.run(["xl", "destroy", "domu1"], env=env, capture_output=True, text=True, timeout=30)
    lines, exit_code = _expected("xl-destroy-racing-monitor.txt")
    assert proc.returncode == exit_code
    assert proc.stderr.splitlines() == lines
    listed = subprocess.run(["xl", "list"], env=env, capture_output=True, text=True, timeout=30).stdout
    assert "domu1" not in listed  # gone all the same
