"""One folder of the inventory cache: its record, and the check of all its files as one unit.

Discovery keeps what it learnt folder by folder.  A folder record (a tuple, ``F_*`` index names)
holds:

* the folder's signature when it was listed (mtime, ctime, inode) and when (``F_SCANNED_NS``),
  and whether its names can be trusted while that signature holds (``F_REUSABLE``: False when
  the folder held a symlink, whose target can change kind without its folder changing);
* its names: subfolders, candidate files (``*.conf``, ``*.ctys``, ``*.cfg``) and the others;
* where its region of the records part of the cache file is (``F_RECORDS_AT``, length
  ``F_RECORDS_LEN``): first the :mod:`~xenctys.invcache` entry of every candidate file, packed
  (``F_ENTRIES`` bytes long, CRC-32 ``F_ENTRIES_CRC``; read and decoded only when the folder has
  to be checked file by file), then the packed DomUConfig of its configs (entry offsets are
  relative to their start, each with its CRC-32);
* ``F_QUICK``: what checking all the files at once needs, when that is possible (``Q_*``): the
  ``(mtime_ns, ctime_ns, size, inode)`` of every candidate packed in one ``bytes``, the facts of
  the configs (``resolve.ConfigFacts`` values: addresses are matched on them), where their
  records are (``array('Q')`` bytes: offset << 32 | length, CRC-32), the problems to report, the
  side files the records depend on ``(path, mtime_ns, size)``, and the side files outside the
  folder that were absent (the ``${X%/*}.ctys`` in the parent folder, the ctys common file).

A folder whose signature is unchanged has the same names (creating, deleting or renaming a name
changes the folder's mtime), so a warm walk does not list it: it stats the names it knows.  When
the candidates' packed stats equal ``Q_SIGS`` byte for byte, the dependencies are unchanged and
no absent side file appeared, every entry of the folder still holds and is taken as it is: no
entry is decoded, nothing is read.  A quick part is only made for a folder whose files have no
other hard link (a new link changes the file's ctime, so it is seen).  Otherwise the folder is checked file by file (and its record
rebuilt).  A racy folder (changed within the timestamp granularity of its listing) is listed
again; a folder with a racy entry gets no quick part.
"""

import os
import zlib
from array import array
from itertools import chain
from operator import attrgetter

import msgpack

from xenctys import invcache

(F_MTIME_NS, F_CTIME_NS, F_INO, F_SCANNED_NS, F_REUSABLE, F_SUBDIRS, F_OTHERS, F_FILES, F_ENTRIES, F_ENTRIES_CRC,
 F_RECORDS_AT, F_RECORDS_LEN, F_QUICK) = range(13)
RECORD_LENGTH = F_QUICK + 1
Q_SIGS, Q_FACTS, Q_REFS, Q_PROBLEMS, Q_DEPS, Q_ABSENT = range(6)
QUICK_LENGTH = Q_ABSENT + 1
# Per file in Q_SIGS: mtime, ctime (a file rewritten with its old mtime, as cp -p or tar do, gets
# a new one), size and inode.
_SIGNATURE_OF = attrgetter("st_mtime_ns", "st_ctime_ns", "st_size", "st_ino")


def is_fresh_listing(record, stat_result):
    """True when the folder's names are still those of ``record``: no need to list it again."""
    try:
        return (len(record) == RECORD_LENGTH and record[F_REUSABLE] is True
                and record[F_MTIME_NS] == stat_result.st_mtime_ns and record[F_CTIME_NS] == stat_result.st_ctime_ns
                and record[F_INO] == stat_result.st_ino
                and not invcache.is_racy(record[F_MTIME_NS], record[F_SCANNED_NS])
                and all(isinstance(record[part], tuple) for part in (F_SUBDIRS, F_OTHERS, F_FILES)))
    except TypeError:
        return False


def names(record):
    """Every name of a folder record, sorted; None for a record of an unexpected shape."""
    try:
        return tuple(sorted(record[F_SUBDIRS] + record[F_OTHERS] + record[F_FILES]))
    except (IndexError, KeyError, TypeError):
        return None


def file_signatures(stats):
    """The packed ``(mtime_ns, ctime_ns, size, inode)`` of ``stats``; None when one does not fit."""
    try:
        return array("q", chain.from_iterable(map(_SIGNATURE_OF, stats))).tobytes()
    except OverflowError:
        return None


def entries_by_name(record, records):
    """``{name: entry}`` of a record's candidate files, ``CONFIG`` made absolute in ``records``
    (the RecordSource of the cache file); ``{}`` when the record is damaged (every file is then
    examined again)."""
    try:
        base = record[F_RECORDS_AT] + record[F_ENTRIES]
        packed = invcache.checked_slice(records, record[F_RECORDS_AT], record[F_ENTRIES], record[F_ENTRIES_CRC])
        entries = invcache.unpack_without_gc(packed)
        if not (isinstance(entries, tuple) and len(entries) == len(record[F_FILES])):
            return {}
    except Exception:  # pylint: disable=broad-except  # garbage in a cache: any error type
        return {}
    found = {}
    for name, entry in zip(record[F_FILES], entries):
        if invcache.is_config_entry(entry) and invcache.is_record_ref(entry[invcache.CONFIG]):
            offset, length, crc = entry[invcache.CONFIG]
            entry = (*entry[:invcache.CONFIG], (base + offset, length, crc), *entry[invcache.CONFIG + 1:])
        if entry is not None:
            found[name] = entry
    return found


