"""Find the DomU config files below the base paths: the inventory (ctys ENUMERATE's scan, spec §4.2).

ctys runs ``find <base> -type f \\( -name '*.conf' -o -name '*.ctys' \\)`` and an awk filter per
file.  Here one walk does both, and never stops on a bad file or folder:

* **Candidates** are regular files named ``*.conf``, ``*.ctys`` or ``*.cfg`` (``.cfg`` is xl's
  own convention).  Directory symlinks are followed, each directory (device, inode) is walked
  once, so a symlink loop ends there and is reported.  A file reached through several paths
  (``/etc/xen/auto/x.cfg -> ../x.cfg``) is one DomU: the path that is not a symlink is kept.
* **The ctys filter** (``enumfilter.awk``), on the raw bytes, before any parsing:
  ``#@#MAGICID-IGNORE`` anywhere rejects the file (IGNORE always wins), ``#@#MAGICID-NOENUM``
  rejects it, ``#@#MAGICID-XEN`` accepts it; otherwise it is accepted when at least 5 lines have
  exactly ``name``, ``vif``, ``disk``, ``memory``, ``bootloader``, ``uuid`` or ``vcpus`` (lower
  case, spaces allowed) left of ``=`` (awk: score > 4).  A ``.ctys`` file is enumerated only when it
  passes this filter itself (normally: ``#@#MAGICID-XEN`` without IGNORE), exactly like ctys; it
  is not skipped for being the sidecar of an accepted ``.conf``.  Sidecars of the seed model carry
  ``#@#MAGICID-IGNORE`` and are still read for their ``#@#`` values by the config reader.
* **Problems** (unreadable folder or file, nonexistent base path, symlink loop, file over
  ``max_bytes``, binary file with NUL bytes, vanished file, parse error) go to
  ``Inventory.problems`` as ``{"path", "reason"}``; the walk goes on.

With a cache file (:mod:`xenctys.invcache`, :mod:`xenctys.invfolder`) a file whose signature (and
whose sidecars') did not change is not read at all.  The warm path is one stat per folder and per
file: a folder whose own signature is unchanged is not listed again (its names are the cached
ones), and when all its files and side files are unchanged too, the folder is taken from the
cache as one unit, without decoding an entry.  Anything else is checked file by file.  A cached
record is only decoded when it is used (:class:`ConfigList`).
"""

import bisect
import operator
import os
import re
import stat
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import List

from xenctys import invcache, invfolder
from xenctys.address import expand_base_paths
from xenctys.cfgreader import read_config
from xenctys.cfgsyntax import NotRegularFile, read_file_bytes
from xenctys.ctyskeys import sidecar_paths
from xenctys.domconfig import DomUConfig
from xenctys.errors import ConfigError
from xenctys.resolve import ConfigFacts, config_facts

DEFAULT_BASE_PATHS = ("/etc/xen", "/etc/ctys.d")
DEFAULT_MAX_BYTES = 1 << 20
CANDIDATE_SUFFIXES = (".conf", ".ctys", ".cfg")

MAGIC_IGNORE = b"#@#MAGICID-IGNORE"
MAGIC_NOENUM = b"#@#MAGICID-NOENUM"
MAGIC_XEN = b"#@#MAGICID-XEN"
# enumfilter.awk: the left side of "=" is exactly one of these keys (spaces around allowed).
_SCORED_KEY_LINE = re.compile(rb"^[ \t]*(?:name|vif|disk|memory|bootloader|uuid|vcpus)[ \t]*=", re.MULTILINE)
MIN_KEY_LINES = 5  # awk: score > 4
_FACTS_LENGTH = len(ConfigFacts._fields)
_BY_NAME = operator.attrgetter("name")
_IDENTITY_OF = operator.attrgetter("st_dev", "st_ino")  # a file's identity: (device, inode)
_FIRST = operator.itemgetter(0)


