"""The msgpack inventory cache: what discovery learnt about each file and folder, reused while
nothing changed.

One file (its path is the caller's, e.g. ``<minion cachedir>/xen/inventory.msgpack``) holds three
parts back to back::

    header   {"kind": "xenctys-inventory", "format": CACHE_FORMAT, "settings": {...}, "index": N}
    index    (N bytes) {"entries": {<file path>: <entry>, ...}, "folders": {<folder>: <record>, ...}}
    records  the packed DomUConfig of every config entry, back to back

Only the header and the index are decoded on a load (about a sixth of the file for 10,000
configs); a record is sliced out of the loaded bytes and decoded when that config is used.

An entry describes one candidate file as discovery last saw it.  It is an array (a tuple once
loaded), read through the index names below (as maps, 10,000 entries would repeat their key
strings 10,000 times):

* ``MTIME_NS``, ``SIZE``: the file's signature when it was examined; ``SCANNED_NS``: when;
* ``STATUS``: ``"config"`` (accepted), ``"rejected"`` (failed the ctys filter; never parsed) or
  ``"problem"`` (binary, huge, unparseable); ``REASON`` says why for the last two;
* for a config, ``FACTS``: the few values addresses are matched on (``resolve.ConfigFacts``) and
  ``CONFIG``: where its record is, ``(offset, length)`` in the records part (in memory, a record
  not saved yet is its bytes);
* ``DEPS``: ``(path, mtime_ns, size)`` of every other file the record was built from (ctys
  ``.ctys`` sidecars, the common file): a sidecar change changes the record.

A folder record (``F_*`` index names) keeps the folder's signature (mtime, ctime, inode) when it
was listed, and its names: subfolders, candidate files, other names.  A folder whose signature
is unchanged has the same names (creating, deleting or renaming a name changes the folder's
mtime), so the warm walk does not list it again: it stats the names it knows.  A folder that
held a symlink, or a name that could not be classified, is always listed again (a symlink's
target can change kind without its folder changing).

The folder names also stand for the side files that were absent: a sidecar that did not exist
and appears changes the record, and rather than a list of absent paths per record (30,000
strings to load and check for 10,000 configs), discovery checks the absent sidecars only of
records whose folder (or parent folder) has other names than before.

An entry (or folder record) is reused only when all of this still holds, so the warm path only
stats files and folders.  A file changed within the timestamp granularity of its examination is
"racy" (same mtime, same size, new content is possible, as in git's index) and is examined again;
so is a racy folder.

The file is written atomically (temporary file in the same folder, fsync, rename), so a crash
mid-write leaves the previous cache.  A cache that cannot be read or decoded is treated as empty
and reported; a cache that cannot be written leaves the previous one and is reported.  Neither is
ever fatal: the cache only saves time.
"""

import contextlib
import gc
import os
from typing import NamedTuple

import msgpack

from xenctys import __version__
from xenctys.domconfig import DomUConfig
from xenctys.fsutil import atomic_write

CACHE_FORMAT = 4
CACHE_KIND = "xenctys-inventory"
# Larger than any sane cache of a dom0; a bigger file is not ours (or is damaged).
MAX_CACHE_BYTES = 256 << 20
# The header is a few hundred bytes; a first object that does not fit is no header of ours.
HEADER_PEEK_BYTES = 4096
# Timestamps are only as fine as the kernel's clock tick (a few ms) or, on some file systems,
# one second or worse: a file changed this close to its examination may change again unseen.
FINE_RACY_WINDOW_NS = 50_000_000
COARSE_RACY_WINDOW_NS = 2_000_000_000

# Index names of an entry array; a rejected/problem entry stops after REASON.
MTIME_NS, SIZE, SCANNED_NS, STATUS, REASON, FACTS, CONFIG, DEPS = range(8)
_SHORT_ENTRY, _CONFIG_ENTRY = REASON + 1, DEPS + 1

# Index names of a folder record.
F_MTIME_NS, F_CTIME_NS, F_INO, F_SCANNED_NS, F_REUSABLE, F_SUBDIRS, F_CANDIDATES, F_OTHERS = range(8)
_FOLDER_RECORD = F_OTHERS + 1

# File names are bytes on Linux; Python shows undecodable ones with surrogates.  They must
# round-trip through the cache as they are, or such a file would break the whole cache.
PATH_ERRORS = "surrogateescape"

STATUS_CONFIG = "config"
STATUS_REJECTED = "rejected"
STATUS_PROBLEM = "problem"


class CacheContent(NamedTuple):
    """What :func:`load_cache` read: entries and folder records by path, the records part (the
    bytes ``CONFIG`` offsets point into) and the problems met."""

    entries: dict
    folders: dict
    records: bytes
    problems: list


