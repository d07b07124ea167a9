"""The msgpack inventory cache: entries, freshness, atomic writes, corrupt and unwritable files."""

import errno
import os

import msgpack
import pytest

from xenctys import fsutil, invcache, invfolder
from xenctys.domconfig import DomUConfig, IPEntry, Vif

SETTINGS = invcache.cache_settings(1 << 20, None)
OLD_NS = 1_600_000_000_123_456_789  # long before any scan: never racy


def _config():
    return DomUConfig(path="/etc/xen/tst100.conf", label="tst100", uuid="6842caf91e3e43249ed596b8b9f2c5c2",
                      memory=1024, vcpus=2, disks=["phy:/dev/vg/tst100,xvda,w"],
                      vifs=[Vif(0, mac="00:50:56:13:11:40", bridge="xenbr0", spec="mac=00:50:56:13:11:40")],
                      ctys={"DIST": "CentOS"}, ctys_ips=[IPEntry(0, ip="192.168.1.220")],
                      raw={"name": "tst100", "memory": 1024, "disk": ["phy:/dev/vg/tst100,xvda,w"]},
                      sources=["/etc/xen/tst100.conf", "/etc/xen/tst100.ctys"])


def test_config_to_dict_equals_dataclass_to_dict_and_round_trips_through_msgpack():
    config = _config()
    assert invcache.config_to_dict(config) == config.to_dict()
    packed = msgpack.packb(invcache.config_to_dict(config), use_bin_type=True)
    assert DomUConfig.from_dict(msgpack.unpackb(packed, raw=False)) == config


def test_save_then_load(tmp_path):
    cache_file = str(tmp_path / "xen" / "inventory.msgpack")
    entries = {"/etc/xen/a.conf": invcache.make_entry((OLD_NS, 10), OLD_NS + 10**10, "rejected", reason="x")}
    assert invfolder.save_entries(cache_file, entries, SETTINGS) == []
    assert invfolder.load_entries(cache_file, SETTINGS) == (_as_loaded(entries), [])


def test_missing_cache_is_empty_without_a_problem(tmp_path):
    assert invfolder.load_entries(str(tmp_path / "none.msgpack"), SETTINGS) == ({}, [])


def _header_and_rest(cache_file):
    with open(cache_file, "rb") as handle:
        data = handle.read()
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(data)
    header = unpacker.unpack()
    return header, data[unpacker.tell():]


def test_other_format_or_settings_start_over_quietly(tmp_path):
    cache_file = str(tmp_path / "c.msgpack")
    invfolder.save_entries(cache_file, {"/a.conf": [OLD_NS, 1, OLD_NS, "rejected", ""]}, SETTINGS)
    assert invfolder.load_entries(cache_file, invcache.cache_settings(1 << 10, None)) == ({}, [])
    header, rest = _header_and_rest(cache_file)
    header["format"] = invcache.CACHE_FORMAT + 1
    with open(cache_file, "wb") as handle:
        handle.write(msgpack.packb(header) + rest)
    assert invfolder.load_entries(cache_file, SETTINGS) == ({}, [])


def test_a_cache_of_the_previous_format_starts_over_quietly(tmp_path):
    """Format 3 was one map holding everything (its first object is far larger than a header)."""
    cache_file = tmp_path / "c.msgpack"
    entries = {f"/etc/xen/vm{index}.conf": [OLD_NS, 1, OLD_NS, "rejected", "x" * 40] for index in range(200)}
    cache_file.write_bytes(msgpack.packb({"kind": invcache.CACHE_KIND, "format": 3, "settings": SETTINGS,
                                          "entries": entries, "folders": {}}))
    assert cache_file.stat().st_size > invcache.HEADER_PEEK_BYTES
    assert invfolder.load_entries(str(cache_file), SETTINGS) == ({}, [])


def test_records_are_read_only_when_asked(tmp_path):
    cache_file = str(tmp_path / "c.msgpack")
    blob = invcache.pack_config(_config())
    entries = {"/etc/xen/tst100.conf": [OLD_NS, 10, OLD_NS, "config", "", ["/etc/xen/tst100.conf"], blob, []],
               "/etc/xen/b.conf": [OLD_NS, 1, OLD_NS, "rejected", "x"]}
    assert invfolder.save_entries(cache_file, entries, SETTINGS) == []
    content = invcache.load_cache(cache_file, SETTINGS)
    assert content.records._data is None  # pylint: disable=protected-access  # not read by the load
    found = invfolder.entries_by_name(content.folders["/etc/xen"], content.records)
    ref = found["tst100.conf"][invcache.CONFIG]
    assert invcache.is_record_ref(ref) and ref[1] == len(blob)  # a place, not the record
    assert invcache.unpack_config(invcache.record_bytes(ref, content.records)) == _config()
    assert invfolder.load_entries(cache_file, SETTINGS)[0]["/etc/xen/tst100.conf"][invcache.CONFIG] == blob


