"""Hostile labels, paths and names against the Salt-free core (issue 9).

Shell metacharacters, ``..``, very long strings, NUL bytes and odd Unicode must be refused or
used literally, never reach a shell and never leave the folders they belong in:

* every toolstack call is an argv list: a fake ``xl`` records its argv, and each hostile name
  arrives as exactly one element, unchanged (nothing expanded, nothing split);
* what xl would read as an option (a leading ``-``) or what no argv can carry (NUL, lone
  surrogates) is refused with a ToolstackError;
* lock files stay in the lock folder, state files in the save folder;
* a config's ``name`` is its label literally;
* discovery reports a NUL base path as a problem, and a symlink to a file outside the base
  paths that is no config never shows its content;
* returns with non-UTF-8 file names are escaped so that Salt can send them.

The same through the execution module: tests/functional/test_faults.py; through the salt CLI:
tests/integration/test_acl.py.
"""

import json
import os
import sys

import msgpack
import pytest

from xenctys import discovery, fsutil, minion, toolstack
from xenctys.cfgreader import read_config
from xenctys.errors import StateFileError, ToolstackError, XenError
from xenctys.lifecycle import HostSettings, XenHost

HOSTILE_NAMES = ["tst; rm -rf /", "$(touch MARKER)", "`touch MARKER`", "a|touch MARKER", "a&&touch MARKER",
                 "a'b\"c", "a b\tc", "*", "?", "~root", "a\\b", "e\u0301\u202e\u200b", "\U0001f600", "x" * 300,
                 "${IFS}", "a>b<c", "!!", "#comment"]
FAKE_XL = """#!{python}
import json, sys
with open({log!r}, "a", encoding="utf-8") as handle:
    handle.write(json.dumps(sys.argv[1:]) + "\\n")
if sys.argv[1:2] == ["list"]:
    print("Name                                        ID   Mem VCPUs\\tState\\tTime(s)")
"""


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "MARKER"
    yield str(path)
    assert not path.exists(), "a hostile name was run by a shell"


