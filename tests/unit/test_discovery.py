"""DomU discovery (spec §4.2): ctys acceptance, a walk that never stops, the inventory cache."""

import errno
import os
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xenctys import discovery, invcache, invfolder
from xenctys.address import parse_address
from xenctys.discovery import DEFAULT_BASE_PATHS, ConfigList, Inventory, discover, passes_ctys_filter
from xenctys.errors import AmbiguousAddressError
from xenctys.resolve import resolve_config

TST100_CONF = """#@#MAGICID-XEN
name = "tst100"
memory = 1024
disk = [ 'tap:aio:/homen/acue/xen/tst-ctys/tst100/xvda.img,xvda,w', ]
vif = ['mac=00:50:56:13:11:40, bridge=xenbr0']
bootloader="/usr/bin/pygrub"
vcpus = 1
on_reboot = 'restart'
on_crash = 'restart'
dhcp="dhcp"
uuid="6842caf91e3e43249ed596b8b9f2c5c2"
vnc = 1
vncconsole = 1
vncunused = 1
"""
TST100_CTYS = """#@#MAGICID-IGNORE
#@#IP = "192.168.1.220"
#@#DIST = "CentOS"
#@#OS = "Linux"
"""


def _xl(name, mac, extra=""):
    """A plain xl config with 5 scored key lines (no #@# marker)."""
    return (f'name = "{name}"\nmemory = 512\nvcpus = 1\ndisk = [ "phy:/dev/vg/{name},xvda,w" ]\n'
            f'vif = [ "mac={mac},bridge=xenbr0" ]\n{extra}')


def _write(path, text, mode="w"):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, mode) as handle:
        handle.write(text)
    return path


def _age(path, seconds=100):
    """Move a file's mtime into the past, out of the cache's racy window."""
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - seconds * 10**9))


@pytest.fixture(name="home")
def _home(tmp_path, monkeypatch):
    """The seed's lab00 layout in a fake $HOME (ctys: relative base paths are relative to it)."""
    home = tmp_path / "home"
    lab = home / "xen" / "tst-ctys"
    _write(lab / "tst100" / "tst100.conf", TST100_CONF)
    _write(lab / "tst100" / "tst100.ctys", TST100_CTYS)
    _write(lab / "tst100" / "tst100-inst.conf", "#@#MAGICID-IGNORE\n" + TST100_CONF)
    _write(lab / "xtst100" / "tst100.conf", _xl("xtst100", "00:50:56:13:11:50"))
    _write(lab / "tst101" / "tst101.conf", TST100_CONF.replace("tst100", "tst101").replace("11:40", "11:41")
           .replace("6842caf9", "6842caf8"))
    _write(home / "xen" / "notes.txt", "name = x\n" * 9)  # not a candidate name
    monkeypatch.setenv("HOME", str(home))
    _age_tree(home)
    return home


def _age_tree(root):
    """Age every file and folder below ``root`` (and ``root``): all out of the racy window, so a
    warm run answers from the cache without listing a folder or reading a file."""
    for path in sorted(root.rglob("*"), reverse=True) + [root]:  # (aging a name leaves its folder as it is)
        _age(path)


def _paths(inventory):
    return [config.path for config in inventory.configs]


# --- the ctys filter ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, accepted",
    [
        ("#@#MAGICID-XEN\n", True),
        ("#@#MAGICID-XEN\n#@#MAGICID-IGNORE\n", False),  # IGNORE always wins
        ("#@#MAGICID-IGNORE\n#@#MAGICID-XEN\n" + _xl("a", "00:16:3e:00:00:01"), False),
        ("name = 'a' # #@#MAGICID-IGNORE (anywhere in a line)\n#@#MAGICID-XEN\n", False),
        ("#@#MAGICID-NOENUM\n#@#MAGICID-XEN\n", False),
        (_xl("a", "00:16:3e:00:00:01"), True),  # 5 key lines
        ('name = "a"\nmemory = 1\nvcpus = 1\ndisk = []\n', False),  # 4 are not enough (awk: score > 4)
        (' name  =  "a"\n\tmemory=1\nvcpus =1\n  disk= []\nuuid = "x"\n', True),  # spaces allowed
        ('Name = "a"\nMEMORY = 1\nvcpus = 1\ndisk = []\nuuid = "x"\n', False),  # lower case only
        ('# name = "a"\n# memory = 1\nvcpus = 1\ndisk = []\nuuid = "x"\n', False),  # comments do not count
        ('names = "a"\nmemory_x = 1\nvcpus = 1\ndisk = []\nuuid = "x"\n', False),  # exact key
        ('name = "a"\nname = "b"\nname = "c"\nname = "d"\nname = "e"\n', True),  # awk counts lines
        ("", False),
    ],
)
def test_ctys_filter(text, accepted):
    assert passes_ctys_filter(text.encode())[0] is accepted


def test_seed_layout_is_enumerated_like_ctys(home):
    inventory = discover("xen")  # relative to $HOME
    lab = home / "xen" / "tst-ctys"
    assert _paths(inventory) == [str(lab / "tst100" / "tst100.conf"), str(lab / "tst101" / "tst101.conf"),
                                 str(lab / "xtst100" / "tst100.conf")]
    assert inventory.base_paths == [str(home / "xen")]
    assert inventory.problems == []
    tst100 = inventory.configs[0]
    assert tst100.label == "tst100" and tst100.macs == ["00:50:56:13:11:40"]
    assert tst100.ips == ["192.168.1.220"]  # from the IGNOREd sidecar, which is read but not enumerated


def test_activated_ctys_file_is_a_second_id(home):
    # ctys: a .ctys passing the filter itself (MAGICID-XEN, no IGNORE) is enumerated as its own ID.
    sidecar = home / "xen" / "tst-ctys" / "tst100" / "tst100.ctys"
    _write(sidecar, "#@#MAGICID-XEN\n" + TST100_CTYS.replace("#@#MAGICID-IGNORE\n", ""))
    inventory = discover(["~/xen/tst-ctys/tst100"])
    assert [os.path.basename(p) for p in _paths(inventory)] == ["tst100.conf", "tst100.ctys"]


