"""xenctys.toolstack.Toolstack against the simulated host (tests/xlsim) and small stand-ins.

The code under test finds ``xl`` on the PATH of the environment it is given and runs it exactly
as it would run the real one; the simulator answers as Xen 4.17's xl does (corpus/xl-real).
"""

import json
import os
import pathlib
import sys
import time

import psutil
import pytest

from xenctys import toolstack as toolstack_module
from xenctys.errors import (
    DomainExistsError,
    NoHypervisorError,
    StateFileError,
    ToolstackError,
    ToolstackNotFound,
    ToolstackPermissionError,
    ToolstackTimeout,
    UnknownDomainError,
)
from xenctys.toolstack import Toolstack, classify_failure, meaningful_line
from xlsim import control

DOMU_CFG = """name = "{name}"
type = "{type}"
kernel = "/root/domu/vmlinuz"
memory = 128
maxmem = 256
vcpus = 1
maxvcpus = 2
vif = [ "mac={mac},bridge=xenbr0" ]
on_poweroff = "destroy"
on_reboot = "restart"
on_crash = "{on_crash}"
{extra}
"""


class Host:
    """One simulated host for a test: its state dir, environment and a config folder."""

    def __init__(self, root, **faults):
        self.state = root / "xlsim"
        self.configs = root / "configs"
        self.configs.mkdir(parents=True)
        faults.setdefault("shutdown_seconds", 0)
        faults.setdefault("reap_seconds", 0.3)
        self.env = dict(os.environ, **control.make_host(self.state, **faults))

    def config(self, name, mac="00:16:3e:00:00:01", guest_type="pv", on_crash="destroy", extra=""):
        path = self.configs / f"{name}.cfg"
        path.write_text(DOMU_CFG.format(name=name, mac=mac, type=guest_type, on_crash=on_crash, extra=extra))
        return str(path)

    def toolstack(self, **kwargs):
        kwargs.setdefault("timeout", 20)
        kwargs.setdefault("long_timeout", 30)
        return Toolstack(env=self.env, **kwargs)


@pytest.fixture(name="host")
def _host(tmp_path):
    return Host(tmp_path)


@pytest.fixture(name="no_system_dirs")
def _no_system_dirs(monkeypatch):
    """Only the given PATH counts: a real xl in /usr/sbin must not change the outcome."""
    monkeypatch.setattr(toolstack_module, "SYSTEM_DIRS", ())
    monkeypatch.setattr(toolstack_module, "XEN_LIB_GLOBS", ())


def write_script(path, text):
    path.write_text(text)
    path.chmod(0o755)
    return str(path)


def fake_tool(folder, name, responses):
    """An executable answering ``' '.join(argv[1:])`` from ``responses`` {args: (stdout, stderr, rc)}."""
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / f"{name}.responses.json"
    data.write_text(json.dumps(responses))
    return write_script(folder / name, (
        f"#!{sys.executable}\nimport json, sys\n"
        f"responses = json.load(open({str(data)!r}))\n"
        "key = ' '.join(sys.argv[1:])\n"
        "out, err, rc = responses.get(key, ['', 'unexpected call: ' + key + '\\n', 99])\n"
        "sys.stdout.write(out); sys.stderr.write(err); sys.exit(rc)\n"))


def corpus_text(corpus, relative):
    text = (pathlib.Path(corpus) / relative).read_text(encoding="utf-8")
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith("# exit="))