class ConfigList(Sequence):
    """The inventory's configs, sorted by path: a read-only sequence of DomUConfig.

    A config answered from the cache stays packed until it is used; :meth:`facts` gives what
    addresses are matched on without unpacking anything, so resolving one address in a cached
    inventory of 10,000 DomUs builds one DomUConfig, not 10,000.
    """

    def __init__(self, items=(), records=invcache.NO_RECORDS, chunks=(), reread=None):
        """``items``: ``(facts, config)`` pairs, the config a DomUConfig, its packed bytes or the
        ``(offset, length, crc32)`` of its record in ``records``; ``chunks``: ``(facts,
        invfolder.ChunkRecords)`` of whole folders taken from the cache; facts[0] is the path.
        ``reread(path)``: the config read from its file, for a cached record that does not decode
        (the cache file damaged or cut short since it was loaded): the cache only saves time."""
        self._reread = reread
        facts, configs = [item[0] for item in items], [item[1] for item in items]
        # A config of a chunk is None in ``configs`` until used; its chunk is found by position.
        self._chunk_starts, self._chunk_records = [], []
        for chunk_facts, chunk_records in chunks:
            self._chunk_starts.append(len(facts))
            self._chunk_records.append(chunk_records)
            facts.extend(chunk_facts)
            configs.extend(repeat(None, len(chunk_facts)))
        self._origin = None  # sorted position -> position before sorting, when they differ
        paths = list(map(_FIRST, facts))
        if any(map(operator.gt, paths, paths[1:])):  # the walk's order is often sorted already
            order = sorted(range(len(paths)), key=paths.__getitem__)
            facts, configs = [facts[index] for index in order], [configs[index] for index in order]
            self._origin = order
        self._facts, self._configs, self._records = facts, configs, records

    def __len__(self):
        return len(self._facts)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        config = self._configs[index]
        if not isinstance(config, DomUConfig):
            if config is None:
                config = self._chunk_ref(index)
            try:
                config = invcache.unpack_config(invcache.record_bytes(config, self._records))
            except ValueError:
                if self._reread is None:
                    raise
                config = self._reread(self._facts[index][0])
            self._configs[index] = config
        return config

    def _chunk_ref(self, index):
        """The record reference of the config at ``index``, which came in a chunk."""
        position = self._origin[index] if self._origin is not None else index
        chunk = bisect.bisect_right(self._chunk_starts, position) - 1
        return self._chunk_records[chunk].ref(position - self._chunk_starts[chunk])

    def __iter__(self):
        # Iterating means "all of them" (ENUMERATE, Salt returns): build them in one pass, the
        # records read in one go.
        self._records.data()
        with invcache.gc_paused():
            configs = [self[index] for index in range(len(self))]
        return iter(configs)

    def facts(self):
        """The facts of every config, in order: :class:`~xenctys.resolve.ConfigFacts` or a tuple of
        the same values (as the cache stores them)."""
        return list(self._facts)

    def __eq__(self, other):
        if isinstance(other, Sequence) and not isinstance(other, (str, bytes)):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self):
        return f"ConfigList({[facts[0] for facts in self.facts()]!r})"


@dataclass
class Inventory:
    """What one discovery found: the configs, what went wrong, and how much the cache saved."""

    configs: ConfigList = field(default_factory=ConfigList)  # accepted configs, sorted by path
    problems: List[dict] = field(default_factory=list)  # {"path": ..., "reason": ...}, sorted by path
    base_paths: List[str] = field(default_factory=list)  # the expanded base paths walked
    from_cache: int = 0  # candidate files answered from the cache (not read)
    parsed: int = 0  # files handed to the config reader

    def to_dict(self):
        """Plain data for Salt return values."""
        return {"configs": [invcache.config_to_dict(config) for config in self.configs],
                "problems": list(self.problems), "base_paths": list(self.base_paths),
                "from_cache": self.from_cache, "parsed": self.parsed}


