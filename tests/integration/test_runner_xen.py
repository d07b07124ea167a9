"""The ``xen`` runner with the real master and minions lab00, lab01 (issue 6).

Each minion's simulated host gets the seed's DomU configs tst100, tst101, tst104 (MACs
00:50:56:13:11:40/41/44, tst100 with UUID 6842caf9...) under its own base path; lab00 runs tst100
and tst101.  A shared "VM pool" folder holds the same three configs for the ENUMERATE examples
(``b:<pool>``), so that other test modules' configs in the base paths do not change those tables.

The minions' host names and MACs are this machine's (the harness sets no ``xen:hostname``), so the
expected tables take them from the minions and keep the seed's layout.
"""

import json
import time

import pytest
from harness import fileserver_update, reset_lab_host, run_cmd, run_json
from seedtree import SEED_DOMUS, write_seed_tree
from xlsim import control

# label, MAC, UUID of the seed's DomUs
SEED = tuple((label, mac, uuid) for label, (uuid, mac, _ip) in SEED_DOMUS.items())
RUNNING_ON_LAB00 = ("tst100", "tst101")
TAB_CPORT_HEADER = [
    "Label     |stype   |cport|PM             |MAC               |TCP            ",
    "----------+--------+-----+---------------+------------------+---------------",
]


# --- the lab -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_lab(synced_minions, lab_hosts, lab_root, salt_cli, salt_run_cli):
    """Fresh simulated hosts with the seed's trees, tst100 + tst101 running on lab00, and the
    xen_table outputter synced to the master.  Returns {minion: {label: config path}}."""
    configs = {}
    for minion, host in lab_hosts.items():
        # A fresh host: running domains of earlier test modules would change every LIST table.
        reset_lab_host(host, synced_minions[minion].config)
        configs[minion] = write_seed_tree(host.base_dir, side_files=False)  # no IPs: empty TCP columns
    for label in RUNNING_ON_LAB00:
        proc = run_cmd(["xl", "create", configs["lab00"][label]], env=lab_hosts["lab00"].env)
        assert proc.returncode == 0, proc.stderr
    write_seed_tree(lab_root / "runner-pool", side_files=False)
    fileserver_update(salt_run_cli)
    synced = run_json(salt_run_cli, "saltutil.sync_output")
    assert "output.xen_table" in synced, synced
    return configs


@pytest.fixture(scope="module")
def pool(lab_root):
    return str(lab_root / "runner-pool")


@pytest.fixture(scope="module")
def pm(seed_lab, salt_run_cli):
    """Each minion's PM row as the runner shows it: {minion: {"host", "label", "MAC", "TCP"}}."""
    data = run_json(salt_run_cli, "xen.list", "table=tab_gen:1_host_30%%3_label_30%%6_MAC_18%%7_TCP_30",
                    "tgt=lab0[01]", "types=pm")
    return {row["minion"]: row for row in data["rows"]}


def salt_run_text(cli, *args, timeout=120):
    """``salt-run ARGS`` exactly as a user types it: no --out, so the runner picks the outputter.

    Salt strips the trailing whitespace of the whole output, so the result is compared rstripped.
    """
    argv = [arg for arg in cli.cmdline(*args) if not arg.startswith(("--out=", "--out-indent="))]
    proc = run_cmd(argv, timeout=timeout)
    assert proc.returncode == 0, f"{argv} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout.rstrip()


def fit_table(headers, rows):
    """The expected ctys table of TAB_TCP: '|'-separated columns as wide as their content."""
    lines = [headers] + rows
    widths = [max(len(line[i]) for line in lines) for i in range(len(headers))]
    return "\n".join("|".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines)


def tab_tcp_rows(pm_row, domus):
    """TAB_TCP rows of one host: Domain-0, its running DomUs, its PM row (seed ``ctys -a list``)."""
    host = pm_row["host"]
    rows = [[host, "-", "Domain-0", "XEN", "S", "-", "-"]]
    rows += [[host, "-", label, "XEN", "S", "-", "-"] for label in domus]
    rows.append([host, pm_row["TCP"] or "-", pm_row["label"], "PM", "S", "-", "-"])
    return rows


def cport_line(label, stype, cport, host, mac, tcp=""):
    return f"{label:<10}|{stype:<8}|{cport:<5}|{host[:15]:<15}|{mac:<18}|{tcp[:15]:<15}"


def seed_mac(label):
    return dict((lab, mac) for lab, mac, _ in SEED)[label]