def alive(pid):
    """True while ``pid`` is a process that still runs (a zombie waiting for its reaper is dead)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def assert_all_gone(pids, seconds=3):
    """Every process of ``pids`` has exited within ``seconds`` (a zombie not reaped yet counts as exited)."""
    deadline = time.monotonic() + seconds
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in pids if alive(pid)]


# --- finding the toolstack -------------------------------------------------------------------------


def test_auto_finds_xl_on_path(host):
    ts = host.toolstack()
    assert ts.binary == str(pathlib.Path(control.XLSIM_DIR, "xl"))
    assert ts.name == "xl" and ts.calls == []  # finding costs no call


def test_auto_falls_back_to_xm(tmp_path, no_system_dirs):
    folder = tmp_path / "bin"
    fake_tool(folder, "xm", {})
    ts = Toolstack(path=str(folder))
    assert (os.path.basename(ts.binary), ts.name) == ("xm", "xm")


def test_nothing_found_is_toolstack_not_found(tmp_path, no_system_dirs):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ToolstackNotFound) as info:
        Toolstack(path=str(tmp_path / "empty")).binary  # pylint: disable=expression-not-assigned
    assert "no xl or xm toolstack found" in str(info.value)
    with pytest.raises(ToolstackNotFound):
        Toolstack(toolstack="xm", path=control.XLSIM_DIR).list_plain()  # only xl there


def test_path_may_name_the_binary_itself(tmp_path, no_system_dirs):
    xm = fake_tool(tmp_path / "opt", "xm-wrapper", {})
    assert Toolstack(toolstack="xm", path=xm).binary == xm


def test_xen_lib_dirs_are_searched(tmp_path, monkeypatch):
    lib = tmp_path / "usr/lib/xen-4.17/bin"
    fake_tool(lib, "xl", {})
    monkeypatch.setattr(toolstack_module, "SYSTEM_DIRS", ())
    monkeypatch.setattr(toolstack_module, "XEN_LIB_GLOBS", (str(tmp_path / "usr/lib/xen-*/bin"),))
    (tmp_path / "empty").mkdir()
    assert Toolstack(path=str(tmp_path / "empty")).binary == str(lib / "xl")


def test_bad_choices_are_refused():
    with pytest.raises(ToolstackError):
        Toolstack(toolstack="virsh")
    with pytest.raises(ToolstackError):
        Toolstack(privilege="doas")


# --- privilege prefix (spec §9.4) ------------------------------------------------------------------


def test_sudo_prefix_is_sudo_n_with_the_absolute_binary(host, tmp_path):
    log = tmp_path / "sudo.log"
    bin_dir = tmp_path / "sbin"
    bin_dir.mkdir()
    write_script(bin_dir / "sudo", '#!/bin/sh\nprintf "%s\\n" "$*" >> "$SUDO_LOG"\n'
                                   '[ "$1" = "-n" ] && shift\nexec "$@"\n')
    env = dict(host.env, SUDO_LOG=str(log), PATH=os.pathsep.join([str(bin_dir), host.env["PATH"]]))
    ts = Toolstack(privilege="sudo", env=env, timeout=20)
    ts.create(host.config("domu1"))
    assert [d["name"] for d in ts.list_domains()] == ["Domain-0", "domu1"]
    xl = os.path.join(control.XLSIM_DIR, "xl")
    lines = log.read_text().splitlines()
    assert lines[0] == f"-n {xl} create {host.configs}/domu1.cfg"
    assert sorted(lines[1:]) == [f"-n {xl} list -l", f"-n {xl} list -v"]  # the two run at the same time
    assert ts.calls[0][:3] == [str(bin_dir / "sudo"), "-n", xl]


def test_ksu_prefix(host, tmp_path):
    log = tmp_path / "ksu.log"
    bin_dir = tmp_path / "sbin"
    bin_dir.mkdir()
    write_script(bin_dir / "ksu", '#!/bin/sh\nprintf "%s\\n" "$*" >> "$KSU_LOG"\nshift 2\nexec "$@"\n')
    env = dict(host.env, KSU_LOG=str(log), PATH=os.pathsep.join([str(bin_dir), host.env["PATH"]]))
    Toolstack(privilege="ksu", env=env, timeout=20).info()
    assert log.read_text() == f"-q -e {os.path.join(control.XLSIM_DIR, 'xl')} info\n"


def test_privilege_also_prefixes_xenstore(host, tmp_path):
    log = tmp_path / "sudo.log"
    bin_dir = tmp_path / "sbin"
    bin_dir.mkdir()
    write_script(bin_dir / "sudo", '#!/bin/sh\nprintf "%s\\n" "$*" >> "$SUDO_LOG"\nshift\nexec "$@"\n')
    env = dict(host.env, SUDO_LOG=str(log), PATH=os.pathsep.join([str(bin_dir), host.env["PATH"]]))
    ts = Toolstack(privilege="sudo", env=env, timeout=20)
    ts.create(host.config("vm", guest_type="hvm", extra="vnc = 1\nvncunused = 1"))
    assert ts.vnc_port("vm") == 5900
    assert log.read_text().splitlines()[-1] == f"-n {control.XLSIM_DIR}/xenstore-read /local/domain/1/console/vnc-port"


def test_refused_sudo_is_a_permission_error(host, tmp_path):
    bin_dir = tmp_path / "sbin"
    bin_dir.mkdir()
    write_script(bin_dir / "sudo", "#!/bin/sh\necho 'sudo: a password is required' >&2\nexit 1\n")
    env = dict(host.env, PATH=os.pathsep.join([str(bin_dir), host.env["PATH"]]))
    with pytest.raises(ToolstackPermissionError) as info:
        Toolstack(privilege="sudo", env=env).list_plain()
    assert str(info.value) == "xl list failed: sudo: a password is required"


def test_missing_sudo_is_not_found(host, tmp_path, no_system_dirs, monkeypatch):
    monkeypatch.setattr(toolstack_module.shutil, "which", lambda name: None)
    with pytest.raises(ToolstackNotFound):
        Toolstack(privilege="sudo", path=control.XLSIM_DIR).list_plain()


# --- timeouts and leftovers ------------------------------------------------------------------------


def test_hung_toolstack_times_out_and_leaves_no_process(tmp_path):
    host = Host(tmp_path, hang=["list"])
    ts = host.toolstack(timeout=1.0)
    started = time.monotonic()
    with pytest.raises(ToolstackTimeout) as info:
        ts.list_plain()
    elapsed = time.monotonic() - started
    assert elapsed < 1.0 + toolstack_module.KILL_GRACE + 1.0  # slack for a loaded machine
    assert "did not answer within 1 s" in str(info.value)
    pids = control.wait_hang_pids(host.state, count=2)
    assert len(pids) == 2  # the xl process and the helper it forked
    assert_all_gone(pids)


def test_helper_that_ignores_sigterm_is_killed_too(tmp_path, no_system_dirs):
    pid_file = tmp_path / "pids"
    write_script(tmp_path / "xl", "#!/bin/sh\n"
                                  "sh -c 'trap \"\" TERM; sleep 300' &\n"
                                  f"echo $$ $! > {pid_file}\n"
                                  "trap '' TERM\nsleep 300\n")
    ts = Toolstack(path=str(tmp_path), timeout=0.5)
    with pytest.raises(ToolstackTimeout):
        ts.info()
    pids = [int(p) for p in pid_file.read_text().split()]
    assert_all_gone(pids)


def test_long_calls_get_the_long_timeout(tmp_path):
    host = Host(tmp_path, latency={"create": 1.5, "list": 1.5})
    ts = host.toolstack(timeout=0.7, long_timeout=20)
    ts.create(host.config("domu1"))  # 1.5 s > timeout, < long_timeout
    with pytest.raises(ToolstackTimeout):
        ts.list_plain()


def test_shutdown_wait_on_a_guest_that_ignores_it_times_out(tmp_path):
    host = Host(tmp_path, ignore_shutdown=["stubborn"])
    ts = host.toolstack()
    ts.create(host.config("stubborn"))
    with pytest.raises(ToolstackTimeout):
        host.toolstack(long_timeout=1.0).shutdown("stubborn", wait=True)
    ts.destroy("stubborn")  # destroy still works
    assert [d["name"] for d in ts.list_plain()] == ["Domain-0"]


# --- failures -> typed errors (real stderr texts) ----------------------------------------------------

CORPUS_FAILURES = [
    ("xl-real/xl-shutdown-unknown.txt", UnknownDomainError, "nosuchdom is an invalid domain identifier (rc=-6)"),
    ("xl-real/xl-destroy-unknown.txt", UnknownDomainError, "invalid domain identifier"),
    ("xl-real/xl-pause-unknown.txt", UnknownDomainError, "invalid domain identifier"),
    ("xl-real/xl-unpause-unknown.txt", UnknownDomainError, "invalid domain identifier"),
    ("xl-real/xl-reboot-unknown.txt", UnknownDomainError, "invalid domain identifier"),
    ("xl-real/xl-save-unknown.txt", UnknownDomainError, "invalid domain identifier"),
    ("xl-real/xl-list-unknown.txt", UnknownDomainError, "invalid domain identifier"),
    ("xl-real/xl-list-l-unknown.json.stderr", UnknownDomainError, "invalid domain identifier"),
    ("xl-real/xl-network-list-unknown.txt", UnknownDomainError, "invalid domain identifier"),
    ("xl-real/xl-vcpu-list-unknown.txt", UnknownDomainError, "invalid domain identifier"),
    ("xl-real/xl-domid-unknown.txt", UnknownDomainError, "Can't get domid of domain name 'nosuchdom'"),
    ("xl-real/xl-create-duplicate-name.txt", DomainExistsError, 'Domain with name "domu1" already exists'),
    ("xl-real/xl-restore-missing-file.txt", StateFileError, "Can't open restore file: No such file or directory"),
    ("xl-real/xl-create-missing-config.txt", ToolstackError, "Failed to read config file"),
    ("xl-real/xl-create-syntax-error.txt", ToolstackError, "config parsing error"),
    ("xl-real/xl-create-too-little-memory.txt", ToolstackError, "segment kernel too large"),
    ("xl-real/xl-destroy-dom0.txt", ToolstackError, "disaggregated hardware domain"),
    ("xl-real/xl-bogus-subcommand.txt", ToolstackError, "command not implemented"),
    ("xl-real/xl-top-batch.txt", ToolstackError, "option `b' not supported."),
]


@pytest.mark.parametrize("relative,error_class,words", CORPUS_FAILURES)
def test_real_failures_map_to_typed_errors(corpus, relative, error_class, words):
    # The lab captured stdout and stderr together: drop the table header xl printed on stdout.
    lines = corpus_text(corpus, relative).splitlines(keepends=True)
    stderr = "".join(line for line in lines if not line.startswith(("Idx BE", "Name ")))
    error = classify_failure("xl", ["verb"], 1, stderr)
    assert type(error) is error_class  # pylint: disable=unidiomatic-typecheck
    assert words in str(error) and "\n" not in str(error)
    assert error.rc == 1 and error.stderr


OTHER_FAILURES = [
    ("xencall: error: Could not obtain handle on privileged command interface: No such file or directory\n"
     "libxl: error: libxl.c:102:libxl_ctx_alloc: cannot open libxc handle: No such file or directory\n"
     "cannot init xl context\n", NoHypervisorError),
    ("xencall: error: Could not obtain handle on privileged command interface: Permission denied\n"
     "libxl: error: libxl.c:102:libxl_ctx_alloc: cannot open libxc handle: Permission denied\n"
     "cannot init xl context\n", ToolstackPermissionError),
    ("libxl: error: libxl.c:107:libxl_ctx_alloc: cannot connect to xenstore: No such file or directory\n",
     NoHypervisorError),
    ("xl: must be run as root\n", ToolstackPermissionError),
    ("sudo: a password is required\n", ToolstackPermissionError),
    ("alice is not in the sudoers file.  This incident will be reported.\n", ToolstackPermissionError),
    ("Error: Unable to connect to xend: No such file or directory. Is xend running?\n", NoHypervisorError),
    ("Error: Domain 'web1' does not exist.\nUsage: xm shutdown <Domain> [-waRH]\n", UnknownDomainError),
    ("Error: Domain 'web1' already exists with ID '3'\n", DomainExistsError),
    ("libxl: error: libxl_domain.c:1183:libxl__destroy_domid: Domain 99:Non-existant domain\n"
     "libxl: error: libxl_domain.c:1137:domain_destroy_callback: Domain 99:Unable to destroy guest\n",
     UnknownDomainError),
    ("File has wrong magic number - corrupt or for a different tool?\n", StateFileError),
    ("Failed to open temp file /nonexistent/x.chk for writing\n", StateFileError),
]


@pytest.mark.parametrize("stderr,error_class", OTHER_FAILURES)
def test_other_failure_texts(stderr, error_class):
    assert type(classify_failure("xl", ["x"], 1, stderr)) is error_class  # pylint: disable=unidiomatic-typecheck


def test_meaningful_line_prefers_the_first_error_over_the_cleanup_cascade(corpus):
    line = meaningful_line(corpus_text(corpus, "xl-real/xl-create-duplicate-name.txt"))
    assert line == 'Domain 2:Domain with name "domu1" already exists.'
    assert meaningful_line("Parsing config from x\nsomething odd\n\n") == "something odd"
    assert meaningful_line("") == ""


def test_errors_through_the_simulator(host):
    ts = host.toolstack()
    with pytest.raises(UnknownDomainError) as info:
        ts.shutdown("nosuchdom")
    assert str(info.value) == "xl shutdown failed: nosuchdom is an invalid domain identifier (rc=-6)"
    ts.create(host.config("domu1"))
    with pytest.raises(DomainExistsError):
        ts.create(host.config("domu1"))
    with pytest.raises(StateFileError):
        ts.restore(str(host.configs / "nope.chk"))
    with pytest.raises(UnknownDomainError):
        ts.domid("nosuchdom")
    with pytest.raises(UnknownDomainError):
        ts.destroy(42)
    with pytest.raises(ToolstackError) as info:
        ts.destroy(0)
    assert info.value.rc == 1


@pytest.mark.parametrize("fault,error_class", [("no_hypervisor", NoHypervisorError),
                                               ("not_root", ToolstackPermissionError)])
def test_host_faults_map_to_errors(tmp_path, fault, error_class):
    host = Host(tmp_path, **{fault: True})
    with pytest.raises(error_class):
        host.toolstack().list_domains()


def test_fail_next_then_recover(tmp_path):
    host = Host(tmp_path)
    control.set_fault(host.state, fail_next=2, stderr="libxl: error: libxl_x.c:1:f: transient trouble", rc=3)
    ts = host.toolstack()
    for _ in range(2):
        with pytest.raises(ToolstackError) as info:
            ts.info()
        assert info.value.rc == 3 and "transient trouble" in str(info.value)
    assert ts.info()["xen_version"] == "4.17.7"


def test_arguments_that_look_like_options_are_refused(host):
    ts = host.toolstack()
    for bad in ("-a", "", "x\ny"):
        with pytest.raises(ToolstackError):
            ts.destroy(bad)
    assert ts.calls == []


# --- LIST: what it returns and what it costs ---------------------------------------------------------


def test_list_domains_fields(host):
    ts = host.toolstack()
    ts.create(host.config("domu1"))
    dom0, domu1 = ts.list_domains()
    assert (dom0["name"], dom0["domid"], dom0["uuid"], dom0["state"], dom0["memory"]) == (
        "Domain-0", 0, "00000000-0000-0000-0000-000000000000", "r-----", 1536)
    assert (domu1["name"], domu1["domid"], domu1["state"], domu1["type"]) == ("domu1", 1, "-b----", "pv")
    assert (domu1["memory"], domu1["maxmem"], domu1["vcpus"], domu1["max_vcpus"]) == (128, 256, 1, 2)
    assert [v["mac"] for v in domu1["vifs"]] == ["00:16:3e:00:00:01"]
    assert len(domu1["uuid"]) == 36 and domu1["has_config"] and domu1["vnc_port"] is None
    assert domu1["flags"]["blocked"] and domu1["shutdown_reason"] == ""


@pytest.mark.parametrize("count", [0, 1, 4])
def test_one_list_costs_two_calls_whatever_the_number_of_domains(host, count):
    ts = host.toolstack()
    for index in range(count):
        ts.create(host.config(f"vm{index}", mac=f"00:16:3e:00:00:{index + 1:02x}"))
    ts.calls.clear()
    domains = ts.list_domains()
    assert len(domains) == count + 1
    assert [call[1:] for call in ts.calls] == [["list", "-v"], ["list", "-l"]]


def test_list_calls_run_at_the_same_time(tmp_path):
    """Wall time of a LIST is the slowest call's, not the sum: each call takes 0.8 s here."""
    host = Host(tmp_path, latency={"list": 0.8, "info": 0.8})
    ts = host.toolstack()
    started = time.monotonic()
    domains, info = ts.snapshot(info=True)
    elapsed = time.monotonic() - started
    assert [d["name"] for d in domains] == ["Domain-0"] and info["xen_version"] == "4.17.7"
    assert [call[1:] for call in ts.calls] == [["list", "-v"], ["list", "-l"], ["info"]]  # in order
    assert 0.8 <= elapsed < 3 * 0.8 - 0.3, elapsed  # sequential would be 2.4 s at least