def test_records_stay_readable_after_the_file_is_replaced(tmp_path):
    """A save renames a new file over the cache while an inventory still points into the old one."""
    cache_file = str(tmp_path / "c.msgpack")
    blob = invcache.pack_config(_config())
    entries = {"/etc/xen/tst100.conf": [OLD_NS, 10, OLD_NS, "config", "", ["/etc/xen/tst100.conf"], blob, []]}
    invfolder.save_entries(cache_file, entries, SETTINGS)
    content = invcache.load_cache(cache_file, SETTINGS)
    invfolder.save_entries(cache_file, {"/etc/xen/other.conf": [OLD_NS, 1, OLD_NS, "rejected", "x"]}, SETTINGS)
    ref = invfolder.entries_by_name(content.folders["/etc/xen"], content.records)["tst100.conf"][invcache.CONFIG]
    assert invcache.record_bytes(ref, content.records) == blob


def test_index_length_beyond_the_file_is_corrupt(tmp_path):
    cache_file = str(tmp_path / "c.msgpack")
    invfolder.save_entries(cache_file, {"/a.conf": [OLD_NS, 1, OLD_NS, "rejected", ""]}, SETTINGS)
    header, rest = _header_and_rest(cache_file)
    header["index"] = len(rest) + 1
    with open(cache_file, "wb") as handle:
        handle.write(msgpack.packb(header) + rest)
    entries, problems = invfolder.load_entries(cache_file, SETTINGS)
    assert entries == {} and problems[0]["reason"] == "inventory cache ignored: corrupt (index length)"


@pytest.mark.parametrize(
    "content",
    [b"", b"\xc1\xc1\xc1garbage", b"\x92\x01", msgpack.packb({"kind": "other", "entries": {}}),
     msgpack.packb([1, 2, 3]), b"\x85" + b"\x00" * 3],
)
def test_corrupt_cache_is_reported_and_empty(tmp_path, content):
    cache_file = tmp_path / "c.msgpack"
    cache_file.write_bytes(content)
    entries, problems = invfolder.load_entries(str(cache_file), SETTINGS)
    assert entries == {}
    assert len(problems) == 1 and problems[0]["path"] == str(cache_file)
    assert "inventory cache ignored" in problems[0]["reason"]


def test_a_fifo_in_the_cache_place_is_reported_not_waited_on(tmp_path):
    cache_file = tmp_path / "c.msgpack"
    os.mkfifo(cache_file)  # open() of a FIFO for reading would wait for a writer forever
    entries, problems = invfolder.load_entries(str(cache_file), SETTINGS)
    assert entries == {} and problems[0]["reason"] == "inventory cache ignored: not a regular file"


