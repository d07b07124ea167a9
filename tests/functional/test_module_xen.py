"""The execution module ``xen`` through Salt's real loader, against a simulated Xen host.

Every seed action on one host (CREATE, CANCEL, LIST, ENUMERATE, SHOW, INFO, resolve, vhost) and
the failure paths: hung toolstack, a guest that ignores shutdown, resume without a state file,
suspend onto an existing file, ambiguous and unknown addresses.
"""

import os
import shutil
import time

import pytest
from salt.exceptions import CommandExecutionError

from seedtree import SEED_DOMUS, write_seed_tree
from xlsim import control

TST100_UUID, TST100_MAC, TST100_IP = SEED_DOMUS["tst100"]


@pytest.fixture(scope="module")
def seed(functional_host):
    return write_seed_tree(functional_host.base_dir)


@pytest.fixture
def opts(loaders):
    """The loader's own options: what ``config.get('xen:...')`` reads in the module."""
    return loaders.opts


@pytest.fixture
def xen(loaders, functional_host, opts, seed, tmp_path):
    """A fresh simulated host for each test (no domains, no faults) and the module's functions."""
    control.make_host(str(functional_host.state_dir))
    options = opts["xen"]
    options.update(save_dir=str(tmp_path / "save"), hostname="lab00.soho", poll_interval=0.05, timeout=10,
                   list_clients=False)
    shutil.rmtree(os.path.join(opts["cachedir"], "xen"), ignore_errors=True)
    return loaders.modules.xen


def domains(functional_host):
    return {d["name"]: d for d in control.read_state(str(functional_host.state_dir))["domains"]}


# --- CREATE ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("address", [
    "f:xen/tst-ctys/tst100/tst100.conf,CONSOLE:none",
    "f:tst-ctys/tst100/tst100.conf",
    "f:tst100/tst100.conf",
    "l:tst100,CONSOLE:none",
    f"u:{TST100_UUID}",
    "U:6842CAF9-1E3E-4324-9ED5-96B8B9F2C5C2",
    f"m:{TST100_MAC}",
    "MAC:00-50-56-13-11-40",
    f"t:{TST100_IP}",
    "tst100",
])
def test_create_by_every_address_form(xen, functional_host, address):
    session = xen.create(address)
    assert session["label"] == "tst100" and session["started"] is True and session["action"] == "created"
    assert session["config"].endswith("xen/tst-ctys/tst100/tst100.conf")
    running = domains(functional_host)
    assert running["tst100"]["domid"] == session["domid"]


def test_create_by_path_and_id(xen, seed):
    assert xen.create(f"p:{seed['tst100']},CONSOLE:cli")["connect"]["command"].endswith("console tst100")
    assert xen.create(f"i:{seed['tst100']},CONSOLE:cli,connect")["action"] == "connected"


def test_create_vnc_returns_port_display_and_tunnel(xen):
    session = xen.create("f:xen/tst-ctys/tst100/tst100.conf,CONSOLE:vnc")
    assert session["vnc"] == {"host": "lab00.soho", "port": 5900, "display": 0}
    assert session["connect"]["viewer"] == "vncviewer lab00.soho:0"
    assert "-L 5950:127.0.0.1:5900" in session["connect"]["tunnel"]
    second = xen.create("l:tst101,CONSOLE:vnc")
    assert second["vnc"]["port"] == 5901  # vncunused=1: the next free port


def test_already_running_without_connect_is_an_error_and_connect_starts_nothing(xen, functional_host):
    first = xen.create("l:tst100")
    with pytest.raises(CommandExecutionError, match="already running"):
        xen.create("l:tst100")
    again = xen.create("l:tst100,CONSOLE:cli,connect")
    assert again["started"] is False and again["domid"] == first["domid"]
    assert len(domains(functional_host)) == 2  # Domain-0 and tst100, nothing new


def test_connect_to_a_stopped_domu_is_an_error_and_reuse_starts_it(xen, functional_host):
    with pytest.raises(CommandExecutionError, match="not running"):
        xen.create("l:tst100,connect")
    assert "tst100" not in domains(functional_host)
    assert xen.create("l:tst100,REUSE")["started"] is True