def test_snapshot_without_info_is_list_domains(host):
    ts = host.toolstack()
    domains, info = ts.snapshot()
    assert info is None and [d["name"] for d in domains] == ["Domain-0"]
    assert [call[1:] for call in ts.calls] == [["list", "-v"], ["list", "-l"]]


def test_concurrent_hung_calls_each_time_out_and_leave_no_process(tmp_path):
    host = Host(tmp_path, hang=["list"])
    ts = host.toolstack(timeout=1.0)
    started = time.monotonic()
    with pytest.raises(ToolstackTimeout) as info:
        ts.snapshot(info=True)
    elapsed = time.monotonic() - started
    assert elapsed < 1.0 + toolstack_module.KILL_GRACE + 1.0  # both within their own timeout, together
    assert "xl list did not answer within 1 s" in str(info.value)
    pids = control.wait_hang_pids(host.state, count=4)
    assert len(pids) == 4  # two xl processes and their helpers
    assert_all_gone(pids)


def test_concurrent_failure_raises_the_first_failing_call_in_order(tmp_path, no_system_dirs):
    folder = tmp_path / "bin"
    fake_tool(folder, "xl", {
        "list -v": ("", "nosuchdom is an invalid domain identifier (rc=-6)\n", 1),
        "list -l": ("[]", "", 0),
        "info": ("", "xl: cannot init xl context\n", 1)})
    ts = Toolstack(path=str(folder))
    with pytest.raises(UnknownDomainError) as info:
        ts.snapshot(info=True)
    assert info.value.argv[1:] == ["list", "-v"] and len(ts.calls) == 3
    fake_tool(folder, "xl", {
        "list -v": ("Name ID Mem VCPUs\tState\tTime(s)   UUID Reason-Code\tSecurity Label\n", "", 0),
        "list -l": ("[]", "", 0),
        "info": ("", "xl: cannot init xl context\n", 1)})
    with pytest.raises(NoHypervisorError):
        ts.snapshot(info=True)