def discover(base_paths=None, cache_file=None, use_cache=True, max_bytes=DEFAULT_MAX_BYTES, common_file=None):
    """Walk the base paths and return the :class:`Inventory` of DomU configs.

    ``base_paths``: a list or a ctys ``p1%p2`` string; None = :data:`DEFAULT_BASE_PATHS`; ``~`` is
    the home directory and relative paths are relative to it.  ``cache_file``: the msgpack
    inventory cache (None = no cache); ``use_cache=False`` neither reads nor writes it (ctys
    ``-c off``).  ``max_bytes``: larger files are reported, not read.  ``common_file``: the ctys
    common file (``/etc/ctys.d/vm.conf``) passed to the config reader.  Never raises for a file
    system problem: everything is in ``problems``.
    """
    bases = expand_base_paths(DEFAULT_BASE_PATHS if base_paths is None else base_paths)
    caching = bool(use_cache and cache_file)
    settings = invcache.cache_settings(max_bytes, common_file)
    cache = invcache.load_cache(cache_file, settings) if caching else invcache.CacheContent({}, invcache.NO_RECORDS, [])
    problems = cache.problems
    run = _Run(cache.folders, max_bytes, common_file, caching, cache.records)
    with invcache.gc_paused():  # thousands of records, no cycles: see invcache.gc_paused
        for base in bases:
            _walk_base(base, run)
        _examine_pending(run)
        problems.extend(run.problems)
        if caching and run.changed(bases):
            problems.extend(_save(cache_file, settings, run, cache, bases))
    return Inventory(
        configs=ConfigList(run.kept_configs(), cache.records, run.chunks,
                           reread=lambda path: read_config(path, sidecars=True, common_file=common_file,
                                                           max_bytes=max_bytes)),
        problems=sorted(problems, key=lambda problem: (problem["path"], problem["reason"])),
        base_paths=bases,
        from_cache=run.from_cache,
        parsed=run.parsed,
    )


def _save(cache_file, settings, run, cache, bases):
    """Write the cache: this walk's folders, plus the old ones outside every walked base (a call
    with ``b:`` walks part of the tree; the rest stays valid).  Old folders below a walked base
    that the walk did not meet are gone."""
    kept = {folder: record for folder, record in cache.folders.items() if not invcache.under_any(folder, bases)}
    kept.update(run.folders)
    cache.records.data()  # every old region is copied: one read, not one per folder
    index, parts, offset = {}, [], 0
    for folder, record in kept.items():
        try:
            region = invfolder.record_region(record, cache.records)
        except (TypeError, IndexError):
            continue  # a damaged old record outside the walk: dropped
        index[folder] = invfolder.with_records_at(record, offset)
        parts.append(region)
        offset += len(region)
    for folder, draft in run.drafts.items():
        prefix = invfolder.name_prefix(folder)
        record, region = draft.pack([run.entries.get(prefix + name) for name in draft.files], cache.records,
                                    run.common_file)
        index[folder] = invfolder.with_records_at(record, offset)
        parts.append(region)
        offset += len(region)
    return invcache.save_cache(cache_file, settings, index, parts)


def passes_ctys_filter(data):
    """ctys ``enumfilter.awk`` on a file's bytes: ``(accepted, reason when rejected)``."""
    if MAGIC_IGNORE in data:
        return False, "#@#MAGICID-IGNORE"
    if MAGIC_NOENUM in data:
        return False, "#@#MAGICID-NOENUM"
    if MAGIC_XEN in data:
        return True, ""
    score = 0
    for _ in _SCORED_KEY_LINE.finditer(data):
        score += 1
        if score >= MIN_KEY_LINES:
            return True, ""
    return False, f"only {score} of the ctys key lines (need {MIN_KEY_LINES})"


# --- one run -------------------------------------------------------------------------------------


