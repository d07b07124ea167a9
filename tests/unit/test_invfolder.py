"""Folder records of the inventory cache: when a folder's names, and all its files at once, are trusted."""

import os
import types

import pytest

from xenctys import invcache, invfolder
from xenctys.domconfig import DomUConfig, Vif

SETTINGS = invcache.cache_settings(1 << 20, None)
OLD_NS = 1_600_000_000_123_456_789  # long before any scan: never racy
LATER_NS = OLD_NS + 10**10


def _stat(mtime_ns=OLD_NS, ctime_ns=OLD_NS, ino=7):
    return types.SimpleNamespace(st_mtime_ns=mtime_ns, st_ctime_ns=ctime_ns, st_ino=ino)


def _record(reusable=True, scanned_ns=LATER_NS, files=("a.cfg",), **stat):
    draft = invfolder.FolderDraft("/etc/xen", _stat(**stat), scanned_ns, reusable, ["sub"], ["README"], files, None)
    return draft.pack([None] * len(files), invcache.NO_RECORDS, None)[0]


# --- listings ------------------------------------------------------------------------------------


def test_listing_is_fresh_while_the_folder_signature_holds():
    record = _record()
    assert invfolder.is_fresh_listing(record, _stat())
    assert invfolder.names(record) == ("README", "a.cfg", "sub")
    assert not invfolder.is_fresh_listing(record, _stat(mtime_ns=OLD_NS + 1))  # a name came or went
    assert not invfolder.is_fresh_listing(record, _stat(ctime_ns=OLD_NS + 1))  # chmod, ...
    assert not invfolder.is_fresh_listing(record, _stat(ino=8))  # another folder in its place


def test_listing_not_reusable_or_racy_is_never_fresh():
    assert not invfolder.is_fresh_listing(_record(reusable=False), _stat())  # it held a symlink
    assert not invfolder.is_fresh_listing(_record(scanned_ns=OLD_NS + 1000), _stat())  # listed too soon


@pytest.mark.parametrize("record", [None, (), "x", (1, 2, 3), (OLD_NS, OLD_NS, 7, LATER_NS, True, [], (), (), 0, 0,
                                                                0, None)])
def test_odd_records_are_never_fresh(record):
    assert not invfolder.is_fresh_listing(record, _stat())


# --- all files at once ---------------------------------------------------------------------------


def _config(path, mac):
    return DomUConfig(path=path, label=os.path.basename(path), vifs=[Vif(0, mac=mac)], sources=[path])


@pytest.fixture(name="folder")
def _folder(tmp_path):
    """A folder with two configs (one with a sidecar), a rejected file and a problem file, all old."""
    folder = tmp_path / "xen"
    folder.mkdir()
    for name in ("a.cfg", "a.ctys", "b.cfg", "odd.conf", "skip.conf"):
        (folder / name).write_text(name)
        os.utime(folder / name, ns=(OLD_NS, OLD_NS))
    return folder


def _entries(folder, racy=False):
    """Entries as discovery makes them for the folder's files (sorted by name)."""
    memo = invcache.StatMemo()
    scanned = OLD_NS + 1000 if racy else LATER_NS

    def config_entry(name, mac, watched=()):
        path = str(folder / name)
        config = _config(path, mac)
        facts = (path, config.label, "", (mac,), (), ())
        return invcache.make_entry(invcache.signature(os.stat(path)), scanned, "config", config=config, facts=facts,
                                   watched=watched, memo=memo)

    return {
        "a.cfg": config_entry("a.cfg", "00:16:3e:00:00:01", watched=[str(folder / "a.ctys")]),
        "a.ctys": invcache.make_entry(invcache.signature(os.stat(folder / "a.ctys")), LATER_NS, "rejected", reason="r"),
        "b.cfg": config_entry("b.cfg", "00:16:3e:00:00:02"),
        "odd.conf": invcache.make_entry(invcache.signature(os.stat(folder / "odd.conf")), LATER_NS, "problem",
                                        reason="binary file"),
        "skip.conf": invcache.make_entry(invcache.signature(os.stat(folder / "skip.conf")), LATER_NS, "rejected",
                                         reason="r"),
    }


def _pack(folder, entries, reusable=True, stats=None):
    names = sorted(entries)
    draft = invfolder.FolderDraft(str(folder), os.stat(folder), LATER_NS, reusable, [], [], names, None)
    stats = stats if stats is not None else [os.stat(folder / name) for name in names]
    draft.sigs = invfolder.file_signatures(stats)
    draft.single_links = all(st.st_nlink == 1 for st in stats)
    record, region = draft.pack([entries[name] for name in names], invcache.NO_RECORDS, None)
    return invfolder.with_records_at(record, 100), region


def _records_at(record, region):
    """A RecordSource holding ``region`` where the record says it is."""
    source = invcache.RecordSource()
    source._data = b"\0" * record[invfolder.F_RECORDS_AT] + region  # pylint: disable=protected-access
    return source


def _stats(folder, record):
    return [os.stat(folder / name) for name in record[invfolder.F_FILES]]


