"""Access control and hostile input at the Salt CLI (issue 9).

**Access control** (docs/reliability.md shows the configuration): a dedicated master ``acl-master``
with one minion ``acl00`` on its own simulated host, configured with

* ``publisher_acl``: the local system user ``xenop<N>`` (created here with useradd, removed
  afterwards) may run ``test.ping``, ``xen.list`` and ``xen.enumerate`` on ``acl*``, nothing else;
* ``external_auth`` with Salt's ``auto`` backend (accepts any password: a test stand-in for
  ``pam``/``ldap``, same ACL format): ``eauthop`` the same read-only set; ``planner`` may also
  run ``xen.create`` with the argument pattern ``l:tst101``, ``anchored`` with ``l:tst101$``
  (Salt matches argument patterns at the start only, and does not check keyword arguments a
  rule does not name: measured below).

The non-root user runs the real ``salt`` CLI (``runuser -u xenop<N> --``) with a system Python of
the same minor version as the venv (the venv's own interpreter lives under /root, which other
users cannot enter) and the venv's site-packages on PYTHONPATH.  Salt needs, for such a user:
the user to exist when the master starts (the master then writes ``cachedir/.<user>_key``,
owned by the user, and adds o+x to ``cachedir``), read access to the master config, and
traversal of the master's root, ``cachedir`` and ``sock_dir``.

Each test shows the allowed call answering and the forbidden ones refused with Salt's
authorization error, and the simulated host untouched (tst100 still running, tst101 not started).

**Hostile input through the CLI**, on the shared lab00: ``xen.create 'l:$(touch /tmp/pwned-...)'``
creates no file; a config whose ``name`` is ``tst; touch /tmp/x-...`` (in a folder named
``$(touch ...) a;b``) is started and stopped with the name and the path each ONE argv element of
xl (an argv-recording shim in lab00's bin folder in front of the simulator); a config file name
that is not UTF-8 does not break the minion's return; ``b:`` with ``..`` is refused.
"""

import json
import os
import pathlib
import pwd
import shutil
import subprocess
import sys
import tempfile
import uuid

import pytest
from harness import (
    LOCALHOST,
    XLSIM_DIR,
    fileserver_update,
    make_lab_host,
    repo_master_config,
    reset_lab_host,
    run_cmd,
    run_json,
)
from seedtree import write_seed_tree
from xlsim import control

READ_ONLY = ["test.ping", "xen.list", "xen.enumerate"]
ACL_TARGET = "acl*"
AUTH_ERROR = "Authorization error occurred"


# --- a local user, and a Python it can run --------------------------------------------------------------


@pytest.fixture(scope="module")
def operator():
    """A fresh local system user for the test (removed afterwards); skips when that is impossible."""
    if os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("runuser"):
        pytest.skip("needs root with useradd and runuser to create a local user")
    name = f"xenop{os.getpid() % 100000}"
    proc = run_cmd(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name])
    assert proc.returncode == 0, proc.stderr
    try:
        yield name
    finally:
        run_cmd(["userdel", name])


def site_packages():
    return next(path for path in sys.path if path.endswith("site-packages") and path.startswith(sys.prefix))


