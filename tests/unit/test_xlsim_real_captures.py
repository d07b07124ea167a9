"""The simulator against outputs the real-Xen lab captured beyond the corpus (xenlab/results)."""

import json
import os
import subprocess
import time

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


def _host_with_domu(tmp_path, extra=""):
    env = dict(os.environ, **control.make_host(str(tmp_path / "host")))
    config = tmp_path / "d.cfg"
    config.write_text('name = "tst100"\nmemory = 128\nvif = [ "mac=00:50:56:13:11:40" ]\n' + extra)
    subprocess.run(["xl", "create", str(config)], env=env, check=True, capture_output=True, timeout=30)
    return env


def _xl(env, *args):
    return subprocess.run(["xl", *args], env=env, capture_output=True, text=True, timeout=30)


def _row(text, name):
    return next(line.split() for line in text.splitlines() if line.split()[:1] == [name])


def test_reboot_rebuild_window_matches_real_xl(tmp_path):
    """During the monitor's rebuild: list -v shows the new domid paused with Time 0.0, list -l
    leaves the domain out (exit 0) and says why on stderr."""
    env = _host_with_domu(tmp_path)
    control.set_fault(str(tmp_path / "host"), shutdown_seconds=0, reap_seconds=0, rebuild_seconds=60)
    before = _row(_xl(env, "list", "-v").stdout, "tst100")
    assert _xl(env, "reboot", "tst100").returncode == 0
    real = _row((CAPTURES / "xl-list-v-during-reboot-rebuild.txt").read_text(), "tst100")
    now = _row(_xl(env, "list", "-v").stdout, "tst100")
    assert int(now[1]) > int(before[1])                   # a new domid
    assert (now[4], now[5]) == (real[4], real[5]) == ("--p---", "0.0")
    long = _xl(env, "list", "-l")
    real_stderr = (CAPTURES / "xl-list-l-during-reboot-rebuild.json.stderr").read_text().strip()
    assert long.returncode == 0
    assert long.stderr.strip() == real_stderr.replace("Domain 4:", f"Domain {now[1]}:")
    assert [entry["domid"] for entry in json.loads(long.stdout)] == [0]
    control.set_fault(str(tmp_path / "host"), rebuild_seconds=0)
    assert [entry["domid"] for entry in json.loads(_xl(env, "list", "-l").stdout)] == [0, int(now[1])]


def test_nameless_while_the_monitor_destroys_matches_real_xl(tmp_path):
    """A shut-down domain stays listed as ``--ps--`` under its name, then nameless ``(null)``
    while xl's monitor destroys it (second half of the reap window), then it is gone."""
    env = _host_with_domu(tmp_path)
    control.set_fault(str(tmp_path / "host"), shutdown_seconds=0, reap_seconds=8)
    started = time.monotonic()
    _xl(env, "shutdown", "tst100")
    named = _row(_xl(env, "list", "-v").stdout, "tst100")
    assert time.monotonic() - started < 4, "too slow to see the first half of the reap window"
    assert named[4] == "--ps--"
    time.sleep(max(0.0, 4.5 - (time.monotonic() - started)))
    listed = _xl(env, "list", "-v").stdout
    real = _row((CAPTURES / "xl-list-v-null-name-while-monitor-destroys.txt").read_text(), "(null)")
    assert "tst100" not in listed
    nameless = _row(listed, "(null)")
    assert (nameless[4], nameless[7]) == (real[4], real[7]) == ("--ps--", "0")  # state, reason code


def test_pv_vfb_has_an_empty_sdl_object_as_in_real_xl(tmp_path):
    env = _host_with_domu(tmp_path, "vfb = [ 'vnc=1, vncunused=1' ]\n")
    real = json.loads((REPO / "xenlab" / "results" / "captured-vnc" / "captured" /
                       "xl-list-l-tst102-vfb-vnc.json").read_text())
    real_vfb = next(e for e in real if e["domid"] != 0)["config"]["vfbs"][0]
    sim_vfb = next(e for e in json.loads(_xl(env, "list", "-l").stdout) if e["domid"] != 0)["config"]["vfbs"][0]
    assert sim_vfb["sdl"] == real_vfb["sdl"] == {}
    assert set(sim_vfb["vnc"]) == set(real_vfb["vnc"])