def test_candidate_names(tmp_path):
    for name in ("a.conf", "b.cfg", "c.ctys", "d.xl", "e.conf.bak", "f"):
        _write(tmp_path / name, "#@#MAGICID-XEN\n" + _xl(name, "00:16:3e:00:00:01"))
    assert [os.path.basename(p) for p in _paths(discover([str(tmp_path)]))] == ["a.conf", "b.cfg", "c.ctys"]


# --- base paths ------------------------------------------------------------------------------------


def test_base_path_forms(home, tmp_path):
    other = tmp_path / "pool"
    _write(other / "vm1" / "vm1.cfg", _xl("vm1", "00:16:3e:00:00:09"))
    as_string = discover(f"~/xen/tst-ctys/tst100%{other}")
    as_list = discover([str(home / "xen" / "tst-ctys" / "tst100"), str(other)])
    assert _paths(as_string) == _paths(as_list) and len(as_list.configs) == 2


def test_default_base_paths(monkeypatch):
    seen = []
    monkeypatch.setattr(discovery, "_walk_base", lambda base, run: seen.append(base))
    discover()
    assert tuple(seen) == DEFAULT_BASE_PATHS == ("/etc/xen", "/etc/ctys.d")


def test_nonexistent_or_file_base_path_is_a_problem(tmp_path, home):
    missing = tmp_path / "nowhere"
    a_file = _write(tmp_path / "file", "x")
    inventory = discover([str(missing), str(a_file), "~/xen"])
    assert len(inventory.configs) == 3
    assert inventory.problems == sorted([
        {"path": str(missing), "reason": "base path not usable: [Errno 2] No such file or directory"},
        {"path": str(a_file), "reason": "base path is not a directory"}], key=lambda p: p["path"])


def test_overlapping_base_paths_walk_each_folder_once(home):
    inventory = discover(["~/xen", "~/xen/tst-ctys", "~/xen/tst-ctys/tst100"])
    assert len(inventory.configs) == 3 and not inventory.problems


# --- a walk that never stops ------------------------------------------------------------------------


def test_symlink_loop_is_reported_and_walk_ends(home):
    lab = home / "xen" / "tst-ctys"
    (lab / "tst100" / "loop").symlink_to(lab)
    (lab / "self").symlink_to(".")
    inventory = discover("~/xen")
    assert len(inventory.configs) == 3
    assert {p["path"] for p in inventory.problems} == {str(lab / "tst100" / "loop"), str(lab / "self")}
    assert all("walked already" in p["reason"] for p in inventory.problems)


def test_symlinked_folder_outside_is_walked(home, tmp_path):
    pool = tmp_path / "vmpool"
    _write(pool / "vm9" / "vm9.cfg", _xl("vm9", "00:16:3e:00:00:99"))
    (home / "xen" / "pool").symlink_to(pool)
    assert str(home / "xen" / "pool" / "vm9" / "vm9.cfg") in _paths(discover("~/xen"))


def test_file_reached_twice_is_one_domu(home):
    real = home / "xen" / "tst-ctys" / "tst101" / "tst101.conf"
    auto = home / "xen" / "auto"
    auto.mkdir()
    (auto / "a-tst101.cfg").symlink_to(real)  # /etc/xen/auto style, found before the real path
    inventory = discover("~/xen")
    assert _paths(inventory).count(str(real)) == 1
    assert not any("auto" in p for p in _paths(inventory))
    assert resolve_config("l:tst101", inventory.configs).path == str(real)


@pytest.mark.parametrize("links", ["auto", "zz-auto"])  # walked before / after the real file's folder
@pytest.mark.parametrize("kind", ["symlink", "hard link"])
def test_file_reached_twice_is_one_domu_from_the_cache_too(home, tmp_path, counted, links, kind):
    """Whole folders taken from the cache must not bring a file back that another path reaches."""
    real = home / "xen" / "tst-ctys" / "tst101" / "tst101.conf"
    other = home / "xen" / links / "a-tst101.cfg"
    other.parent.mkdir()
    if kind == "symlink":
        other.symlink_to(real)
    else:
        os.link(real, other)
    _age_tree(home)
    cache_file = tmp_path / "inventory.msgpack"
    for run in ("cold", "warm", "warm again"):
        inventory = discover("~/xen", cache_file=str(cache_file))
        found = [path for path in _paths(inventory) if path in (str(real), str(other))]
        if kind == "symlink":
            assert found == [str(real)], run  # the path that is no symlink stays
        else:
            assert len(found) == 1, run  # two names of one file: one DomU (the first met)
        assert len(inventory.configs) == 3 and inventory.problems == [], run
    assert counted["parsed"].count(str(real)) + counted["parsed"].count(str(other)) == 1  # cold only


def test_dangling_symlink_fifo_and_folder_named_like_configs(tmp_path):
    (tmp_path / "gone.conf").symlink_to(tmp_path / "nothing")
    os.mkfifo(tmp_path / "pipe.conf")  # opening it would block a naive reader
    _write(tmp_path / "dir.conf" / "inner.cfg", _xl("inner", "00:16:3e:00:00:02"))
    inventory = discover([str(tmp_path)])
    assert _paths(inventory) == [str(tmp_path / "dir.conf" / "inner.cfg")]
    assert inventory.problems == [
        {"path": str(tmp_path / "gone.conf"), "reason": "dangling symlink"},
        {"path": str(tmp_path / "pipe.conf"), "reason": "not a regular file (device, FIFO or socket): not read"},
    ]


def test_unreadable_folder_is_reported(home, monkeypatch):
    # Tests run as root, for whom chmod 000 changes nothing: make scandir fail as it does for a user.
    locked = str(home / "xen" / "tst-ctys" / "xtst100")
    real_scandir = os.scandir

    def scandir(path):
        if str(path) == locked:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
        return real_scandir(path)

    monkeypatch.setattr(discovery.os, "scandir", scandir)
    inventory = discover("~/xen")
    assert [c.label for c in inventory.configs] == ["tst100", "tst101"]
    assert inventory.problems == [{"path": locked, "reason": "folder not readable: [Errno 13] Permission denied"}]