# --- LIST ---------------------------------------------------------------------------------------------


def test_list_default_table_is_the_seeds_tab_tcp(seed_lab, pm, salt_run_cli):
    """``ctys -a list lab01`` -> ``salt-run xen.list tgt=lab00`` (seed: the DomUs run on lab00)."""
    text = salt_run_text(salt_run_cli, "xen.list", "tgt=lab00")
    headers = ["TCP-container", "TCP-guest", "label", "sesstype", "c", "user", "group"]
    assert text == fit_table(headers, tab_tcp_rows(pm["lab00"], RUNNING_ON_LAB00))


def test_list_types_xen_keeps_the_xen_rows(seed_lab, pm, salt_run_cli):
    """``ctys -t xen -a list lab01`` -> ``salt-run xen.list tgt='lab00' types=xen``."""
    text = salt_run_text(salt_run_cli, "xen.list", "tgt=lab00", "types=xen")
    headers = ["TCP-container", "TCP-guest", "label", "sesstype", "c", "user", "group"]
    assert text == fit_table(headers, tab_tcp_rows(pm["lab00"], RUNNING_ON_LAB00)[:-1])


def test_list_two_hosts_in_target_order(seed_lab, pm, salt_run_cli):
    """``ctys -a list localhost lab00``: one table, host after host."""
    text = salt_run_text(salt_run_cli, "xen.list", "tgt=lab0[01]")
    headers = ["TCP-container", "TCP-guest", "label", "sesstype", "c", "user", "group"]
    rows = tab_tcp_rows(pm["lab00"], RUNNING_ON_LAB00) + tab_tcp_rows(pm["lab01"], ())
    assert text == fit_table(headers, rows)


def test_list_tab_cport_by_list(seed_lab, pm, salt_run_cli):
    """``ctys -a list=macro:TAB_CPORT localhost lab00``: cport and MAC of running DomUs, no TCP."""
    text = salt_run_text(salt_run_cli, "xen.list", "macro:TAB_CPORT", "tgt=lab0[01]")
    expected = list(TAB_CPORT_HEADER)
    for minion, running in (("lab00", RUNNING_ON_LAB00), ("lab01", ())):
        host = pm[minion]
        expected.append(cport_line("Domain-0", "XEN", "", host["host"], ""))
        for port, label in enumerate(running, start=5900):  # vncunused: the first free ports
            expected.append(cport_line(label, "XEN", str(port), host["host"], seed_mac(label)))
        expected.append(cport_line(host["label"], "PM", "", host["host"], host["MAC"], host["TCP"]))
    assert text == "\n".join(expected).rstrip()


def test_list_json_rows_and_machine_records(seed_lab, pm, salt_run_cli):
    data = run_json(salt_run_cli, "xen.list", "tgt=lab0[01]", "types=xen")
    assert data["columns"] == ["TCP-container", "TCP-guest", "label", "sesstype", "c", "user", "group"]
    assert [(row["minion"], row["label"]) for row in data["rows"]] == [
        ("lab00", "Domain-0"), ("lab00", "tst100"), ("lab00", "tst101"), ("lab01", "Domain-0")]
    assert data["rows"][1] == {"TCP-container": pm["lab00"]["host"], "TCP-guest": "-", "label": "tst100",
                               "sesstype": "XEN", "c": "S", "user": "-", "group": "-", "minion": "lab00"}
    assert data["no_response"] == [] and data["errors"] == {} and data["source"] == "live"
    assert "text" not in data

    machine = salt_run_text(salt_run_cli, "xen.list", "table=machine,titleidx", "tgt=lab00", "types=xen").splitlines()
    assert machine[0].startswith("ContainingMachine(1);SessionType(2);Label(3);ID(4);UUID(5);MAC(6)")
    tst100 = machine[2].split(";")
    assert len(tst100) == 22
    assert tst100[1:4] == ["XEN", "tst100", seed_lab["lab00"]["tst100"]]
    assert tst100[4].replace("-", "") == SEED[0][2] and tst100[5] == SEED[0][1] and tst100[8] == "5900"


def test_list_sorted_and_user_table(seed_lab, salt_run_cli):
    data = run_json(salt_run_cli, "xen.list", "table=tab_gen:3_Label_10%%9_cport_5_L", "sort=label,unique",
                    "tgt=lab0[01]", "types=xen")
    assert [row["Label"] for row in data["rows"]] == ["Domain-0", "tst100", "tst101"]
    assert data["columns"] == ["Label", "cport"]


