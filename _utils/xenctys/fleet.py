"""The fleet side of ctys: many hosts' LIST / ENUMERATE results as one table, conflicts, plans.

Salt-free.  The ``xen`` runner asks every minion (or reads the mine), wraps each answer in a
:class:`HostResult`, and everything from there on happens here: ctys option strings, the
table layout (TAB_TCP, ``tab_gen``, macros, MACHINE), sorting, the data rows of ``--out=json``
and the text of the table, duplicate MAC / UUID / label detection, and CREATE / CANCEL plans
(validated as a whole, run one entry at a time per host and hosts in parallel).

Every failure is a one-line :class:`~xenctys.errors.XenError`.
"""

import operator
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Optional

import yaml

from xenctys import tables
from xenctys.address import parse_address
from xenctys.domconfig import normalize_mac, normalize_uuid
from xenctys.errors import XenError
from xenctys.invcache import gc_paused
from xenctys.records import ENUMERATE_FIELDS, LIST_FIELDS, field_key

SESSION_TYPES = ("xen", "pm", "vnc", "tunnel")
# ctys LIST's TUNNEL|CLIENT|SERVER|BOTH keywords: which C/S-Type a row must have.
SCOPES = {"both": "", "server": "SERVER", "client": "CLIENT", "tunnel": "TUNNEL"}
# ENUMERATE has no TAB_TCP (no C/S-Type, no user): its default table is ctys' default ENUMERATE
# output, host;type;label;id, as a table.  A master's ``xen_tables`` may redefine it.
FLEET_MACROS = dict(
    tables.DEFAULT_MACROS,
    TAB_ENUMERATE="tab_gen:1_PM_15%%2_stype_8%%3_Label_10%%4_ID_45_L",
)
DEFAULT_TABLE = {"list": "TAB_TCP", "enumerate": "TAB_ENUMERATE"}
MINION_KEY = "minion"  # every data row names the minion that reported it under this key
TAB_TCP_CSTYPE = [key for _, key, _ in tables.TAB_TCP_COLUMNS].index("cstype")
TAB_TCP_WIDTHS = [width for _, _, width in tables.TAB_TCP_COLUMNS]


# --- ctys option strings --------------------------------------------------------------------------


@dataclass(frozen=True)
class SortSpec:
    """ctys SORT, simplified: one column (name or 1-based number), UNIQUE, EACH (per host)."""

    key: object = None  # column name (str), 1-based column number (int), None = whole row
    unique: bool = False
    each: bool = False


@dataclass
class OutputChoice:
    """What a LIST / ENUMERATE call asked to see."""

    table: str = ""  # "TAB_TCP", "macro:NAME", "NAME", "tab_gen:..."; "" = the kind's default
    machine: bool = False  # raw ``;``-separated records
    title: str = ""  # "title" / "titleidx": a header line for MACHINE output
    terse: bool = False  # MACHINE without a header line
    sort: Optional[SortSpec] = None
    types: tuple = ()  # session types to keep (``pkg:`` / ``types=``); () = all
    scope: str = "both"  # LIST: both, server, client or tunnel
    base: str = ""  # ENUMERATE: ``b:path%path``


def parse_options(texts, kind="list", macros=None):
    """Parse ctys LIST / ENUMERATE option strings (``machine,titleidx``, ``macro:TAB_CPORT``,
    ``tab_gen:3_Label_10%%2_stype_8``, ``sort:each%unique%3``, ``pkg:xen%pm``, ``b:xen``).

    ``texts`` is a list of such strings (the positional option string and ``table=``), each
    comma-separated.  ``macros`` are the known macros: a bare macro name is a table.
    """
    macros = FLEET_MACROS if macros is None else macros
    choice = OutputChoice()
    for word in _words(texts):
        _apply_word(choice, word, kind, macros)
    if choice.machine and choice.table:
        raise XenError(f"choose MACHINE or the table {choice.table}, not both")
    return choice


