"""The host side of ``make test-xen`` (xenlab/): verdicts, the skip line, the kept results.

Nothing here boots QEMU: the real run is ``make test-xen`` (docs/real-xen.md).  These tests pin
what CI relies on: a skip is exit 77 with one ``SKIP real-xen:`` line and never a pass; a run that
was cut short or had a failing step is a failure; the committed results file is well formed.
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
XENLAB = REPO / "xenlab"
REPORT = XENLAB / "report.py"


def _raw(tmp_path, steps, expected=None):
    raw = tmp_path / "raw"
    raw.mkdir(parents=True)
    meta = {"xen_version": "4.17.7", "expected_steps": len(steps) if expected is None else expected}
    (raw / "results.json").write_text(json.dumps({"meta": meta, "steps": steps}))
    return tmp_path


def _step(n, result="pass", reason=""):
    return {"n": n, "name": f"step {n}", "what": "", "commands": [], "notes": [], "result": result,
            "reason": reason, "wall_s": 1.0}


def _report(results, *extra):
    return subprocess.run([sys.executable, str(REPORT), "--results", str(results), *extra],
                          capture_output=True, text=True, check=False)


def test_all_steps_passed_is_a_pass(tmp_path):
    res = _report(_raw(tmp_path, [_step(1), _step(2)]), "--qemu-rc", "0")
    assert res.returncode == 0, res.stdout + res.stderr
    assert (tmp_path / "status").read_text().strip() == "pass"
    data = json.loads((tmp_path / "real-xen-results.json").read_text())
    assert data["status"] == "pass" and len(data["steps"]) == 2
    assert "| 2 | step 2 | PASS |" in (tmp_path / "real-xen-results.md").read_text()


def test_a_failing_step_fails_the_run(tmp_path):
    res = _report(_raw(tmp_path, [_step(1), _step(2, "fail", "xl said no")]), "--qemu-rc", "0")
    assert res.returncode == 1
    assert (tmp_path / "status").read_text().strip() == "fail"
    assert "2 step 2 (fail)" in json.loads((tmp_path / "real-xen-results.json").read_text())["reason"]


def test_a_run_cut_short_fails_even_when_all_it_ran_passed(tmp_path):
    res = _report(_raw(tmp_path, [_step(1)], expected=24), "--qemu-rc", "0")
    assert res.returncode == 1
    assert "only 1 of 24 steps ran" in res.stdout


def test_qemu_timeout_fails(tmp_path):
    res = _report(_raw(tmp_path, [_step(1)]), "--qemu-rc", "124")
    assert res.returncode == 1
    assert "timeout" in json.loads((tmp_path / "real-xen-results.json").read_text())["reason"]


def test_no_results_from_dom0_fails(tmp_path):
    (tmp_path / "raw").mkdir()
    res = _report(tmp_path, "--qemu-rc", "0")
    assert res.returncode == 1
    assert (tmp_path / "status").read_text().strip() == "fail"


@pytest.mark.parametrize("qemu", ["/nonexistent/qemu-system-x86_64", "/bin/false"])
def test_skip_is_one_line_and_exit_77(tmp_path, qemu):
    env = dict(os.environ, XENLAB_QEMU=qemu, XENLAB_NO_INSTALL="1", XENLAB_RESULTS=str(tmp_path))
    res = subprocess.run(["bash", str(XENLAB / "run.sh")], capture_output=True, text=True, env=env,
                         timeout=60, check=False)
    assert res.returncode == 77, res.stdout + res.stderr
    lines = [line for line in res.stdout.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("SKIP real-xen: "), res.stdout
    assert (tmp_path / "status").read_text().strip() == "skip"
    data = json.loads((tmp_path / "real-xen-results.json").read_text())
    assert data["status"] == "skip" and data["steps"] == []


def test_kept_results_are_well_formed():
    path = XENLAB / "results" / "real-xen-results.json"
    if not path.exists():
        pytest.skip("no real-Xen run kept yet (make test-xen writes xenlab/results/)")
    data = json.loads(path.read_text())
    assert data["status"] in ("pass", "fail", "skip")
    for step in data["steps"]:
        assert step["result"] in ("pass", "fail"), step
        assert isinstance(step["wall_s"], (int, float)) and step["wall_s"] >= 0
        assert step["name"] and isinstance(step["commands"], list)
    if data["status"] == "pass":
        assert data["meta"]["xen_version"].startswith("4.17")
        assert len(data["steps"]) >= data["meta"]["expected_steps"]