class _Run:
    """State of one discovery: visited folders, files seen, entries built, counters, problems."""

    def __init__(self, old_folders, max_bytes, common_file, caching=True, records=invcache.NO_RECORDS):
        self.old_folders = old_folders  # folder -> its record when the cache was written
        self.records = records  # the records part those records point into
        self.folders = {}  # folder -> its old record, taken as it is (nothing in it changed)
        self.drafts = {}  # folder -> FolderDraft: listed or checked file by file in this run
        self.same_names = set()  # folders whose names are those of their old record
        self.max_bytes = max_bytes
        self.common_file = common_file
        self.caching = caching  # False: entries are never saved, so configs are not packed
        self.listings = {}  # folder -> its names (anything answering "in"), for sidecar existence checks
        self.memo = invcache.StatMemo(self.listings)
        self.visited_dirs = set()  # (st_dev, st_ino) of every folder walked
        self.files = {}  # (st_dev, st_ino) -> the one path kept for that file (not in chunks)
        self.symlinked = {}  # the same, for files met through a symlink only
        self.chunks = []  # (facts, invfolder.ChunkRecords) of whole folders taken from the cache
        self.chunk_files = []  # (paths, stats) of those folders' files
        self._chunk_owners = {}  # (st_dev, st_ino) -> path in a chunk, built when first asked
        self._chunk_owners_built = 0  # how many of chunk_files are in it
        self.pending = {}  # path -> (mtime_ns, size) of every file to examine (read) after the walk
        self.entries = {}  # path -> cache entry, for every candidate file of the drafts
        self.configs = {}  # path -> (ConfigFacts, DomUConfig or its record) of every accepted file
        self.problems = []
        self.from_cache = 0
        self.examined = 0  # files examined anew (read or stated as too large), parsed or not
        self.parsed = 0

    def problem(self, path, reason):
        self.problems.append({"path": path, "reason": reason})

    def forget(self, path):
        """Drop what was recorded for ``path`` (a symlink path superseded by the real one)."""
        self.pending.pop(path, None)
        self.entries.pop(path, None)
        self.configs.pop(path, None)
        self.problems[:] = [problem for problem in self.problems if problem["path"] != path]

    def chunk_owner(self, identity):
        """The path in a chunk of the file ``identity``, or None.  Only a file met through a
        symlink can be one of them (chunk files have no other hard link), so this is rare."""
        for paths, stats in self.chunk_files[self._chunk_owners_built:]:
            self._chunk_owners.update(zip(map(_IDENTITY_OF, stats), paths))
        self._chunk_owners_built = len(self.chunk_files)
        return self._chunk_owners.get(identity)

    def kept_configs(self):
        kept = set(self.files.values())
        return [item for path, item in self.configs.items() if path in kept]

    def changed(self, bases):
        """True when the cache file needs writing: anything examined anew, gone, or a folder changed."""
        if self.examined or not all(draft.same_as_old() for draft in self.drafts.values()):
            return True
        gone = self.old_folders.keys() - self.folders.keys() - self.drafts.keys()
        return any(invcache.under_any(folder, bases) for folder in gone)

    def neighbourhood_unchanged(self, folder):
        """True when no file appeared in ``folder`` or its parent since the cache was written.

        Those are where a config's side files live (``X.ctys``, ``${X%.*}.ctys``, ``${X%/*}.ctys``);
        a parent outside the walk is unknown, so it does not count as unchanged.  The parent is
        walked before its subfolders, so its answer is known here.
        """
        return folder in self.same_names and os.path.dirname(folder) in self.same_names


class _Names:
    """The names of a folder known from its cache record, as a set built on first use (most
    folders of a warm run are never asked)."""

    __slots__ = ("record", "names")

    def __init__(self, record):
        self.record, self.names = record, None

    def __contains__(self, name):
        if self.names is None:
            self.names = set(invfolder.names(self.record))
        return name in self.names


# --- walking -------------------------------------------------------------------------------------


def _walk_base(base, run):
    """Walk one base path, depth first, with an explicit stack (no recursion limit)."""
    try:
        stat_result = os.stat(base)
    except (OSError, ValueError) as err:  # ValueError: a NUL byte (base= given through salt-api)
        run.problem(base, f"base path not usable: {_reason(err)}")
        return
    if not stat.S_ISDIR(stat_result.st_mode):
        run.problem(base, "base path is not a directory")
        return
    if _IDENTITY_OF(stat_result) in run.visited_dirs:
        return  # the same folder as an earlier base path (or below one): walked already
    run.visited_dirs.add(_IDENTITY_OF(stat_result))
    stack = [(base, stat_result)]
    while stack:
        folder, folder_stat = stack.pop()
        stack.extend(reversed(_scan_folder(folder, folder_stat, run)))


def _scan_folder(folder, folder_stat, run):
    """Examine the candidate files of one folder; return its subfolders not walked yet, each
    ``(path, stat)``.  A folder unchanged since the cache was written is not listed again."""
    old = run.old_folders.get(folder)
    if old is not None and invfolder.is_fresh_listing(old, folder_stat):
        return _scan_known_folder(folder, folder_stat, old, run)
    return _list_folder(folder, folder_stat, old, run)