def _words(texts):
    for text in texts:
        if text is None or text == "" or text is False:
            continue
        if isinstance(text, (list, tuple)):  # Salt may hand a comma list over as a list
            text = ",".join(str(part) for part in text)
        for word in str(text).split(","):
            if word.strip():
                yield word.strip()


def _apply_word(choice, word, kind, macros):
    lower = word.lower()
    key, _, value = word.partition(":")
    key = key.lower().lstrip("{")
    if lower == "machine":
        choice.machine = True
    elif lower in ("title", "titleidx"):
        choice.title = lower
    elif lower == "terse":
        choice.terse = True
    elif lower == "tab_tcp" or key in ("macro", "tab_gen", "tab") or word in macros:
        _set_table(choice, word)
    elif key == "sort":
        choice.sort = parse_sort(value or True)
    elif key == "pkg":
        choice.types = parse_types(value)
    elif kind == "list" and lower in SCOPES:
        choice.scope = lower
    elif kind == "enumerate" and key in ("b", "base", "basepath"):
        choice.base = value
    else:
        extra = ", both|server|client|tunnel" if kind == "list" else ", b:<path>%<path>"
        raise XenError(
            f"unknown {kind.upper()} option {word!r}: use machine, title, titleidx, terse, TAB_TCP, "
            f"macro:<NAME>, tab_gen:<idx>_<name>_<width>%%..., sort:..., pkg:<type>%...{extra} "
            f"(a target is tgt=...)"
        )


def _set_table(choice, spec):
    if choice.table and choice.table != spec:
        raise XenError(f"two tables given: {choice.table} and {spec}; choose one")
    choice.table = spec


def parse_sort(value):
    """``sort=label``, ``sort=3``, ``sort=label,unique`` or ctys ``SORT:[ALL|EACH][%UNIQUE][%<key>]``.

    Returns None when no sort is asked for.  ALL (the default) sorts the whole fleet's rows; EACH
    sorts each host's rows and keeps the hosts in target order.
    """
    if value is None or value is False or value == "":
        return None
    if value is True:
        return SortSpec()
    if isinstance(value, (list, tuple)):
        tokens = [str(v) for v in value]
    else:
        tokens = re.split(r"[,%]", str(value))
    key, unique, each = None, False, False
    for token in (t.strip() for t in tokens if str(t).strip()):
        lowered = token.lower()
        if lowered == "unique":
            unique = True
        elif lowered in ("each", "all"):
            each = lowered == "each"
        elif key is None:
            key = int(token) if token.isdigit() else token
        else:
            raise XenError(f"sort {value!r} names two columns ({key}, {token}); sort takes one")
    return SortSpec(key, unique, each)


def parse_types(value):
    """``xen,pm`` / ``xen%pm`` / a list -> a sorted tuple of session types; () for all."""
    if value is None or value == "":
        return ()
    items = value if isinstance(value, (list, tuple)) else re.split(r"[,%]", str(value))
    chosen = {str(item).strip().lower() for item in items if str(item).strip()}
    unknown = chosen - set(SESSION_TYPES)
    if unknown:
        raise XenError(f"unknown session type(s) {', '.join(sorted(unknown))}: use {', '.join(SESSION_TYPES)}")
    return tuple(sorted(chosen))


def session_type(record):
    """The session type of a record: xen, pm, vnc or tunnel (ctys' plugin of the row)."""
    sesstype = str(record.get("sesstype") or "").upper()
    if sesstype == "PM":
        return "pm"
    if sesstype == "VNC":
        return "vnc"
    if sesstype.startswith("SSH("):
        return "tunnel"
    return "xen"


def keep_record(record, choice):
    """Whether a record passes the call's type and C/S scope filters."""
    if choice.types and session_type(record) not in choice.types:
        return False
    wanted_cstype = SCOPES.get(choice.scope, "")
    return not wanted_cstype or record.get("cstype") == wanted_cstype