EMPTY_RECORDS = b""


def _empty(problems=()):
    return CacheContent({}, {}, EMPTY_RECORDS, list(problems))


# --- reading and writing the file ----------------------------------------------------------------


def cache_settings(max_bytes, common_file):
    """What else decides an entry besides the files: a change of any of these empties the cache."""
    return {"reader": __version__, "max_bytes": int(max_bytes), "common_file": common_file or ""}


def load_cache(cache_file, settings):
    """The :class:`CacheContent` of the cache file; empty when it cannot be used.

    A missing cache, or one written by another format/version/settings, is silently empty; an
    unreadable or corrupt one is empty and reported in ``problems``.  Records are not decoded.
    """
    try:
        with open(cache_file, "rb") as handle:
            data = handle.read(MAX_CACHE_BYTES + 1)
    except FileNotFoundError:
        return _empty()
    except OSError as err:
        return _empty([_problem(cache_file, f"inventory cache ignored: cannot read it ({_os_reason(err)})")])
    if len(data) > MAX_CACHE_BYTES:
        return _empty([_problem(cache_file, f"inventory cache ignored: larger than {MAX_CACHE_BYTES} bytes")])
    try:
        header, index_start = _read_header(data)
    except Exception as err:  # pylint: disable=broad-except  # msgpack raises many types on garbage
        return _empty([_problem(cache_file, f"inventory cache ignored: corrupt ({type(err).__name__})")])
    if not (isinstance(header, dict) and header.get("kind") == CACHE_KIND):
        return _empty([_problem(cache_file, "inventory cache ignored: not an inventory cache")])
    if header.get("format") != CACHE_FORMAT or header.get("settings") != settings:
        return _empty()  # written by another version or with other settings: start over quietly
    index_bytes = header.get("index")
    if not isinstance(index_bytes, int) or not 0 <= index_bytes <= len(data) - index_start:
        return _empty([_problem(cache_file, "inventory cache ignored: corrupt (index length)")])
    records_start = index_start + index_bytes
    try:
        index = _unpack_without_gc(memoryview(data)[index_start:records_start])
    except Exception as err:  # pylint: disable=broad-except
        return _empty([_problem(cache_file, f"inventory cache ignored: corrupt ({type(err).__name__})")])
    if not (isinstance(index, dict) and isinstance(index.get("entries"), dict)
            and isinstance(index.get("folders"), dict)):
        return _empty([_problem(cache_file, "inventory cache ignored: not an inventory cache")])
    # The records are sliced from ``data`` itself when used: no copy of the (largest) part now.
    return CacheContent(index["entries"], index["folders"], memoryview(data)[records_start:], [])


def _read_header(data):
    """``(header, offset of the index)``.  The header is a small map; a file whose first object
    is not (an older format kept everything in one map) is unpacked whole to say what it is."""
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, use_list=False, unicode_errors=PATH_ERRORS,
                                max_buffer_size=HEADER_PEEK_BYTES)
    unpacker.feed(data[:HEADER_PEEK_BYTES])
    try:
        header = unpacker.unpack()
    except msgpack.OutOfData:
        return _unpack_without_gc(data), len(data)
    return header, unpacker.tell()


def load_entries(cache_file, settings):
    """``(entries, problems)`` with every config record as bytes: for tools and tests that look
    inside the cache (discovery itself uses :func:`load_cache` and decodes records lazily)."""
    content = load_cache(cache_file, settings)
    entries = {}
    for path, entry in content.entries.items():
        if _is_config_entry(entry):
            entry = entry[:CONFIG] + (record_bytes(entry[CONFIG], content.records),) + entry[CONFIG + 1:]
        entries[path] = entry
    return entries, content.problems


def save_entries(cache_file, entries, settings, folders=None, records=EMPTY_RECORDS):
    """Write the cache atomically; return problems (empty on success).  Never raises OSError.

    A config entry's ``CONFIG`` is its record's bytes, or ``(offset, length)`` in ``records``
    (the records part of the cache these entries were loaded from).
    """
    try:
        index_entries, record_parts = _place_records(entries, records)
        index = msgpack.packb({"entries": index_entries, "folders": folders or {}}, use_bin_type=True,
                              default=str, unicode_errors=PATH_ERRORS)
        header = msgpack.packb({"kind": CACHE_KIND, "format": CACHE_FORMAT, "settings": settings,
                                "index": len(index)}, use_bin_type=True, unicode_errors=PATH_ERRORS)
        atomic_write(cache_file, b"".join([header, index, *record_parts]))
    except (OSError, ValueError, TypeError, OverflowError) as err:
        reason = _os_reason(err) if isinstance(err, OSError) else f"{type(err).__name__}: {err}"
        return [_problem(cache_file, f"inventory cache not written, the previous one is kept ({reason})")]
    return []