def test_concurrent_missing_binary_is_toolstack_not_found(tmp_path, no_system_dirs):
    folder = tmp_path / "bin"
    xl = fake_tool(folder, "xl", {})
    ts = Toolstack(path=str(folder))
    assert ts.binary == xl
    os.unlink(xl)
    with pytest.raises(ToolstackNotFound):
        ts.snapshot(info=True)


def test_vnc_with_runtime_ports_costs_one_xenstore_call(host):
    ts = host.toolstack()
    for index in range(3):
        ts.create(host.config(f"vm{index}", mac=f"00:16:3e:00:01:{index:02x}", guest_type="hvm",
                              extra="vnc = 1\nvncunused = 1"))
    ts.create(host.config("plain"))
    ts.calls.clear()
    ports = {d["name"]: d["vnc_port"] for d in ts.list_domains()}
    assert ports == {"Domain-0": None, "vm0": 5900, "vm1": 5901, "vm2": 5902, "plain": None}
    assert len(ts.calls) == 3 and ts.calls[2][1:] == ["-f", "/local/domain"]


def test_vnc_hint_reads_xenstore_in_the_same_round(tmp_path):
    host = Host(tmp_path, latency={"list": 0.6, "xenstore-ls": 0.6})
    ts = host.toolstack()
    ts.create(host.config("vm", guest_type="hvm", extra="vnc = 1\nvncunused = 1"))
    ts.calls.clear()
    started = time.monotonic()
    domains, _ = ts.snapshot(vnc_ports=True)
    elapsed = time.monotonic() - started
    assert domains[1]["vnc_port"] == 5900
    assert [call[1:] for call in ts.calls] == [["list", "-v"], ["list", "-l"], ["-f", "/local/domain"]]
    assert 0.6 <= elapsed < 2 * 0.6, elapsed  # one round, not list + xenstore-ls after it