# --- table layouts --------------------------------------------------------------------------------


@dataclass
class Layout:
    """How records become cells: the columns of a TAB_TCP, a ``tab_gen`` table or MACHINE."""

    form: str  # "tab_tcp", "tab_gen" or "machine"
    names: list  # column names, unique: the keys of the data rows
    keys: list  # record key shown in each column
    fields: tuple  # LIST_FIELDS or ENUMERATE_FIELDS
    columns: list = field(default_factory=list)  # tab_gen: tables.Column (widths, cut flags)
    title: str = ""  # MACHINE: "", "title" or "titleidx"

    def values(self, record):
        """The record's values of the columns' keys, as a tuple or list."""
        try:
            return self._getter(record)  # records from minions carry every field: one C-level call
        except KeyError:
            return [record.get(key) for key in self.keys]

    def __post_init__(self):
        getter = operator.itemgetter(*self.keys)
        # itemgetter of one key gives the value itself, not a 1-tuple.
        self._getter = getter if len(self.keys) > 1 else (lambda record: (getter(record),))


def layout_for(choice, kind="list", macros=None):
    """The Layout of an OutputChoice; unknown tables and bad ``tab_gen`` specs raise XenError."""
    macros = FLEET_MACROS if macros is None else macros
    fields = LIST_FIELDS if kind == "list" else ENUMERATE_FIELDS
    if choice.machine:
        keys = [key for _, _, key in fields]
        return Layout("machine", list(keys), keys, fields, title="" if choice.terse else choice.title)
    spec = choice.table or DEFAULT_TABLE[kind]
    text = tables.expand_macros(f"macro:{spec}" if spec in macros else spec, macros).strip()
    if text.lower() in ("tab_tcp", "tab_tcp:"):
        names = [name for name, _, _ in tables.TAB_TCP_COLUMNS]
        return Layout("tab_tcp", names, [key for _, key, _ in tables.TAB_TCP_COLUMNS], fields)
    if text.lower().startswith(("tab_gen:", "tab:")):
        columns = tables.parse_tab_gen(text, fields)
        keys = [field_key(fields, column.index) for column in columns]
        return Layout("tab_gen", _unique_names([c.name for c in columns]), keys, fields, columns)
    raise XenError(f"unknown table {spec!r}: use TAB_TCP, TAB_CPORT, macro:<NAME>, tab_gen:..., or machine")


def _unique_names(names):
    """Column names as data keys: a repeated name (or ``minion``) gets ``_2``, ``_3``..."""
    seen = {MINION_KEY}
    unique = []
    for name in names:
        candidate, number = name, 1
        while candidate in seen:
            number += 1
            candidate = f"{name}_{number}"
        seen.add(candidate)
        unique.append(candidate)
    return unique


def _text(value):
    return "" if value is None else str(value)


def record_cells(record, layout):
    """The full (never cut) cell values of one record; the text table cuts them to width."""
    values = layout.values(record)
    if layout.form == "tab_tcp":
        # As tables.tab_tcp shows them: the C/S-Type as its letter, "-" for empty.
        cells = [(value if value.__class__ is str else _text(value)) or "-" for value in values]
        cells[TAB_TCP_CSTYPE] = tables.CSTYPE_LETTER.get(_text(values[TAB_TCP_CSTYPE]), "?")
        return cells
    cells = [value if value.__class__ is str else _text(value) for value in values]  # nearly all are str
    if layout.form == "machine":
        # A ";" inside a value would shift every later field of the MACHINE line (records.to_machine).
        return [cell.replace(";", ",") for cell in cells]
    return cells


# --- per-host results and their merge -------------------------------------------------------------


@dataclass
class HostResult:
    """What one minion gave: records, or an error, or nothing (``records`` None, no error)."""

    minion: str
    records: Optional[list] = None
    error: str = ""
    age: Optional[float] = None  # seconds since the mine stored the data (cached calls)
    extra: dict = field(default_factory=dict)  # ENUMERATE: problems, base_paths, configs

    @property
    def answered(self):
        return self.records is not None