def quick_items(record, prefix, stats, memo):
    """``(facts, records, problems)`` of a folder whose files are all unchanged (see the module
    docstring), else None: the facts of its configs (a tuple), where their records are (a
    :class:`ChunkRecords`) and its problems ``[(path, reason)]``.  Nothing is built per config:
    this runs for every folder of every warm call."""
    try:
        quick = record[F_QUICK]
        if quick is None or len(quick) != QUICK_LENGTH or file_signatures(stats) != quick[Q_SIGS]:
            return None
        if any(memo.exists(path) for path in quick[Q_ABSENT]):
            return None
        if any(memo.signature(path) != (mtime_ns, size) for path, mtime_ns, size in quick[Q_DEPS]):
            return None
        facts, refs = quick[Q_FACTS], quick[Q_REFS]
        # Shape checks in bulk: one record per config, six values per fact (what the matcher reads).
        if (not isinstance(refs, bytes) or len(refs) != _REF_BYTES * len(facts)
                or not set(map(len, facts)) <= {6}):
            return None
        records = ChunkRecords(record[F_RECORDS_AT] + record[F_ENTRIES], refs)
        return facts, records, [(prefix + name, reason) for name, reason in quick[Q_PROBLEMS]]
    except (TypeError, ValueError, IndexError, AttributeError):  # a damaged record: check file by file
        return None


# Q_REFS holds two unsigned 64-bit numbers per config: offset << 32 | length (relative to the
# folder's records), then the CRC-32.  A cache is at most invcache.MAX_CACHE_BYTES (2**28), so
# offset and length fit in 32 bits each.
_HALF = 32
_MASK = (1 << _HALF) - 1
_REF_BYTES = 2 * array("Q").itemsize


class ChunkRecords:
    """Where the records of a folder taken whole lie: ``ref(i)`` is the ``(offset, length,
    crc32)`` of its i-th config in the records part of the cache file.

    Kept packed until a config of the folder is used: a warm call takes every folder whole, and
    building 10,000 references it mostly never reads cost a tenth of that call.
    """

    __slots__ = ("base", "packed", "_refs")

    def __init__(self, base, packed):
        self.base, self.packed, self._refs = base, packed, None

    def __len__(self):
        return len(self.packed) // _REF_BYTES

    def ref(self, position):
        if self._refs is None:
            self._refs = array("Q", self.packed)
        place, crc = self._refs[2 * position], self._refs[2 * position + 1]
        return self.base + (place >> _HALF), place & _MASK, crc