def test_errors_are_one_line_results_with_exit_code_1(seed_lab, salt_run_cli):
    ret = salt_run_cli.run("xen.list", "table=TAB_NOPE")
    assert ret.returncode == 1
    assert ret.data["retcode"] == 1 and ret.data["error"].startswith("unknown LIST option 'TAB_NOPE': use ")
    ret = salt_run_cli.run("xen.enumerate", "tgt=nosuchminion")
    assert ret.returncode == 1 and ret.data["error"] == "no minion matches tgt='nosuchminion' (tgt_type=glob)"
    argv = [arg for arg in salt_run_cli.cmdline("xen.vhost", "q:what") if not arg.startswith(("--out=", "--out-indent="))]
    proc = run_cmd(argv)
    assert proc.returncode == 1 and proc.stdout.strip().startswith("ERROR: unknown key 'q'")
    assert len(proc.stdout.strip().splitlines()) == 1


# --- ENUMERATE --------------------------------------------------------------------------------------------


def test_enumerate_tab_cport_has_tcp_and_no_cport(seed_lab, pm, pool, salt_run_cli):
    """``ctys -a enumerate=macro:TAB_CPORT,b:xen%/etc/ctys.d localhost lab00``."""
    text = salt_run_text(salt_run_cli, "xen.enumerate", f"macro:TAB_CPORT,b:{pool}", "tgt=lab0[01]")
    expected = list(TAB_CPORT_HEADER)
    for minion in ("lab00", "lab01"):
        host = pm[minion]
        expected += [cport_line(label, "XEN", "", host["host"], mac) for label, mac, _ in SEED]
        expected.append(cport_line(host["label"], "PM", "", host["host"], host["MAC"], host["TCP"]))
    assert text == "\n".join(expected).rstrip()


def test_enumerate_json_and_base_keyword(seed_lab, pool, salt_run_cli):
    data = run_json(salt_run_cli, "xen.enumerate", "machine", f"base={pool}", "tgt=lab01", "types=xen")
    assert [(row["label"], row["mac"], row["id"]) for row in data["rows"]] == [
        (label, mac, f"{pool}/xen/tst-ctys/{label}/{label}.conf") for label, mac, _ in SEED]
    assert {row["minion"] for row in data["rows"]} == {"lab01"}


# --- vhost and conflicts ---------------------------------------------------------------------------------


def test_vhost_lists_every_host_and_config(seed_lab, salt_run_cli):
    data = run_json(salt_run_cli, "xen.vhost", "l:tst100", "tgt=lab0[01]")
    assert [(m["minion"], m["path"]) for m in data["matches"]] == [
        ("lab00", seed_lab["lab00"]["tst100"]), ("lab01", seed_lab["lab01"]["tst100"])]
    assert data["count"] == 2 and data["no_response"] == [] and data["errors"] == {}
    text = salt_run_text(salt_run_cli, "xen.vhost", "m:00:50:56:13:11:40", "tgt=lab0[01]").splitlines()
    assert text[0].split("|")[0].strip() == "minion" and len(text) == 3
    assert text[1].startswith("lab00 |tst100|") and text[1].endswith(seed_lab["lab00"]["tst100"])


def test_conflicts_name_every_host_and_config(seed_lab, salt_run_cli):
    data = run_json(salt_run_cli, "xen.conflicts", "tgt=lab0[01]")
    by_key = {(c["kind"], c["value"]): c["configs"] for c in data["conflicts"]}
    for label, mac, uuid in SEED:
        expected = [{"minion": minion, "config": seed_lab[minion][label]} for minion in ("lab00", "lab01")]
        for kind, value in (("mac", mac), ("uuid", uuid), ("label", label)):
            assert [{"minion": p["minion"], "config": p["config"]} for p in by_key[(kind, value)]] == expected
    assert data["no_response"] == [] and data["errors"] == {}
    text = salt_run_text(salt_run_cli, "xen.conflicts", "tgt=lab0[01]", "kinds=mac")
    assert text.splitlines()[0].startswith("kind|value            |minion|")
    assert f"mac |00:50:56:13:11:40|lab01 |" in text


# --- the mine -----------------------------------------------------------------------------------------