@pytest.fixture(scope="module")
def user_python(operator):
    """A python3.X (X as ours) the user may execute, with our site-packages importable by it."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (os.path.realpath(sys.executable), f"/usr/bin/python{version}", "/usr/local/bin/python" + version):
        if not os.path.isfile(candidate):
            continue
        proc = run_cmd([shutil.which("runuser"), "-u", operator, "--", candidate, "-s", "-c",
                        "import sys, salt; print('%d.%d' % sys.version_info[:2])"],
                       env={"PYTHONPATH": site_packages(), "PATH": "/usr/bin:/bin"})
        if proc.returncode == 0 and proc.stdout.strip() == version:
            return candidate
    pytest.skip(f"no python{version} that {operator} may run with the venv's packages (the venv's lives under /root)")


# --- the dedicated master and its minion --------------------------------------------------------------------


@pytest.fixture(scope="module")
def acl_root():
    root = pathlib.Path(tempfile.mkdtemp(prefix="xen-acl-"))
    root.chmod(0o755)  # the user reads the master config below it
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def acl_master(salt_factories, operator, acl_root):
    overrides = repo_master_config(**{
        "publisher_acl": {operator: [{ACL_TARGET: READ_ONLY}]},
        "external_auth": {"auto": {
            "eauthop": [{ACL_TARGET: READ_ONLY}],
            "planner": [{ACL_TARGET: READ_ONLY + [{"xen.create": {"args": ["l:tst101"]}}]}],
            "anchored": [{ACL_TARGET: READ_ONLY + [{"xen.create": {"args": ["l:tst101$"], "kwargs": {}}}]}],
        }},
    })
    factory = salt_factories.salt_master_daemon("acl-master", defaults={"root_dir": str(acl_root / "master")},
                                                overrides=overrides)
    with factory.started():
        config = factory.config
        # What a publisher_acl user needs beside its key file (Salt's own docs: readable dirs).
        for folder in (config["root_dir"], os.path.dirname(config["conf_file"]), config["cachedir"],
                       os.path.join(config["cachedir"], "jobs"), os.path.dirname(config["sock_dir"]),
                       config["sock_dir"]):
            if os.path.isdir(folder):
                os.chmod(folder, 0o755)
        # The returns come over the master's event socket, rw for the master's user AND GROUP
        # (0660).  A packaged master runs as "salt": its CLI users join group salt.  This master
        # runs as root, so the socket is given to the user's own group instead of adding the
        # user to group root.
        event_socket = os.path.join(config["sock_dir"], "master_event_pub.ipc")
        os.chown(event_socket, -1, pwd.getpwnam(operator).pw_gid)
        yield factory


@pytest.fixture(scope="module")
def acl_host(acl_root):
    host = make_lab_host(acl_root / "hosts", "acl00")
    write_seed_tree(host.base_dir)
    return host


@pytest.fixture(scope="module")
def acl_minion(acl_master, acl_host):
    overrides = dict(acl_host.minion_config, interface=LOCALHOST)
    factory = acl_master.salt_minion_daemon("acl00", overrides=overrides)
    factory.environ = dict(acl_host.env)
    with factory.started():
        root_cli = acl_master.salt_cli()
        fileserver_update(acl_master.salt_run_cli())
        synced = run_json(root_cli, "-t", "120", "saltutil.sync_all", minion_tgt="acl00")
        assert "modules.xen" in synced["modules"], synced
        yield factory


@pytest.fixture
def acl_lab(acl_minion, acl_host):
    """acl00's host with tst100 running (started with xl directly) and nothing else."""
    control.make_host(str(acl_host.state_dir))
    proc = run_cmd(["xl", "create", write_seed_tree(acl_host.base_dir)["tst100"]], env=acl_host.env)
    assert proc.returncode == 0, proc.stderr
    return acl_host


def running(host):
    return sorted(name for name in control.domains(str(host.state_dir)) if name != "Domain-0")


def as_user(operator, python, master, *args):
    """``salt -c <acl master conf> ARGS --out=json`` run by the local user ``operator``."""
    conf_dir = os.path.dirname(master.config["conf_file"])
    argv = [shutil.which("runuser"), "-u", operator, "--", python, "-s", os.path.join(sys.prefix, "bin", "salt"),
            "-c", conf_dir, "--out=json", "--log-file=/dev/null", "-l", "quiet", "-t", "60", *args]
    return run_cmd(argv, env={"PYTHONPATH": site_packages(), "PATH": "/usr/bin:/bin", "HOME": "/"}, timeout=120)


def with_eauth(master, user, *args):
    """``salt -a auto --username USER --password x ARGS --out=json`` (root runs it: the ACL is
    the eauth user's, not root's)."""
    conf_dir = os.path.dirname(master.config["conf_file"])
    argv = [os.path.join(sys.prefix, "bin", "salt"), "-c", conf_dir, "--out=json", "-l", "quiet", "-t", "60",
            "-a", "auto", "--username", user, "--password", "any", *args]
    return run_cmd(argv, timeout=120)


def answer(proc):
    try:
        return json.loads(proc.stdout)
    except ValueError:
        return None


def refused(proc):
    """Salt's refusal.  Measured: the salt CLI exits 0 with it (JSON: "Authorization error
    occurred."), so a script must read the output, not only the exit status."""
    return answer(proc) == f"{AUTH_ERROR}." or AUTH_ERROR in proc.stdout + proc.stderr


# --- access control -----------------------------------------------------------------------------------------


