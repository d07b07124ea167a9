"""The ``xen`` states through ``state.apply`` of real SLS files on the real minion lab00 (issue 5).

Each state (running, poweroff, paused, saved) from each starting state (running, paused, saved,
off, unknown address, ambiguous address); ``test=True``; idempotence; requisites.
"""

import json
import os
import shutil
import textwrap

import pytest
from harness import REPO, fileserver_update, reset_lab_host, run_cmd
from seedtree import SEED_DOMUS, write_seed_tree
from xlsim import control

MINION = "lab00"
STATES = ("running", "poweroff", "paused", "saved")


@pytest.fixture(scope="module")
def sls_tree(state_tree, synced_minions, salt_run_cli):
    """``xen_states/<state>.sls`` (one state, its address from pillar) and the requisite demo."""
    folder = state_tree / "xen_states"
    folder.mkdir(exist_ok=True)
    for state in STATES:
        (folder / f"{state}.sls").write_text(textwrap.dedent(f"""\
            {{{{ pillar['domu'] }}}}:
              xen.{state}:
                - timeout: 5
        """ if state == "poweroff" else f"""\
            {{{{ pillar['domu'] }}}}:
              xen.{state}: []
        """))
    (folder / "requisites.sls").write_text(textwrap.dedent("""\
        tst100:
          xen.running: []
        tst100-started:
          test.succeed_without_changes:
            - onchanges:
              - xen: tst100
        tst101:
          xen.running:
            - require:
              - xen: tst100
        tst104-config:
          file.managed:
            - name: {{ pillar['tst104_config'] }}
            - source: salt://xen_states/tst104.conf
            - template: jinja
            - context:
                memory: {{ pillar.get('memory', 128) }}
        tst104:
          xen.running:
            - watch:
              - file: tst104-config
    """))
    uuid, mac, _ = SEED_DOMUS["tst104"]
    (folder / "tst104.conf").write_text(
        '#@#MAGICID-XEN\nname = "tst104"\nuuid = "' + uuid + '"\nmemory = {{ memory }}\nvcpus = 1\n'
        "vif = [ 'mac=" + mac + ", bridge=xenbr0' ]\ndisk = [ 'file:/srv/tst104/xvda.img,xvda,w' ]\n"
    )
    fileserver_update(salt_run_cli)
    return folder


@pytest.fixture(scope="module")
def clean_after(synced_minions, lab_hosts):
    """The shared minion outlives this module: leave its host (and xen cache) as new."""
    yield
    reset_lab_host(lab_hosts[MINION], synced_minions[MINION].config)


@pytest.fixture
def lab(synced_minions, lab_hosts, sls_tree, clean_after):
    """lab00 fresh: no domains, the seed's configs, an empty save folder."""
    host = lab_hosts[MINION]
    reset_lab_host(host, synced_minions[MINION].config)
    configs = write_seed_tree(host.base_dir)
    save_dir = host.root / "save"
    shutil.rmtree(save_dir, ignore_errors=True)
    save_dir.mkdir()
    return {"host": host, "configs": configs, "save_dir": save_dir}


