"""xenctys.fleet: option strings, merged fleet tables, sorting, conflicts, plans."""

import random

import pytest

from xenctys import fleet, tables
from xenctys.errors import XenError
from xenctys.fleet import HostResult, PlanEntry
from xenctys.records import ENUMERATE_KEYS, LIST_KEYS, titleidx, LIST_FIELDS

MAC100, MAC101, MAC104 = "00:50:56:13:11:40", "00:50:56:13:11:41", "00:50:56:13:11:44"
UUID100 = "6842caf91e3e43249ed596b8b9f2c5c2"


def list_row(**values):
    row = {key: "" for key in LIST_KEYS}
    row.update(cstype="SERVER", state="")
    row.update(values)
    return row


def enum_row(**values):
    row = {key: "" for key in ENUMERATE_KEYS}
    row.update(sesstype="XEN")
    row.update(values)
    return row


def lab_rows(host, vnc=False):
    """One host's LIST as in the seed's ``ctys -a list lab01``."""
    rows = []
    if vnc:
        rows += [list_row(host=host, label="LAB00", sesstype="VNC", cstype="CLIENT", uid="root", gid="root"),
                 list_row(host=host, label="LAB00", sesstype="VNC", cstype="SERVER", uid="root", gid="root",
                          cport="5901")]
    rows += [
        list_row(host=host, label="Domain-0", sesstype="XEN", pid="0"),
        list_row(host=host, label="tst100", sesstype="XEN", tcp="tst100", mac=MAC100, cport="5900", pid="1",
                 uuid=UUID100),
        list_row(host=host, label="tst101", sesstype="XEN", tcp="tst101", mac=MAC101, cport="5902", pid="2"),
        list_row(host=host, label=host.split(".")[0], sesstype="PM", tcp=f"{host}.", mac="00:0E:0C:35:F8:48"),
    ]
    return rows


def choice(*texts, kind="list"):
    return fleet.parse_options(list(texts), kind=kind)


# --- option strings ---------------------------------------------------------------------------------


def test_option_string_of_the_seed():
    assert choice("macro:TAB_CPORT").table == "macro:TAB_CPORT"
    parsed = choice("machine,titleidx")
    assert parsed.machine and parsed.title == "titleidx"
    assert choice("TAB_CPORT").table == "TAB_CPORT"  # a bare macro name
    enum = choice("macro:TAB_CPORT,b:xen%/etc/ctys.d", kind="enumerate")
    assert enum.table == "macro:TAB_CPORT" and enum.base == "xen%/etc/ctys.d"


def test_option_words_sort_pkg_scope_and_list_input():
    parsed = choice(["tab_gen:3_Label_10%%9_cport_5", "sort:each%unique%3"], "pkg:xen%pm,server")
    assert parsed.table.startswith("tab_gen:")
    assert parsed.sort == fleet.SortSpec(3, unique=True, each=True)
    assert parsed.types == ("pm", "xen")
    assert parsed.scope == "server"


@pytest.mark.parametrize("texts, message", [
    (["lab01"], "unknown LIST option 'lab01'"),
    (["machine,macro:TAB_CPORT"], "MACHINE or the table"),
    (["TAB_TCP", "macro:TAB_CPORT"], "two tables"),
    (["pkg:xen%qemu"], "unknown session type"),
    (["sort:1%2"], "two columns"),
])
def test_bad_option_strings_are_one_line_errors(texts, message):
    with pytest.raises(XenError, match=message) as err:
        fleet.parse_options(texts)
    assert "\n" not in str(err.value)


def test_base_is_enumerate_only_and_scope_list_only():
    with pytest.raises(XenError):
        choice("b:/srv/xen", kind="list")
    with pytest.raises(XenError):
        choice("server", kind="enumerate")


@pytest.mark.parametrize("value, expected", [
    (None, None), ("", None), (3, fleet.SortSpec(3)), ("label", fleet.SortSpec("label")),
    ("label,unique", fleet.SortSpec("label", unique=True)), ("each,2", fleet.SortSpec(2, each=True)),
    (True, fleet.SortSpec()),
])
def test_parse_sort(value, expected):
    assert fleet.parse_sort(value) == expected


# --- the merged LIST table --------------------------------------------------------------------------


def two_hosts():
    return [HostResult("lab00", lab_rows("lab00.soho", vnc=True)), HostResult("lab01", lab_rows("lab01.soho"))]