def test_desktop_consoles_are_refused_with_the_salt_way(xen, functional_host):
    with pytest.raises(CommandExecutionError, match="console=vnc"):
        xen.create("f:xen/tst-ctys/tst100/tst100.conf,CONSOLE:xterm")
    assert "tst100" not in domains(functional_host)


def test_create_paused(xen, functional_host):
    xen.create("l:tst100", paused=True)
    assert domains(functional_host)["tst100"]["paused"] is True
    assert xen.status("l:tst100")["state"] == "paused"


def test_resume_without_a_state_file_touches_nothing(xen, functional_host):
    with pytest.raises(CommandExecutionError, match="no state file"):
        xen.create("l:tst100,RESUME:/nonexistent/mystate.stat")
    assert "tst100" not in domains(functional_host)


def test_suspend_then_resume_through_the_default_state_file(xen, opts, functional_host):
    xen.create("l:tst100")
    saved = xen.cancel("l:tst100,SUSPEND")
    statefile = os.path.join(opts["xen"]["save_dir"], "tst100.save")
    assert saved["statefile"] == statefile and os.path.isfile(statefile)
    assert "tst100" not in domains(functional_host)
    assert xen.status("tst100")["state"] == "saved"
    session = xen.create("l:tst100,RESUME,CONSOLE:VNC")
    assert session["action"] == "restored" and session["vnc"]["port"] >= 5900
    assert "tst100" in domains(functional_host)
    assert not os.path.exists(statefile)  # restored once: never restored again


def test_suspend_onto_an_existing_file_is_refused_and_the_file_is_intact(xen, tmp_path, functional_host):
    xen.create("l:tst100")
    existing = tmp_path / "mystate.stat"
    existing.write_bytes(b"precious")
    with pytest.raises(CommandExecutionError, match="refusing to overwrite"):
        xen.cancel("l:tst100,SUSPEND", statefile=str(existing))
    assert existing.read_bytes() == b"precious"
    assert "tst100" in domains(functional_host)


# --- CANCEL ----------------------------------------------------------------------------------------


def test_poweroff_zero_destroys_at_once(xen, functional_host):
    xen.create("l:tst100")
    result = xen.cancel("l:tst100,POWEROFF:0")
    assert result["mode"] == "poweroff" and result["result"] in ("shutdown", "destroyed")
    assert "tst100" not in domains(functional_host)


def test_poweroff_graceful_when_the_guest_cooperates(xen, functional_host):
    xen.create("l:tst100")
    assert xen.cancel("l:tst100", timeout=10)["result"] == "shutdown"
    assert "tst100" not in domains(functional_host)


def test_a_guest_that_ignores_shutdown_is_destroyed_after_the_timeout(xen, functional_host):
    xen.create("l:tst100")
    control.set_fault(str(functional_host.state_dir), ignore_shutdown=["tst100"])
    started = time.monotonic()
    result = xen.cancel("l:tst100,POWEROFF:1")
    assert result["result"] == "destroyed"
    assert time.monotonic() - started >= 1.0
    assert "tst100" not in domains(functional_host)


def test_shutdown_with_wait_reports_a_guest_that_stays(xen, functional_host):
    xen.create("l:tst100")
    control.set_fault(str(functional_host.state_dir), ignore_shutdown=["tst100"])
    with pytest.raises(CommandExecutionError, match="did not shut down within 0.5 s"):
        xen.shutdown("l:tst100", wait=True, timeout=0.5)
    assert "tst100" in domains(functional_host)  # not destroyed: shutdown never destroys


@pytest.mark.parametrize("address", ["l:tst100,PAUSE", "l:tst100,FORCE,PAUSE", "l:tst100,S3"])
def test_pause_and_unpause(xen, functional_host, address):
    xen.create("l:tst100")
    assert xen.cancel(address)["result"] == "paused"
    assert domains(functional_host)["tst100"]["paused"] is True
    assert xen.unpause("l:tst100")["result"] == "unpaused"
    assert domains(functional_host)["tst100"]["paused"] is False


