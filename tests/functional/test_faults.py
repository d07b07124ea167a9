"""Faults through the simulated host, with the ``xen`` module in Salt's real loader (issue 9).

Already covered in test_module_xen.py and not repeated here: a hung ``xl list`` is an error after
the timeout (timing), a failing ``xl create`` is a one-line error.  Here:

* a hung toolstack in a long call (create, save): the error comes after ``long_timeout``, the
  xl process and the helper it forked are gone, the DomU lock is free again;
* a failing ``xl save``: one-line error, the DomU still runs, no state file, no partial file;
* ``xl save`` that writes part of the file and then dies (SIGKILL) or hangs: SUSPEND fails, the
  default state file does not exist, nothing ``.partial`` is left, a later RESUME says
  "no state file";
* the caller itself killed in the middle of a save (a minion job process dying): the partial
  file stays for the operator (it may be the only image of the DomU), and is never taken for
  the state file: status "off", RESUME "no state file";
* disk full under the minion's ``cachedir/xen`` (a real 256 KiB tmpfs when mount is allowed,
  else ``atomic_write`` raising ENOSPC): the previous inventory cache stays readable, LIST and
  ENUMERATE still answer with fresh data, no temporary file is left; CREATE still starts the DomU
  (the config association is a hint);
* ``save_dir`` on a full disk: SUSPEND fails cleanly, the DomU keeps running;
* hostile input through the module: addresses with ``$(...)``, backticks, ``;``, ``|`` start
  nothing and run nothing; a config whose name and folder hold shell metacharacters is started
  and stopped with each reaching xl as ONE argv element (an argv-recording shim in front of the
  simulator); a 300-character label; ``..``; NUL bytes in arguments (possible through salt-api);
  a folder symlink to a pool outside a base path (read as data, by design) and a file symlink to
  a secret (shows nothing); a non-UTF-8 file name (returns stay sendable by Salt).

A minion that is down during a fleet LIST is covered by tests/integration/test_runner_xen.py
(``test_stopped_minion_is_no_response_and_the_others_rows_come_in_time``).
"""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from salt.exceptions import CommandExecutionError

from harness import UTILS_DIR, XLSIM_DIR
from seedtree import write_seed_tree
from xenctys.discovery import DEFAULT_MAX_BYTES
from xlsim import control

# A stand-in for xl in the host's bin folder (first on PATH): "save" writes the head of a save
# file to its last argument, then MODE; every other verb is the simulator's.
XL_SHIM = """#!/bin/sh
if [ "$1" = "save" ]; then
    for last in "$@"; do :; done
    printf 'Xen saved domain, xl format\\n \\000 \\r{"xlsim": 1, "domain": {"name": "tst' > "$last"
    echo "Saving to $last new xl format (info 0x3/0x0/1020)" >&2
    echo $$ >> "{pidfile}"
    case "{mode}" in
        die) kill -9 $$ ;;
        hang) exec sleep 3600 ;;
    esac
fi
exec "{xl}" "$@"
"""


@pytest.fixture(scope="module")
def seed(functional_host):
    return write_seed_tree(functional_host.base_dir)


@pytest.fixture
def xen(loaders, functional_host, seed, tmp_path):
    """A fresh simulated host (no domains, no faults, no shim) and the module's functions."""
    control.make_host(str(functional_host.state_dir))
    options = loaders.opts["xen"]
    options.update(save_dir=str(tmp_path / "save"), hostname="lab00.soho", poll_interval=0.05, timeout=10,
                   long_timeout=30, list_clients=False)
    yield loaders.modules.xen
    shim = functional_host.bin_dir / "xl"
    if shim.exists():
        shim.unlink()


@pytest.fixture
def xen_dir(loaders):
    return os.path.join(loaders.opts["cachedir"], "xen")


def install_shim(functional_host, tmp_path, mode):
    pidfile = tmp_path / "shim.pids"
    shim = functional_host.bin_dir / "xl"
    shim.write_text(XL_SHIM.replace("{mode}", mode).replace("{pidfile}", str(pidfile))
                    .replace("{xl}", str(XLSIM_DIR / "xl")), encoding="utf-8")
    shim.chmod(0o755)
    return pidfile