def test_unreadable_and_vanishing_files_are_reported(home, monkeypatch):
    lab = home / "xen" / "tst-ctys"
    locked, vanishing = str(lab / "tst101" / "tst101.conf"), str(lab / "xtst100" / "tst100.conf")
    real_open = os.open

    def os_open(path, flags, *args):
        if path == locked:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
        if path == vanishing:
            os.unlink(path)  # removed between the folder listing and the read
        return real_open(path, flags, *args)

    monkeypatch.setattr(discovery.os, "open", os_open)
    inventory = discover("~/xen")
    assert [c.label for c in inventory.configs] == ["tst100"]
    assert inventory.problems == [
        {"path": locked, "reason": "not readable: [Errno 13] Permission denied"},
        {"path": vanishing, "reason": "not readable: [Errno 2] No such file or directory"},
    ]


def test_huge_binary_and_broken_files_are_reported(tmp_path, monkeypatch):
    _write(tmp_path / "big.conf", "#@#MAGICID-XEN\n" + "# padding\n" * 200)
    _write(tmp_path / "disk.cfg", b"#@#MAGICID-XEN\n\x00\x01\x02", mode="wb")
    _write(tmp_path / "broken.cfg", "#@#MAGICID-XEN\nname = 'unterminated\nmemory = [1,\n")
    _write(tmp_path / "good.cfg", _xl("good", "00:16:3e:00:00:03"))
    read = []
    real_read = discovery._read_bytes  # pylint: disable=protected-access
    monkeypatch.setattr(discovery, "_read_bytes", lambda path, limit: read.append(path) or real_read(path, limit))
    inventory = discover([str(tmp_path)], max_bytes=1000)
    assert _paths(inventory) == [str(tmp_path / "good.cfg")]
    reasons = {os.path.basename(p["path"]): p["reason"] for p in inventory.problems}
    assert reasons["big.conf"] == "larger than 1000 bytes: not read"
    assert reasons["disk.cfg"] == "binary file (NUL bytes): not a DomU config"
    assert reasons["broken.cfg"].startswith("not parsed: ")
    assert str(tmp_path / "big.conf") not in read  # the size alone decides: never read


def test_rejected_files_are_never_parsed(home, monkeypatch):
    parsed = []
    real = discovery.read_config
    monkeypatch.setattr(discovery, "read_config", lambda path, **kw: parsed.append(path) or real(path, **kw))
    inventory = discover("~/xen")
    assert sorted(parsed) == _paths(inventory)  # tst100-inst.conf and tst100.ctys were never parsed
    assert inventory.parsed == 3


# --- the cache ---------------------------------------------------------------------------------------


@pytest.fixture(name="counted")
def _counted(monkeypatch):
    """Every path handed to the config reader, and every path read by discovery itself."""
    seen = {"parsed": [], "read": []}
    real_parse, real_read = discovery.read_config, discovery._read_bytes  # pylint: disable=protected-access
    monkeypatch.setattr(discovery, "read_config", lambda path, **kw: seen["parsed"].append(path) or real_parse(path, **kw))
    monkeypatch.setattr(discovery, "_read_bytes", lambda path, limit: seen["read"].append(path) or real_read(path, limit))
    return seen


def _cold_then_warm(cache_file, counted, base="~/xen"):
    cold = discover(base, cache_file=str(cache_file))
    counted["parsed"].clear()
    counted["read"].clear()
    return cold, discover(base, cache_file=str(cache_file))


def test_warm_discovery_reads_nothing(home, tmp_path, counted):
    cache_file = tmp_path / "cache" / "xen" / "inventory.msgpack"
    cold, warm = _cold_then_warm(cache_file, counted)
    assert cold.parsed == 3 and cold.from_cache == 0
    assert warm.parsed == 0 and warm.from_cache == 5  # 3 configs + 2 rejected candidates
    assert counted == {"parsed": [], "read": []}
    assert warm.configs == cold.configs and warm.problems == cold.problems
    assert list(warm.configs) == list(cold.configs)
    assert isinstance(warm.configs, ConfigList) and warm.configs[0].label == "tst100"


def test_folders_taken_whole_and_folders_checked_file_by_file_mix_in_path_order(tmp_path, counted):
    # A changed folder's configs come first from the walk, the folders taken whole after them:
    # the list is sorted, and every position still builds its own config from its own record.
    root = tmp_path / "tree"
    for folder in ("a", "b", "c"):
        for index in range(3):
            _write(root / folder / f"{folder}{index}.cfg", _xl(f"{folder}{index}", f"00:16:3e:00:0{index}:0{ord(folder) - 96}"))
    _age_tree(root)
    cache_file = str(tmp_path / "inventory.msgpack")
    discover(str(root), cache_file=cache_file)
    changed = root / "b" / "b1.cfg"
    changed.write_text(_xl("b1", "00:16:3e:00:01:02", extra="maxmem = 4096\n"))
    _age(changed)
    counted["parsed"].clear()
    warm = discover(str(root), cache_file=cache_file)
    assert counted["parsed"] == [str(changed)]  # a and c were taken whole, b checked file by file
    paths = [facts[0] for facts in warm.configs.facts()]
    assert paths == sorted(paths) and len(paths) == 9
    for index in reversed(range(9)):  # one by one, out of order: each position finds its record
        assert warm.configs[index].path == paths[index]
        assert warm.configs[index].label == os.path.basename(paths[index])[:-4]
    assert list(warm.configs) == list(discover(str(root), use_cache=False).configs)