def minion_outcome(value, retcode=0, success=True, expect=(dict, list)):
    """``(value, "")`` for a good minion return, ``(None, one-line reason)`` for a failed one.

    A failing execution module returns a string (``ERROR: ...``, ``'xen.list' is not available.``)
    with a non-zero retcode; anything but the expected type counts as a failure too.
    """
    failed = retcode not in (0, None) or success is False or not isinstance(value, expect)
    if not failed:
        return value, ""
    return None, one_line(value)


def one_line(value, limit=400):
    """A minion's error text as one line: ``ERROR: `` dropped, a traceback reduced to its last line."""
    text = _text(value).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith("Traceback"):
        lines = lines[-1:]
    text = " ".join(lines)
    for prefix in ("ERROR: ", "ERROR:"):
        if text.startswith(prefix):
            text = text[len(prefix):]
    return (text[: limit - 3] + "...") if len(text) > limit else (text or "no data")


@dataclass
class FleetTable:
    """The fleet's rows in one layout, with who did not answer; ``data()`` and ``text()``."""

    layout: Layout
    source: str  # "live" or "mine"
    minions: list  # the minion of each record
    cells: list  # the full cells of each record
    hosts: list  # every HostResult, in target order

    @gc_paused()
    def data(self):
        """Plain data for ``--out=json|yaml``: one dict per row keyed by column name plus ``minion``."""
        names = self.layout.names
        data = {
            "source": self.source,
            "columns": list(names),
            "rows": _data_rows(names, self.minions, self.cells),
            "no_response": [h.minion for h in self.hosts if not h.answered and not h.error],
            "errors": {h.minion: h.error for h in self.hosts if h.error},
        }
        ages = {h.minion: h.age for h in self.hosts if h.age is not None}
        if self.source == "mine":
            data["age"] = ages
        problems = {h.minion: list(h.extra["problems"]) for h in self.hosts if h.extra.get("problems")}
        if problems:
            data["problems"] = problems
        return data

    @gc_paused()
    def text(self):
        """The ctys text: the table, then one line per host that did not answer or failed."""
        return "\n".join([self.table_text()] + host_notes(self.hosts, self.source))

    def table_text(self):
        layout = self.layout
        if layout.form == "machine":
            lines = [";".join(cells) for cells in self.cells]
            if layout.title:
                lines.insert(0, _machine_title(layout.fields, layout.title))
            return "\n".join(lines)
        if layout.form == "tab_gen":
            return render_fixed(layout.columns, self.cells)
        rows = [[cell[:width].strip() for cell, width in zip(cells, TAB_TCP_WIDTHS)] for cells in self.cells]
        return render_fit([name for name, _, _ in tables.TAB_TCP_COLUMNS], rows, stripped=True)


def _data_rows(names, minions, cells_of_rows):
    rows = []
    for minion, cells in zip(minions, cells_of_rows):
        row = dict(zip(names, cells))
        row[MINION_KEY] = minion
        rows.append(row)
    return rows


def _machine_title(fields, title):
    if title == "titleidx":
        return ";".join(f"{name}({idx})" for idx, name, _ in fields)
    return ";".join(name for _, name, _ in fields)


def host_notes(hosts, source="live"):
    """Text lines about hosts: no response, errors, mine age, config problems."""
    notes = []
    for host in hosts:
        if host.error:
            notes.append(f"{host.minion}: {host.error}")
        elif not host.answered:
            notes.append(f"{host.minion}: no response")
        elif source == "mine" and host.age is not None:
            notes.append(f"{host.minion}: mine data {int(host.age)} s old")
        for problem in host.extra.get("problems") or ():
            notes.append(f"{host.minion}: problem: {_problem_text(problem)}")
    return notes