def gone(pid):
    """True when ``pid`` has exited (no process, or a zombie waiting for its reaper)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def wait_gone(pids, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(gone(pid) for pid in pids):
        time.sleep(0.05)
    return [pid for pid in pids if not gone(pid)]


def running(functional_host):
    return sorted(name for name in control.domains(str(functional_host.state_dir)) if name != "Domain-0")


def leftovers(folder):
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


# --- hung toolstack in a long call --------------------------------------------------------------------


def test_hung_create_is_killed_with_its_helper_and_the_lock_is_free_again(xen, loaders, functional_host):
    loaders.opts["xen"]["long_timeout"] = 1
    control.set_fault(str(functional_host.state_dir), hang=["create"])
    started = time.monotonic()
    with pytest.raises(CommandExecutionError, match=r"xl create did not answer within 1 s: killed"):
        xen.create("l:tst100")
    assert time.monotonic() - started < 15  # 1 s + kill grace, generous on a shared machine
    pids = control.wait_hang_pids(str(functional_host.state_dir), count=2)
    assert len(pids) == 2, pids  # the xl process and the "sleep" it forked
    assert wait_gone(pids) == [], "a hung xl or its helper survived the timeout"
    control.clear_faults(str(functional_host.state_dir))
    assert xen.create("l:tst100")["action"] == "created"  # the DomU lock was released
    assert running(functional_host) == ["tst100"]


def test_hung_save_leaves_no_state_file_no_partial_and_no_process(xen, loaders, functional_host, tmp_path):
    xen.create("l:tst100")
    loaders.opts["xen"]["long_timeout"] = 1
    pidfile = install_shim(functional_host, tmp_path, "hang")
    save_dir = loaders.opts["xen"]["save_dir"]
    with pytest.raises(CommandExecutionError, match=r"xl save did not answer within 1 s: killed"):
        xen.cancel("l:tst100,SUSPEND")
    assert wait_gone([int(p) for p in pidfile.read_text().split()]) == []
    assert leftovers(save_dir) == []  # the partial head was removed, no tst100.save
    assert running(functional_host) == ["tst100"]
    assert xen.status("l:tst100")["state"] == "running"


# --- failing toolstack ------------------------------------------------------------------------------


def test_failing_save_is_one_line_and_the_domu_keeps_running(xen, loaders, functional_host):
    xen.create("l:tst100")
    control.set_fault(str(functional_host.state_dir), fail_next=1, verbs=["save"],
                      stderr="xc: error: Failed to write page data: Input/output error\n"
                             "libxl: error: libxl_stream_write.c:350:libxl__xc_domain_save_done: saving domain: "
                             "domain did not respond to suspend request: Input/output error")
    with pytest.raises(CommandExecutionError, match="xl save failed: xc: error: Failed to write page data") as err:
        xen.cancel("l:tst100,SUSPEND")
    assert "\n" not in str(err.value)
    assert leftovers(loaders.opts["xen"]["save_dir"]) == []
    assert running(functional_host) == ["tst100"]


# --- a save that crashes half-way -----------------------------------------------------------------------


def test_save_that_dies_half_way_is_never_taken_for_a_state_file(xen, loaders, functional_host, tmp_path):
    xen.create("l:tst100")
    install_shim(functional_host, tmp_path, "die")
    save_dir = loaders.opts["xen"]["save_dir"]
    with pytest.raises(CommandExecutionError, match="xl save failed: exit status -9"):
        xen.cancel("l:tst100,SUSPEND")
    assert leftovers(save_dir) == []  # neither tst100.save nor the half-written partial
    assert xen.status("l:tst100")["state"] == "running"
    xen.destroy("l:tst100")
    assert xen.status("l:tst100")["state"] == "off"
    with pytest.raises(CommandExecutionError, match="no state file"):
        xen.create("l:tst100,RESUME")
    assert running(functional_host) == []


CALLER_KILLED_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {utils!r})
    from xenctys.lifecycle import HostSettings, XenHost
    from xenctys.toolstack import Toolstack
    settings = HostSettings(base_paths=[{base!r}], cache_file=None, assoc_file={assoc!r}, lock_dir={locks!r},
                            save_dir={save!r})
    XenHost(Toolstack("xl"), settings).save("tst100", {statefile!r})
""")