def test_cached_list_and_conflicts_from_the_mine(seed_lab, salt_cli, salt_run_cli):
    for minion in ("lab00", "lab01"):
        for function in ("xen.list", "xen.enumerate"):
            assert run_json(salt_cli, "mine.send", function, minion_tgt=minion) is True
    live = run_json(salt_run_cli, "xen.list", "tgt=lab0[01]")

    def cached_rows():
        data = run_json(salt_run_cli, "xen.list", "tgt=lab0[01]", "cached=True")
        return data if data["rows"] == live["rows"] else None

    deadline = time.monotonic() + 30  # mine.send returns before the master stored the data
    cached = None
    while cached is None and time.monotonic() < deadline:
        cached = cached_rows()
        time.sleep(0.5)
    assert cached is not None, "the mine never held the live rows"
    assert cached["source"] == "mine" and set(cached["age"]) == {"lab00", "lab01"}
    assert all(0 <= age < 600 for age in cached["age"].values())
    text = salt_run_text(salt_run_cli, "xen.list", "tgt=lab0[01]", "cached=True").splitlines()
    assert text[-2].startswith("lab00: mine data ") and text[-1].startswith("lab01: mine data ")
    conflicts = run_json(salt_run_cli, "xen.conflicts", "tgt=lab0[01]", "cached=True", "kinds=uuid")
    assert any(c["value"] == SEED[0][2] for c in conflicts["conflicts"])


# --- a minion that does not answer ---------------------------------------------------------------------


@pytest.fixture
def stopped_minion(salt_master, salt_minions, seed_lab):
    """A third minion lab02, accepted by the master and then stopped; its key removed afterwards."""
    factory = salt_master.salt_minion_daemon("lab02", overrides={"interface": "127.0.0.1"})
    with factory.started():
        pass
    yield "lab02"
    salt_master.salt_key_cli().run("-d", "lab02", "-y")


def test_stopped_minion_is_no_response_and_the_others_rows_come_in_time(stopped_minion, salt_run_cli):
    timeout = 3
    start = time.monotonic()
    data = run_json(salt_run_cli, "xen.list", "tgt=lab0*", "types=xen", f"timeout={timeout}")
    elapsed = time.monotonic() - start
    assert data["no_response"] == ["lab02"]
    assert {row["minion"] for row in data["rows"]} == {"lab00", "lab01"}
    # LocalClient.cmd_iter would wait timeout + gather_job_timeout (10 s) for the stopped minion.
    assert elapsed < timeout + 9, elapsed
    text = salt_run_text(salt_run_cli, "xen.list", "tgt=lab0*", "types=xen", f"timeout={timeout}")
    assert text.splitlines()[-1] == "lab02: no response"


# --- CREATE / CANCEL plans -----------------------------------------------------------------------------


def running(lab_hosts, minion):
    return sorted(name for name in control.domains(lab_hosts[minion].state_dir) if name != "Domain-0")


def test_plan_create_and_cancel_with_one_failing_entry(seed_lab, lab_hosts, salt_run_cli):
    plan = [
        {"tgt": "lab00", "address": "f:xen/tst-ctys/tst104/tst104.conf,CONSOLE:none"},
        {"tgt": "lab01", "address": "l:tst100", "console": "none"},
        {"tgt": "lab01", "address": "l:nosuchdomu,CONSOLE:none"},
        {"tgt": "lab01", "address": "f:xen/tst-ctys/tst101/tst101.conf,CONSOLE:none"},
    ]
    ret = salt_run_cli.run("xen.create", f"plan={json.dumps(plan)}")
    assert ret.returncode == 1, (ret.stdout, ret.stderr)  # one entry failed: salt-run exits 1
    data = ret.data
    assert [(r["entry"], r["minion"]) for r in data["results"]] == [(1, "lab00"), (2, "lab01"), (3, "lab01"),
                                                                    (4, "lab01")]
    assert data["failed"] == 1 and "error" in data["results"][2] and "nosuchdomu" in data["results"][2]["error"]
    assert data["results"][0]["result"]["label"] == "tst104" and data["results"][0]["result"]["started"]
    assert running(lab_hosts, "lab00") == ["tst100", "tst101", "tst104"]
    assert running(lab_hosts, "lab01") == ["tst100", "tst101"]

    cancel = [
        {"tgt": "lab00", "address": "l:tst104,POWEROFF:0"},
        {"tgt": "lab01", "address": "l:tst100,POWEROFF:0"},
        {"tgt": "lab01", "address": "l:nosuchdomu"},
        {"tgt": "lab01", "address": "l:tst101", "mode": "poweroff", "timeout": 0},
    ]
    ret = salt_run_cli.run("xen.cancel", f"plan={json.dumps(cancel)}")
    assert ret.returncode == 1 and ret.data["failed"] == 1, ret.data
    assert "error" in ret.data["results"][2] and all("result" in ret.data["results"][i] for i in (0, 1, 3))
    assert running(lab_hosts, "lab00") == list(RUNNING_ON_LAB00)
    assert running(lab_hosts, "lab01") == []