def test_vnc_hint_without_runtime_port_reads_nothing_more(host):
    ts = host.toolstack()
    ts.create(host.config("fixed", guest_type="hvm", extra="vnc = 1\nvncunused = 0\nvncdisplay = 7"))
    ts.calls.clear()
    assert ts.snapshot(vnc_ports=True)[0][1]["vnc_port"] == 5907
    assert len(ts.calls) == 3  # the hinted xenstore-ls, its answer not needed


def fake_xl_with_one_vnc_domu(folder):
    """A fake ``xl`` in ``folder`` listing one HVM DomU with VNC on and no display fixed."""
    domu = {"domid": 3, "config": {"c_info": {"name": "v", "type": "hvm"},
                                   "b_info": {"type.hvm": {"vnc": {"enable": "True"}}}}}
    fake_tool(folder, "xl", {
        "list -v": ("Name ID Mem VCPUs\tState\tTime(s)   UUID Reason-Code\tSecurity Label\n"
                    "v 3 128 1 -b---- 1.0 11111111-2222-3333-4444-555555555555 - -\n", "", 0),
        "list -l": (json.dumps([domu]), "", 0)})
    return folder


def test_failing_hinted_xenstore_ls_leaves_ports_unknown(tmp_path, no_system_dirs):
    folder = fake_xl_with_one_vnc_domu(tmp_path / "bin")
    fake_tool(folder, "xenstore-ls", {})  # answers every call with rc 99
    ts = Toolstack(path=str(folder))
    (domain,) = ts.snapshot(vnc_ports=True)[0]
    assert domain["vnc"]["enabled"] and domain["vnc_port"] is None
    assert len(ts.calls) == 3  # no second try after the failed one