def _place_records(entries, records):
    """Entries with ``CONFIG`` as ``(offset, length)`` in the records part, and that part's pieces."""
    placed, parts, offset = {}, [], 0
    for path, entry in entries.items():
        if _is_config_entry(entry):
            blob = record_bytes(entry[CONFIG], records)
            entry = [*entry[:CONFIG], (offset, len(blob)), *entry[CONFIG + 1:]]
            parts.append(blob)
            offset += len(blob)
        placed[path] = entry
    return placed, parts


def record_bytes(config, records):
    """The packed record a ``CONFIG`` field stands for: its bytes, or its slice of ``records``.

    A reference that does not fit in ``records`` gives what fits (it will not decode: see
    :func:`unpack_config`); anything else gives ``b""``.
    """
    if isinstance(config, bytes):
        return config
    if is_record_ref(config):
        offset, length = config
        return bytes(records[offset:offset + length])
    return b""


def is_record_ref(value):
    """True for a well-formed ``(offset, length)`` of a record in the records part."""
    return (isinstance(value, tuple) and len(value) == 2 and type(value[0]) is int  # pylint: disable=unidiomatic-typecheck
            and type(value[1]) is int and value[0] >= 0 and value[1] >= 0)  # pylint: disable=unidiomatic-typecheck


def is_record(value):
    """True for what a config entry's ``CONFIG`` may hold: bytes or a record reference."""
    return isinstance(value, bytes) or is_record_ref(value)


def _is_config_entry(entry):
    return isinstance(entry, (list, tuple)) and len(entry) == _CONFIG_ENTRY and entry[STATUS] == STATUS_CONFIG


def merge_entries(old_entries, new_entries, walked_bases):
    """The entries (or folder records) to save: this walk's, plus old ones outside every walked base.

    A call with ``b:`` walks only part of the tree; the other entries stay valid and are kept,
    while old entries below a walked base that the walk did not meet (deleted files) are dropped.
    """
    merged = {path: entry for path, entry in old_entries.items() if not _under_any(path, walked_bases)}
    merged.update(new_entries)
    return merged


# --- folder records ------------------------------------------------------------------------------


def folder_record(stat_result, scanned_ns, reusable, subdirs, candidates, others):
    """The record of a folder listed at ``scanned_ns`` (see the module docstring)."""
    return (stat_result.st_mtime_ns, stat_result.st_ctime_ns, stat_result.st_ino, scanned_ns, bool(reusable),
            tuple(subdirs), tuple(candidates), tuple(others))


def folder_is_fresh(record, stat_result):
    """True when the folder's names are still those of ``record``: no need to list it again."""
    try:
        return (len(record) == _FOLDER_RECORD and record[F_REUSABLE] is True
                and record[F_MTIME_NS] == stat_result.st_mtime_ns and record[F_CTIME_NS] == stat_result.st_ctime_ns
                and record[F_INO] == stat_result.st_ino
                and not is_racy(record[F_MTIME_NS], record[F_SCANNED_NS])
                and all(isinstance(record[part], tuple) for part in (F_SUBDIRS, F_CANDIDATES, F_OTHERS)))
    except TypeError:
        return False


def folder_names(record):
    """Every name of a folder record, sorted; None for a record of an unexpected shape."""
    try:
        return tuple(sorted(record[F_SUBDIRS] + record[F_CANDIDATES] + record[F_OTHERS]))
    except (IndexError, KeyError, TypeError):
        return None