def test_default_table_is_tab_tcp_in_the_seed_layout():
    table = fleet.fleet_table([HostResult("lab01", lab_rows("lab00.soho", vnc=True))], choice())
    assert table.text().splitlines() == [
        "TCP-container|TCP-guest  |label   |sesstype|c|user|group",
        "lab00.soho   |-          |LAB00   |VNC     |C|root|root",
        "lab00.soho   |-          |LAB00   |VNC     |S|root|root",
        "lab00.soho   |-          |Domain-0|XEN     |S|-   |-",
        "lab00.soho   |tst100     |tst100  |XEN     |S|-   |-",
        "lab00.soho   |tst101     |tst101  |XEN     |S|-   |-",
        "lab00.soho   |lab00.soho.|lab00   |PM      |S|-   |-",
    ]


def test_types_keep_only_the_xen_rows():
    table = fleet.fleet_table([HostResult("lab01", lab_rows("lab00.soho", vnc=True))], choice("pkg:xen"))
    assert [row["label"] for row in table.data()["rows"]] == ["Domain-0", "tst100", "tst101"]


def test_data_rows_are_keyed_by_column_with_the_minion_and_hosts_in_target_order():
    data = fleet.fleet_table(two_hosts(), choice()).data()
    assert data["columns"] == ["TCP-container", "TCP-guest", "label", "sesstype", "c", "user", "group"]
    assert data["rows"][0] == {"TCP-container": "lab00.soho", "TCP-guest": "-", "label": "LAB00", "sesstype": "VNC",
                               "c": "C", "user": "root", "group": "root", "minion": "lab00"}
    assert [r["minion"] for r in data["rows"]] == ["lab00"] * 6 + ["lab01"] * 4
    assert data["no_response"] == [] and data["errors"] == {} and data["source"] == "live"


def test_tab_cport_by_list_shows_cport_and_mac():
    table = fleet.fleet_table([HostResult("lab00", lab_rows("lab00.soho"))], choice("macro:TAB_CPORT"))
    lines = table.text().splitlines()
    assert lines[0] == "Label     |stype   |cport|PM             |MAC               |TCP            "
    assert lines[1] == "----------+--------+-----+---------------+------------------+---------------"
    assert lines[3] == "tst100    |XEN     |5900 |lab00.soho     |00:50:56:13:11:40 |tst100         "
    assert table.data()["rows"][1]["cport"] == "5900"


def test_data_cells_are_never_cut_but_the_text_is():
    long_path = "/srv/xen/" + "a" * 40 + "/tst100.conf"
    hosts = [HostResult("lab00", [list_row(host="h", label="tst100", id=long_path)])]
    table = fleet.fleet_table(hosts, choice("tab_gen:4_ID_12_L"))
    assert table.data()["rows"][0]["ID"] == long_path
    assert table.text().splitlines()[2] == long_path[-12:]


def test_text_table_matches_tables_module_rendering():
    """The fast renderer gives exactly what tables.Table.render (tabulate) gives."""
    rng = random.Random(7)
    words = ["", "a", "tst100", "lab00.soho", "SSH(XEN)", " x ", "5900", "Domain-0", "ldapusers"]
    for _ in range(300):
        records = [list_row(host=rng.choice(words), tcp=rng.choice(words), label=rng.choice(words),
                            sesstype=rng.choice(words), cstype=rng.choice(["SERVER", "CLIENT", "TUNNEL", "x"]),
                            uid=rng.choice(words), gid=rng.choice(words)) for _ in range(rng.randint(0, 5))]
        ours = fleet.fleet_table([HostResult("m", records)], choice()).table_text()
        assert ours == tables.build_table("TAB_TCP", records).render()


def test_user_macros_and_redefined_default():
    macros = dict(fleet.FLEET_MACROS, TAB_TCP="tab_gen:3_label_8", MINE="tab_gen:macro:F_LABEL%%macro:F_L_PID")
    hosts = [HostResult("lab00", lab_rows("lab00.soho"))]
    assert fleet.fleet_table(hosts, fleet.parse_options([""], macros=macros), macros=macros).layout.names == ["label"]
    table = fleet.fleet_table(hosts, fleet.parse_options(["MINE"], macros=macros), macros=macros)
    assert table.data()["rows"][1] == {"label": "tst100", "pid": "1", "minion": "lab00"}