def test_unreadable_cache_is_reported(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")  # a path through a file: unreadable even for root
    entries, problems = invfolder.load_entries(str(blocker / "c.msgpack"), SETTINGS)
    assert entries == {} and problems[0]["reason"].startswith("inventory cache ignored: cannot read it ([Errno 20]")
    folder = tmp_path / "a-folder.msgpack"
    folder.mkdir()
    entries, problems = invfolder.load_entries(str(folder), SETTINGS)
    assert entries == {} and problems[0]["reason"] == "inventory cache ignored: not a regular file"


def _as_loaded(entries):
    """Entries as load_entries gives them back: arrays as tuples (see invcache._unpack_without_gc)."""
    return {path: tuple(entry) for path, entry in entries.items()}


def _save_good_cache(cache_file):
    entries = {"/etc/xen/old.conf": [OLD_NS, 1, OLD_NS, "rejected", "x"]}
    assert invfolder.save_entries(cache_file, entries, SETTINGS) == []
    return _as_loaded(entries)


def test_crash_before_rename_keeps_the_old_cache(tmp_path, monkeypatch):
    cache_file = str(tmp_path / "c.msgpack")
    old = _save_good_cache(cache_file)

    def crash(_src, _dst):
        raise OSError(errno.EIO, "simulated crash before the rename")

    monkeypatch.setattr(os, "replace", crash)
    problems = invfolder.save_entries(cache_file, {"/etc/xen/new.conf": [OLD_NS, 2, OLD_NS, "rejected", "x"]}, SETTINGS)
    assert "previous one is kept" in problems[0]["reason"] and "EIO" not in problems[0]["reason"]
    monkeypatch.undo()
    assert invfolder.load_entries(cache_file, SETTINGS) == (old, [])
    assert os.listdir(tmp_path) == ["c.msgpack"]  # no temporary file left behind


def test_enospc_on_write_keeps_the_old_cache(tmp_path, monkeypatch):
    cache_file = str(tmp_path / "c.msgpack")
    old = _save_good_cache(cache_file)
    real_fdopen = os.fdopen

    class FullDisk:
        """A file object whose write fails as on a full disk."""

        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, _data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(fsutil.os, "fdopen", lambda fd, mode: FullDisk(real_fdopen(fd, mode)))
    problems = invfolder.save_entries(cache_file, {"/x.conf": [OLD_NS, 2, OLD_NS, "rejected", "x"]}, SETTINGS)
    assert problems[0]["path"] == cache_file and "[Errno 28]" in problems[0]["reason"]
    monkeypatch.undo()
    assert invfolder.load_entries(cache_file, SETTINGS) == (old, [])
    assert os.listdir(tmp_path) == ["c.msgpack"]


def test_enospc_on_fsync_keeps_the_old_cache(tmp_path, monkeypatch):
    cache_file = str(tmp_path / "c.msgpack")
    old = _save_good_cache(cache_file)

    def full(_fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    assert invfolder.save_entries(cache_file, {}, SETTINGS)[0]["reason"].endswith("No space left on device)")
    monkeypatch.undo()
    assert invfolder.load_entries(cache_file, SETTINGS) == (old, [])


def test_unwritable_folder_is_a_problem_not_an_exception(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    problems = invfolder.save_entries(str(blocker / "c.msgpack"), {}, SETTINGS)
    assert problems and "not written" in problems[0]["reason"]


# --- freshness -----------------------------------------------------------------------------------


def _entry_for(path, memo, watched=()):
    st = os.stat(path)
    return invcache.make_entry(invcache.signature(st), st.st_mtime_ns + 10**10, "config", config=_config(),
                               watched=watched, memo=memo)


def _age(path, seconds=100):
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - seconds * 10**9))


def test_fresh_until_mtime_or_size_changes(tmp_path):
    path = tmp_path / "a.conf"
    path.write_text("name = 'a'\n")
    _age(path)
    entry = _entry_for(path, invcache.StatMemo())
    assert invcache.is_fresh(entry, invcache.signature(os.stat(path)), invcache.StatMemo())
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    assert not invcache.is_fresh(entry, invcache.signature(os.stat(path)), invcache.StatMemo())
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    path.write_text("name = 'ab'\n")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime, other size
    assert not invcache.is_fresh(entry, invcache.signature(os.stat(path)), invcache.StatMemo())


def test_sidecar_change_and_removal_make_it_stale(tmp_path):
    path = tmp_path / "a.conf"
    path.write_text("x")
    sidecar = tmp_path / "a.ctys"
    sidecar.write_text('#@#IP = "10.0.0.1"\n')
    _age(path)
    _age(sidecar)
    later = tmp_path / "a.conf.ctys"  # absent: watched through the folder digest, not the entry
    entry = _entry_for(path, invcache.StatMemo(), watched=[str(sidecar), str(later)])
    assert [dep[0] for dep in entry[invcache.DEPS]] == [str(sidecar)]
    signature = invcache.signature(os.stat(path))
    assert invcache.is_fresh(entry, signature, invcache.StatMemo())
    sidecar.write_text('#@#IP = "10.0.0.2"\n')  # same size, new mtime
    assert not invcache.is_fresh(entry, signature, invcache.StatMemo())
    _age(sidecar)
    entry = _entry_for(path, invcache.StatMemo(), watched=[str(sidecar)])
    sidecar.unlink()
    assert not invcache.is_fresh(entry, signature, invcache.StatMemo())


def test_racy_entries_are_not_trusted():
    now = 1_700_000_000_500_000_000
    assert invcache.is_racy(now - 10_000_000, now)  # changed 10 ms before the scan
    assert not invcache.is_racy(now - 10**9, now)
    assert invcache.is_racy(1_700_000_000_000_000_000, now)  # whole-second mtime, 0.5 s before: coarse fs


@pytest.mark.parametrize(
    "entry",
    [[], {}, None, "x", [1, 2], [1, 2, None, "rejected", ""], [1, 2, 10**19, "unknown", ""],
     [1, 2, 10**19, "config", ""], [1, 2, 10**19, "rejected", "", "extra"],
     [1, 2, 10**19, "config", "", [], b"", [["x"]]], [1, 2, 10**19, "config", "", [], b"", None],
     [1, 2, 10**19, "config", "", [], b"", [], []]],
)
def test_odd_entries_are_never_trusted(entry):
    assert not invcache.is_fresh(entry, (1, 2), invcache.StatMemo())


def test_well_formed_entries_are_trusted():
    assert invcache.is_fresh([1, 2, 10**19, "rejected", "x"], (1, 2), invcache.StatMemo())
    assert invcache.is_fresh([1, 2, 10**19, "config", "", [], b"", []], (1, 2), invcache.StatMemo())