def test_an_unchanged_folder_is_taken_whole(folder):
    record, region = _pack(folder, _entries(folder))
    prefix = str(folder) + "/"
    facts, chunk_records, problems = invfolder.quick_items(record, prefix, _stats(folder, record),
                                                           invcache.StatMemo())
    assert [fact[0] for fact in facts] == [prefix + "a.cfg", prefix + "b.cfg"]
    assert problems == [(prefix + "odd.conf", "binary file")]
    records = _records_at(record, region)
    assert len(chunk_records) == len(facts)
    refs = [chunk_records.ref(position) for position in range(len(chunk_records))]
    built = [invcache.unpack_config(invcache.record_bytes(ref, records)) for ref in refs]
    assert [config.macs for config in built] == [["00:16:3e:00:00:01"], ["00:16:3e:00:00:02"]]
    # the per-file entries decode to the same places
    by_name = invfolder.entries_by_name(record, records)
    assert [by_name[name][invcache.CONFIG] for name in ("a.cfg", "b.cfg")] == refs
    quick = record[invfolder.F_QUICK]
    assert quick[invfolder.Q_DEPS] == ((str(folder / "a.ctys"), OLD_NS, 6),)
    assert quick[invfolder.Q_ABSENT] == (str(folder) + ".ctys",)  # ${X%/*}.ctys, in the parent


def _write_keeping_old_mtime(path, text):
    path.write_text(text)
    os.utime(path, ns=(OLD_NS, OLD_NS))


def test_a_file_rewritten_in_place_fails_the_whole_folder(folder):
    record, _ = _pack(folder, _entries(folder))
    _write_keeping_old_mtime(folder / "b.cfg", "b.cfg, longer")  # same mtime, other size
    assert invfolder.quick_items(record, str(folder) + "/", _stats(folder, record), invcache.StatMemo()) is None


def test_a_file_replaced_fails_the_whole_folder(folder):
    record, _ = _pack(folder, _entries(folder))
    os.unlink(folder / "b.cfg")
    _write_keeping_old_mtime(folder / "b.cfg", "b.cfg")  # same mtime and size (ext4 even reuses the inode)
    assert invfolder.quick_items(record, str(folder) + "/", _stats(folder, record), invcache.StatMemo()) is None


def test_a_changed_dependency_fails_the_whole_folder(folder):
    record, _ = _pack(folder, _entries(folder))
    stats = _stats(folder, record)
    (folder / "a.ctys").write_text("a.ctys, changed")  # the sidecar of a.cfg
    assert invfolder.quick_items(record, str(folder) + "/", stats, invcache.StatMemo()) is None


def test_a_side_file_appearing_outside_fails_the_whole_folder(folder):
    record, _ = _pack(folder, _entries(folder))
    (folder.parent / "xen.ctys").write_text('#@#IP = "10.0.0.1"\n')  # ${X%/*}.ctys of every config here
    assert invfolder.quick_items(record, str(folder) + "/", _stats(folder, record), invcache.StatMemo()) is None


@pytest.mark.parametrize("why", ["racy entry", "no entry", "symlink in the folder", "no stat", "hard link"])
def test_no_quick_part_for_a_folder_that_cannot_be_trusted_whole(folder, why):
    if why == "hard link":  # the file can be met through another path: the per-file rules decide
        os.link(folder / "b.cfg", folder.parent / "b-link.cfg")
    entries = _entries(folder, racy=why == "racy entry")
    if why == "no entry":
        entries["skip.conf"] = None  # e.g. a FIFO named like a config: no entry, reported every run
    record, _ = _pack(folder, entries, reusable=why != "symlink in the folder",
                      stats=[] if why == "no stat" else None)
    if why == "no stat":
        record = (*record[:invfolder.F_QUICK], None)
    assert record[invfolder.F_QUICK] is None
    assert invfolder.quick_items(record, str(folder) + "/", _stats(folder, record), invcache.StatMemo()) is None


@pytest.mark.parametrize("damage", [lambda q: q[:3], lambda q: (q[0], (("x",),), *q[2:]),
                                    lambda q: (q[0], q[1], b"\x01", *q[3:]), lambda q: "not a tuple"])
def test_a_damaged_quick_part_is_never_trusted(folder, damage):
    record, _ = _pack(folder, _entries(folder))
    record = (*record[:invfolder.F_QUICK], damage(record[invfolder.F_QUICK]))
    assert invfolder.quick_items(record, str(folder) + "/", _stats(folder, record), invcache.StatMemo()) is None


def test_a_draft_with_nothing_new_is_not_saved_again(folder):
    entries = _entries(folder)
    record, _ = _pack(folder, entries)
    names = record[invfolder.F_FILES]
    draft = invfolder.FolderDraft(str(folder), os.stat(folder), LATER_NS, True, [], [], names, record)
    draft.sigs, draft.all_reused = invfolder.file_signatures(_stats(folder, record)), True
    assert draft.same_as_old()
    draft.all_reused = False  # a file was examined again
    assert not draft.same_as_old()
    draft.all_reused = True
    draft.files = names[:-1]  # a name went
    assert not draft.same_as_old()


def test_records_round_trip_through_the_cache_file(tmp_path, folder):
    record, region = _pack(folder, _entries(folder))
    cache_file = str(tmp_path / "c.msgpack")
    assert invcache.save_cache(cache_file, SETTINGS, {str(folder): invfolder.with_records_at(record, 0)}, [region]) == []
    content = invcache.load_cache(cache_file, SETTINGS)
    loaded = content.folders[str(folder)]
    assert loaded == invfolder.with_records_at(record, 0)
    _, chunk_records, _ = invfolder.quick_items(loaded, str(folder) + "/", _stats(folder, loaded),
                                                invcache.StatMemo())
    assert [invcache.unpack_config(invcache.record_bytes(chunk_records.ref(position), content.records)).label
            for position in range(len(chunk_records))] == ["a.cfg", "b.cfg"]