def test_fixed_vnc_display_needs_no_xenstore_call(host):
    ts = host.toolstack()
    ts.create(host.config("fixed", guest_type="hvm", extra="vnc = 1\nvncunused = 0\nvncdisplay = 7"))
    ts.calls.clear()
    assert ts.list_domains()[1]["vnc_port"] == 5907
    assert len(ts.calls) == 2


def test_vnc_ports_unknown_when_xenstore_ls_is_missing(tmp_path, no_system_dirs):
    folder = fake_xl_with_one_vnc_domu(tmp_path / "bin")
    ts = Toolstack(path=str(folder))
    (domain,) = ts.list_domains()
    assert domain["vnc"]["enabled"] and domain["vnc_port"] is None
    assert len(ts.calls) == 2


def test_domain_without_stored_config_is_still_listed(corpus, tmp_path, no_system_dirs):
    folder = tmp_path / "bin"
    list_v = corpus_text(corpus, "xl-real/xl-list-v.txt") + (
        "orphan                                       5   256     1     -b----       1.0 "
        "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee        -                -\n")
    fake_tool(folder, "xl", {"list -v": (list_v, "", 0),
                             "list -l": ((pathlib.Path(corpus) / "xl-real/xl-list-l.json").read_text(), "", 0)})
    dom0, domu1, orphan = Toolstack(path=str(folder)).list_domains()
    assert dom0["uuid"] == "00000000-0000-0000-0000-000000000000"  # -l has none for Domain-0: -v's
    assert domu1["uuid"] == "e1065f12-e910-11f1-acd3-9d423be3f618" and domu1["vifs"][0]["mac"] == "00:16:3e:00:00:01"
    assert (orphan["name"], orphan["has_config"], orphan["uuid"], orphan["vifs"]) == (
        "orphan", False, "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", [])
    assert orphan["memory"] == 256 and orphan["state"] == "-b----"