def test_plan_text_and_short_form(seed_lab, lab_hosts, salt_run_cli):
    text = salt_run_text(salt_run_cli, "xen.create", "lab01", "f:xen/tst-ctys/tst104/tst104.conf,CONSOLE:none")
    lines = text.splitlines()
    assert lines[-1] == "1 done, 0 failed"
    assert lines[-3].startswith("entry|minion|address")
    assert lines[-2].startswith("1    |lab01 |f:xen/tst-ctys/tst104/tst104.conf,CONSOLE:none|created tst104 (domid ")
    assert running(lab_hosts, "lab01") == ["tst104"]
    data = run_json(salt_run_cli, "xen.cancel", "lab01", "l:tst104,POWEROFF:0")
    assert data["failed"] == 0 and data["retcode"] == 0
    assert running(lab_hosts, "lab01") == []


def test_bad_plan_is_refused_whole_and_nothing_runs(seed_lab, lab_hosts, salt_run_cli):
    plan = [{"tgt": "lab01", "address": "l:tst104,CONSOLE:none"},
            {"tgt": "lab9", "address": "l:tst100"},
            {"tgt": "lab00", "address": "q:tst101"}]
    ret = salt_run_cli.run("xen.create", f"plan={json.dumps(plan)}")
    assert ret.returncode == 1 and ret.data["retcode"] == 1
    message = ret.data["error"]
    assert message.startswith("plan refused, nothing was done: ")
    assert "entry 2: tgt 'lab9' matches no known minion" in message and "entry 3: lab00 q:tst101" in message
    assert running(lab_hosts, "lab01") == []


# --- how results are presented (in process, no daemons) --------------------------------------------------


@pytest.fixture
def runner_module(monkeypatch):
    """The runner module imported as Salt would, with its dunders injected."""
    import importlib.util  # pylint: disable=import-outside-toplevel
    from harness import REPO  # pylint: disable=import-outside-toplevel

    spec = importlib.util.spec_from_file_location("xen_runner_under_test", REPO / "_runners" / "xen.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.__opts__ = {}
    module.__context__ = {}
    return module


@pytest.mark.parametrize("opts, outputter_loadable, expected", [
    ({}, True, "data"),  # orchestration, salt-api, RunnerClient
    ({"selected_output_option": None}, True, "outputter"),  # salt-run without --out
    ({"selected_output_option": None}, False, "txt"),  # ... on a master without the outputter
    ({"selected_output_option": "json", "output": "json"}, True, "data"),
    ({"selected_output_option": "xen_table", "output": "xen_table"}, True, "text"),
])
def test_presentation_follows_the_command_line(runner_module, monkeypatch, opts, outputter_loadable, expected):
    runner_module.__opts__ = opts
    monkeypatch.setattr(runner_module, "_outputter_available", lambda: outputter_loadable)
    result = runner_module._present({"rows": []}, lambda: "TABLE")  # pylint: disable=protected-access
    shapes = {
        "data": {"rows": []},
        "text": {"rows": [], "text": "TABLE"},
        "outputter": {"data": {"rows": [], "text": "TABLE"}, "outputter": "xen_table"},
        "txt": {"data": "TABLE", "outputter": "txt"},
    }
    assert result == shapes[expected]


def test_text_argument_wins(runner_module):
    runner_module.__opts__ = {"selected_output_option": "json", "output": "json"}
    assert runner_module._present({}, lambda: "T", text=True) == {"text": "T"}  # pylint: disable=protected-access
    runner_module.__opts__ = {}
    assert runner_module._present({}, lambda: "T", text="false") == {}  # pylint: disable=protected-access


def test_invocation_errors_become_one_line_results(runner_module):
    result = runner_module.list_("fancy,words")
    assert result["retcode"] == 1 and runner_module.__context__["retcode"] == 1
    assert result["error"].startswith("unknown LIST option 'fancy': use machine, title")
    assert runner_module.create(plan="[]")["error"].startswith("plan must be a non-empty list")
    assert runner_module.list_(bogus=1)["error"] == "unknown argument(s): bogus"