def test_repeated_column_names_get_suffixes():
    table = fleet.fleet_table([HostResult("m", [list_row(label="a", host="h")])],
                              choice("tab_gen:3_x_4%%1_x_4%%2_minion_4"))
    assert table.layout.names == ["x", "x_2", "minion_2"]


def test_machine_with_titleidx():
    table = fleet.fleet_table([HostResult("lab00", [list_row(host="h;x", label="tst100")])], choice("machine,titleidx"))
    lines = table.text().splitlines()
    assert lines[0] == titleidx(LIST_FIELDS)
    assert lines[1].split(";")[:3] == ["h,x", "", "tst100"]
    assert len(lines[1].split(";")) == 22
    assert table.data()["rows"][0]["label"] == "tst100"
    assert fleet.fleet_table([HostResult("m", [])], choice("machine,titleidx,terse")).text() == ""


def test_unknown_table_and_bad_index_fail():
    with pytest.raises(XenError, match="unknown table"):
        fleet.layout_for(fleet.OutputChoice(table="fancy"))
    with pytest.raises(XenError, match="not in 1..22"):
        fleet.layout_for(choice("tab_gen:30_x_4"))
    fleet.layout_for(choice("tab_gen:30_x_4", kind="enumerate"), kind="enumerate")


# --- sorting -----------------------------------------------------------------------------------------


def test_sort_by_column_name_number_and_unique():
    hosts = two_hosts()
    by_label = fleet.fleet_table(hosts, _sorted("label"))
    labels = [row["label"] for row in by_label.data()["rows"]]
    assert labels == sorted(labels)
    by_number = fleet.fleet_table(hosts, _sorted(3))
    assert [r["label"] for r in by_number.data()["rows"]] == labels
    unique = fleet.fleet_table(hosts, _sorted("label,unique", "tab_gen:3_label_10"))
    assert [r["label"] for r in unique.data()["rows"]] == ["Domain-0", "LAB00", "lab00", "lab01", "tst100", "tst101"]


def test_sort_each_keeps_hosts_in_target_order_and_numbers_sort_as_numbers():
    hosts = [HostResult("lab00", [list_row(label="b", cport="5900"), list_row(label="a", cport="900")]),
             HostResult("lab01", [list_row(label="a", cport="10")])]
    each = fleet.fleet_table(hosts, _sorted("label,each", "tab_gen:3_label_4%%9_cport_5"))
    assert [(r["minion"], r["label"]) for r in each.data()["rows"]] == [("lab00", "a"), ("lab00", "b"), ("lab01", "a")]
    ports = fleet.fleet_table(hosts, _sorted("cport", "tab_gen:3_label_4%%9_cport_5"))
    assert [r["cport"] for r in ports.data()["rows"]] == ["10", "900", "5900"]


def test_sort_by_unknown_column_fails():
    with pytest.raises(XenError, match="not a column"):
        fleet.fleet_table(two_hosts(), _sorted("nope"))
    with pytest.raises(XenError, match="not in 1..7"):
        fleet.fleet_table(two_hosts(), _sorted(8))


def _sorted(sort, table=""):
    parsed = choice(table) if table else choice()
    parsed.sort = fleet.parse_sort(sort)
    return parsed


# --- hosts that did not answer ---------------------------------------------------------------------


def test_no_response_errors_and_mine_age_are_named():
    hosts = [HostResult("lab00", lab_rows("lab00.soho"), age=42.7), HostResult("lab01"),
             HostResult("lab02", error="'xen.list' is not available.")]
    table = fleet.fleet_table(hosts, choice(), source="mine")
    data = table.data()
    assert data["no_response"] == ["lab01"]
    assert data["errors"] == {"lab02": "'xen.list' is not available."}
    assert data["age"] == {"lab00": 42.7}
    assert table.text().splitlines()[-3:] == ["lab00: mine data 42 s old", "lab01: no response",
                                              "lab02: 'xen.list' is not available."]


@pytest.mark.parametrize("value, retcode, success, expected", [
    ([{"a": 1}], 0, True, ([{"a": 1}], "")),
    ("ERROR: no running DomU matches l:x", 1, False, (None, "no running DomU matches l:x")),
    ("'xen.list' is not available.", 254, None, (None, "'xen.list' is not available.")),
    ("Traceback (most recent call last):\n  File x\nKeyError: 'y'", 0, None, (None, "KeyError: 'y'")),
    ({"label": "tst100"}, None, None, ({"label": "tst100"}, "")),
])
def test_minion_outcome(value, retcode, success, expected):
    assert fleet.minion_outcome(value, retcode, success) == expected