def _problem_text(problem):
    """discovery reports ``{"path", "reason"}``; anything else is shown as it is."""
    if isinstance(problem, dict) and "reason" in problem:
        return one_line(f"{problem.get('path', '')}: {problem['reason']}")
    return one_line(problem)


def render_fit(headers, rows, stripped=False):
    """ctys ``|`` table with columns as wide as their content (what tables.Table.render gives for a
    table without fixed widths, without tabulate's cost on tens of thousands of rows).

    Like tabulate, cells lose surrounding whitespace; ``stripped`` says the caller did that already.
    """
    rows = [list(headers)] + list(rows)
    if not stripped:
        rows = [[cell.strip() for cell in row] for row in rows]
    widths = [max(map(len, column)) for column in zip(*rows)]
    template = _line_format(widths)
    return "\n".join([template.format(*row).rstrip() for row in rows])


def _line_format(widths):
    """``"{:<10}|{:<8}..."``: one str.format per line pads every cell (faster than ljust + join)."""
    return "|".join(f"{{:<{width}}}" for width in widths)


def render_fixed(columns, rows):
    """A ``tab_gen`` table of cell rows: what tables.tab_gen(...).render() gives, faster.

    Most values fit their column and are only padded; the rare longer one is cut (or broken over
    lines, flag B) by tables' own rule.
    """
    widths = [column.width for column in columns]
    template = _line_format(widths)
    lines = [template.format(*[column.name[:column.width] for column in columns]),
             "+".join("-" * width for width in widths)]
    for cells in rows:
        if all(map(int.__ge__, widths, map(len, cells))):  # every cell fits its column
            lines.append(template.format(*cells))
            continue
        pieces = [tables._cells(cell, column) for cell, column in zip(cells, columns)]  # pylint: disable=protected-access
        for line in range(max(len(piece) for piece in pieces)):
            lines.append("|".join((piece[line] if line < len(piece) else "").ljust(width)
                                  for piece, width in zip(pieces, widths)))
    return "\n".join(lines)


@gc_paused()
def fleet_table(hosts, choice, kind="list", macros=None, source="live"):
    """Merge the hosts' records into one FleetTable: filter, lay out, sort.

    Default order: hosts in the given (target) order, each host's records in its own order.
    The garbage collector waits meanwhile: tens of thousands of new lists and dicts, no cycles.
    """
    layout = layout_for(choice, kind, macros)
    records, minions = [], []
    for host in hosts:
        for record in host.records or ():
            if keep_record(record, choice):
                records.append(record)
                minions.append(host.minion)
    cells = [record_cells(record, layout) for record in records]
    order = sorted_order(cells, minions, layout.names, choice.sort, [h.minion for h in hosts])
    return FleetTable(layout, source, [minions[i] for i in order], [cells[i] for i in order], list(hosts))


def sorted_order(cells, minions, names, sort, minion_order):
    """Row indexes in output order for a SortSpec (None: as given)."""
    order = list(range(len(cells)))
    if sort is None:
        return order
    column = _sort_column(sort.key, names)
    if column is None:
        value = lambda i: tuple(_natural(c) for c in cells[i])  # noqa: E731  (whole row)
    else:
        value = lambda i: _natural(cells[i][column])  # noqa: E731
    if sort.each:
        host_rank = {minion: rank for rank, minion in enumerate(minion_order)}
        order.sort(key=lambda i: (host_rank.get(minions[i], len(host_rank)), value(i)))
    else:
        order.sort(key=value)  # stable: equal keys keep the target order
    if sort.unique:
        seen, unique = set(), []
        for i in order:
            if tuple(cells[i]) not in seen:
                seen.add(tuple(cells[i]))
                unique.append(i)
        order = unique
    return order


def _sort_column(key, names):
    if key is None:
        return None
    if isinstance(key, int):
        if not 1 <= key <= len(names):
            raise XenError(f"sort column {key} is not in 1..{len(names)}")
        return key - 1
    lowered = [name.lower() for name in names]
    if str(key).lower() not in lowered:
        raise XenError(f"sort column {key!r} is not a column: {', '.join(names)}")
    return lowered.index(str(key).lower())


