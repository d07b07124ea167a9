"""Every ``ctys`` call of the seed (ctys-uc-XEN) as the Salt call of docs/ctys-to-salt.md, run on
the real master and the minions lab00 and lab01 (lab01 also stands for the seed's workstation
"localhost"/ws2).  Row ids are the doc's: ``S<n>`` is the n-th ctys call of the seed.

Each row puts tst100 in the state the seed's call expects (with the simulated xl itself, behind
Salt's back), runs the Salt call exactly as a user types it, and checks what Salt answered and
what the simulated host shows afterwards.
"""

import json
import shlex
import shutil

import pytest
from harness import poll, reset_lab_host, run_cmd
from seedtree import SEED_DOMUS, write_seed_tree
from xlsim import control

TST100_UUID, TST100_MAC, TST100_IP = SEED_DOMUS["tst100"]


@pytest.fixture(scope="module")
def seed_hosts(synced_minions, lab_hosts, salt_run_cli, run_json):
    for minion, host in lab_hosts.items():
        reset_lab_host(host, synced_minions[minion].config)
    run_json(salt_run_cli, "saltutil.sync_output")
    yield lab_hosts
    for minion, host in lab_hosts.items():
        reset_lab_host(host, synced_minions[minion].config)


class Lab:
    """The two hosts in a known state before each row."""

    def __init__(self, hosts, minions):
        self.hosts = hosts
        self.minions = minions
        self.configs = {}

    def reset(self):
        for minion, host in self.hosts.items():
            reset_lab_host(host, self.minions[minion].config)
            self.configs[minion] = write_seed_tree(host.base_dir)
            (host.root / "save").mkdir(exist_ok=True)
            for leftover in (host.root / "save").iterdir():
                leftover.unlink()

    def xl(self, minion, *args):
        proc = run_cmd(["xl", *args], env=self.hosts[minion].env)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    def start(self, minion, label="tst100", paused=False):
        self.xl(minion, "create", *(["-p"] if paused else []), self.configs[minion][label])

    def domains(self, minion):
        return control.domains(str(self.hosts[minion].state_dir))

    def domains_now(self, minion):
        """The domains after the host has advanced to now (the state file moves on with xl calls)."""
        self.xl(minion, "list")
        return self.domains(minion)

    def statefile(self, minion, label="tst100"):
        return self.hosts[minion].root / "save" / f"{label}.save"


@pytest.fixture
def lab(seed_hosts, synced_minions):
    lab = Lab(seed_hosts, synced_minions)
    lab.reset()
    return lab


def salt(cli_factory, *args, timeout=120, **kwargs):
    """Run a Salt CLI (salt / salt-run) as a user types it, JSON out; (exit code, data)."""
    ret = cli_factory.run(*args, _timeout=timeout, **kwargs)
    return ret.returncode, ret.data


# --- the rows ------------------------------------------------------------------------------------
# row id -> (before(lab), cli "salt"|"run", args (templated), check(lab, rc, data))


def _created(minion, label="tst100", connected=False):
    def check(lab, rc, data):
        assert rc == 0, data
        session = data[minion]
        assert session["label"] == label
        assert session["action"] == ("connected" if connected else "created")
        assert label in lab.domains(minion)
        return session
    return check


def _connect(lab, rc, data):
    session = _created("lab00", connected=True)(lab, rc, data)
    assert session["connect"]["command"].endswith("console tst100")


def _refused(minion, *words):
    def check(lab, rc, data):
        assert rc != 0
        text = json.dumps(data)
        assert all(word in text for word in words), text
        assert "tst100" not in lab.domains(minion)  # nothing started
    return check


def _vnc(lab, rc, data):
    session = _created("lab00")(lab, rc, data)
    assert session["vnc"]["port"] == 5900 and session["vnc"]["display"] == 0
    assert "-L 5950:127.0.0.1:5900" in session["connect"]["tunnel"]


def _table(*must_have, absent=()):
    def check(lab, rc, data):
        assert rc == 0, data
        text = data["text"] if isinstance(data, dict) and "text" in data else json.dumps(data)
        rows = data.get("rows", []) if isinstance(data, dict) else []
        cells = json.dumps(rows)
        for item in must_have:
            assert item in cells or item in text, (item, data)
        for item in absent:
            assert item not in cells, (item, data)
    return check


def _resumed(lab, rc, data):
    assert rc == 0, data
    assert data["lab01"]["label"] == "tst100" and data["lab01"]["action"] == "restored"
    assert "tst100" in lab.domains("lab01")