def test_caller_killed_mid_save_leaves_a_partial_that_resume_never_uses(xen, loaders, functional_host, tmp_path,
                                                                        xen_dir):
    xen.create("l:tst100")
    pidfile = install_shim(functional_host, tmp_path, "hang")
    save_dir = loaders.opts["xen"]["save_dir"]
    statefile = os.path.join(save_dir, "tst100.save")
    script = CALLER_KILLED_SCRIPT.format(utils=str(UTILS_DIR), base=str(functional_host.base_dir),
                                         assoc=os.path.join(xen_dir, "associations.json"),
                                         locks=os.path.join(xen_dir, "locks"), save=save_dir, statefile=statefile)
    caller = subprocess.Popen([sys.executable, "-c", script], env=dict(os.environ))  # pylint: disable=consider-using-with
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (pidfile.exists() and pidfile.read_text().strip()):
            time.sleep(0.05)
        assert pidfile.exists(), "the save never started"
        caller.send_signal(signal.SIGKILL)  # the job process dies; xl (own session) does not
        caller.wait(timeout=10)
        partials = [name for name in leftovers(save_dir) if name.startswith("tst100.save.partial-")]
        assert len(partials) == 1 and not os.path.exists(statefile), leftovers(save_dir)
        # What a later call sees: no saved state (the DomU still runs here: the shim never saved it).
        assert xen.status("l:tst100")["state"] == "running"
        xen.destroy("l:tst100")
        assert xen.status("l:tst100")["state"] == "off"
        with pytest.raises(CommandExecutionError, match="no state file"):
            xen.create("l:tst100,RESUME")
        assert leftovers(save_dir) == partials  # kept for the operator: it may be a whole image
    finally:
        caller.kill()
        caller.wait(timeout=10)
        for pid in (int(p) for p in pidfile.read_text().split()) if pidfile.exists() else ():
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def test_two_saves_onto_one_file_at_once_never_share_it(xen, loaders, functional_host, tmp_path):
    """Different DomUs (different locks), one state file, one minion process (threads): one save
    wins, the other is refused and its image is kept beside the file, never mixed into it."""
    xen.create("l:tst100")
    xen.create("l:tst101")
    control.set_fault(str(functional_host.state_dir), latency={"save": 1.0})
    statefile = str(tmp_path / "shared.save")
    outcomes = {}

    def save(label):
        try:
            outcomes[label] = xen.save(f"l:{label}", statefile=statefile)["statefile"]
        except CommandExecutionError as err:
            outcomes[label] = str(err)

    threads = [threading.Thread(target=save, args=(label,)) for label in ("tst100", "tst101")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    winners = [label for label, outcome in outcomes.items() if outcome == statefile]
    assert len(winners) == 1, outcomes
    loser = ({"tst100", "tst101"} - set(winners)).pop()
    assert "refusing to overwrite" in outcomes[loser] or "appeared while saving" in outcomes[loser], outcomes
    with open(statefile, "rb") as handle:
        assert f'"name": "{winners[0]}"'.encode() in handle.read()
    if "appeared while saving" in outcomes[loser]:  # both saved: the loser's image is kept, named
        kept = outcomes[loser].rsplit("see ", 1)[1]
        with open(kept, "rb") as handle:
            assert f'"name": "{loser}"'.encode() in handle.read()
    else:  # refused before xl ran: the loser still runs
        assert loser in running(functional_host)


# --- disk full --------------------------------------------------------------------------------------------


@pytest.fixture
def full_disk(tmp_path):
    """``fill(folder)``: put ``folder`` on a 256 KiB tmpfs and return a function that fills it up;
    without mount rights ``None`` (the test then makes atomic_write fail instead)."""
    mounted = []

    def mount(folder):
        os.makedirs(folder, exist_ok=True)
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", folder], capture_output=True,
                              check=False)
        if proc.returncode != 0:
            return None
        mounted.append(folder)

        def fill():
            with open(os.path.join(folder, "filler"), "wb", buffering=0) as handle:
                try:
                    while True:
                        handle.write(b"\0" * 4096)
                except OSError as err:
                    assert err.errno == errno.ENOSPC

        return fill

    yield mount
    for folder in mounted:
        subprocess.run(["umount", "-l", folder], check=False)