def test_publisher_acl_user_may_list_but_not_cancel_or_create(acl_master, acl_lab, operator, user_python):
    key = pathlib.Path(acl_master.config["cachedir"]) / f".{operator}_key"
    assert key.is_file() and key.stat().st_uid == pwd.getpwnam(operator).pw_uid  # written by the master
    ping = as_user(operator, user_python, acl_master, "acl00", "test.ping")
    assert ping.returncode == 0 and answer(ping) == {"acl00": True}, ping
    listed = as_user(operator, user_python, acl_master, "acl00", "xen.list", "types=xen")
    assert listed.returncode == 0, listed
    assert "tst100" in {row["label"] for row in answer(listed)["acl00"]}

    cancel = as_user(operator, user_python, acl_master, "acl00", "xen.cancel", "l:tst100,POWEROFF:0")
    create = as_user(operator, user_python, acl_master, "acl00", "xen.create", "l:tst101")
    wildcard = as_user(operator, user_python, acl_master, "*", "xen.cancel", "ALL,POWEROFF:0")
    for proc in (cancel, create, wildcard):
        assert refused(proc), (proc.args, proc.returncode, proc.stdout, proc.stderr)
    # Measured Salt 3008 behaviour, stated in docs/reliability.md: a refusal exits 0.
    assert [proc.returncode for proc in (cancel, create, wildcard)] == [0, 0, 0]
    assert running(acl_lab) == ["tst100"]  # nothing touched


def test_eauth_user_may_list_but_not_cancel_or_create(acl_master, acl_lab):
    listed = with_eauth(acl_master, "eauthop", "acl00", "xen.list", "types=xen")
    assert listed.returncode == 0 and "tst100" in {row["label"] for row in answer(listed)["acl00"]}, listed
    cancel = with_eauth(acl_master, "eauthop", "acl00", "xen.cancel", "l:tst100,POWEROFF:0")
    assert refused(cancel) and cancel.returncode == 0, cancel  # exit 0: see the publisher_acl test
    assert refused(with_eauth(acl_master, "eauthop", "acl00", "xen.create", "l:tst101"))
    assert refused(with_eauth(acl_master, "eauthop", "acl00", "cmd.run", "touch /tmp/never"))
    assert running(acl_lab) == ["tst100"]


def test_eauth_arguments_limit_what_may_be_created(acl_master, acl_lab):
    assert refused(with_eauth(acl_master, "planner", "acl00", "xen.create", "l:tst100,CONNECT"))
    assert refused(with_eauth(acl_master, "planner", "acl00", "xen.create", "l:tst104"))
    assert refused(with_eauth(acl_master, "planner", "acl00", "xen.cancel", "l:tst100,POWEROFF:0"))
    assert running(acl_lab) == ["tst100"]
    created = with_eauth(acl_master, "planner", "acl00", "xen.create", "l:tst101")
    assert created.returncode == 0 and answer(created)["acl00"]["action"] == "created", created
    assert running(acl_lab) == ["tst100", "tst101"]


def test_acl_argument_patterns_match_prefixes_and_let_other_keywords_through(acl_master, acl_lab):
    """Measured Salt 3008 semantics (salt.utils.minions.CkMinions.match_check / __args_check):
    an ``args`` pattern is ``re.match``-ed, i.e. anchored at the start only, and keyword arguments
    the rule does not name are not checked.  So ``l:tst101`` also lets ``l:tst101,PAUSED``
    through, and ``statefile=`` / ``resume=`` would pass any rule that lists only ``args``:
    anchor patterns with ``$`` and grant state-file functions to trusted users only."""
    prefixed = with_eauth(acl_master, "planner", "acl00", "xen.create", "l:tst101,PAUSED")
    assert prefixed.returncode == 0 and answer(prefixed)["acl00"]["action"] == "created", prefixed
    assert control.domains(str(acl_lab.state_dir))["tst101"]["paused"] is True
    assert acl_master.salt_cli().run("xen.destroy", "l:tst101", minion_tgt="acl00").returncode == 0

    assert refused(with_eauth(acl_master, "anchored", "acl00", "xen.create", "l:tst101,PAUSED"))
    keyword = with_eauth(acl_master, "anchored", "acl00", "xen.create", "l:tst101", "paused=True")
    assert keyword.returncode == 0 and answer(keyword)["acl00"]["action"] == "created", keyword
    assert control.domains(str(acl_lab.state_dir))["tst101"]["paused"] is True  # the keyword went through


def test_root_is_not_limited(acl_master, acl_lab):
    """The ACL binds the named users; root (the master's own user) keeps full access."""
    ret = acl_master.salt_cli().run("xen.cancel", "l:tst100,POWEROFF:0", minion_tgt="acl00")
    assert ret.returncode == 0 and ret.data["label"] == "tst100", ret
    assert running(acl_lab) == []


# --- hostile input through the CLI (shared lab00) --------------------------------------------------------------

ARGV_SHIM = """#!{python}
import json, os, sys
with open({log!r}, "a", encoding="utf-8") as handle:
    handle.write(json.dumps(sys.argv[1:]) + "\\n")
os.execv({xl!r}, [{xl!r}] + sys.argv[1:])
"""