def _gone(minion, result=None):
    def check(lab, rc, data):
        assert rc == 0, data
        # Real xl (and xlsim) lists a domain its monitor is destroying as "(null)": the call may
        # return then, a moment before the domain has left the host's state.
        poll(lambda: "tst100" not in lab.domains_now(minion), 5, "tst100 gone from the host")
        if result:
            assert data[minion]["result"] in result, data
    return check


def _rebooted(lab, rc, data):
    _rebooted_on("lab01", lab, rc, data)


def _paused(lab, rc, data):
    assert rc == 0 and data["lab01"]["result"] == "paused", data
    assert lab.domains("lab01")["tst100"]["paused"] is True


def _saved(lab, rc, data):
    assert rc == 0 and data["lab01"]["result"] == "saved", data
    assert "tst100" not in lab.domains("lab01")
    assert lab.statefile("lab01").is_file()


def _plan_ok(count):
    def check(lab, rc, data):
        assert rc == 0, data
        results = data["results"]
        assert len(results) == count and not data["failed"], data
        assert all("result" in r for r in results)
    return check


def _both_started(lab, rc, data):
    _plan_ok(2)(lab, rc, data)
    assert {"tst100", "tst101"} <= set(lab.domains("lab00"))


def _vhost(lab, rc, data):
    assert rc == 0, data
    configs = sorted(m["path"] if "path" in m else m.get("config", "") for m in data["matches"])
    assert len(configs) == 2 and any("backup/tst100" in c for c in configs), data


def _show(lab, rc, data):
    assert rc == 0 and data["lab00"]["running"] == 1 and data["lab00"]["xen"]["free_memory"] >= 0, data


def _info(lab, rc, data):
    assert rc == 0 and data["lab01"]["toolstack"] == "xl" and data["lab01"]["xen_version"], data


def _machine_titleidx(lab, rc, data):
    assert rc == 0, data
    lines = data["lab00"]
    assert lines[0].startswith("ContainingMachine(1);SessionType(2);Label(3)")
    assert any(line.split(";")[2] == "tst100" and line.split(";")[4] == TST100_UUID for line in lines[1:])


def _enum_machine_title(lab, rc, data):
    assert rc == 0, data
    lines = data["lab00"]["records"]
    assert lines[0].startswith("ContainingMachine;SessionType;Label;ID")
    assert sorted(line.split(";")[2] for line in lines[1:]) == ["tst100", "tst101", "tst104"]


def _backup_copy(lab):
    lab.start("lab00")
    folder = lab.hosts["lab00"].base_dir / "backup" / "tst100"
    shutil.copytree(lab.hosts["lab00"].base_dir / "xen" / "tst-ctys" / "tst100", folder)


def _nothing(lab):
    return None


def _running(minion, paused=False):
    return lambda lab: lab.start(minion, paused=paused)


def _saved_on_lab01(lab):
    lab.start("lab01")
    lab.xl("lab01", "save", "tst100", str(lab.statefile("lab01")))


def _saved_as(name):
    def before(lab):
        lab.start("lab01")
        lab.xl("lab01", "save", "tst100", str(lab.hosts["lab01"].root / "save" / name))
    return before


F100 = "f:xen/tst-ctys/tst100/tst100.conf"
F101 = "f:xen/tst-ctys/tst101/tst101.conf"
CF_PLAN_SAME_HOST = json.dumps([{"tgt": "lab00", "address": f"{F100},CONSOLE:none"},
                                {"tgt": "lab00", "address": f"{F101},CONSOLE:none"}])
CF_PLAN_TWO_HOSTS = json.dumps([{"tgt": "lab00", "address": f"{F100},CONSOLE:none"},
                                {"tgt": "lab01", "address": f"{F101},CONSOLE:none"}])