def test_cache_write_on_a_full_disk_keeps_the_old_cache_and_answers(xen, loaders, functional_host, xen_dir, seed,
                                                                    full_disk, monkeypatch):
    from xenctys import invcache, invfolder  # pylint: disable=import-outside-toplevel

    fill = full_disk(xen_dir)
    first = xen.enumerate()
    cache_file = os.path.join(xen_dir, "inventory.msgpack")
    assert first["configs"] == 3 and os.path.isfile(cache_file)
    with open(cache_file, "rb") as handle:
        cache_before = handle.read()
    if fill is not None:
        fill()
        how = "a full 256 KiB tmpfs"
    else:
        def no_space(path, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        monkeypatch.setattr(invcache, "atomic_write", no_space)
        how = "atomic_write raising ENOSPC"
    # A changed config makes the cache stale: it has to be written again, and cannot be.
    with open(seed["tst101"], "a", encoding="utf-8") as handle:
        handle.write("memory = 256\n")
    second = xen.enumerate()
    assert second["configs"] == 3, how
    assert any("inventory cache not written" in problem["reason"] for problem in second["problems"]), second
    with open(cache_file, "rb") as handle:
        assert handle.read() == cache_before, "the previous cache was changed"
    entries, problems = invfolder.load_entries(cache_file, invcache.cache_settings(DEFAULT_MAX_BYTES, None))
    assert entries and not problems, problems  # still a good cache (of the old content)
    assert not [name for name in os.listdir(xen_dir) if name.startswith(".tmp-")], os.listdir(xen_dir)
    rows = xen.list()
    assert any(row["sesstype"] == "PM" for row in rows)
    session = xen.create("l:tst101")  # the association file cannot be written either: only a hint
    assert session["action"] == "created" and "tst101" in running(functional_host)
    assert xen.cancel("l:tst101,POWEROFF:0")["result"] in ("shutdown", "destroyed")


def test_save_dir_on_a_full_disk_fails_cleanly(xen, loaders, functional_host, tmp_path, full_disk):
    save_dir = str(tmp_path / "fullsave")
    fill = full_disk(save_dir)
    if fill is None:
        pytest.skip("mount not permitted here: no real full disk")
    fill()
    loaders.opts["xen"]["save_dir"] = save_dir
    xen.create("l:tst100")
    with pytest.raises(CommandExecutionError, match="xl save failed"):
        xen.cancel("l:tst100,SUSPEND")
    assert leftovers(save_dir) == ["filler"]
    assert running(functional_host) == ["tst100"]


# --- hostile input through the module -------------------------------------------------------------------
# (the core alone: tests/unit/test_hostile_input.py; the salt CLI: tests/integration/test_acl.py)

# Records each argv as one JSON line, then runs the simulator: what xl really received.
ARGV_SHIM = """#!{python}
import json, os, sys
with open({log!r}, "a", encoding="utf-8") as handle:
    handle.write(json.dumps(sys.argv[1:]) + "\\n")
os.execv({xl!r}, [{xl!r}] + sys.argv[1:])
"""
HOSTILE_LABELS = ["tst; touch MARKER", "$(touch MARKER)", "`touch MARKER`", "a|touch MARKER&", "q'\"uote"]


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "MARKER"
    yield str(path)
    assert not path.exists(), "a shell ran a hostile name"


@pytest.fixture
def argv_log(functional_host, tmp_path):
    log = tmp_path / "argv.log"
    shim = functional_host.bin_dir / "xl"
    shim.write_text(ARGV_SHIM.format(python=sys.executable, log=str(log), xl=str(XLSIM_DIR / "xl")), encoding="utf-8")
    shim.chmod(0o755)
    return lambda: [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []


def write_config(folder, name, label, mac="00:16:3e:00:00:77"):
    path = os.path.join(folder, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(f"#@#MAGICID-XEN\nname = {json.dumps(label, ensure_ascii=False)}\nmemory = 128\n"
                     f"vif = [ 'mac={mac}, bridge=xenbr0' ]\n")
    return path


@pytest.mark.parametrize("address", ["l:$(touch MARKER)", "l:$(touch${IFS}MARKER)", "l:`touch${IFS}MARKER`",
                                     "l:tst100;touch${IFS}MARKER", "f:tst100/tst100.conf;touch${IFS}MARKER",
                                     "p:/x/$(touch${IFS}MARKER).conf", "l:tst100|touch${IFS}MARKER"])
def test_hostile_addresses_start_nothing_and_run_nothing(xen, functional_host, marker, argv_log, address):
    with pytest.raises(CommandExecutionError) as err:
        xen.create(address.replace("MARKER", marker))
    assert "\n" not in str(err.value)
    assert running(functional_host) == []
    assert all(argv[0] == "list" for argv in argv_log())  # xl was asked, never told to create


@pytest.mark.parametrize("label", HOSTILE_LABELS)
def test_hostile_config_name_is_one_literal_xl_argument(xen, functional_host, marker, argv_log, tmp_path, label):
    label = label.replace("MARKER", marker)
    folder = functional_host.base_dir / "hostile"
    path = write_config(str(folder), "$(touch MARKER) x;y/vm.cfg".replace("MARKER", marker), label)
    try:
        session = xen.create(f"p:{path}")
        assert session["label"] == label and running(functional_host) == [label]
        assert ["create", path] in argv_log()  # the path with its "$(", ";" and space: one element
        assert xen.list(types="xen")[1]["label"] == label
        result = xen.cancel(f"p:{path},POWEROFF:0")
        assert result["label"] == label and running(functional_host) == []
        assert ["shutdown", label] in argv_log() or ["destroy", label] in argv_log(), argv_log()
    finally:
        shutil.rmtree(folder)


def test_long_label_is_started_and_locked(xen, functional_host, argv_log):
    label = "l" * 300
    folder = functional_host.base_dir / "long"
    write_config(str(folder), "long.cfg", label)
    try:
        assert xen.create("f:long/long.cfg")["label"] == label
        assert running(functional_host) == [label]
        xen.destroy("f:long/long.cfg")
    finally:
        shutil.rmtree(folder)


def test_dot_dot_in_base_and_paths_is_refused(xen, functional_host):
    for address in ("l:tst100,b:../..", "f:../tst100.conf", "p:/etc/xen/../../root/x.cfg"):
        with pytest.raises(CommandExecutionError, match=r"'\.\.' path components are refused"):
            xen.create(address)
    # ENUMERATE's b: / base= name the folders to list, like ctys: any path, ".." only normalized
    # (limit who may call it, and with which arguments, by ACL: docs/reliability.md).
    assert xen.enumerate(f"b:{functional_host.base_dir}/xen/..")["base_paths"] == [str(functional_host.base_dir)]
    assert running(functional_host) == []


def test_nul_bytes_in_arguments_are_one_line_errors(xen, loaders, functional_host):
    xen.create("l:tst100")
    with pytest.raises(CommandExecutionError, match="cannot create the folder"):
        xen.cancel("l:tst100", mode="suspend", statefile="/tmp/a\x00b/tst100.save")
    with pytest.raises(CommandExecutionError, match="invalid file name"):
        xen.save("l:tst100", statefile=os.path.join(loaders.opts["xen"]["save_dir"], "a\x00b.save"))
    with pytest.raises(CommandExecutionError, match="NUL byte"):
        xen.create("l:tst100\x00,connect")
    with pytest.raises(CommandExecutionError, match="no state file"):
        xen.restore("/tmp/a\x00b.save")
    answer = xen.enumerate(base="/tmp/a\x00b")
    assert answer["configs"] == 0 and "base path not usable" in answer["problems"][0]["reason"]
    assert running(functional_host) == ["tst100"]


def test_symlinked_folder_outside_a_base_path_is_read_as_data_and_nothing_else(xen, functional_host, tmp_path,
                                                                                marker):
    """By design (docs/reliability.md) discovery follows folder symlinks: an outside pool linked
    into a base path is part of the inventory, under the path inside the base path.  Its configs
    are read, never run, and a linked file that is not a config shows nothing of its content."""
    pool = tmp_path / "outside-pool"
    write_config(str(pool), "vm9/vm9.cfg", "vm9")
    (pool / "vm9" / "payload.cfg").write_text(f"import os\nos.system('touch {marker}')\n", encoding="utf-8")
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$SECRETHASH$:19000::::::\n", encoding="utf-8")
    link, leak = functional_host.base_dir / "pool", functional_host.base_dir / "leak.conf"
    link.symlink_to(pool)
    leak.symlink_to(secret)
    try:
        answer = xen.enumerate(cache=False)
        paths = {record["id"] for record in answer["records"]}
        assert str(link / "vm9" / "vm9.cfg") in paths, paths
        assert not any("payload" in path for path in paths)  # not a config: not enumerated
        assert "SECRETHASH" not in json.dumps(answer)
        assert xen.resolve("l:vm9")["path"] == str(link / "vm9" / "vm9.cfg")
    finally:
        link.unlink()
        leak.unlink()


def test_non_utf8_file_name_does_not_make_returns_unsendable(xen, functional_host):
    import salt.payload  # pylint: disable=import-outside-toplevel

    folder = os.fsencode(functional_host.base_dir / "odd")
    os.makedirs(folder, exist_ok=True)
    odd = os.path.join(folder, b"vm\xff.cfg")
    with open(odd, "w", encoding="utf-8") as handle:
        handle.write('#@#MAGICID-XEN\nname = "odd"\nvif = [ "mac=00:16:3e:00:00:0f" ]\n')
    try:
        answer = xen.enumerate(cache=False)
        salt.payload.dumps({"return": answer})  # what the minion does with it
        assert any(record["id"].endswith("/odd/vm\\xff.cfg") for record in answer["records"]), answer["records"]
        session = xen.create("l:odd")
        salt.payload.dumps({"return": session})
        assert session["config"].endswith("/odd/vm\\xff.cfg") and running(functional_host) == ["odd"]
        salt.payload.dumps({"return": xen.list()})
    finally:
        os.unlink(odd)
        os.rmdir(folder)