# --- ENUMERATE ----------------------------------------------------------------------------------------


def enum_host(minion, host):
    rows = [enum_row(host=host, label=f"tst{n}", id=f"/srv/{minion}/xen/tst{n}/tst{n}.conf", mac=mac,
                     uuid=UUID100 if n == 100 else "", category="VM")
            for n, mac in ((100, MAC100), (101, MAC101), (104, MAC104))]
    rows.append(enum_row(host=host, sesstype="PM", label=host.split(".")[0], mac="00:0E:0C:35:F8:48", category="PM"))
    return HostResult(minion, rows, extra={"problems": [], "configs": 3})


def test_tab_cport_by_enumerate_has_mac_and_no_cport():
    table = fleet.fleet_table([enum_host("lab00", "lab00.soho")], choice("macro:TAB_CPORT", kind="enumerate"),
                              kind="enumerate")
    lines = [line.rstrip() for line in table.text().splitlines()]
    assert lines[2:] == [
        "tst100    |XEN     |     |lab00.soho     |00:50:56:13:11:40 |",
        "tst101    |XEN     |     |lab00.soho     |00:50:56:13:11:41 |",
        "tst104    |XEN     |     |lab00.soho     |00:50:56:13:11:44 |",
        "lab00     |PM      |     |lab00.soho     |00:0E:0C:35:F8:48 |",
    ]


def test_enumerate_default_table_and_problems():
    host = enum_host("lab00", "lab00.soho")
    host.extra["problems"] = [{"path": "/srv/x.conf", "reason": "line 3: bad value"}, "odd"]
    table = fleet.fleet_table([host], choice(kind="enumerate"), kind="enumerate")
    assert table.layout.names == ["PM", "stype", "Label", "ID"]
    assert table.data()["problems"] == {"lab00": [{"path": "/srv/x.conf", "reason": "line 3: bad value"}, "odd"]}
    assert table.text().splitlines()[-2:] == ["lab00: problem: /srv/x.conf: line 3: bad value", "lab00: problem: odd"]


# --- conflicts and vhost ------------------------------------------------------------------------------


def test_conflicts_name_every_host_and_config():
    hosts = [enum_host("lab00", "lab00.soho"), enum_host("lab01", "lab01.soho")]
    hosts[1].records.append(enum_row(host="lab01.soho", label="tst100", id="/srv/lab01/xen/tst100/tst100-inst.conf",
                                     mac=MAC100.upper()))
    found = fleet.find_conflicts(hosts)
    mac100 = next(c for c in found if c["kind"] == "mac" and c["value"] == MAC100)
    assert mac100["configs"] == [
        {"minion": "lab00", "host": "lab00.soho", "config": "/srv/lab00/xen/tst100/tst100.conf"},
        {"minion": "lab01", "host": "lab01.soho", "config": "/srv/lab01/xen/tst100/tst100.conf"},
        {"minion": "lab01", "host": "lab01.soho", "config": "/srv/lab01/xen/tst100/tst100-inst.conf"},
    ]
    assert {(c["kind"], c["value"]) for c in found} >= {("uuid", UUID100), ("label", "tst104")}
    assert not any(c["value"] == "00:0e:0c:35:f8:48" for c in found)  # PM rows are hosts, not configs
    assert "kind |value" in fleet.conflicts_text(found, hosts).splitlines()[0]


def test_one_config_with_several_records_is_no_conflict():
    host = HostResult("lab00", [enum_row(label="a", id="/a.conf", mac=MAC100, tcp="10.0.0.1"),
                                enum_row(label="a", id="/a.conf", mac=MAC100, tcp="10.0.0.2")])
    assert fleet.find_conflicts([host]) == []
    assert fleet.conflicts_text([], [host]) == "no duplicate MAC, UUID or label"
    assert fleet.find_conflicts([host, HostResult("lab01", [enum_row(label="b", id="/b.conf", mac=MAC100)])],
                                ("mac",))[0]["value"] == MAC100


def test_parse_kinds():
    assert fleet.parse_kinds(None) == ("mac", "uuid", "label")
    assert fleet.parse_kinds("label,mac") == ("mac", "label")
    with pytest.raises(XenError, match="unknown conflict kind"):
        fleet.parse_kinds("ip")