@contextlib.contextmanager
def gc_paused():
    """Pause the cyclic garbage collector for a bulk build that makes no reference cycles.

    Building ~10^5 containers triggers collections that each walk every live container; for the
    inventory's bulk steps that is half the time, and none of it finds garbage.  Collection is
    only deferred (msgpack's documentation gives the same advice for large unpacks).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _unpack_without_gc(data):
    """Unpack the cache with as little cyclic-GC work as possible.

    Arrays come back as tuples: a tuple (or dict) holding only strings and numbers is dropped from
    the collector's watch, a list never is, and 10^5 watched lists made every later collection
    of the process walk them all (building all 10,000 configs took seconds instead of ~0.2 s).
    """
    with gc_paused():
        return msgpack.unpackb(data, raw=False, strict_map_key=False, use_list=False, unicode_errors=PATH_ERRORS)




# --- entries -------------------------------------------------------------------------------------


def signature(stat_result):
    """The part of a stat that says "changed": ``(mtime_ns, size)``."""
    return (stat_result.st_mtime_ns, stat_result.st_size)


class StatMemo:
    """Stats of dependency files, each taken once per discovery run.

    The common file is a dependency of every record; stating it 10,000 times would be waste.
    ``listings`` (folder -> set of names, filled by the walk) answers "is it there?" for a file
    in a folder already listed, without a system call.
    """

    def __init__(self, listings=None):
        self._signatures = {}
        self.listings = listings if listings is not None else {}

    def signature(self, path):
        """``(mtime_ns, size)`` of ``path``, or None when it is not there (or cannot be stated)."""
        if path not in self._signatures:
            try:
                self._signatures[path] = signature(os.stat(path))
            except (OSError, ValueError):
                self._signatures[path] = None
        return self._signatures[path]

    def exists(self, path):
        """Is ``path`` there?  From the folder listing when the walk has one (no system call)."""
        folder, _, name = path.rpartition("/")
        names = self.listings.get(folder or "/")
        if names is not None:
            return name in names
        return self.signature(path) is not None


def make_entry(file_signature, scanned_ns, status, reason="", config=None, facts=(), watched=(), memo=None):
    """A cache entry for one examined file (see the module docstring for the fields).

    ``watched`` are the other files the record may depend on; those that exist become ``DEPS``.
    """
    entry = [file_signature[0], file_signature[1], scanned_ns, status, reason]
    if config is not None:
        memo = memo or StatMemo()
        signatures = [(path, memo.signature(path) if memo.exists(path) else None) for path in watched]
        entry += [list(facts), pack_config(config), [[path, *sig] for path, sig in signatures if sig is not None]]
    return entry


def is_fresh(entry, file_signature, memo):
    """True when ``entry`` still describes the file: same signature, not racy, same dependencies.

    Sidecars that were absent are not checked here (see the module docstring: folder digests).
    An entry of an unexpected shape is never trusted (the file is examined again).
    """
    try:
        mtime_ns, size, scanned_ns, status = entry[MTIME_NS], entry[SIZE], entry[SCANNED_NS], entry[STATUS]
        if mtime_ns != file_signature[0] or size != file_signature[1] or is_racy(mtime_ns, scanned_ns):
            return False
        length = len(entry)
        if length == _SHORT_ENTRY:
            return status in (STATUS_REJECTED, STATUS_PROBLEM)
        if length != _CONFIG_ENTRY or status != STATUS_CONFIG:
            return False
        for path, dep_mtime_ns, dep_size in entry[DEPS]:
            if memo.signature(path) != (dep_mtime_ns, dep_size) or is_racy(dep_mtime_ns, scanned_ns):
                return False
        return True
    except (KeyError, IndexError, TypeError, ValueError):
        return False


def is_racy(mtime_ns, scanned_ns):
    """True when a change after ``scanned_ns`` could have left ``mtime_ns`` as it was."""
    coarse = mtime_ns % 1_000_000_000 == 0  # whole seconds: a coarse file system (or a touch -d)
    window = COARSE_RACY_WINDOW_NS if coarse else FINE_RACY_WINDOW_NS
    return mtime_ns >= scanned_ns - window


def config_to_dict(config):
    """``DomUConfig.to_dict()`` without its deep copies (the dict is packed, not kept).

    ``dataclasses.asdict`` copies every nested value recursively, which is most of the cost of
    caching 10,000 records; the content is the same.
    """
    data = dict(config.__dict__)
    data["vifs"] = [dict(vif.__dict__) for vif in config.vifs]
    data["ctys_ips"] = [dict(entry.__dict__) for entry in config.ctys_ips]
    return data


def pack_config(config):
    """``DomUConfig.to_dict()`` as msgpack bytes."""
    return msgpack.packb(config_to_dict(config), use_bin_type=True, default=str, unicode_errors=PATH_ERRORS)


def unpack_config(blob):
    """The DomUConfig of :func:`pack_config` bytes; ValueError when they are not one."""
    try:
        return DomUConfig.from_dict(msgpack.unpackb(blob, raw=False, strict_map_key=False,
                                                    unicode_errors=PATH_ERRORS))
    except Exception as err:  # pylint: disable=broad-except  # garbage in a cache: any error type
        raise ValueError(f"cached record unreadable ({type(err).__name__})") from None


# --- helpers -------------------------------------------------------------------------------------


def _under_any(path, bases):
    for base in bases:
        if base == "/" or path == base or path.startswith(base.rstrip("/") + "/"):
            return True
    return False


def _problem(path, reason):
    return {"path": path, "reason": reason}


def _os_reason(err):
    if err.errno:
        return f"[Errno {err.errno}] {err.strerror}"
    return err.strerror or str(err)