def test_xm_list_is_one_sxp_call(corpus, tmp_path, no_system_dirs):
    folder = tmp_path / "bin"
    sxp_text = corpus_text(corpus, "list-output/ganeti/xen-xl-list-long-4.0.1.txt")
    fake_tool(folder, "xm", {"list --long": (sxp_text, "", 0),
                             "list": (corpus_text(corpus, "list-output/ganeti/xen-xl-list-4.0.1-dom0-only.txt"), "", 0),
                             "info": (corpus_text(corpus, "list-output/ganeti/xen-xl-info-4.0.1.txt"), "", 0)})
    ts = Toolstack(path=str(folder))
    dom0, instance = ts.list_domains()
    assert ts.calls == [[str(folder / "xm"), "list", "--long"]]
    assert (dom0["state"], instance["name"], instance["state"], instance["flags"]["blocked"]) == (
        "r-----", "instance1.example.com", "-b----", True)
    assert instance["vifs"][0]["mac"] == "aa:00:00:30:8d:9d"
    assert [r["name"] for r in ts.list_plain()] == ["Domain-0"]
    assert ts.info()["xen_minor"] == 0


def test_xm_verbs_have_no_xl_only_flags(tmp_path, no_system_dirs):
    folder = tmp_path / "bin"
    fake_tool(folder, "xm", {"shutdown web1": ("", "", 0), "reboot web1": ("", "", 0),
                             "trigger web1 reset": ("", "", 0)})
    ts = Toolstack(toolstack="xm", path=str(folder))
    ts.shutdown("web1", force=True)
    ts.reboot("web1", force=True)
    ts.reset("web1")
    assert [c[1:] for c in ts.calls] == [["shutdown", "web1"], ["reboot", "web1"], ["trigger", "web1", "reset"]]


# --- life cycle against the simulator ----------------------------------------------------------------


def states(ts):
    return {d["name"]: (d["domid"], d["state"]) for d in ts.list_plain()}


def test_create_paused_unpause_pause(host):
    ts = host.toolstack()
    ts.create(host.config("domu1"), paused=True)
    assert states(ts)["domu1"] == (1, "--p---")
    ts.unpause("domu1")
    assert states(ts)["domu1"] == (1, "-b----")
    ts.pause("domu1")
    assert states(ts)["domu1"] == (1, "--p---")


def test_create_with_overrides(host):
    ts = host.toolstack()
    ts.create(host.config("domu1"), extra_args=['name="domu2"', "memory=160"])
    assert {d["name"]: d["memory"] for d in ts.list_plain()} == {"Domain-0": 1536, "domu2": 160}


def test_save_restore_round_trip(host):
    ts = host.toolstack()
    ts.create(host.config("domu1"))
    uuid = ts.list_domains()[1]["uuid"]
    statefile = host.configs / "domu1.chk"
    ts.save("domu1", str(statefile))
    assert statefile.read_bytes().startswith(b"Xen saved domain, xl format\n")
    assert "domu1" not in states(ts)
    ts.restore(str(statefile))
    restored = ts.list_domains()[1]
    assert (restored["name"], restored["domid"], restored["uuid"]) == ("domu1", 2, uuid)
    with pytest.raises(DomainExistsError):
        ts.restore(str(statefile))


def test_restore_of_a_file_that_is_not_a_save_file(host):
    bogus = host.configs / "bogus.chk"
    bogus.write_text("hello")
    with pytest.raises(StateFileError) as info:
        host.toolstack().restore(str(bogus))
    assert "wrong magic number" in str(info.value)


def test_save_into_a_missing_folder(host):
    ts = host.toolstack()
    ts.create(host.config("domu1"))
    with pytest.raises(StateFileError):
        ts.save("domu1", str(host.configs / "no" / "such" / "dir.chk"))


def test_checkpoint_keeps_running_and_ends_the_monitor(host):
    ts = host.toolstack()
    ts.create(host.config("domu3"))
    ts.save("domu3", str(host.configs / "domu3.chk"), checkpoint=True)
    assert states(ts)["domu3"] == (1, "-b----")
    ts.reboot("domu3")
    time.sleep(0.5)
    assert states(ts)["domu3"] == (1, "---sr-")  # xen-lab pitfall 8: nobody restarts it