@pytest.mark.parametrize("address", ["l:tst100,REBOOT", "l:tst100,FORCE,REBOOT", "l:tst100,RESET",
                                     "l:tst100,FORCE,RESET", "l:tst100,FORCE,INIT:6"])
def test_reboot_and_pv_reset_give_a_new_domid(xen, functional_host, address):
    before = xen.create("l:tst100")["domid"]
    assert xen.cancel(address)["result"] == "rebooted"
    # xl reboot returns at once; xl's monitor restarts the guest (new domid) once it is down
    deadline = time.monotonic() + 30
    while domains(functional_host).get("tst100", {}).get("domid", before) == before:
        assert time.monotonic() < deadline, "tst100 was not restarted with a new domid"
        time.sleep(0.1)


def test_hvm_reset_is_the_reset_trigger_and_keeps_the_domid(xen, functional_host):
    folder = functional_host.base_dir / "hvm" / "win7"
    folder.mkdir(parents=True)
    (folder / "win7.cfg").write_text(
        'name = "win7"\ntype = "hvm"\nmemory = 256\nvcpus = 1\ndisk = [ "file:/x/win7.img,hda,w" ]\n'
        'vif = [ "mac=00:16:3e:00:00:07" ]\n')
    try:
        before = xen.create("l:win7")["domid"]
        assert xen.reset("l:win7")["result"] == "rebooted"
        assert domains(functional_host)["win7"]["domid"] == before
    finally:
        shutil.rmtree(functional_host.base_dir / "hvm")


def test_reboot_by_pathname_with_force(xen, seed, functional_host):
    before = xen.create("l:tst100")["domid"]
    assert xen.cancel(f"FORCE,REBOOT,p:{seed['tst100']}")["result"] == "rebooted"
    deadline = time.monotonic() + 30
    while domains(functional_host).get("tst100", {}).get("domid", before) == before:
        assert time.monotonic() < deadline, "tst100 was not restarted with a new domid"
        time.sleep(0.1)


def test_init_zero_is_a_graceful_poweroff_and_other_levels_are_refused(xen, functional_host):
    xen.create("l:tst100")
    with pytest.raises(CommandExecutionError, match="INIT:3 is refused"):
        xen.cancel("l:tst100,INIT:3")
    assert "tst100" in domains(functional_host)
    assert xen.cancel("l:tst100,INIT:0")["result"] == "shutdown"
    assert "tst100" not in domains(functional_host)


def test_cancel_of_an_address_that_matches_nothing_touches_nothing(xen, functional_host):
    xen.create("l:tst100")
    xen.create("l:tst101")
    with pytest.raises(CommandExecutionError, match="no running DomU matches l:tst10"):
        xen.cancel("l:tst10,POWEROFF:0")  # ctys' regex would have hit tst100 and tst101
    assert {"tst100", "tst101"} <= set(domains(functional_host))


def test_cancel_all_stops_every_domu_but_domain0(xen, functional_host):
    xen.create("l:tst100")
    xen.create("l:tst101")
    results = xen.cancel("ALL,POWEROFF:0")
    assert sorted(r["label"] for r in results) == ["tst100", "tst101"]
    assert set(domains(functional_host)) == {"Domain-0"}


def test_cancel_refuses_self_and_client(xen):
    with pytest.raises(CommandExecutionError, match="SELF"):
        xen.cancel("l:tst100,SELF")
    with pytest.raises(CommandExecutionError, match="CLIENT"):
        xen.cancel("l:tst100,CLIENT")


# --- ambiguity, bad input, hung toolstack ---------------------------------------------------------