def _natural(value):
    """Sort numbers as numbers (cport 900 before 5900), everything else as text."""
    return (0, int(value), "") if value.isdigit() else (1, 0, value)


# --- ctys-vhost -M all over the fleet --------------------------------------------------------------

VHOST_COLUMNS = ("minion", "label", "uuid", "MAC", "config")


def vhost_matches(hosts):
    """Every config that matched on every host, each with its minion, in target order."""
    matches = []
    for host in hosts:
        for summary in host.records or ():
            matches.append(dict(summary, **{MINION_KEY: host.minion}))
    return matches


def vhost_text(matches, hosts):
    rows = [[m[MINION_KEY], _text(m.get("label")), _text(m.get("uuid")), ",".join(m.get("macs") or ()),
             _text(m.get("path"))] for m in matches]
    return "\n".join([render_fit(VHOST_COLUMNS, rows)] + host_notes(hosts))


# --- duplicate MACs, UUIDs, labels -------------------------------------------------------------------

CONFLICT_KINDS = ("mac", "uuid", "label")
CONFLICT_COLUMNS = ("kind", "value", "minion", "host", "config")


def parse_kinds(value):
    if value is None or value == "":
        return CONFLICT_KINDS
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    kinds = [str(item).strip().lower() for item in items if str(item).strip()]
    unknown = sorted(set(kinds) - set(CONFLICT_KINDS))
    if unknown:
        raise XenError(f"unknown conflict kind(s) {', '.join(unknown)}: use {', '.join(CONFLICT_KINDS)}")
    return tuple(kind for kind in CONFLICT_KINDS if kind in kinds)


def _conflict_value(kind, record):
    if kind == "mac":
        mac = normalize_mac(record.get("mac") or "")
        return mac if mac and mac != "00:00:00:00:00:00" else ""
    if kind == "uuid":
        return normalize_uuid(record.get("uuid") or "") or ""
    return _text(record.get("label"))


def find_conflicts(hosts, kinds=CONFLICT_KINDS):
    """The same MAC, UUID or label configured in more than one place (host, config path).

    ENUMERATE gives one record per interface address, so a place is counted once however many
    records it has.  PM rows describe the hosts themselves, not configs, and are left out.
    """
    places_by_value = {kind: {} for kind in kinds}
    for host in hosts:
        for record in host.records or ():
            if session_type(record) != "xen":
                continue
            place = (host.minion, _text(record.get("id")))
            for kind in kinds:
                value = _conflict_value(kind, record)
                if value:
                    places_by_value[kind].setdefault(value, {}).setdefault(place, _text(record.get("host")))
    conflicts = []
    for kind in kinds:
        for value, places in sorted(places_by_value[kind].items()):
            if len(places) > 1:
                conflicts.append({"kind": kind, "value": value, "configs": [
                    {MINION_KEY: minion, "host": hostname, "config": path}
                    for (minion, path), hostname in places.items()]})
    return conflicts


def conflicts_text(conflicts, hosts):
    rows = [[c["kind"], c["value"], p[MINION_KEY], p["host"], p["config"]]
            for c in conflicts for p in c["configs"]]
    if not rows:
        return "\n".join(["no duplicate MAC, UUID or label"] + host_notes(hosts))
    return "\n".join([render_fit(CONFLICT_COLUMNS, rows)] + host_notes(hosts))


# --- CREATE / CANCEL plans --------------------------------------------------------------------------