def test_vhost_matches_and_text():
    hosts = [HostResult("lab00", [{"label": "tst100", "path": "/a/tst100.conf", "uuid": UUID100, "macs": [MAC100]}]),
             HostResult("lab01", []), HostResult("lab02")]
    matches = fleet.vhost_matches(hosts)
    assert matches == [{"label": "tst100", "path": "/a/tst100.conf", "uuid": UUID100, "macs": [MAC100],
                        "minion": "lab00"}]
    lines = fleet.vhost_text(matches, hosts).splitlines()
    assert lines[0] == "minion|label |uuid                            |MAC              |config"
    assert lines[-1] == "lab02: no response"


# --- plans ----------------------------------------------------------------------------------------------

KNOWN = ("lab00", "lab01")


def find(tgt):
    import fnmatch  # pylint: disable=import-outside-toplevel
    return [m for m in KNOWN if fnmatch.fnmatch(m, tgt)]


def test_plan_of_the_seed_is_accepted_in_order():
    plan = [{"tgt": "lab00", "address": "f:xen/tst-ctys/tst100/tst100.conf,CONSOLE:none"},
            {"tgt": "lab00", "address": "f:xen/tst-ctys/tst101/tst101.conf,CONSOLE:none"},
            {"tgt": "lab01", "address": "l:tst101", "console": "none"}]
    entries = fleet.parse_plan(plan, "create", find)
    assert [(e.number, e.minion) for e in entries] == [(1, "lab00"), (2, "lab00"), (3, "lab01")]
    assert entries[2].kwargs == {"console": "none"}


def test_plan_as_yaml_or_json_text_or_one_dict():
    text = '[{"tgt": "lab00", "address": "l:tst100"}]'
    assert fleet.parse_plan(text, "create", find)[0].address == "l:tst100"
    assert fleet.parse_plan("- {tgt: lab01, address: 'l:tst100,POWEROFF:0'}", "cancel", find)[0].minion == "lab01"
    assert fleet.parse_plan({"tgt": "lab01", "address": "l:tst100"}, "cancel", find)[0].number == 1


def test_bad_plan_names_every_bad_entry_and_nothing_is_returned():
    plan = [{"tgt": "lab00", "address": "l:tst100"},
            {"tgt": "lab9", "address": "l:tst101"},
            {"tgt": "lab*", "address": "l:tst101"},
            {"tgt": "lab00", "address": "q:what"},
            {"tgt": "lab00", "address": "l:tst100,CONSOLE:xterm"},
            {"tgt": "lab00", "address": "l:tst104", "colour": "red"},
            "lab00 l:tst100",
            {"tgt": "lab00", "address": "l:tst100"}]
    with pytest.raises(XenError) as err:
        fleet.parse_plan(plan, "create", find)
    message = str(err.value)
    assert message.startswith("plan refused, nothing was done: ")
    for number in (2, 3, 4, 5, 6, 7, 8):
        assert f"entry {number}:" in message
    assert "entry 1:" not in message
    assert "matches no known minion" in message and "matches 2 minions (lab00, lab01)" in message
    assert "needs a desktop" in message and "unknown key(s) colour" in message and "repeats entry 1" in message
    assert "\n" not in message


@pytest.mark.parametrize("entry, message", [
    ({"tgt": "lab00", "address": "l:tst100", "mode": "explode"}, "unknown cancel mode"),
    ({"tgt": "lab00", "address": "l:tst100,SELF"}, "SELF"),
    ({"tgt": "lab00", "address": "l:tst100,CLIENT"}, "CLIENT"),
    ({"tgt": "lab00", "address": "l:tst100,CONSOLE:none"}, "CONSOLE"),  # a CREATE suboption
])
def test_bad_cancel_entries(entry, message):
    with pytest.raises(XenError, match=message):
        fleet.parse_plan([entry], "cancel", find)


@pytest.mark.parametrize("plan", [None, [], "", "[unclosed", 42])
def test_plan_that_is_no_list(plan):
    with pytest.raises(XenError, match="plan"):
        fleet.load_plan(plan)