def test_ambiguous_address_lists_every_candidate_and_starts_nothing(xen, functional_host, seed):
    copy = functional_host.base_dir / "backup" / "tst100"
    shutil.copytree(os.path.dirname(seed["tst100"]), copy)
    try:
        with pytest.raises(CommandExecutionError) as err:
            xen.create("l:tst100")
        message = str(err.value)
        assert "backup/tst100/tst100.conf" in message and "xen/tst-ctys/tst100/tst100.conf" in message
        assert "\n" not in message
        assert "tst100" not in domains(functional_host)
        # more address parts resolve it, as the seed advises
        assert xen.create("l:tst100,f:xen/tst-ctys/tst100/tst100.conf")["started"] is True
        assert len(xen.vhost("l:tst100", all=True)) == 2
    finally:
        shutil.rmtree(functional_host.base_dir / "backup")


@pytest.mark.parametrize("address,message", [
    ("", "address"), ("l:", "needs a value"), ("zz:tst100", "unknown key"),
    ("m:00:50:56:13:11", "MAC"), ("u:1234", "UUID"), ("p:relative/x.conf", "absolute"),
    ("f:../../etc/passwd", ".."), ("l:tst100\x00", "NUL"), ("l:nosuch", "no DomU matches"),
])
def test_bad_addresses_are_one_line_errors(xen, functional_host, address, message):
    with pytest.raises(CommandExecutionError, match=message) as err:
        xen.create(address)
    assert "\n" not in str(err.value)
    assert set(domains(functional_host)) == {"Domain-0"}


def test_unknown_keyword_arguments_are_refused(xen):
    with pytest.raises(CommandExecutionError, match="unknown argument"):
        xen.create("l:tst100", consol="vnc")


def test_hung_toolstack_is_an_error_after_the_timeout(xen, opts, functional_host):
    opts["xen"]["timeout"] = 1
    control.set_fault(str(functional_host.state_dir), hang=True)
    started = time.monotonic()
    with pytest.raises(CommandExecutionError, match="timed out|did not answer"):
        xen.list()
    assert time.monotonic() - started < 8


def test_failing_toolstack_is_a_one_line_error(xen, functional_host):
    control.set_fault(str(functional_host.state_dir), fail_next=1, verbs=["create"],
                      stderr="libxl: error: libxl_create.c: simulated failure")
    with pytest.raises(CommandExecutionError, match="simulated failure") as err:
        xen.create("l:tst100")
    assert "\n" not in str(err.value)


# --- LIST, ENUMERATE, SHOW, INFO, resolve, vhost -----------------------------------------------------


def test_list_rows_with_config_association(xen):
    xen.create("l:tst100,CONSOLE:vnc")
    rows = xen.list()
    labels = [(r["label"], r["sesstype"]) for r in rows]
    assert labels == [("Domain-0", "XEN"), ("tst100", "XEN"), ("lab00", "PM")]
    tst100 = rows[1]
    assert tst100["id"].endswith("xen/tst-ctys/tst100/tst100.conf") and tst100["config_source"] == "created"
    assert (tst100["mac"], tst100["tcp"], tst100["cport"], tst100["display"]) == (TST100_MAC, TST100_IP,
                                                                                   "5900", "0")
    assert tst100["pid"] == str(xen.status("l:tst100")["domid"])
    assert tst100["hyperrelrun"].startswith("xen-4.") and tst100["arch"] == "x86_64"
    assert tst100["accelerator"] == "PARA" and tst100["state"]


def test_list_keeps_xl_info_static_part_and_info_stays_live(xen, opts, functional_host):
    xen.create("l:tst100")
    first = xen.list()
    assert os.path.isfile(os.path.join(opts["cachedir"], "xen", "xlinfo.json"))
    control.set_fault(str(functional_host.state_dir), fail_next=5, verbs=["info"], rc=1,
                      stderr="libxl: error: libxl_x.c:1:f: simulated failure")
    second = xen.list()  # no xl info: the kept static part
    assert [(r["label"], r["hyperrelrun"], r["arch"]) for r in second] == [
        (r["label"], r["hyperrelrun"], r["arch"]) for r in first]
    assert first[1]["hyperrelrun"] == "xen-4.17.7"
    with pytest.raises(CommandExecutionError, match="simulated failure"):
        xen.info()  # live
    with pytest.raises(CommandExecutionError, match="simulated failure"):
        xen.list(cache=False)  # live too


