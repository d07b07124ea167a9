"""The msgpack inventory cache file: what discovery learnt, reused while nothing changed.

One file (its path is the caller's, e.g. ``<minion cachedir>/xen/inventory.msgpack``) holds three
parts back to back::

    header   {"kind": "xenctys-inventory", "format": CACHE_FORMAT, "settings": {...}, "index": N,
              "index_crc": <CRC-32 of the index>}
    index    (N bytes) {"folders": {<folder path>: <folder record>, ...}}
    records  the packed DomUConfig of every config, folder by folder

A load reads and decodes the header and the index only (about a seventh of the file for 10,000
configs); the records part is read when a config is first used (:class:`RecordSource`).  What a
folder record holds, and how discovery checks a folder's files as one unit, is
:mod:`xenctys.invfolder`'s; this module has the file, and the entries of single files.

An entry describes one candidate file as discovery last saw it.  It is an array (a tuple once
loaded), read through the index names below (as maps, 10,000 entries would repeat their key
strings 10,000 times):

* ``MTIME_NS``, ``SIZE``: the file's signature when it was examined; ``SCANNED_NS``: when;
* ``STATUS``: ``"config"`` (accepted), ``"rejected"`` (failed the ctys filter; never parsed) or
  ``"problem"`` (binary, huge, unparseable); ``REASON`` says why for the last two;
* for a config, ``FACTS``: the few values addresses are matched on (``resolve.ConfigFacts``) and
  ``CONFIG``: its record: in memory its bytes or ``(offset, length, crc32)`` in the records part;
* ``DEPS``: ``(path, mtime_ns, size)`` of every other file the record was built from (ctys
  ``.ctys`` sidecars, the common file): a sidecar change changes the record.

An entry is reused only when all of this still holds, so the warm path only stats files.  A file
changed within the timestamp granularity of its examination is "racy" (same mtime, same size,
new content is possible, as in git's index) and is examined again.

The file is written atomically (temporary file in the same folder, fsync, rename), so a crash
mid-write leaves the previous cache.  msgpack has no checksum of its own, and a damaged byte may
still decode (as another number, another name): the index, and every packed part of the records
(checked when it is used), carry a CRC-32, so damage is found and costs time, never an answer.  A cache that cannot be read or decoded is treated as empty
and reported; a cache that cannot be written leaves the previous one and is reported.  Neither is
ever fatal: the cache only saves time.
"""

import contextlib
import gc
import os
import stat
import weakref
import zlib
from typing import NamedTuple

import msgpack

from xenctys import __version__
from xenctys.domconfig import DomUConfig
from xenctys.fsutil import atomic_write

CACHE_FORMAT = 7
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
SHORT_ENTRY_LENGTH, CONFIG_ENTRY_LENGTH = REASON + 1, DEPS + 1

# File names are bytes on Linux; Python shows undecodable ones with surrogates.  They must
# round-trip through the cache as they are, or such a file would break the whole cache.
PATH_ERRORS = "surrogateescape"

STATUS_CONFIG = "config"
STATUS_REJECTED = "rejected"
STATUS_PROBLEM = "problem"


class RecordSource:
    """The records part of one cache file, read on first use.

    The file stays open (not its path: a later save renames a new file over it, and the records
    must be those this index points into) until the source is garbage-collected.
    """

    def __init__(self, fd=None, start=0, length=0):
        self._fd, self._start, self._length, self._data = fd, start, length, None
        if fd is not None:
            self._finalizer = weakref.finalize(self, os.close, fd)
        else:
            self._data = b""

    def data(self):
        """All the records (bytes); read once."""
        if self._data is None:
            try:
                # Shorter than its index says when damaged: those records will not decode.
                self._data = _read_exactly(self._fd, self._start, self._length)
            except OSError:
                self._data = b""
            self._finalizer()  # everything is in memory now
        return self._data

    def slice(self, offset, length):
        """``length`` bytes at ``offset``: from memory once everything was read, else one read."""
        if self._data is not None:
            return self._data[offset:offset + length]
        try:
            return os.pread(self._fd, min(length, max(self._length - offset, 0)), self._start + offset)
        except (OSError, ValueError, OverflowError):
            return b""


NO_RECORDS = RecordSource()


class CacheContent(NamedTuple):
    """What :func:`load_cache` read: folder records by path, the records they point into, and
    the problems met."""

    folders: dict
    records: RecordSource
    problems: list


def _empty(problems=()):
    return CacheContent({}, NO_RECORDS, list(problems))


# --- reading and writing the file ----------------------------------------------------------------


def cache_settings(max_bytes, common_file):
    """What else decides an entry besides the files: a change of any of these empties the cache."""
    return {"reader": __version__, "max_bytes": int(max_bytes), "common_file": common_file or ""}