@pytest.fixture
def fake_xl(tmp_path):
    """A Toolstack whose ``xl`` records every argv it gets; ``.argvs()`` reads them back."""
    log = tmp_path / "argv.log"
    binary = tmp_path / "bin" / "xl"
    binary.parent.mkdir()
    binary.write_text(FAKE_XL.format(python=sys.executable, log=str(log)), encoding="utf-8")
    binary.chmod(0o755)
    stack = toolstack.Toolstack("xl", path=str(binary), timeout=30)
    stack.argvs = lambda: [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    return stack


def hostile(name, marker):
    return name.replace("MARKER", marker)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_domain_names_reach_xl_as_one_literal_argument(fake_xl, marker, name):
    name = hostile(name, marker)
    fake_xl.destroy(name)
    fake_xl.pause(name)
    fake_xl.save(name, f"/var/lib/xen/save/{name.replace('/', '_')}.save")
    argvs = fake_xl.argvs()
    assert argvs[0] == ["destroy", name] and argvs[1] == ["pause", name]
    assert argvs[2] == ["save", name, f"/var/lib/xen/save/{name.replace('/', '_')}.save"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_config_paths_reach_xl_as_one_literal_argument(fake_xl, marker, name):
    path = f"/etc/xen/{hostile(name, marker).replace('/', '_')}.cfg"
    fake_xl.create(path)
    fake_xl.restore(path)
    assert fake_xl.argvs() == [["create", path], ["restore", path]]


@pytest.mark.parametrize("name", ["-rf", "--help", "-", "\n", "a\nb", "a\x00b", ""])
def test_option_like_or_broken_domain_names_are_refused(fake_xl, tmp_path, name):
    with pytest.raises(ToolstackError, match="invalid domain name"):
        fake_xl.destroy(name)
    assert not (tmp_path / "argv.log").exists()  # refused before anything ran


@pytest.mark.parametrize("path", ["/tmp/a\x00b.save", "/tmp/a\ud800b.save"])
def test_file_names_no_argv_can_carry_are_refused(fake_xl, path):
    with pytest.raises(ToolstackError, match="invalid file name"):
        fake_xl.save("tst100", path)


def test_file_name_starting_with_a_dash_is_not_an_option(fake_xl):
    fake_xl.create("-q.cfg")
    assert fake_xl.argvs() == [["create", "./-q.cfg"]]


@pytest.mark.parametrize("name", HOSTILE_NAMES + ["../../etc/passwd", "/etc/passwd", "..", ".", "", "a\x00b"])
def test_lock_files_stay_in_the_lock_folder(tmp_path, marker, name):
    lock_dir = tmp_path / "locks"
    with fsutil.domain_lock(str(lock_dir), hostile(name, marker), timeout=5) as path:
        assert os.path.dirname(path) == str(lock_dir)
        assert len(os.path.basename(path)) <= 255
    assert [p.parent for p in tmp_path.rglob("*.lock")] == [lock_dir]


def _host(tmp_path, stack=None):
    settings = HostSettings(base_paths=[str(tmp_path / "base")], cache_file=None,
                            assoc_file=str(tmp_path / "assoc.json"), lock_dir=str(tmp_path / "locks"),
                            save_dir=str(tmp_path / "save"))
    return XenHost(stack or toolstack.Toolstack("xl", path="/bin/false"), settings)


@pytest.mark.parametrize("label", ["a/b", "../x", "..", ".", ""])
def test_state_file_names_cannot_leave_the_save_folder(tmp_path, label):
    with pytest.raises(XenError, match="cannot name a state file"):
        _host(tmp_path).default_statefile(label)


@pytest.mark.parametrize("label", ["tst; rm -rf x", "$(id)", "`id`", "a|b", "e\u0301"])
def test_state_file_names_with_shell_characters_are_literal(tmp_path, label):
    assert _host(tmp_path).default_statefile(label) == str(tmp_path / "save" / f"{label}.save")


def test_save_to_a_folder_that_cannot_exist_is_a_state_file_error(tmp_path, fake_xl):
    with pytest.raises(StateFileError, match="cannot create the folder"):
        _host(tmp_path, fake_xl).save("tst100", "/tmp/a\x00b/x.save", domain={"name": "tst100"})
    assert not (tmp_path / "argv.log").exists()  # xl never ran


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_config_name_is_the_label_literally(tmp_path, marker, name):
    name = hostile(name, marker)
    path = tmp_path / "vm.cfg"
    path.write_text(f"name = {json.dumps(name, ensure_ascii=False)}\nmemory = 128\n", encoding="utf-8")
    assert read_config(str(path)).label == name


def test_nul_base_path_is_a_problem_not_an_exception():
    inventory = discovery.discover(["/tmp/a\x00b"])
    assert inventory.configs == [] and "base path not usable" in inventory.problems[0]["reason"]


def test_symlink_to_a_secret_outside_the_base_path_shows_nothing_of_it(tmp_path):
    secret = tmp_path / "outside" / "shadow"
    secret.parent.mkdir()
    secret.write_text("root:$6$SECRETHASH$abc:19000:0:99999:7:::\n", encoding="utf-8")
    base = tmp_path / "base"
    base.mkdir()
    (base / "leak.conf").symlink_to(secret)  # a config name, someone else's content
    (base / "leak2.cfg").symlink_to(secret)
    inventory = discovery.discover([str(base)])
    assert inventory.configs == []
    assert "SECRETHASH" not in json.dumps(inventory.problems)


def test_non_utf8_file_names_are_escaped_for_salt(tmp_path):
    folder = os.fsencode(tmp_path / "pool")
    os.mkdir(folder)
    with open(os.path.join(folder, b"vm\xff;x.cfg"), "w", encoding="utf-8") as handle:
        handle.write('#@#MAGICID-XEN\nname = "odd"\nvif = ["mac=00:16:3e:00:00:0f"]\n')
    inventory = discovery.discover([os.fsdecode(folder)])
    data = {"path": inventory.configs[0].path, "list": [inventory.configs[0].path], "n": 1}
    with pytest.raises(UnicodeEncodeError):
        msgpack.packb(data, use_bin_type=True)  # what Salt does with a return
    sent = minion.sendable(data)
    msgpack.packb(sent, use_bin_type=True)
    assert sent["path"].endswith("/pool/vm\\xff;x.cfg") and sent["list"] == [sent["path"]] and sent["n"] == 1
    clean = {"a": ["b", 1, None]}
    assert minion.sendable(clean) is clean  # nothing copied when nothing needs it