# The keyword arguments of the execution module's xen.create / xen.cancel an entry may carry.
PLAN_OPTIONS = {
    "create": ("console", "connect", "reuse", "resume", "paused", "cache"),
    "cancel": ("mode", "timeout", "force", "statefile", "cache"),
}
# Consoles a minion can give without a desktop (lifecycle refuses the others, spec §11).
HEADLESS_CONSOLES = ("none", "vnc", "cli")
CANCEL_MODES = ("poweroff", "reboot", "reset", "pause", "suspend", "init")
PLAN_COLUMNS = ("entry", "minion", "address", "outcome")


@dataclass(frozen=True)
class PlanEntry:
    number: int  # 1-based position in the plan, as messages name it
    minion: str
    address: str  # the ctys address string as given, suboptions included
    options: tuple = ()  # (key, value) pairs: keyword arguments of xen.create / xen.cancel

    @property
    def kwargs(self):
        return dict(self.options)


def load_plan(plan):
    """A plan as a list of entries: a list, one dict, or their YAML / JSON text."""
    if isinstance(plan, str):
        try:
            plan = yaml.safe_load(plan)
        except yaml.YAMLError as exc:
            raise XenError(f"plan is neither YAML nor JSON: {' '.join(str(exc).split())}") from None
    if isinstance(plan, dict):
        plan = [plan]
    if not isinstance(plan, (list, tuple)) or not plan:
        raise XenError('plan must be a non-empty list like [{"tgt": "lab00", "address": "l:tst100"}]')
    return list(plan)


def parse_plan(plan, action, find_minions):
    """Validate a whole plan before anything runs: a list of PlanEntry, or one XenError naming
    every bad entry.  ``find_minions(tgt)`` lists the known minions a target matches."""
    problems, entries, seen = [], [], {}
    for number, raw in enumerate(load_plan(plan), start=1):
        try:
            entry = _plan_entry(number, raw, action, find_minions)
        except XenError as exc:
            problems.append(f"entry {number}: {exc.message}")
            continue
        identity = (entry.minion, _address_identity(entry.address, action))
        if identity in seen:
            problems.append(f"entry {number}: repeats entry {seen[identity]} ({entry.minion} {entry.address})")
        seen.setdefault(identity, number)
        entries.append(entry)
    if problems:
        raise XenError(f"plan refused, nothing was done: {'; '.join(problems)}")
    return entries


def _plan_entry(number, raw, action, find_minions):
    if not isinstance(raw, dict):
        raise XenError(f"write {{tgt: <minion>, address: <ctys address>, ...}}, not {raw!r}")
    allowed = ("tgt", "address") + PLAN_OPTIONS[action]
    unknown = sorted(str(key) for key in raw if key not in allowed)
    if unknown:
        raise XenError(f"unknown key(s) {', '.join(unknown)}: an entry takes {', '.join(allowed)}")
    tgt, address = raw.get("tgt"), raw.get("address")
    if not isinstance(tgt, str) or not tgt.strip():
        raise XenError("tgt (the minion) is missing")
    if not isinstance(address, str) or not address.strip():
        raise XenError("address (a ctys machine address like l:tst100) is missing")
    minions = list(find_minions(tgt.strip()))
    if len(minions) != 1:
        found = f"{len(minions)} minions ({', '.join(sorted(minions))})" if minions else "no known minion"
        raise XenError(f"tgt {tgt!r} matches {found}; an entry names one minion")
    options = {key: raw[key] for key in PLAN_OPTIONS[action] if key in raw}
    try:
        _check_entry(address.strip(), action, options)
    except XenError as exc:
        raise XenError(f"{minions[0]} {address.strip()}: {exc.message}") from None
    return PlanEntry(number, minions[0], address.strip(), tuple(sorted(options.items())))