def xl(lab, *args):
    proc = run_cmd(["xl", *args], env=lab["host"].env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def start_in(lab, state):
    """Put tst100 in a starting state behind Salt's back, with the simulated xl itself."""
    config = lab["configs"]["tst100"]
    if state in ("running", "saved"):
        xl(lab, "create", config)
    elif state == "paused":
        xl(lab, "create", "-p", config)
    if state == "saved":
        xl(lab, "save", "tst100", str(lab["save_dir"] / "tst100.save"))


def domu_state(lab, label="tst100"):
    domains = control.domains(str(lab["host"].state_dir))
    if label not in domains:
        return "saved" if (lab["save_dir"] / f"{label}.save").exists() else "off"
    return "paused" if domains[label]["paused"] else "running"


def apply(salt_cli, lab, sls, domu="l:tst100", test=False, **pillar):
    pillar = dict(pillar, domu=domu, xen={"save_dir": str(lab["save_dir"])})
    args = ["state.apply", sls, f"pillar={json.dumps(pillar)}", "-t", "120"]
    if test:
        args.append("test=True")
    ret = salt_cli.run(*args, minion_tgt=MINION, _timeout=150)
    assert isinstance(ret.data, dict), f"{ret.stdout}\n{ret.stderr}"
    return ret


def only_result(ret):
    (result,) = ret.data.values()
    return result


# (wanted state, starting state) -> (result, changes' new state or None for no changes)
MATRIX = {
    ("running", "running"): (True, None),
    ("running", "paused"): (True, "running"),
    ("running", "saved"): (True, "running"),
    ("running", "off"): (True, "running"),
    ("poweroff", "running"): (True, "off"),
    ("poweroff", "paused"): (True, "off"),
    ("poweroff", "saved"): (True, None),
    ("poweroff", "off"): (True, None),
    ("paused", "running"): (True, "paused"),
    ("paused", "paused"): (True, None),
    ("paused", "saved"): (True, "paused"),
    ("paused", "off"): (True, "paused"),
    ("saved", "running"): (True, "saved"),
    ("saved", "paused"): (True, "saved"),
    ("saved", "saved"): (True, None),
    ("saved", "off"): (False, None),
}


@pytest.mark.parametrize("wanted,start", sorted(MATRIX))
def test_each_state_from_each_starting_state(salt_cli, lab, wanted, start):
    start_in(lab, start)
    ret = apply(salt_cli, lab, f"xen_states.{wanted}")
    result = only_result(ret)
    expected_result, new_state = MATRIX[(wanted, start)]
    assert result["result"] is expected_result, result["comment"]
    if new_state is None:
        assert result["changes"] == {}, result
    else:
        assert result["changes"]["state"] == {"old": start, "new": new_state}, result
    if expected_result:
        final = {"running": "running", "poweroff": start if start == "saved" else "off",
                 "paused": "paused", "saved": "saved"}[wanted]
        assert domu_state(lab) == final
    else:
        assert domu_state(lab) == start  # a failed state touched nothing
    if expected_result and new_state:
        again = only_result(apply(salt_cli, lab, f"xen_states.{wanted}"))
        assert again["result"] is True and again["changes"] == {}
        assert "already" in again["comment"]


@pytest.mark.parametrize("wanted", STATES)
def test_unknown_address_fails_and_touches_nothing(salt_cli, lab, wanted):
    start_in(lab, "running")
    result = only_result(apply(salt_cli, lab, f"xen_states.{wanted}", domu="l:nosuch"))
    assert result["result"] is False and "no DomU matches" in result["comment"]
    assert domu_state(lab) == "running"


@pytest.mark.parametrize("wanted", STATES)
def test_ambiguous_address_fails_names_the_candidates_and_touches_nothing(salt_cli, lab, wanted):
    start_in(lab, "running")
    shutil.copytree(os.path.dirname(lab["configs"]["tst100"]), lab["host"].base_dir / "backup" / "tst100")
    result = only_result(apply(salt_cli, lab, f"xen_states.{wanted}", domu="u:" + SEED_DOMUS["tst100"][0]))
    assert result["result"] is False
    assert "backup/tst100/tst100.conf" in result["comment"] and "tst-ctys/tst100/tst100.conf" in result["comment"]
    assert domu_state(lab) == "running" and result["changes"] == {}


@pytest.mark.parametrize("wanted,start", [("running", "off"), ("poweroff", "running"), ("paused", "running"),
                                          ("saved", "running")])
def test_test_mode_reports_and_touches_nothing(salt_cli, lab, wanted, start):
    start_in(lab, start)
    result = only_result(apply(salt_cli, lab, f"xen_states.{wanted}", test=True))
    assert result["result"] is None
    assert result["changes"]["state"]["old"] == start
    assert domu_state(lab) == start


def test_toolstack_failure_is_result_false_with_its_message(salt_cli, lab):
    control.set_fault(str(lab["host"].state_dir), fail_next=1, verbs=["create"],
                      stderr="libxl: error: libxl_create.c: simulated create failure")
    result = only_result(apply(salt_cli, lab, "xen_states.running"))
    assert result["result"] is False and "simulated create failure" in result["comment"]
    assert domu_state(lab) == "off"


def test_a_guest_that_ignores_shutdown_fails_poweroff_without_force(salt_cli, lab):
    start_in(lab, "running")
    control.set_fault(str(lab["host"].state_dir), ignore_shutdown=["tst100"])
    result = only_result(apply(salt_cli, lab, "xen_states.poweroff"))
    assert result["result"] is False and "did not shut down" in result["comment"]
    assert domu_state(lab) == "running"


def test_requisites_onchanges_require_and_watch(salt_cli, lab):
    tst104_config = lab["host"].base_dir / "xen" / "tst-ctys" / "tst104" / "tst104.conf"
    ret = apply(salt_cli, lab, "xen_states.requisites", tst104_config=str(tst104_config), memory=128)
    results = {value["__id__"]: value for value in ret.data.values()}
    assert all(r["result"] is True for r in results.values()), results
    assert results["tst100-started"]["comment"] != "State was not run because none of the onchanges reqs changed"
    assert results["tst100"]["__run_num__"] < results["tst101"]["__run_num__"]
    assert {domu_state(lab, label) for label in ("tst100", "tst101", "tst104")} == {"running"}
    domid = control.domains(str(lab["host"].state_dir))["tst104"]["domid"]

    again = {v["__id__"]: v for v in apply(salt_cli, lab, "xen_states.requisites",
                                           tst104_config=str(tst104_config), memory=128).data.values()}
    assert again["tst100"]["changes"] == {} and again["tst104"]["changes"] == {}
    assert "none of the onchanges reqs changed" in again["tst100-started"]["comment"]

    # a changed config: the watch restarts tst104 so that the new memory setting takes effect
    changed = {v["__id__"]: v for v in apply(salt_cli, lab, "xen_states.requisites",
                                             tst104_config=str(tst104_config), memory=256).data.values()}
    assert changed["tst104"]["result"] is True and changed["tst104"]["changes"], changed["tst104"]
    restarted = control.domains(str(lab["host"].state_dir))["tst104"]
    assert restarted["domid"] != domid and restarted["memory"] == 256


def test_the_shipped_example_sls_applies(salt_cli, lab, state_tree, salt_run_cli):
    example = REPO / "examples" / "states" / "xen_domus.sls"
    start_in(lab, "running")
    xl(lab, "create", lab["configs"]["tst101"])
    shutil.copy(example, state_tree / "xen_example.sls")
    fileserver_update(salt_run_cli)
    ret = apply(salt_cli, lab, "xen_example")
    assert all(r["result"] is True for r in ret.data.values()), ret.data
    assert domu_state(lab, "tst100") == "running"
    assert domu_state(lab, "tst101") == "off"