def load_cache(cache_file, settings):
    """The :class:`CacheContent` of the cache file; empty when it cannot be used.

    A missing cache, or one written by another format/version/settings, is silently empty; an
    unreadable or corrupt one is empty and reported in ``problems``.
    """
    try:
        # Non-blocking: a FIFO put in the cache's place must not hang the caller (checked below).
        fd = os.open(cache_file, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        return _empty()
    except (OSError, ValueError) as err:
        return _empty([_problem(cache_file, f"inventory cache ignored: cannot read it ({_reason(err)})")])
    try:
        content = _load_open(cache_file, fd, settings)
    except OSError as err:  # a read error (a folder opened as a file, EIO...)
        content = _empty([_problem(cache_file, f"inventory cache ignored: cannot read it ({_reason(err)})")])
    if content.records is NO_RECORDS:
        os.close(fd)
    return content


def _load_open(cache_file, fd, settings):
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        return _empty([_problem(cache_file, "inventory cache ignored: not a regular file")])
    size = info.st_size
    if size > MAX_CACHE_BYTES:
        return _empty([_problem(cache_file, f"inventory cache ignored: larger than {MAX_CACHE_BYTES} bytes")])
    head = os.pread(fd, HEADER_PEEK_BYTES, 0)
    try:
        header, index_start = _read_header(head, fd, size)
    except Exception as err:  # pylint: disable=broad-except  # msgpack raises many types on garbage
        return _empty([_problem(cache_file, f"inventory cache ignored: corrupt ({type(err).__name__})")])
    if not (isinstance(header, dict) and header.get("kind") == CACHE_KIND):
        return _empty([_problem(cache_file, "inventory cache ignored: not an inventory cache")])
    if header.get("format") != CACHE_FORMAT or header.get("settings") != settings:
        return _empty()  # written by another version or with other settings: start over quietly
    index_bytes = header.get("index")
    if not isinstance(index_bytes, int) or not 0 <= index_bytes <= size - index_start:
        return _empty([_problem(cache_file, "inventory cache ignored: corrupt (index length)")])
    data = _read_exactly(fd, index_start, index_bytes)
    if header.get("index_crc") != zlib.crc32(data):
        return _empty([_problem(cache_file, "inventory cache ignored: corrupt (checksum)")])
    try:
        index = unpack_without_gc(data)
    except Exception as err:  # pylint: disable=broad-except
        return _empty([_problem(cache_file, f"inventory cache ignored: corrupt ({type(err).__name__})")])
    if not (isinstance(index, dict) and isinstance(index.get("folders"), dict)):
        return _empty([_problem(cache_file, "inventory cache ignored: not an inventory cache")])
    records_start = index_start + index_bytes
    return CacheContent(index["folders"], RecordSource(fd, records_start, size - records_start), [])


def _read_header(head, fd, size):
    """``(header, offset of the index)``.  The header is a small map; a file whose first object
    is not (an older format kept everything in one map) is unpacked whole to say what it is."""
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, use_list=False, unicode_errors=PATH_ERRORS,
                                max_buffer_size=HEADER_PEEK_BYTES)
    unpacker.feed(head)
    try:
        header = unpacker.unpack()
    except msgpack.OutOfData:
        return unpack_without_gc(_read_exactly(fd, 0, size)), size
    return header, unpacker.tell()


def _read_exactly(fd, offset, length):
    """Up to ``length`` bytes at ``offset`` (fewer only at the end of the file)."""
    chunks = []
    while length > 0:
        chunk = os.pread(fd, length, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset, length = offset + len(chunk), length - len(chunk)
    return b"".join(chunks)


def save_cache(cache_file, settings, index_folders, record_parts):
    """Write the cache atomically from the folder records and the records part's pieces (in
    the order their offsets were given); return problems (empty on success).  Never raises
    OSError."""
    try:
        index = msgpack.packb({"folders": index_folders}, use_bin_type=True, default=str,
                              unicode_errors=PATH_ERRORS)
        header = msgpack.packb({"kind": CACHE_KIND, "format": CACHE_FORMAT, "settings": settings,
                                "index": len(index), "index_crc": zlib.crc32(index)},
                               use_bin_type=True, unicode_errors=PATH_ERRORS)
        atomic_write(cache_file, b"".join([header, index, *record_parts]))
    except (OSError, ValueError, TypeError, OverflowError) as err:
        reason = _reason(err) if isinstance(err, OSError) else f"{type(err).__name__}: {err}"
        return [_problem(cache_file, f"inventory cache not written, the previous one is kept ({reason})")]
    return []


def record_bytes(config, records):
    """The packed record a ``CONFIG`` field stands for: its bytes, or its slice of ``records``
    (a :class:`RecordSource`) when its CRC-32 is right.  Anything else gives ``b""``, which does
    not decode (see :func:`unpack_config`)."""
    if isinstance(config, bytes):
        return config
    if is_record_ref(config):
        return checked_slice(records, *config)
    return b""


def checked_slice(records, offset, length, crc):
    """``length`` bytes at ``offset`` of ``records`` if their CRC-32 is ``crc``, else ``b""``."""
    data = records.slice(offset, length)
    return data if zlib.crc32(data) == crc else b""


def is_record_ref(value):
    """True for a well-formed ``(offset, length, crc32)`` of a record."""
    return (isinstance(value, tuple) and len(value) == 3
            and all(type(number) is int and number >= 0 for number in value))  # pylint: disable=unidiomatic-typecheck


def is_record(value):
    """True for what a config entry's ``CONFIG`` may hold: bytes or a record reference."""
    return isinstance(value, bytes) or is_record_ref(value)


def is_config_entry(entry):
    return isinstance(entry, (list, tuple)) and len(entry) == CONFIG_ENTRY_LENGTH and entry[STATUS] == STATUS_CONFIG


def under_any(path, bases):
    """True when ``path`` is one of ``bases`` or below one."""
    for base in bases:
        if base == "/" or path == base or path.startswith(base.rstrip("/") + "/"):
            return True
    return False


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


def unpack_without_gc(data):
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
        if length == SHORT_ENTRY_LENGTH:
            return status in (STATUS_REJECTED, STATUS_PROBLEM)
        if length != CONFIG_ENTRY_LENGTH or status != STATUS_CONFIG:
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


def _problem(path, reason):
    return {"path": path, "reason": reason}


def _reason(err):
    if isinstance(err, OSError) and err.errno:
        return f"[Errno {err.errno}] {err.strerror}"
    if isinstance(err, OSError):
        return err.strerror or str(err)
    return str(err)