def test_cache_invalidation_on_mtime_and_size(home, tmp_path, counted):
    cache_file = tmp_path / "inventory.msgpack"
    _cold_then_warm(cache_file, counted)
    conf = home / "xen" / "tst-ctys" / "tst101" / "tst101.conf"
    st = os.stat(conf)
    os.utime(conf, ns=(st.st_atime_ns, st.st_mtime_ns + 1))  # touched, same size
    assert discover("~/xen", cache_file=str(cache_file)).parsed == 1 and counted["parsed"] == [str(conf)]
    counted["parsed"].clear()
    _age(conf)
    discover("~/xen", cache_file=str(cache_file))
    counted["parsed"].clear()
    text = conf.read_text().replace("memory = 1024", "memory = 2048")  # same size
    conf.write_text(text + "# grown\n")
    _age(conf)  # an old mtime: only the size says it changed
    inventory = discover("~/xen", cache_file=str(cache_file))
    assert counted["parsed"] == [str(conf)]
    assert next(c for c in inventory.configs if c.label == "tst101").memory == 2048


def test_cache_invalidation_on_sidecar_change_and_appearance(home, tmp_path, counted):
    cache_file = tmp_path / "inventory.msgpack"
    _cold_then_warm(cache_file, counted)
    folder = home / "xen" / "tst-ctys" / "tst100"
    sidecar = folder / "tst100.ctys"
    sidecar.write_text(TST100_CTYS.replace("192.168.1.220", "192.168.1.230"))
    _age(sidecar)
    inventory = discover("~/xen", cache_file=str(cache_file))
    assert counted["parsed"] == [str(folder / "tst100.conf")]
    assert resolve_config("t:192.168.1.230", inventory.configs).label == "tst100"
    counted["parsed"].clear()
    # A side file that did not exist: ${X%/*}.ctys, named after tst101's folder, in the parent.
    parent_sidecar = home / "xen" / "tst-ctys" / "tst101.ctys"
    _write(parent_sidecar, '#@#MAGICID-IGNORE\n#@#IP = "10.1.0.101"\n')
    _age(parent_sidecar)
    inventory = discover("~/xen", cache_file=str(cache_file))
    assert str(home / "xen" / "tst-ctys" / "tst101" / "tst101.conf") in counted["parsed"]
    assert resolve_config("t:10.1.0.101", inventory.configs).label == "tst101"