@pytest.fixture(scope="module")
def clean_lab00(synced_minions, lab_hosts):
    """lab00 reset before this module's CLI tests and after them (the minions are shared)."""
    host, opts = lab_hosts["lab00"], synced_minions["lab00"].config
    reset_lab_host(host, opts)
    yield host
    reset_lab_host(host, opts)


@pytest.fixture
def lab00(clean_lab00, tmp_path):
    """lab00's host, fresh, with an argv-recording xl in front of the simulator; ``.argvs()``."""
    host = clean_lab00
    control.make_host(str(host.state_dir))
    log = tmp_path / "argv.log"
    shim = host.bin_dir / "xl"
    shim.write_text(ARGV_SHIM.format(python=sys.executable, log=str(log), xl=str(XLSIM_DIR / "xl")), encoding="utf-8")
    shim.chmod(0o755)
    host.argvs = lambda: [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] \
        if log.exists() else []
    try:
        yield host
    finally:
        shim.unlink()
        control.make_host(str(host.state_dir))


@pytest.fixture
def marker():
    path = f"/tmp/pwned-{uuid.uuid4().hex[:12]}"
    yield path
    assert not os.path.exists(path), f"{path} exists: a shell ran a hostile argument"


@pytest.mark.parametrize("address", ["l:$(touch MARKER)", "l:$(touch${IFS}MARKER)", "l:`touch${IFS}MARKER`",
                                     "l:x;touch${IFS}MARKER", "l:x|touch${IFS}MARKER", "l:x&&touch${IFS}MARKER"])
def test_cli_hostile_address_creates_no_file_and_starts_nothing(lab00, salt_cli, marker, address):
    ret = salt_cli.run("xen.create", address.replace("MARKER", marker), minion_tgt="lab00")
    assert ret.returncode != 0, ret
    assert running(lab00) == []
    assert all(argv[:1] == ["list"] for argv in lab00.argvs()), lab00.argvs()


def test_cli_config_named_with_shell_metacharacters_is_one_xl_argument(lab00, salt_cli, marker):
    label = f"tst; touch {marker}"
    folder = lab00.base_dir / "hostile-cli" / f"$(touch {marker}) a;b"
    folder.mkdir(parents=True)
    path = folder / "vm.cfg"
    path.write_text(f"#@#MAGICID-XEN\nname = {json.dumps(label)}\nmemory = 128\n"
                    "vif = [ 'mac=00:16:3e:00:00:78, bridge=xenbr0' ]\n", encoding="utf-8")
    try:
        created = run_json(salt_cli, "xen.create", f"p:{path}", minion_tgt="lab00")
        assert created["label"] == label and running(lab00) == [label]
        assert ["create", str(path)] in lab00.argvs()
        cancelled = run_json(salt_cli, "xen.cancel", f"p:{path},POWEROFF:0", minion_tgt="lab00")
        assert cancelled["label"] == label and running(lab00) == []
        assert ["shutdown", label] in lab00.argvs() or ["destroy", label] in lab00.argvs(), lab00.argvs()
    finally:
        shutil.rmtree(lab00.base_dir / "hostile-cli")


def test_cli_non_utf8_config_file_name_does_not_break_the_return(lab00, salt_cli):
    folder = os.fsencode(lab00.base_dir / "odd-cli")
    os.makedirs(folder, exist_ok=True)
    odd = os.path.join(folder, b"vm\xff.cfg")
    with open(odd, "w", encoding="utf-8") as handle:
        handle.write('#@#MAGICID-XEN\nname = "oddcli"\nvif = [ "mac=00:16:3e:00:00:79" ]\n')
    try:
        data = run_json(salt_cli, "xen.enumerate", "cache=False", minion_tgt="lab00")
        assert any(record["id"].endswith("/odd-cli/vm\\xff.cfg") for record in data["records"]), data["records"]
        created = run_json(salt_cli, "xen.create", "l:oddcli", minion_tgt="lab00")
        assert created["config"].endswith("vm\\xff.cfg") and running(lab00) == ["oddcli"]
    finally:
        os.unlink(odd)
        os.rmdir(folder)


def test_cli_dot_dot_in_addresses_is_refused(lab00, salt_cli):
    for address in ("l:tst100,b:../../etc", "f:../../etc/xen/x.cfg", "l:tst100,RESUME:/var/lib/xen/../../etc/x"):
        ret = salt_cli.run("xen.create", address, minion_tgt="lab00")
        assert ret.returncode != 0 and "'..' path components are refused" in str(ret.data), (address, ret.data)
    assert running(lab00) == []