class FolderDraft:
    """A folder listed, or checked file by file, in this run: it becomes a record when saved.

    ``old`` is its previous record (None for a new folder); ``sigs`` the packed stats of its
    candidates (None when one could not be stated); ``single_links``: none of them has another
    hard link (then a file can be met through another path only by a symlink: see discovery);
    ``all_reused``: every candidate's entry came from ``old`` unchanged.
    """

    __slots__ = ("path", "stat", "scanned_ns", "reusable", "subdirs", "others", "files", "sigs", "single_links",
                 "old", "all_reused")

    def __init__(self, path, stat_result, scanned_ns, reusable, subdirs, others, files, old):
        self.path, self.stat, self.scanned_ns, self.reusable = path, stat_result, scanned_ns, reusable
        self.subdirs, self.others, self.files = tuple(subdirs), tuple(others), tuple(files)
        self.sigs, self.single_links, self.old, self.all_reused = None, False, old, False

    def same_as_old(self):
        """True when the previous record still says everything: nothing to save for this folder."""
        old, st = self.old, self.stat
        try:
            return (self.all_reused and len(old) == RECORD_LENGTH
                    and (old[F_MTIME_NS], old[F_CTIME_NS], old[F_INO]) == (st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
                    and old[F_REUSABLE] is self.reusable
                    and (old[F_SUBDIRS], old[F_OTHERS], old[F_FILES]) == (self.subdirs, self.others, self.files)
                    and (old[F_QUICK] is None or old[F_QUICK][Q_SIGS] == self.sigs))
        except (TypeError, IndexError):
            return False

    def pack(self, entries, records, common_file):
        """``(record with F_RECORDS_AT unset, its records' bytes)`` for ``entries`` (one per name
        of ``files``, None for a candidate without one); ``records`` resolves cached references."""
        packed, blobs, offset = [], [], 0
        for entry in entries:
            if invcache.is_config_entry(entry):
                blob = invcache.record_bytes(entry[invcache.CONFIG], records)
                entry = [*entry[:invcache.CONFIG], (offset, len(blob), zlib.crc32(blob)), *entry[invcache.CONFIG + 1:]]
                blobs.append(blob)
                offset += len(blob)
            packed.append(entry)
        entries_blob = msgpack.packb(packed, use_bin_type=True, default=str, unicode_errors=invcache.PATH_ERRORS)
        region = b"".join([entries_blob, *blobs])
        st = self.stat
        record = (st.st_mtime_ns, st.st_ctime_ns, st.st_ino, self.scanned_ns, self.reusable, self.subdirs,
                  self.others, self.files, len(entries_blob), zlib.crc32(entries_blob), 0, len(region),
                  self._quick(packed, common_file))
        return record, region

    def _quick(self, packed, common_file):
        """The ``F_QUICK`` part for the packed entries, or None when the folder cannot be trusted
        as a unit (a symlink, a racy entry, a candidate without an entry or a stat)."""
        if (not self.reusable or self.sigs is None or not self.single_links
                or any(entry is None for entry in packed)):
            return None
        facts, refs, problems, deps, absent = [], array("Q"), [], {}, set()
        outside = _side_files_outside(self.path, common_file)
        for name, entry in zip(self.files, packed):
            scanned_ns = entry[invcache.SCANNED_NS]
            if invcache.is_racy(entry[invcache.MTIME_NS], scanned_ns):
                return None
            status = entry[invcache.STATUS]
            if status == invcache.STATUS_PROBLEM:
                problems.append((name, entry[invcache.REASON]))
            if status != invcache.STATUS_CONFIG:
                continue
            facts.append(tuple(entry[invcache.FACTS]))
            offset, length, crc = entry[invcache.CONFIG]
            refs.extend((offset << _HALF | length, crc))
            known = set()
            for path, mtime_ns, size in entry[invcache.DEPS]:
                if invcache.is_racy(mtime_ns, scanned_ns):
                    return None
                deps[path] = (path, mtime_ns, size)
                known.add(path)
            absent.update(path for path in outside if path not in known)
        return (self.sigs, tuple(facts), refs.tobytes(), tuple(problems), tuple(deps.values()), tuple(sorted(absent)))


def _side_files_outside(folder, common_file):
    """The side files of this folder's configs that live elsewhere (ctyskeys.sidecar_paths):
    ``${X%/*}.ctys`` (the folder's name + ``.ctys``, in its parent) and the common file."""
    outside = []
    stem = folder.rstrip("/")
    if stem:
        outside.append(stem + ".ctys")
    if common_file and os.path.dirname(common_file) != folder:
        outside.append(common_file)
    return outside


def name_prefix(folder):
    """What a name in ``folder`` is appended to for its path."""
    return folder if folder.endswith("/") else folder + "/"


def with_records_at(record, offset):
    """``record`` placed at ``offset`` of a new records part."""
    return (*record[:F_RECORDS_AT], offset, *record[F_RECORDS_AT + 1:])


def record_region(record, records):
    """The bytes of a loaded record's configs in ``records`` (a RecordSource)."""
    return records.slice(record[F_RECORDS_AT], record[F_RECORDS_LEN])


# --- whole caches as {path: entry}, for tools and tests -----------------------------------------


def load_entries(cache_file, settings):
    """``({path: entry}, problems)`` of a cache file, every config record as bytes: for tools and
    tests that look inside the cache (discovery decodes folder by folder, and only when needed)."""
    content = invcache.load_cache(cache_file, settings)
    entries = {}
    for folder, record in content.folders.items():
        prefix = name_prefix(folder)
        for name, entry in entries_by_name(record, content.records).items():
            if invcache.is_config_entry(entry):
                blob = invcache.record_bytes(entry[invcache.CONFIG], content.records)
                entry = (*entry[:invcache.CONFIG], blob, *entry[invcache.CONFIG + 1:])
            entries[prefix + name] = entry
    return entries, content.problems


class _NoSignature:  # pylint: disable=too-few-public-methods
    """The "stat" of a folder :func:`save_entries` knows nothing about: it never matches one."""

    st_mtime_ns = st_ctime_ns = st_ino = -1


def save_entries(cache_file, entries, settings):
    """Write ``{path: entry}`` as a cache file (for tools and tests); return problems.  The folder
    records carry no signature, so discovery lists every folder and checks every file against its
    entry."""
    by_folder = {}
    for path, entry in sorted(entries.items()):
        folder, _, name = path.rpartition("/")
        by_folder.setdefault(folder or "/", []).append((name, entry))
    index, parts, offset = {}, [], 0
    for folder, items in by_folder.items():
        draft = FolderDraft(folder, _NoSignature, 0, False, (), (), [name for name, _ in items], None)
        record, region = draft.pack([entry for _, entry in items], invcache.NO_RECORDS, None)
        index[folder] = with_records_at(record, offset)
        parts.append(region)
        offset += len(region)
    return invcache.save_cache(cache_file, settings, index, parts)