class FakeJobs:
    """Jobs that finish when the fake clock passes their duration; entries fail on request."""

    def __init__(self, durations, failing=(), unstartable=()):
        self.now = 0.0
        self.durations = durations  # entry number -> seconds
        self.failing = set(failing)
        self.unstartable = set(unstartable)
        self.started = []  # (time, entry number)
        self.jobs = {}

    def clock(self):
        return self.now

    def start(self, entry):
        if entry.number in self.unstartable:
            raise XenError("could not publish")
        self.started.append((self.now, entry.number))
        job_id = f"j{entry.number}"
        self.jobs[job_id] = (entry, self.now + self.durations.get(entry.number, 1.0))
        return job_id

    def collect(self, job_ids, wait):
        self.now += max(wait, 0.25)  # time passes while waiting
        done = []
        for job_id in job_ids:
            entry, finish = self.jobs[job_id]
            if finish <= self.now:
                error = "no running DomU matches" if entry.number in self.failing else ""
                done.append((job_id, None if error else {"label": f"e{entry.number}", "action": "created"}, error))
        return done


def entries(*minions):
    return [PlanEntry(number, minion, f"l:e{number}") for number, minion in enumerate(minions, start=1)]


def test_plan_runs_same_host_in_order_and_hosts_in_parallel_and_survives_a_failure():
    jobs = FakeJobs({1: 2.0, 2: 1.0, 3: 1.0}, failing={1})
    seen = []
    results = fleet.PlanRun(entries("lab00", "lab00", "lab01"), jobs.start, jobs.collect, timeout=30,
                            clock=jobs.clock, on_result=seen.append).run()
    starts = dict((number, time) for time, number in jobs.started)
    assert starts[1] == 0 and starts[3] == 0  # lab00's first and lab01's entry at once
    assert starts[2] >= 2.0  # lab00's second only after its first finished
    assert [r["entry"] for r in results] == [1, 2, 3]
    assert results[0] == {"entry": 1, "minion": "lab00", "address": "l:e1", "error": "no running DomU matches"}
    assert results[1]["result"] == {"label": "e2", "action": "created"}
    assert len(seen) == 3
    assert fleet.plan_text(results).splitlines()[-1] == "2 done, 1 failed"


def test_plan_timeout_skips_the_rest_of_that_host_only():
    jobs = FakeJobs({1: 100.0, 3: 1.0})
    results = fleet.PlanRun(entries("lab00", "lab00", "lab01"), jobs.start, jobs.collect, timeout=5,
                            clock=jobs.clock).run()
    assert results[0]["error"].startswith("no response within 5 s")
    assert results[1]["error"] == "skipped: entry 1 on lab00 did not finish"
    assert "result" in results[2]


def test_plan_entry_that_cannot_be_published_fails_alone():
    jobs = FakeJobs({}, unstartable={1})
    results = fleet.PlanRun(entries("lab00", "lab00"), jobs.start, jobs.collect, timeout=5, clock=jobs.clock).run()
    assert results[0]["error"] == "could not publish"
    assert "result" in results[1]


def test_plan_outcome_texts():
    assert fleet.plan_outcome({"result": {"action": "created", "label": "tst100", "domid": 3}}) == \
        "created tst100 (domid 3)"
    assert fleet.plan_outcome({"result": {"result": "destroyed", "label": "tst100", "domid": 3}}) == \
        "destroyed tst100 (domid 3)"
    assert fleet.plan_outcome({"result": [{"result": "shutdown", "label": "a"}, {"result": "shutdown", "label": "b"}]}) \
        == "shutdown a; shutdown b"
    assert fleet.plan_outcome({"error": "boom"}) == "error: boom"


def test_fixed_width_text_matches_tables_tab_gen():
    """The fast tab_gen renderer gives exactly tables.tab_gen(...).render(), cut flags included."""
    rng = random.Random(11)
    spec = "tab_gen:3_Label_6%%4_ID_8_L%%5_UUID_5_B%%9_cport_5%%1_PM_4"
    layout = fleet.layout_for(choice(spec))
    words = ["", "tst100", "/srv/xen/tst100/tst100.conf", UUID100, "5900", "lab00.soho", "x" * 13]
    for _ in range(200):
        records = [list_row(label=rng.choice(words), id=rng.choice(words), uuid=rng.choice(words),
                            cport=rng.choice(words), host=rng.choice(words)) for _ in range(rng.randint(0, 4))]
        ours = fleet.fleet_table([HostResult("m", records)], choice(spec)).table_text()
        assert ours == tables.tab_gen(records, layout.columns, layout.fields).render()