def test_list_machine_titleidx_and_types(xen):
    xen.create("l:tst100")
    lines = xen.list("machine,titleidx")
    assert lines[0].startswith("ContainingMachine(1);SessionType(2);Label(3)") and lines[0].endswith("ARCH(22)")
    assert all(len(line.split(";")) == 22 for line in lines)
    assert [r["sesstype"] for r in xen.list(types="pm")] == ["PM"]
    assert {r["label"] for r in xen.list(types="xen")} == {"Domain-0", "tst100"}
    with pytest.raises(CommandExecutionError, match="unknown output option"):
        xen.list("machine,fancy")


def test_enumerate_records_and_base_in_the_option_string(xen, functional_host):
    data = xen.enumerate()
    labels = sorted(r["label"] for r in data["records"] if r["sesstype"] == "XEN")
    assert labels == ["tst100", "tst101", "tst104"]  # the .ctys side files carry MAGICID-IGNORE
    tst100 = next(r for r in data["records"] if r["label"] == "tst100")
    assert (tst100["mac"], tst100["tcp"], tst100["dist"], tst100["cport"]) == (TST100_MAC, TST100_IP, "CentOS", "")
    lines = xen.enumerate(f"machine,titleidx,b:{functional_host.base_dir}/xen/tst-ctys/tst101")
    assert lines["records"][0].startswith("ContainingMachine(1)") and lines["records"][0].endswith("DefCONSOLE(47)")
    assert [line.split(";")[2] for line in lines["records"][1:]] == ["tst101", "lab00"]
    assert xen.enumerate(cache=False)["configs"] == 3


def test_show_and_info(xen):
    xen.create("l:tst100")
    shown = xen.show()
    assert shown["running"] == 1 and {d["name"] for d in shown["domains"]} == {"Domain-0", "tst100"}
    assert shown["xen"]["free_memory"] >= 0 and shown["uptime_seconds"] > 0
    info = xen.info()
    assert info["toolstack"] == "xl" and info["xen_version"].startswith("4.")
    assert info["arch"] == "x86_64" and info["privilege"] == "none" and info["module_version"]


def test_resolve_and_vhost(xen, seed):
    assert xen.resolve("f:tst100/tst100.conf")["path"] == seed["tst100"]
    assert xen.resolve(f"m:{TST100_MAC}")["uuid"] == TST100_UUID
    with pytest.raises(CommandExecutionError, match="no DomU matches"):
        xen.resolve("f:xtst100/tst100.conf")
    assert [v["label"] for v in xen.vhost("l:tst104")] == ["tst104"]


def test_poweroff_survives_destroy_racing_the_xl_monitor(xen, functional_host):
    """Real xl 4.17 (real-Xen lab): destroying a domain the xl monitor is already reaping exits 1
    with ``destroy failed (rc=-15)`` while the domain goes away; that is not a failed poweroff."""
    control.set_fault(str(functional_host.state_dir), shutdown_seconds=0.1, reap_seconds=5)
    xen.create("l:tst100")
    result = xen.cancel("l:tst100,POWEROFF:1")
    assert result["result"] == "destroyed"
    assert "tst100" not in domains(functional_host)


def test_a_domu_being_rebuilt_after_reboot_is_starting_and_found_by_mac(xen, functional_host):
    """Real xl: while the monitor rebuilds a rebooted domain, ``xl list -l`` leaves it out and
    ``xl list`` shows it paused; it is "starting", and m:MAC still finds it (config's MACs)."""
    control.set_fault(str(functional_host.state_dir), shutdown_seconds=0, reap_seconds=0, rebuild_seconds=60)
    xen.create("l:tst100")
    xen.reboot("l:tst100")
    deadline = time.monotonic() + 30
    while xen.status("l:tst100")["state"] != "starting":
        assert time.monotonic() < deadline, "the rebuilt domain never showed as starting"
        time.sleep(0.1)
    assert xen.status(f"m:{TST100_MAC}")["label"] == "tst100"
    assert xen.cancel(f"m:{TST100_MAC},PAUSE")["label"] == "tst100"