def _list_folder(folder, folder_stat, old, run):
    """A folder read with ``scandir``: classify its names, examine its candidates, draft its record."""
    subfolders = []
    scanned_ns = time.time_ns()
    try:
        with os.scandir(folder) as entries:
            listing = sorted(entries, key=_BY_NAME)
    except OSError as err:
        run.problem(folder, f"folder not readable: {_reason(err)}")
        return subfolders
    names = tuple(entry.name for entry in listing)
    run.listings[folder] = set(names)
    if old is not None and invfolder.names(old) == names:
        run.same_names.add(folder)
    unchanged = run.neighbourhood_unchanged(folder)
    cached = invfolder.entries_by_name(old, run.records) if old is not None else {}
    subdirs, candidates, others, stats = [], [], [], []
    reusable = True
    for entry in listing:
        try:
            if entry.is_symlink():
                reusable = False  # its target may change kind without this folder changing
            if entry.is_dir():
                subdirs.append(entry.name)
                _add_subfolder(entry.path, entry.stat(), entry.is_symlink(), run, subfolders)
            elif entry.name.endswith(CANDIDATE_SUFFIXES):
                candidates.append(entry.name)
                stats.append(_examine_entry(entry, cached.get(entry.name), run, unchanged))
            else:
                others.append(entry.name)
        except OSError as err:  # between scandir and stat: vanished, EACCES, ELOOP...
            reusable = False
            others.append(entry.name)
            run.problem(entry.path, f"cannot examine: {_reason(err)}")
    _draft(run, folder, folder_stat, scanned_ns, reusable, subdirs, others, candidates, stats, old, cached)
    return subfolders


def _scan_known_folder(folder, folder_stat, record, run):
    """A folder whose names are those of its cache record: stat them, do not list the folder.

    This runs for every folder of every warm call, so it is kept short: one stat per name, and
    when all of them (and the side files) are as the record says, its files are taken as one
    unit (:func:`invfolder.quick_items`) without decoding a single entry.
    """
    run.listings[folder] = _Names(record)
    run.same_names.add(folder)
    prefix = invfolder.name_prefix(folder)
    subfolders = []
    for name in record[invfolder.F_SUBDIRS]:
        path = prefix + name
        try:
            stat_result = os.stat(path)
        except OSError as err:  # removed since its folder's stat: the walk raced a change
            run.problem(path, f"cannot examine: {_reason(err)}")
            continue
        if stat.S_ISDIR(stat_result.st_mode):
            _add_subfolder(path, stat_result, False, run, subfolders)
        else:
            run.problem(path, "changed while its folder was walked: not walked")
    files = record[invfolder.F_FILES]
    paths = list(map(prefix.__add__, files))
    try:
        stats = list(map(os.stat, paths))
    except OSError:
        stats = None  # one of them changed since its folder's stat: file by file below
    if stats is not None and _take_unchanged_folder(record, prefix, paths, stats, run):
        run.folders[folder] = record
        return subfolders
    if stats is None:
        stats = [_stat_or_report(path, run) for path in paths]
    unchanged = run.neighbourhood_unchanged(folder)
    cached = invfolder.entries_by_name(record, run.records)
    for name, path, stat_result in zip(files, paths, stats):
        if stat_result is not None:
            _examine_candidate(path, stat_result, False, cached.get(name), run, unchanged)
    _draft(run, folder, folder_stat, time.time_ns(), True, record[invfolder.F_SUBDIRS], record[invfolder.F_OTHERS],
           files, stats, record, cached)
    return subfolders