ROWS = {
    "S02": (_nothing, "salt", ["lab00", "xen.create", f"{F100},CONSOLE:cli"], _created("lab00")),
    "S03": (_nothing, "salt", ["lab00", "xen.create", f"{F100},CONSOLE:cli"], _created("lab00")),
    "S04": (_nothing, "salt", ["lab00", "xen.create", "l:tst100,CONSOLE:none"], _created("lab00")),
    "S05": (_running("lab00"), "salt", ["lab00", "xen.create", "p:{p100},CONSOLE:cli,connect"], _connect),
    "S06": (_running("lab00"), "salt", ["lab00", "xen.create", f"{F100},CONSOLE:cli,connect"], _connect),
    "S07": (_running("lab00"), "salt", ["lab00", "xen.create", "f:tst-ctys/tst100/tst100.conf,CONSOLE:cli,connect"],
            _connect),
    "S08": (_running("lab00"), "salt", ["lab00", "xen.create", "f:tst100/tst100.conf,CONSOLE:cli,connect"], _connect),
    "S09": (_running("lab00"), "salt", ["lab00", "xen.create", "i:{p100},CONSOLE:cli,connect"], _connect),
    "S10": (_running("lab00"), "salt", ["lab00", "xen.create", "l:tst100,CONSOLE:cli,connect"], _connect),
    "S11": (_running("lab00"), "salt", ["lab00", "xen.create", f"u:{TST100_UUID},CONSOLE:cli,connect"], _connect),
    "S12": (_running("lab00"), "salt", ["lab00", "xen.create", f"m:{TST100_MAC},CONSOLE:cli,connect"], _connect),
    "S13": (_running("lab00"), "salt", ["lab00", "xen.create", f"t:{TST100_IP},CONSOLE:cli,connect"], _connect),
    "S14": (_nothing, "salt", ["lab00", "xen.create", f"{F100},CONSOLE:xterm"], _refused("lab00", "console=vnc")),
    "S15": (_nothing, "salt", ["lab00", "xen.create", f"{F100},CONSOLE:gterm"], _refused("lab00", "console=vnc")),
    "S16": (_nothing, "salt", ["lab00", "xen.create", f"{F100},CONSOLE:emacs"], _refused("lab00", "console=vnc")),
    "S17": (_nothing, "salt", ["lab00", "xen.create", f"{F100},CONSOLE:vnc"], _vnc),
    "S18": (_nothing, "salt", ["lab00", "xen.create", f"{F100},CONSOLE:vnc"], _vnc),
    "S19": (_running("lab01"), "run", ["xen.list", "tgt=lab01"], _table("tst100", "Domain-0", "PM")),
    "S20": (_running("lab00"), "run", ["xen.list", "tgt=lab01,lab00", "tgt_type=list"],
            _table("tst100", "lab00", "lab01")),
    "S21": (_nothing, "salt", ["lab00", "xen.create", f"{F100},CONSOLE:none"], _created("lab00")),
    "S22": (_saved_as("mystate.stat"), "salt", ["lab01", "xen.create", "l:tst100,RESUME:{save01}/mystate.stat"],
            _resumed),
    "S23": (_saved_on_lab01, "salt", ["lab01", "xen.create", "l:tst100,RESUME,CONSOLE:VNC"], _resumed),
    "S24": (_saved_on_lab01, "salt", ["lab01", "xen.create", "l:tst100,RESUME,CONSOLE:none"], _resumed),
    "S25": (_nothing, "run", ["xen.create", f"plan={CF_PLAN_SAME_HOST}"], _both_started),
    "S26": (_nothing, "run", ["xen.create", f"plan={CF_PLAN_SAME_HOST}"], _both_started),
    "S27": (_nothing, "run", ["xen.create", f"plan={CF_PLAN_TWO_HOSTS}"], _plan_ok(2)),
    "S28": (_nothing, "run", ["xen.create", f"plan={CF_PLAN_TWO_HOSTS}"], _plan_ok(2)),
    "S29": (_running("lab00"), "salt", ["lab00", "xen.cancel", "poweroff:0,p:{p100}"], _gone("lab00")),
    "S30": (_running("lab01"), "salt", ["lab01", "xen.cancel", "l:tst100,POWEROFF:0"], _gone("lab01")),
    "S31": (_backup_copy, "run", ["xen.vhost", "l:tst100", "tgt=lab00"], _vhost),
    "S32": (_running("lab01"), "salt", ["lab01", "xen.cancel", "l:tst100,POWEROFF:0", "cache=False"], _gone("lab01")),
    "S33": (_running("lab01"), "salt", ["lab01", "xen.cancel", "l:tst100,POWEROFF:0", "cache=False"], _gone("lab01")),
    "S34": (_running("lab01"), "salt", ["lab01", "xen.cancel", "l:tst100,RESET", "cache=False"], _rebooted),
    "S35": (_running("lab01"), "salt", ["lab01", "xen.cancel", "l:tst100,FORCE,RESET", "cache=False"], _rebooted),
    "S36": (_running("lab01"), "salt", ["lab01", "xen.cancel", "l:tst100,REBOOT", "cache=False"], _rebooted),
    "S37": (_running("lab01"), "salt", ["lab01", "xen.cancel", "l:tst100,FORCE,REBOOT", "cache=False"], _rebooted),
    "S38": (_running("lab01"), "salt", ["lab01", "xen.cancel", "FORCE,REBOOT,p:{p100_01}", "cache=False"], _rebooted),
    "S39": (_running("lab01"), "salt", ["lab01", "xen.cancel", "l:tst100,PAUSE"], _paused),
    "S40": (_running("lab01"), "salt", ["lab01", "xen.cancel", "l:tst100,FORCE,PAUSE"], _paused),
    "S41": (_running("lab01"), "salt", ["lab01", "xen.cancel", "l:tst100,SUSPEND"], _saved),
    "S42": (_running("lab01"), "salt", ["lab01", "xen.cancel", "l:tst100,FORCE,SUSPEND"], _saved),
    "S43": (_running("lab00"), "salt", ["lab00", "xen.cancel", "l:tst100,INIT:0"], _gone("lab00", ("shutdown",))),
    "S44": (_running("lab00"), "salt", ["lab00", "xen.cancel", "l:tst100,FORCE,INIT:6"],
            lambda lab, rc, data: _rebooted_on("lab00", lab, rc, data)),
    "S45": (_running("lab00"), "salt", ["lab00", "xen.list", "machine,titleidx"], _machine_titleidx),
    "S46": (_running("lab01"), "run", ["xen.list", "tgt=lab01"], _table("tst100", "Domain-0", "PM")),
    "S47": (_running("lab01"), "run", ["xen.list", "tgt=lab01", "types=xen"], _table("tst100", "Domain-0", absent=("PM",))),
    "S48": (_running("lab00"), "run", ["xen.list", "tgt=lab01,lab00", "tgt_type=list", "types=xen"],
            _table("tst100", "Domain-0", absent=("PM",))),
    "S49": (_running("lab00"), "run", ["xen.list", "macro:TAB_CPORT", "tgt=lab01,lab00", "tgt_type=list"],
            _table("5900", TST100_MAC, "cport")),
    "S50": (_nothing, "salt", ["lab00", "xen.enumerate", "machine,title,b:{base00}/xen", "types=xen"],
            _enum_machine_title),
    "S51": (_nothing, "run", ["xen.enumerate", "macro:TAB_CPORT,b:{base00}/xen%/etc/ctys.d", "tgt=lab01,lab00",
                              "tgt_type=list"], _table(TST100_MAC, TST100_IP, "lab00", "lab01")),
    "S52": (_running("lab00"), "salt", ["lab00", "xen.show"], _show),
    "S53": (_running("lab00"), "salt", ["lab00", "xen.show"], _show),
    "S54": (_nothing, "salt", ["lab01", "xen.info"], _info),
    "S55": (_nothing, "salt", ["lab01", "xen.info"], _info),
}