@pytest.fixture(name="listed")
def _listed(monkeypatch):
    """Every folder discovery lists (``os.scandir``)."""
    seen = []
    real = os.scandir

    def scandir(path="."):
        seen.append(str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    return seen


def test_warm_run_lists_no_unchanged_folder(home, tmp_path, counted, listed):
    cache_file = tmp_path / "inventory.msgpack"
    discover("~/xen", cache_file=str(cache_file))
    assert len(listed) == 5  # xen, tst-ctys, tst100, tst101, xtst100
    listed.clear()
    cold, warm = _cold_then_warm(cache_file, counted)
    assert listed == [] and counted == {"parsed": [], "read": []}
    assert warm.from_cache == 5 and _paths(warm) == _paths(cold)


def test_file_changed_in_place_is_seen_without_listing_its_folder(home, tmp_path, counted, listed):
    cache_file = tmp_path / "inventory.msgpack"
    _cold_then_warm(cache_file, counted)
    conf = home / "xen" / "tst-ctys" / "tst101" / "tst101.conf"
    _write(conf, "memory = 2048\n", mode="a")  # in place: the folder's names and mtime stay
    _age(conf, 50)
    listed.clear()
    inventory = discover("~/xen", cache_file=str(cache_file))
    assert listed == [] and counted["parsed"] == [str(conf)]
    assert resolve_config("l:tst101", inventory.configs).memory == 2048


def test_folder_gaining_a_config_is_listed_again(home, tmp_path, counted, listed):
    cache_file = tmp_path / "inventory.msgpack"
    _cold_then_warm(cache_file, counted)
    folder = home / "xen" / "tst-ctys" / "xtst100"
    new = _write(folder / "other.cfg", _xl("other", "00:16:3e:00:00:78"))
    _age(new)
    listed.clear()
    inventory = discover("~/xen", cache_file=str(cache_file))
    assert listed == [str(folder)] and counted["parsed"] == [str(new)]
    assert resolve_config("l:other", inventory.configs).path == str(new)
    _age(folder)  # out of the racy window: known again
    listed.clear()
    discover("~/xen", cache_file=str(cache_file))
    listed.clear()
    assert len(discover("~/xen", cache_file=str(cache_file)).configs) == 4 and listed == []


def test_file_vanishing_while_a_known_folder_is_walked_is_one_problem(home, tmp_path, counted, listed,
                                                                     monkeypatch):
    cache_file = tmp_path / "inventory.msgpack"
    _cold_then_warm(cache_file, counted)
    gone = str(home / "xen" / "tst-ctys" / "tst100" / "tst100.conf")
    real_stat = os.stat

    def racing_stat(path, *args, **kwargs):  # removed between the folder's stat and the file's
        if str(path) == gone:
            raise FileNotFoundError(2, "No such file or directory", path)
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", racing_stat)
    listed.clear()
    inventory = discover("~/xen", cache_file=str(cache_file))
    assert listed == [] and counted["parsed"] == []
    assert inventory.problems == [{"path": gone, "reason": "vanished while its folder was read"}]
    assert sorted(c.label for c in inventory.configs) == ["tst101", "xtst100"]


def test_racy_folder_is_listed_again(home, tmp_path, counted, listed):
    cache_file = tmp_path / "inventory.msgpack"
    folder = home / "xen" / "tst-ctys" / "tst100"
    os.utime(folder)  # changed "now": a name may still come within the timestamp granularity
    _cold_then_warm(cache_file, counted)
    listed.clear()
    discover("~/xen", cache_file=str(cache_file))
    assert listed == [str(folder)] and counted["parsed"] == []


def test_folder_holding_a_symlink_is_always_listed(home, tmp_path, counted, listed):
    """A symlink's target can change kind (file, folder, nothing) without its folder changing."""
    cache_file = tmp_path / "inventory.msgpack"
    folder = home / "xen" / "tst-ctys" / "xtst100"
    os.symlink("tst100.conf", folder / "alias.conf")
    _age_tree(home)
    os.utime(folder / "alias.conf", ns=(10**18, 10**18), follow_symlinks=False)
    _cold_then_warm(cache_file, counted)
    listed.clear()
    inventory = discover("~/xen", cache_file=str(cache_file))
    assert listed == [str(folder)] and counted["parsed"] == []
    os.unlink(folder / "tst100.conf")
    os.mkdir(folder / "tst100.conf")  # the symlink now names a folder
    _age_tree(home)
    assert _paths(discover("~/xen", cache_file=str(cache_file))) == _paths(inventory)[:-1]


def test_new_and_deleted_configs(home, tmp_path, counted):
    cache_file = tmp_path / "inventory.msgpack"
    _cold_then_warm(cache_file, counted)
    shutil.rmtree(home / "xen" / "tst-ctys" / "xtst100")
    new = _write(home / "xen" / "new" / "new.cfg", _xl("new", "00:16:3e:00:00:77"))
    _age(new)
    inventory = discover("~/xen", cache_file=str(cache_file))
    assert counted["parsed"] == [str(new)]
    assert sorted(c.label for c in inventory.configs) == ["new", "tst100", "tst101"]
    content = invfolder.load_entries(str(cache_file), invcache.cache_settings(1 << 20, None))[0]
    assert not any("xtst100" in path for path in content)


def test_racy_file_is_examined_again(home, tmp_path, counted):
    cache_file = tmp_path / "inventory.msgpack"
    conf = home / "xen" / "tst-ctys" / "tst101" / "tst101.conf"
    os.utime(conf)  # changed "now": within the racy window of the scan that follows
    _cold_then_warm(cache_file, counted)
    assert counted["parsed"] == [str(conf)]  # not trusted: it may change again unseen


def test_use_cache_false_neither_reads_nor_writes(home, tmp_path, counted):
    cache_file = tmp_path / "inventory.msgpack"
    discover("~/xen", cache_file=str(cache_file), use_cache=False)
    assert not cache_file.exists()
    cache_file.write_bytes(b"garbage")
    inventory = discover("~/xen", cache_file=str(cache_file), use_cache=False)
    assert inventory.problems == [] and inventory.parsed == 3 and cache_file.read_bytes() == b"garbage"


def test_corrupt_cache_is_reported_and_replaced(home, tmp_path, counted):
    cache_file = tmp_path / "inventory.msgpack"
    cache_file.write_bytes(b"\x81\xa4kind\xc1 not msgpack")
    inventory = discover("~/xen", cache_file=str(cache_file))
    assert len(inventory.configs) == 3
    assert inventory.problems == [{"path": str(cache_file), "reason": "inventory cache ignored: corrupt (FormatError)"}]
    counted["parsed"].clear()
    assert discover("~/xen", cache_file=str(cache_file)).problems == []  # rewritten, good again


def test_cache_entries_of_odd_shape_are_examined_again(home, tmp_path, counted):
    cache_file = tmp_path / "inventory.msgpack"
    _cold_then_warm(cache_file, counted)
    settings = invcache.cache_settings(1 << 20, None)
    entries = {path: list(entry) for path, entry in invfolder.load_entries(str(cache_file), settings)[0].items()}
    for entry in entries.values():
        if entry[invcache.STATUS] == "config":
            entry[invcache.CONFIG] = b"\xc1garbage"
            break
    else:
        pytest.fail("no config entry")
    invfolder.save_entries(str(cache_file), entries, settings)
    inventory = discover("~/xen", cache_file=str(cache_file))
    assert counted["parsed"] == []
    configs = list(inventory.configs)  # a damaged record is found when used, and its file read instead...
    assert len(counted["parsed"]) == 1 and sorted(c.label for c in configs) == ["tst100", "tst101", "xtst100"]
    for entry in entries.values():
        if entry[invcache.STATUS] == "config":
            entry[invcache.FACTS] = "not a list"
    invfolder.save_entries(str(cache_file), entries, settings)
    counted["parsed"].clear()
    inventory = discover("~/xen", cache_file=str(cache_file))
    assert len(counted["parsed"]) == 3 and len(list(inventory.configs)) == 3  # ...or re-read when seen


def test_cache_cut_short_after_the_load_costs_time_not_answers(home, tmp_path, counted):
    """Records are read when first used; a cache file truncated in place before that (not by us:
    we only ever rename a new file over it) makes those configs be read from their files."""
    cache_file = tmp_path / "inventory.msgpack"
    cold, warm = _cold_then_warm(cache_file, counted)
    with open(cache_file, "r+b") as handle:
        handle.truncate(cache_file.stat().st_size // 2)
    assert [c.to_dict() for c in warm.configs] == [c.to_dict() for c in cold.configs]
    assert counted["parsed"] and set(counted["parsed"]) <= set(_paths(cold))  # those past the cut


def _flip(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01  # one bit: msgpack would still decode most of these
    path.write_bytes(bytes(data))


def _records_start(cache_file):
    content = invcache.load_cache(str(cache_file), invcache.cache_settings(1 << 20, None))
    return content.records._start  # pylint: disable=protected-access


def test_damaged_byte_in_a_record_costs_a_read_not_an_answer(home, tmp_path, counted):
    cache_file = tmp_path / "inventory.msgpack"
    cold, _ = _cold_then_warm(cache_file, counted)
    size = cache_file.stat().st_size
    _flip(cache_file, size - 40)  # inside the last config record
    inventory = discover("~/xen", cache_file=str(cache_file))
    assert [c.to_dict() for c in inventory.configs] == [c.to_dict() for c in cold.configs]
    assert len(counted["parsed"]) == 1  # the damaged record's file, read instead


def test_damaged_byte_in_the_index_is_reported_and_the_cache_rebuilt(home, tmp_path, counted):
    cache_file = tmp_path / "inventory.msgpack"
    cold, _ = _cold_then_warm(cache_file, counted)
    _flip(cache_file, _records_start(cache_file) - 20)  # inside the index
    inventory = discover("~/xen", cache_file=str(cache_file))
    assert inventory.problems == [{"path": str(cache_file), "reason": "inventory cache ignored: corrupt (checksum)"}]
    assert [c.to_dict() for c in inventory.configs] == [c.to_dict() for c in cold.configs]
    assert discover("~/xen", cache_file=str(cache_file)).problems == []


@settings(derandomize=True, max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spots=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)), min_size=1, max_size=4))
def test_no_damage_to_the_cache_changes_an_answer(home, tmp_path, spots):
    """Whatever bytes of the cache file are damaged, discovery answers as it does without a cache."""
    cache_file = tmp_path / "inventory.msgpack"
    if cache_file.exists():
        cache_file.unlink()
    expected = [c.to_dict() for c in discover("~/xen", use_cache=False).configs]
    discover("~/xen", cache_file=str(cache_file))
    data = bytearray(cache_file.read_bytes())
    for where, xor in spots:
        data[int(where * len(data))] ^= xor
    cache_file.write_bytes(bytes(data))
    for _ in range(2):  # the damaged cache, then what replaced it
        inventory = discover("~/xen", cache_file=str(cache_file))
        assert [c.to_dict() for c in inventory.configs] == expected
        assert [resolve_config(f"l:{label}", inventory.configs).label for label in ("tst100", "tst101")] == [
            "tst100", "tst101"]