def _stat_or_report(path, run):
    """The stat of a file named in a known folder; None (and a problem) when it has none now."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        run.problem(path, "vanished while its folder was read")
    except OSError as err:
        run.problem(path, f"cannot examine: {_reason(err)}")
    return None


def _take_unchanged_folder(record, prefix, paths, stats, run):
    """Take every file of a known folder from its record at once; False when that cannot be done."""
    quick = invfolder.quick_items(record, prefix, stats, run.memo)
    if quick is None:
        return False
    if run.symlinked and not run.symlinked.keys().isdisjoint(map(_IDENTITY_OF, stats)):
        return False  # a file met already through a symlink: the per-file rules decide which path stays
    facts, records, problems = quick
    run.chunks.append((facts, records))
    run.chunk_files.append((paths, stats))
    for path, reason in problems:
        run.problem(path, reason)
    run.from_cache += len(paths)
    return True


def _draft(run, folder, folder_stat, scanned_ns, reusable, subdirs, others, files, stats, old, cached):
    """Record a folder listed or checked file by file, to be saved as a new record if it changed."""
    draft = invfolder.FolderDraft(folder, folder_stat, scanned_ns, reusable, subdirs, others, files, old)
    if all(st is not None for st in stats):
        draft.sigs = invfolder.file_signatures(stats)
        draft.single_links = all(st.st_nlink == 1 for st in stats)
    prefix = invfolder.name_prefix(folder)
    draft.all_reused = (old is not None and len(cached) == len(files)
                        and all(run.entries.get(prefix + name) is cached.get(name) for name in files))
    run.drafts[folder] = draft


def _add_subfolder(path, stat_result, is_symlink, run, subfolders):
    identity = _IDENTITY_OF(stat_result)
    if identity in run.visited_dirs:
        if is_symlink:
            run.problem(path, "symlink to a folder walked already (loop or alias): not walked again")
        return
    run.visited_dirs.add(identity)
    subfolders.append((path, stat_result))


def _examine_entry(entry, cached, run, neighbourhood_unchanged):
    """:func:`_examine_candidate` for a name met by ``scandir``; its stat, None when it has none."""
    try:
        stat_result = entry.stat()
    except FileNotFoundError:
        run.problem(entry.path, "dangling symlink" if entry.is_symlink() else "vanished while its folder was read")
        return None
    except OSError as err:  # EACCES, ELOOP...
        run.problem(entry.path, f"cannot examine: {_reason(err)}")
        return None
    _examine_candidate(entry.path, stat_result, entry.is_symlink(), cached, run, neighbourhood_unchanged)
    return stat_result


def _examine_candidate(path, stat_result, is_symlink, cached, run, neighbourhood_unchanged=False):
    """One ``*.conf``/``*.ctys``/``*.cfg`` file: from its cache entry ``cached`` (None: none), or
    read, filter and parse.  ``neighbourhood_unchanged``: no file appeared in this folder or its
    parent (so no side file either).
    """
    if not stat.S_ISREG(stat_result.st_mode):
        run.problem(path, "not a regular file (device, FIFO or socket): not read")
        return
    identity = _IDENTITY_OF(stat_result)
    if is_symlink and run.chunk_owner(identity) is not None:
        return  # met already through a path that is no symlink (a chunk of the cache)
    if identity in run.files and not _replaces_kept_path(path, is_symlink, run.files[identity], run):
        return
    run.files[identity] = path
    if is_symlink:
        run.symlinked[identity] = path
    file_signature = (stat_result.st_mtime_ns, stat_result.st_size)
    if cached is None or not _reuse(path, cached, file_signature, run, neighbourhood_unchanged):
        run.pending[path] = file_signature  # examined after the walk: see _examine_pending
        return
    _report(path, run)


def _report(path, run):
    result = run.entries[path]
    if result[invcache.STATUS] == invcache.STATUS_PROBLEM:
        run.problem(path, result[invcache.REASON])


def _replaces_kept_path(path, is_symlink, kept, run):
    """One path per file (symlinks, hard links): should ``path`` replace the path ``kept``?

    Only a path that is not a symlink replaces one reached through a symlink; then everything
    recorded for the old path is forgotten.
    """
    if is_symlink or os.path.realpath(kept) == kept:
        return False  # the path kept already is as good or better
    run.forget(kept)
    return True


def _reuse(path, cached, file_signature, run, neighbourhood_unchanged):
    """Take the cache entry if it is fresh and well-formed; False means: examine the file."""
    if not invcache.is_fresh(cached, file_signature, run.memo):  # also checks the entry's shape
        return False
    if cached[invcache.STATUS] == invcache.STATUS_CONFIG:
        facts, record = cached[invcache.FACTS], cached[invcache.CONFIG]
        # Cached facts stay the plain tuple msgpack gives (index-compatible with ConfigFacts):
        # building 10,000 named tuples would cost more than the rest of the warm path.
        if not (isinstance(facts, (tuple, list)) and len(facts) == _FACTS_LENGTH and facts[0] == path
                and invcache.is_record(record)):
            return False
        if not _side_files_still_absent(path, cached, run, neighbourhood_unchanged):
            return False
        run.configs[path] = (facts, record)
    run.entries[path] = cached
    run.from_cache += 1
    return True


def _side_files_still_absent(path, cached, run, neighbourhood_unchanged):
    """No side file the record was built without has appeared since (spec §8.1 lookup order)."""
    common = run.common_file
    known = {dep[0] for dep in cached[invcache.DEPS]} if cached[invcache.DEPS] else ()
    if neighbourhood_unchanged:
        # Only the common file can live elsewhere: one (memoized) stat per run.
        return not common or common in known or not run.memo.exists(common)
    return not any(run.memo.exists(side) for side in _watched_files(path, (), common) if side not in known)


def _watched_files(path, sources, common_file):
    """Every file the record of ``path`` came from, and every side file that could appear."""
    return [other for other in dict.fromkeys(list(sources) + sidecar_paths(path, common_file)) if other != path]


# --- examining the files the cache could not answer for -----------------------------------------

# Below this many files to examine the serial path is taken: starting worker processes costs more.
PARALLEL_MIN_FILES = 500
# Files per task handed to a worker: large enough that the per-task cost is small, small enough
# that the workers finish together.
PARALLEL_CHUNK_FILES = 250
_FORKED_RUN = None  # the run a forked worker examines files for (set only while the pool runs)


def _examine_pending(run):
    """Examine the files met by the walk that the cache had no answer for, in path order.

    Many files (a cold run on a big dom0) are read and parsed by worker processes, one per CPU
    (:func:`_examine_in_parallel`); the results, problems and counters are the same as the serial
    path's, which is taken for few files, on one CPU, or whenever the parallel one is unavailable.
    """
    paths = sorted(run.pending)
    if not (len(paths) >= PARALLEL_MIN_FILES and _examine_in_parallel(paths, run)):
        for path in paths:
            _examine_file(path, run.pending[path], run)
    for path in paths:
        _report(path, run)
    run.pending.clear()


def _parallel_workers():
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return cpus


def _examine_in_parallel(paths, run):
    """Examine ``paths`` in forked worker processes; False (nothing recorded) when that cannot be done.

    Only the ``fork`` start method is used: a worker inherits the run (folder listings, settings)
    and the imported modules, so it starts in about a millisecond and nothing is pickled but
    paths and results.  Forking a process that runs other threads could copy a lock held by one of
    them, so a process with other threads (a Salt minion running jobs as threads) stays serial;
    the workers themselves only read files and build records, and take no lock of ours.  Every
    worker has exited when this returns (the pool is shut down), whatever happened.
    """
    global _FORKED_RUN  # pylint: disable=global-statement
    workers = min(_parallel_workers(), -(-len(paths) // PARALLEL_CHUNK_FILES))
    if workers < 2 or _other_threads_running():
        return False
    try:
        import multiprocessing  # pylint: disable=import-outside-toplevel
        from concurrent.futures import ProcessPoolExecutor  # pylint: disable=import-outside-toplevel

        context = multiprocessing.get_context("fork")
    except (ImportError, ValueError):  # no fork on this platform, or no multiprocessing at all
        return False
    size = max(min(PARALLEL_CHUNK_FILES, -(-len(paths) // (workers * 4))), 1)
    chunks = [[(path, run.pending[path]) for path in paths[start:start + size]]
              for start in range(0, len(paths), size)]
    _FORKED_RUN = run
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            results = list(pool.map(_examine_chunk, chunks))
    except Exception:  # pylint: disable=broad-except  # no fork, daemonic process, a worker died...
        return False
    finally:
        _FORKED_RUN = None
    for chunk_results in results:
        for path, entry, facts, blob, parsed in chunk_results:
            run.examined += 1
            run.parsed += parsed
            run.entries[path] = entry
            if facts is not None:
                run.configs[path] = (facts, blob)
    return True


def _other_threads_running():
    return threading.active_count() > 1


def _examine_chunk(chunk):
    """In a worker: examine ``(path, signature)`` pairs like :func:`_examine_file`; return for each
    ``(path, cache entry, facts or None, packed config or None, 1 when parsed else 0)``."""
    parent = _FORKED_RUN
    run = _Run({}, parent.max_bytes, parent.common_file, parent.caching)
    run.listings = parent.listings
    run.memo = invcache.StatMemo(run.listings)
    results = []
    with invcache.gc_paused():
        for path, file_signature in chunk:
            parsed = run.parsed
            _examine_file(path, file_signature, run)
            entry = run.entries.pop(path)
            facts, blob = None, None
            if path in run.configs:
                facts, config = run.configs.pop(path)
                facts = tuple(facts)
                blob = entry[invcache.CONFIG] if run.caching else invcache.pack_config(config)
            results.append((path, entry, facts, blob, run.parsed - parsed))
    return results


# --- examining one file --------------------------------------------------------------------------


def _examine_file(path, file_signature, run):
    """Read, filter and parse one file; record its cache entry (and config) in ``run``."""
    run.examined += 1
    scanned_ns = time.time_ns()
    reason = f"larger than {run.max_bytes} bytes: not read" if file_signature[1] > run.max_bytes else ""
    data, info = b"", None
    if not reason:
        try:
            data, info = _read_bytes(path, run.max_bytes)
        except NotRegularFile:  # a FIFO or device put in place of the file after its stat
            reason = "not a regular file (device, FIFO or socket): not read"
        except OSError as err:
            reason = f"not readable: {_reason(err)}"
    reason = reason or _content_reason(data, run.max_bytes)
    if reason:
        run.entries[path] = invcache.make_entry(file_signature, scanned_ns, invcache.STATUS_PROBLEM, reason=reason)
        return
    accepted, why = passes_ctys_filter(data)
    if not accepted:
        run.entries[path] = invcache.make_entry(file_signature, scanned_ns, invcache.STATUS_REJECTED, reason=why)
        return
    _parse_file(path, file_signature, scanned_ns, run, data, info)


def _content_reason(data, max_bytes):
    if data is None or len(data) > max_bytes:  # None: its fstat says it grew after its stat
        return f"larger than {max_bytes} bytes: not read"
    if b"\x00" in data:
        return "binary file (NUL bytes): not a DomU config"
    return ""


def _parse_file(path, file_signature, scanned_ns, run, data=None, info=None):
    run.parsed += 1
    try:
        config = read_config(path, sidecars=True, common_file=run.common_file, max_bytes=run.max_bytes,
                             data=data, info=info, listings=run.listings)
    except ConfigError as err:
        run.entries[path] = invcache.make_entry(file_signature, scanned_ns, invcache.STATUS_PROBLEM,
                                                reason=f"not parsed: {err.reason}")
        return
    except Exception as err:  # pylint: disable=broad-except
        # A reader bug on one odd file must not cost the whole inventory: report it, go on.
        run.entries[path] = invcache.make_entry(file_signature, scanned_ns, invcache.STATUS_PROBLEM,
                                                reason=f"config reader failed: {type(err).__name__}: {err}")
        return
    facts = config_facts(config)
    run.configs[path] = (facts, config)
    if not run.caching:
        run.entries[path] = invcache.make_entry(file_signature, scanned_ns, invcache.STATUS_CONFIG)
        return
    # The files the record came from (and side files existing but unused) become its DEPS; side
    # files that are absent are watched through the folder digests (see invcache).
    watched = _watched_files(path, config.sources, run.common_file)
    run.entries[path] = invcache.make_entry(file_signature, scanned_ns, invcache.STATUS_CONFIG, config=config,
                                            facts=facts, watched=watched, memo=run.memo)


def _read_bytes(path, max_bytes):
    """``(data, stat)`` of one candidate, read once: the ctys filter and the reader share them."""
    return read_file_bytes(path, max_bytes)


# --- helpers -------------------------------------------------------------------------------------


def _reason(err):
    if isinstance(err, OSError) and err.errno:
        return f"[Errno {err.errno}] {err.strerror}"
    return str(err)