def _check_entry(address, action, options):
    """What the minion would refuse anyway, refused before anything runs (spec §11)."""
    _, sub = parse_address(address, action=action)
    if action == "create":
        console = str(options.get("console") or sub.get("console") or "none").lower()
        if console not in HEADLESS_CONSOLES:
            raise XenError(f"console {console} needs a desktop on the dom0: use one of {', '.join(HEADLESS_CONSOLES)}")
        return
    mode = str(options.get("mode") or sub.get("method") or "poweroff").lower()
    if mode not in CANCEL_MODES:
        raise XenError(f"unknown cancel mode {mode!r}: use one of {', '.join(CANCEL_MODES)}")
    if sub.get("self"):
        raise XenError("SELF would halt the dom0 itself")
    if sub.get("scope") == "client":
        raise XenError("CLIENT: a dom0 holds no client sessions of its DomUs")


def _address_identity(address, action):
    parsed, sub = parse_address(address, action=action)
    return (parsed.describe(), bool(sub.get("all")))


class PlanRun:
    """Run validated entries: in plan order on each minion, different minions at the same time.

    ``start(entry)`` publishes one entry's job and returns its job id; ``collect(job_ids, wait)``
    returns ``[(job_id, value, error)]`` for the jobs that finished within ``wait`` seconds.  An
    entry without an answer within ``timeout`` seconds is an error, and the entries after it on
    the same minion are skipped: its job may still be running there.
    """

    def __init__(self, entries, start, collect, timeout, clock=time.monotonic, on_result=None):
        self.queues = {}
        for entry in entries:
            self.queues.setdefault(entry.minion, deque()).append(entry)
        self.start = start
        self.collect = collect
        self.timeout = float(timeout)
        self.clock = clock
        self.on_result = on_result or (lambda result: None)
        self.running = {}  # job id -> (entry, deadline)
        self.results = {}  # entry number -> result dict

    def run(self):
        for minion in list(self.queues):
            self._start_next(minion)
        while self.running:
            wait = max(0.0, min(deadline for _, deadline in self.running.values()) - self.clock())
            for job_id, value, error in self.collect(list(self.running), min(wait, 1.0)):
                if job_id in self.running:
                    entry, _ = self.running.pop(job_id)
                    self._finish(entry, value, error)
                    self._start_next(entry.minion)
            self._expire()
        return [self.results[number] for number in sorted(self.results)]

    def _start_next(self, minion):
        queue = self.queues[minion]
        while queue:
            entry = queue.popleft()
            try:
                job_id = self.start(entry)
            except XenError as exc:
                self._finish(entry, None, exc.message)
                continue
            self.running[job_id] = (entry, self.clock() + self.timeout)
            return

    def _expire(self):
        now = self.clock()
        for job_id, (entry, deadline) in list(self.running.items()):
            if now >= deadline:
                del self.running[job_id]
                self._finish(entry, None, f"no response within {self.timeout:g} s (job {job_id})")
                while self.queues[entry.minion]:
                    skipped = self.queues[entry.minion].popleft()
                    self._finish(skipped, None, f"skipped: entry {entry.number} on {entry.minion} did not finish")

    def _finish(self, entry, value, error):
        result = {"entry": entry.number, MINION_KEY: entry.minion, "address": entry.address}
        if error:
            result["error"] = error
        else:
            result["result"] = value
        self.results[entry.number] = result
        self.on_result(result)


def plan_outcome(result):
    """One short text for a plan result: ``created tst100 (domid 3)`` or ``error: ...``."""
    if "error" in result:
        return f"error: {result['error']}"
    value = result.get("result")
    items = value if isinstance(value, list) else [value]
    parts = []
    for item in items:
        if isinstance(item, dict):
            what = item.get("action") or item.get("result") or "done"
            domid = f" (domid {item['domid']})" if item.get("domid") not in (None, "") else ""
            parts.append(f"{what} {item.get('label', '')}{domid}".strip())
        else:
            parts.append(_text(item))
    return "; ".join(parts) or "done"


def plan_text(results):
    rows = [[str(r["entry"]), r[MINION_KEY], r["address"], plan_outcome(r)] for r in results]
    failed = sum(1 for r in results if "error" in r)
    return "\n".join([render_fit(PLAN_COLUMNS, rows), f"{len(results) - failed} done, {failed} failed"])
