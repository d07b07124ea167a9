"""The msgpack inventory cache: what discovery learnt about each file, reused while nothing changed.

One file (its path is the caller's, e.g. ``<minion cachedir>/xen/inventory.msgpack``) holds::

    {"kind": "xenctys-inventory", "format": CACHE_FORMAT, "settings": {...},
     "entries": {<file path>: <entry>, ...}, "folders": {<folder>: <digest of its names>, ...}}

An entry describes one candidate file as discovery last saw it.  It is an array (a tuple once
loaded), read through
the index names below (as maps, 10,000 entries would repeat their 9 key strings 10,000 times:
a third of the load time):

* ``MTIME_NS``, ``SIZE``: the file's signature when it was examined; ``SCANNED_NS``: when;
* ``STATUS``: ``"config"`` (accepted), ``"rejected"`` (failed the ctys filter; never parsed) or
  ``"problem"`` (binary, huge, unparseable); ``REASON`` says why for the last two;
* for a config, ``CONFIG``: ``DomUConfig.to_dict()`` packed as its own msgpack ``bin`` (decoded
  only when that config is used: loading 10,000 records as nested maps costs more than walking
  the tree) and ``FACTS``: the few values addresses are matched on (``resolve.ConfigFacts``);
* ``DEPS``: ``(path, mtime_ns, size)`` of every other file the record was built from (ctys
  ``.ctys`` sidecars, the common file): a sidecar change changes the record.

A sidecar that did not exist and appears changes the record too.  Rather than a list of absent
paths per record (30,000 strings to load and check for 10,000 configs), the cache keeps a digest
of every walked folder's names (:func:`folder_digest`): while a folder's names are the same, no
file appeared in it, and discovery checks the absent sidecars only of records whose folder (or
parent folder) changed.

An entry is reused only when all of this still holds, so the warm path only stats files.  A file
changed within the timestamp granularity of its examination is "racy" (same mtime, same size,
new content is possible, as in git's index) and is examined again.

The file is written atomically (temporary file in the same folder, fsync, rename), so a crash
mid-write leaves the previous cache.  A cache that cannot be read or decoded is treated as empty
and reported; a cache that cannot be written leaves the previous one and is reported.  Neither is
ever fatal: the cache only saves time.
"""

import contextlib
import gc
import hashlib
import os

import msgpack

from xenctys import __version__
from xenctys.domconfig import DomUConfig
from xenctys.fsutil import atomic_write

CACHE_FORMAT = 3
CACHE_KIND = "xenctys-inventory"
# Larger than any sane cache of a dom0; a bigger file is not ours (or is damaged).
MAX_CACHE_BYTES = 256 << 20
# Timestamps are only as fine as the kernel's clock tick (a few ms) or, on some file systems,
# one second or worse: a file changed this close to its examination may change again unseen.
FINE_RACY_WINDOW_NS = 50_000_000
COARSE_RACY_WINDOW_NS = 2_000_000_000

# Index names of an entry array; a rejected/problem entry stops after REASON.
MTIME_NS, SIZE, SCANNED_NS, STATUS, REASON, FACTS, CONFIG, DEPS = range(8)
_SHORT_ENTRY, _CONFIG_ENTRY = REASON + 1, DEPS + 1

# File names are bytes on Linux; Python shows undecodable ones with surrogates.  They must
# round-trip through the cache as they are, or such a file would break the whole cache.
PATH_ERRORS = "surrogateescape"

STATUS_CONFIG = "config"
STATUS_REJECTED = "rejected"
STATUS_PROBLEM = "problem"


# --- reading and writing the file ----------------------------------------------------------------


def cache_settings(max_bytes, common_file):
    """What else decides an entry besides the files: a change of any of these empties the cache."""
    return {"reader": __version__, "max_bytes": int(max_bytes), "common_file": common_file or ""}


def load_cache(cache_file, settings):
    """``(entries, folders, problems)`` from the cache file; empty when it cannot be used.

    A missing cache, or one written by another format/version/settings, is silently empty; an
    unreadable or corrupt one is empty and reported in ``problems``.
    """
    try:
        with open(cache_file, "rb") as handle:
            data = handle.read(MAX_CACHE_BYTES + 1)
    except FileNotFoundError:
        return {}, {}, []
    except OSError as err:
        return {}, {}, [_problem(cache_file, f"inventory cache ignored: cannot read it ({_os_reason(err)})")]
    if len(data) > MAX_CACHE_BYTES:
        return {}, {}, [_problem(cache_file, f"inventory cache ignored: larger than {MAX_CACHE_BYTES} bytes")]
    try:
        content = _unpack_without_gc(data)
    except Exception as err:  # pylint: disable=broad-except  # msgpack raises many types on garbage
        return {}, {}, [_problem(cache_file, f"inventory cache ignored: corrupt ({type(err).__name__})")]
    if not _is_our_cache(content):
        return {}, {}, [_problem(cache_file, "inventory cache ignored: not an inventory cache")]
    if content.get("format") != CACHE_FORMAT or content.get("settings") != settings:
        return {}, {}, []  # written by another version or with other settings: start over quietly
    return content["entries"], content["folders"], []


def load_entries(cache_file, settings):
    """``(entries, problems)``: :func:`load_cache` without the folder digests."""
    entries, _, problems = load_cache(cache_file, settings)
    return entries, problems


def save_entries(cache_file, entries, settings, folders=None):
    """Write the cache atomically; return problems (empty on success).  Never raises OSError."""
    content = {"kind": CACHE_KIND, "format": CACHE_FORMAT, "settings": settings, "entries": entries,
               "folders": folders or {}}
    try:
        data = msgpack.packb(content, use_bin_type=True, default=str, unicode_errors=PATH_ERRORS)
        atomic_write(cache_file, data)
    except (OSError, ValueError, TypeError, OverflowError) as err:
        reason = _os_reason(err) if isinstance(err, OSError) else f"{type(err).__name__}: {err}"
        return [_problem(cache_file, f"inventory cache not written, the previous one is kept ({reason})")]
    return []


def merge_entries(old_entries, new_entries, walked_bases):
    """The entries (or folder digests) to save: this walk's, plus old ones outside every walked base.

    A call with ``b:`` walks only part of the tree; the other entries stay valid and are kept,
    while old entries below a walked base that the walk did not meet (deleted files) are dropped.
    """
    merged = {path: entry for path, entry in old_entries.items() if not _under_any(path, walked_bases)}
    merged.update(new_entries)
    return merged


def folder_digest(names):
    """A digest of a folder's entry names: equal digests mean no file appeared or vanished.

    Joined with NUL, the one byte no file name can hold, so the join is unambiguous.
    """
    joined = "\0".join(sorted(names)).encode("utf-8", PATH_ERRORS)
    return hashlib.blake2b(joined, digest_size=16).digest()


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


def _is_our_cache(content):
    return (isinstance(content, dict) and content.get("kind") == CACHE_KIND
            and isinstance(content.get("entries"), dict) and isinstance(content.get("folders"), dict))


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