def _rebooted_on(minion, lab, rc, data):
    """xl reboot returns at once; the guest shuts down and xl's monitor starts it with a new domid."""
    assert rc == 0 and data[minion]["result"] == "rebooted", data
    before = data[minion]["domid"]

    def restarted():
        domain = lab.domains(minion).get("tst100")
        return domain is not None and domain["domid"] != before

    poll(restarted, 30, "tst100 restarted with a new domid")


def _fill(arg, lab):
    """The seed's $HOME-relative paths, made absolute for this run's hosts."""
    values = {"{p100}": lab.configs["lab00"]["tst100"], "{p100_01}": lab.configs["lab01"]["tst100"],
              "{base00}": lab.hosts["lab00"].base_dir, "{save01}": lab.hosts["lab01"].root / "save"}
    for placeholder, value in values.items():
        arg = arg.replace(placeholder, str(value))
    return arg


@pytest.mark.parametrize("row", sorted(ROWS))
def test_seed_call(row, lab, salt_cli, salt_run_cli):
    before, program, args, check = ROWS[row]
    before(lab)
    args = [_fill(arg, lab) for arg in args]
    if program == "salt":
        minion, *rest = args
        rc, data = salt(salt_cli, "-t", "60", *rest, minion_tgt=minion)
        data = {minion: data}  # salt-factories unwraps a one-minion return: put the minion back
    else:
        rc, data = salt(salt_run_cli, *args)
    print(row, "$", program, " ".join(shlex.quote(a) for a in args))
    check(lab, rc, data)