def test_reboot_gives_a_new_domid(host):
    ts = host.toolstack()
    ts.create(host.config("domu1"))
    ts.reboot("domu1")
    time.sleep(0.5)
    assert states(ts)["domu1"] == (2, "-b----")


def test_shutdown_wait_returns_while_still_listed(host):
    ts = host.toolstack()
    ts.create(host.config("domu1"))
    control.set_fault(host.state, reap_seconds=1.5)
    ts.shutdown("domu1", wait=True)
    assert states(ts)["domu1"] == (1, "--ps--")  # xen-lab pitfall 7
    with pytest.raises(DomainExistsError):
        ts.create(host.config("domu1"))
    time.sleep(1.6)
    assert "domu1" not in states(ts)


def test_slow_guest_plain_shutdown_returns_at_once(tmp_path):
    host = Host(tmp_path, shutdown_seconds={"slow": 2.0}, reap_seconds=30)
    ts = host.toolstack()
    ts.create(host.config("slow"))
    started = time.monotonic()
    ts.shutdown("slow")
    assert time.monotonic() - started < 1.5
    assert states(ts)["slow"] == (1, "-b----")  # still shutting down
    time.sleep(max(0.0, started + 2.2 - time.monotonic()))
    assert states(ts)["slow"] == (1, "--ps--")  # shut down, not yet reaped by xl's monitor


def test_slow_guest_shutdown_wait_waits(tmp_path):
    host = Host(tmp_path, shutdown_seconds={"slow": 1.0}, reap_seconds=30)
    ts = host.toolstack()
    ts.create(host.config("slow"))
    started = time.monotonic()
    ts.shutdown("slow", wait=True)
    assert time.monotonic() - started >= 1.0
    assert states(ts)["slow"] == (1, "--ps--")


def test_reset_trigger_is_for_hvm_guests(host):
    ts = host.toolstack()
    ts.create(host.config("hvm1", guest_type="hvm", mac="00:16:3e:00:00:11"))
    ts.create(host.config("pv1", mac="00:16:3e:00:00:12"))
    ts.reset("hvm1")
    assert states(ts)["hvm1"] == (1, "-b----")
    with pytest.raises(ToolstackError) as info:
        ts.reset("pv1")
    assert "Send trigger 'reset' failed" in str(info.value)


def test_rename_destroy_domid(host):
    ts = host.toolstack()
    ts.create(host.config("domu1"))
    ts.rename("domu1", "domu1-renamed")
    assert ts.domid("domu1-renamed") == 1
    ts.create(host.config("domu1", mac="00:16:3e:00:00:09"))
    with pytest.raises(DomainExistsError):
        ts.rename("domu1", "domu1-renamed")
    ts.destroy("domu1-renamed")
    assert sorted(states(ts)) == ["Domain-0", "domu1"]


def test_crashing_guest(tmp_path):
    host = Host(tmp_path, crash={"crashy": 0, "kept": 0})
    ts = host.toolstack()
    ts.create(host.config("crashy"))
    ts.create(host.config("kept", mac="00:16:3e:00:00:02", on_crash="preserve"))
    kept = {d["name"]: d for d in ts.list_domains()}
    assert "crashy" not in kept  # on_crash = destroy
    assert kept["kept"]["state"] == "--psc-" and kept["kept"]["flags"]["crashed"]


def test_crash_domain_control(host):
    ts = host.toolstack()
    ts.create(host.config("domu1"))
    control.crash_domain(host.state, "domu1")
    assert "domu1" not in states(ts)


def test_queries(host):
    ts = host.toolstack()
    ts.create(host.config("domu1"))
    assert ts.info()["host"] == "dom0"
    assert [(u["name"], u["domid"]) for u in ts.uptime()] == [("Domain-0", 0), ("domu1", 1)]
    (vif,) = ts.network_list("domu1")
    assert (vif["mac"], vif["backend_path"]) == ("00:16:3e:00:00:01", "/local/domain/0/backend/vif/1/0")
    assert ts.vnc_port("domu1") is None
    assert ts.console_argv("domu1") == [os.path.join(control.XLSIM_DIR, "xl"), "console", "domu1"]
    assert [r["name"] for r in ts.list_plain("domu1")] == ["domu1"]


def test_vnc_port_of_one_domain(host):
    ts = host.toolstack()
    ts.create(host.config("a", guest_type="hvm", mac="00:16:3e:00:00:21", extra="vnc = 1\nvncunused = 1"))
    ts.create(host.config("b", guest_type="hvm", mac="00:16:3e:00:00:22", extra="vnc = 1\nvncunused = 1"))
    ts.calls.clear()
    assert ts.vnc_port("b") == 5901
    assert [c[1:] for c in ts.calls] == [["list", "-l", "b"], ["/local/domain/2/console/vnc-port"]]