def test_enospc_while_saving_keeps_old_cache_and_answers(home, tmp_path, counted, monkeypatch):
    cache_file = tmp_path / "inventory.msgpack"
    _cold_then_warm(cache_file, counted)
    old_bytes = cache_file.read_bytes()
    _write(home / "xen" / "new" / "new.cfg", _xl("new", "00:16:3e:00:00:77"))

    def full(_fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    inventory = discover("~/xen", cache_file=str(cache_file))
    assert len(inventory.configs) == 4
    assert inventory.problems == [{"path": str(cache_file), "reason": "inventory cache not written, the previous "
                                   "one is kept ([Errno 28] No space left on device)"}]
    assert cache_file.read_bytes() == old_bytes


def test_crash_during_save_leaves_old_cache_loadable(home, tmp_path, counted, monkeypatch):
    cache_file = tmp_path / "cache" / "inventory.msgpack"
    _cold_then_warm(cache_file, counted)
    _write(home / "xen" / "new" / "new.cfg", _xl("new", "00:16:3e:00:00:77"))

    def crash(*_args):
        raise KeyboardInterrupt  # the process dies between fsync and rename

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", crash)
        with pytest.raises(KeyboardInterrupt):
            discover("~/xen", cache_file=str(cache_file))
    counted["parsed"].clear()
    inventory = discover("~/xen", cache_file=str(cache_file))
    assert inventory.problems == [] and inventory.from_cache == 5  # the old cache, intact
    assert os.listdir(cache_file.parent) == ["inventory.msgpack"]  # no temporary file left


def test_cache_keeps_entries_of_other_base_paths(home, tmp_path, counted):
    cache_file = tmp_path / "inventory.msgpack"
    pool = tmp_path / "pool"
    _write(pool / "vm1" / "vm1.cfg", _xl("vm1", "00:16:3e:00:00:09"))
    _age(pool / "vm1" / "vm1.cfg")
    discover([str(pool)], cache_file=str(cache_file))
    discover("~/xen", cache_file=str(cache_file))  # another base: the pool's entries stay
    counted["parsed"].clear()
    assert discover([str(pool)], cache_file=str(cache_file)).from_cache == 1 and counted["parsed"] == []


def test_cache_of_other_settings_is_not_used(home, tmp_path, counted):
    cache_file = tmp_path / "inventory.msgpack"
    discover("~/xen", cache_file=str(cache_file))
    counted["parsed"].clear()
    assert discover("~/xen", cache_file=str(cache_file), max_bytes=4096).parsed == 3


# --- the inventory -----------------------------------------------------------------------------------


def test_inventory_shape(home, tmp_path):
    inventory = discover("~/xen", cache_file=str(tmp_path / "c.msgpack"))
    assert isinstance(inventory, Inventory)
    assert _paths(inventory) == sorted(_paths(inventory))
    data = inventory.to_dict()
    assert [c["path"] for c in data["configs"]] == _paths(inventory)
    assert data["configs"][0] == inventory.configs[0].to_dict()
    assert set(data) == {"configs", "problems", "base_paths", "from_cache", "parsed"}
    assert inventory.configs[:1] == [inventory.configs[0]] and inventory.configs[-1] == inventory.configs[2]


@pytest.mark.parametrize(
    "text",
    ["f:xen/tst-ctys/tst100/tst100.conf", "f:tst-ctys/tst100/tst100.conf", "f:tst100/tst100.conf", "l:tst100",
     "u:6842caf91e3e43249ed596b8b9f2c5c2", "m:00:50:56:13:11:40", "t:192.168.1.220",
     "l:tst100,CONSOLE:cli,connect"],
)
def test_seed_addresses_against_a_cached_inventory(home, tmp_path, text):
    cache_file = str(tmp_path / "c.msgpack")
    discover("~/xen", cache_file=cache_file)
    warm = discover("~/xen", cache_file=cache_file)
    assert warm.from_cache == 5
    assert resolve_config(parse_address(text)[0], warm.configs).path == str(
        home / "xen" / "tst-ctys" / "tst100" / "tst100.conf")
    path = warm.configs[0].path
    assert resolve_config(f"p:{path}", warm.configs).label == "tst100"
    assert resolve_config(f"i:{path}", warm.configs).label == "tst100"


def test_libvirt_corpus_folder_is_ambiguous(corpus, tmp_path):
    inventory = discover([str(corpus / "libvirt-configs")], cache_file=str(tmp_path / "c.msgpack"))
    assert len(inventory.configs) > 20
    for text in ("l:XenGuest2", "u:c7a5fdb2-cdaf-9455-926a-d65c16db1809", "m:00:16:3e:66:92:9c"):
        with pytest.raises(AmbiguousAddressError) as info:
            resolve_config(text, inventory.configs)
        assert len(info.value.candidates) > 5
        assert all(c["path"].startswith(str(corpus)) for c in info.value.candidates)
    one = resolve_config("l:XenGuest2,f:xl/test-vif-multi-ip.cfg", inventory.configs)
    assert one.path == str(corpus / "libvirt-configs" / "xl" / "test-vif-multi-ip.cfg")


def test_rejected_file_changed_is_examined_once_then_cached(home, tmp_path, counted):
    cache_file = tmp_path / "inventory.msgpack"
    _cold_then_warm(cache_file, counted)
    inst = home / "xen" / "tst-ctys" / "tst100" / "tst100-inst.conf"
    inst.write_text(inst.read_text() + "# still ignored\n")
    _age(inst)
    discover("~/xen", cache_file=str(cache_file))
    assert counted["read"] == [str(inst)] and counted["parsed"] == []
    counted["read"].clear()
    assert discover("~/xen", cache_file=str(cache_file)).from_cache == 5 and counted["read"] == []


def test_file_name_not_utf8_is_found_and_cached(tmp_path, counted):
    folder = os.fsencode(tmp_path / "pool")
    os.mkdir(folder)
    odd = os.path.join(folder, b"vm\xff.cfg")  # bytes a Linux file name may hold
    with open(odd, "w", encoding="utf-8") as handle:
        handle.write(_xl("odd", "00:16:3e:00:00:0f"))
    os.utime(odd, (1_600_000_000, 1_600_000_000))
    cache_file = str(tmp_path / "c.msgpack")
    cold = discover([os.fsdecode(folder)], cache_file=cache_file)
    warm = discover([os.fsdecode(folder)], cache_file=cache_file)
    assert cold.problems == [] and warm.problems == [] and warm.from_cache == 1
    assert os.fsencode(warm.configs[0].path) == odd and warm.configs[0].label == "odd"


def test_a_reader_bug_is_one_problem_not_a_failed_walk(home, monkeypatch):
    real = discovery.read_config

    def buggy(path, **kwargs):
        if path.endswith("tst101.conf"):
            raise RecursionError("maximum recursion depth exceeded")
        return real(path, **kwargs)

    monkeypatch.setattr(discovery, "read_config", buggy)
    inventory = discover("~/xen")
    assert [c.label for c in inventory.configs] == ["tst100", "xtst100"]
    assert inventory.problems == [{"path": str(home / "xen" / "tst-ctys" / "tst101" / "tst101.conf"),
                                   "reason": "config reader failed: RecursionError: maximum recursion depth "
                                             "exceeded"}]


def test_side_file_appearing_next_to_the_config_is_seen(home, tmp_path, counted):
    cache_file = tmp_path / "inventory.msgpack"
    _cold_then_warm(cache_file, counted)
    folder = home / "xen" / "tst-ctys" / "tst101"
    _age(_write(folder / "tst101.ctys", '#@#MAGICID-IGNORE\n#@#IP = "10.1.0.11"\n'))
    inventory = discover("~/xen", cache_file=str(cache_file))
    assert counted["parsed"] == [str(folder / "tst101.conf")]
    assert resolve_config("t:10.1.0.11", inventory.configs).label == "tst101"


def test_side_file_appearing_above_a_base_path_is_seen(home, tmp_path, counted):
    # The base is tst101's own folder: its parent (where tst101.ctys would go) is never walked.
    cache_file = tmp_path / "inventory.msgpack"
    base = "~/xen/tst-ctys/tst101"
    _cold_then_warm(cache_file, counted, base=base)
    assert counted["parsed"] == []
    _age(_write(home / "xen" / "tst-ctys" / "tst101.ctys", '#@#MAGICID-IGNORE\n#@#IP = "10.1.0.12"\n'))
    inventory = discover(base, cache_file=str(cache_file))
    assert resolve_config("t:10.1.0.12", inventory.configs).label == "tst101"


def test_common_file_appearing_is_seen(home, tmp_path, counted):
    cache_file = tmp_path / "inventory.msgpack"
    common = tmp_path / "ctys.d" / "vm.conf"
    discover("~/xen", cache_file=str(cache_file), common_file=str(common))
    counted["parsed"].clear()
    assert discover("~/xen", cache_file=str(cache_file), common_file=str(common)).parsed == 0
    _age(_write(common, '#@#MAGICID-IGNORE\n#@#OS = "Linux"\n#@#DIST = "Debian"\n'))
    inventory = discover("~/xen", cache_file=str(cache_file), common_file=str(common))
    assert inventory.parsed == 3
    assert {config.ctys.get("OS") for config in inventory.configs} == {"Linux"}


# --- many files: parsed by worker processes ----------------------------------------------------------


def _mixed_tree(root, count=60):
    """Configs (some with side files, one xm, one broken, one binary), rejected files, a symlink."""
    for index in range(count):
        folder = root / f"f{index % 7}"
        mac = f"00:16:3e:00:{index // 256:02x}:{index % 256:02x}"
        extra = "#@#MAGICID-XEN\n" if index % 5 == 0 else ""
        _write(folder / f"vm{index}.cfg", _xl(f"vm{index}", mac, extra))
        if index % 9 == 0:
            _write(folder / f"vm{index}.ctys", f'#@#MAGICID-IGNORE\n#@#IP0 = "10.0.{index}.1%255.255.255.0"\n')
    _write(root / "f1" / "old.cfg", "#@#MAGICID-XEN\nname = 'old'\nmemory = 256 + 256\nimport os\n")
    _write(root / "f2" / "broken.cfg", "#@#MAGICID-XEN\nname = 'unterminated\nmemory = [1,\n")
    _write(root / "f3" / "disk.conf", b"#@#MAGICID-XEN\n\x00\x01", mode="wb")
    _write(root / "f4" / "notes.conf", "just = 'notes'\n")
    _write(root / "f5.ctys", '#@#DIST = "Debian"\n')  # the folder side file of every config in f5
    os.symlink(root / "f0" / "vm0.cfg", root / "f6" / "alias.cfg")
    for folder, _, names in os.walk(root):
        for name in names:  # out of the cache's racy window
            os.utime(os.path.join(folder, name), (1_600_000_000.5, 1_600_000_000.5), follow_symlinks=False)


def _as_data(inventory):
    return ([invcache.config_to_dict(config) for config in inventory.configs], inventory.problems,
            inventory.parsed, inventory.from_cache)


def test_parallel_parse_gives_what_the_serial_parse_gives(tmp_path, monkeypatch):
    _mixed_tree(tmp_path / "xen")
    base = [str(tmp_path / "xen")]
    monkeypatch.setattr(discovery, "PARALLEL_MIN_FILES", 10**9)
    serial = discover(base, cache_file=str(tmp_path / "serial.msgpack"))
    monkeypatch.setattr(discovery, "PARALLEL_MIN_FILES", 2)
    monkeypatch.setattr(discovery, "PARALLEL_CHUNK_FILES", 7)
    monkeypatch.setattr(discovery, "_parallel_workers", lambda: 3)
    # pytest runs threads of its own (Salt's log plugin); the workers here touch none of their locks
    monkeypatch.setattr(discovery, "_other_threads_running", lambda: False)
    forked = []  # what each parallel attempt returned: True when the workers did the examining
    real_parallel = discovery._examine_in_parallel  # pylint: disable=protected-access

    def parallel_attempt(paths, run):
        forked.append(real_parallel(paths, run))
        return forked[-1]

    monkeypatch.setattr(discovery, "_examine_in_parallel", parallel_attempt)
    parallel = discover(base, cache_file=str(tmp_path / "parallel.msgpack"))
    assert forked == [True] and discovery._FORKED_RUN is None  # pylint: disable=protected-access
    assert _as_data(parallel) == _as_data(serial)
    assert [tuple(f) for f in parallel.configs.facts()] == [tuple(f) for f in serial.configs.facts()]
    assert any(p["reason"].startswith("not parsed: ") for p in parallel.problems)
    # the caches written either way answer the same warm run, with nothing read
    for name in ("serial", "parallel"):
        warm = discover(base, cache_file=str(tmp_path / f"{name}.msgpack"))
        assert warm.parsed == 0 and _as_data(warm)[:2] == _as_data(serial)[:2]
    # without a cache as well
    assert _as_data(discover(base, use_cache=False))[:3] == _as_data(serial)[:3]


def test_parallel_parse_falls_back_to_serial(tmp_path, monkeypatch):
    _mixed_tree(tmp_path / "xen", count=20)
    base = [str(tmp_path / "xen")]
    expected = _as_data(discover(base))
    monkeypatch.setattr(discovery, "PARALLEL_MIN_FILES", 2)
    monkeypatch.setattr(discovery, "_parallel_workers", lambda: 2)
    monkeypatch.setattr(discovery, "_other_threads_running", lambda: False)  # (pytest's own threads)
    import multiprocessing  # pylint: disable=import-outside-toplevel

    def no_fork(method):
        raise ValueError(f"cannot find context for {method!r}")

    monkeypatch.setattr(multiprocessing, "get_context", no_fork)
    assert _as_data(discover(base)) == expected  # no fork on this platform


def test_parallel_parse_falls_back_when_a_worker_dies(tmp_path, monkeypatch):
    _mixed_tree(tmp_path / "xen", count=20)
    base = [str(tmp_path / "xen")]
    expected = _as_data(discover(base))
    monkeypatch.setattr(discovery, "PARALLEL_MIN_FILES", 2)
    monkeypatch.setattr(discovery, "PARALLEL_CHUNK_FILES", 3)
    monkeypatch.setattr(discovery, "_parallel_workers", lambda: 2)
    monkeypatch.setattr(discovery, "_other_threads_running", lambda: False)  # (pytest's own threads)
    attempts = []
    real_parallel = discovery._examine_in_parallel  # pylint: disable=protected-access
    monkeypatch.setattr(discovery, "_examine_in_parallel",
                        lambda paths, run: attempts.append(real_parallel(paths, run)) or attempts[-1])
    monkeypatch.setattr(discovery, "_examine_chunk", lambda chunk: os._exit(3))  # pylint: disable=protected-access
    assert _as_data(discover(base)) == expected
    assert attempts == [False] and discovery._FORKED_RUN is None  # pylint: disable=protected-access


def test_parallel_parse_stays_serial_beside_other_threads(tmp_path, monkeypatch):
    import threading  # pylint: disable=import-outside-toplevel

    _mixed_tree(tmp_path / "xen", count=20)
    monkeypatch.setattr(discovery, "PARALLEL_MIN_FILES", 2)
    monkeypatch.setattr(discovery, "_parallel_workers", lambda: 2)
    started = []
    real_context = __import__("multiprocessing").get_context
    monkeypatch.setattr(__import__("multiprocessing"), "get_context", lambda m: started.append(m) or real_context(m))
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        inventory = discover([str(tmp_path / "xen")])
    finally:
        stop.set()
        other.join()
    assert started == [] and inventory.parsed > 0


def test_discovery_reads_each_file_once_and_opens_no_absent_side_file(tmp_path, monkeypatch):
    _mixed_tree(tmp_path / "xen", count=20)
    opened = []
    real_open = os.open
    monkeypatch.setattr(os, "open", lambda path, *args, **kw: opened.append(path) or real_open(path, *args, **kw))
    inventory = discover([str(tmp_path / "xen")])
    assert inventory.configs and all(opened.count(config.path) == 1 for config in inventory.configs)
    assert all(os.path.exists(path) for path in opened)  # no open of a side file that is not there
    assert str(tmp_path / "xen" / "f5.ctys") in opened  # the folder side file is read
