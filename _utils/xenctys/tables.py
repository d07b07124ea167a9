"""ctys tables: TAB_TCP, generic ``tab_gen`` column specs, macros (spec §3.4, §3.5).

A table is computed as data first (``Table``: column names and rows of strings) and rendered to
text only at the end, so the runner can return rows for ``--out=json`` and the same rows as text.
"""

import re
from dataclasses import dataclass, field
from typing import List

from tabulate import DataRow, TableFormat, tabulate

from xenctys.errors import XenError
from xenctys.records import CSTYPE_LETTER, ENUMERATE_FIELDS, LIST_FIELDS

# ctys' predefined column atoms (conf/ctys/macros/default) and the two tables of the seed.
COLUMN_ATOMS = {
    "F_PM": "1_PM_15", "F_STYPE": "2_stype_8", "F_LABEL": "3_label_10", "F_ID": "4_ID_25_L",
    "F_UUID": "5_UUID_32", "F_MAC": "6_MAC_18", "F_TCP": "7_TCP_15", "F_DISP": "8_DISP_4",
    "F_CPORT": "9_cport_5_L", "F_SPORT": "10_sport_5_L",
    # LIST only
    "F_L_PID": "11_pid_5", "F_L_UID": "12_uid_8", "F_L_GID": "13_gid_8", "F_L_CST": "14_cst_1",
    "F_L_JOBID": "15_jobid_30", "F_L_IFNAME": "16_ifn_4", "F_L_RESERVED1": "17_res_4",
    "F_L_CONTEXTSTRG": "18_context_20", "F_L_EXECPATH": "19_exepath_20", "F_L_HYPERRELRUN": "20_hyprel_10",
    "F_L_ACCELERATOR": "21_accel_5", "F_L_ARCH": "22_arch_5",
    # ENUMERATE only
    "F_VNCBASE": "11_vncbase_7", "F_DIST": "12_distro_12", "F_DISTREL": "13_distrorel_15", "F_OS": "14_os_10",
    "F_OSREL": "15_osrel_10", "F_VERNO": "16_verno_9", "F_SERNO": "17_serno_14", "F_CATEGORY": "18_category_8",
    "F_VMSTATE": "19_VMstate_9", "F_HYPERREL": "20_hyperrel_15", "F_STACKCAP": "21_StackCap_15_B",
    "F_STACKREQ": "22_StackReq_15_B", "F_HWCAP": "23_HWcap_60_B", "F_HWREQ": "24_HWreq_25_B",
    "F_EXECLOC": "25_execloc_15", "F_RELOCCAP": "26_reloccap_8", "F_SSHPORT": "27_SSH_5",
    "F_NETNAME": "28_netname_16", "F_HYRREL": "29_rhyper_5", "F_ACCEL": "30_accel_5", "F_EXEP": "31_exepath_20",
    "F_INDEX": "32_index_5", "F_IFNAME": "33_if_7", "F_CTYSREL": "34_CTYSrel_10", "F_NETMASK": "35_netmask_15",
    "F_GATEWAY": "36_Gateway_15", "F_RELAY": "37_Relay_15", "F_ARCH": "38_Arch_7", "F_PLATFORM": "39_Platform_10",
    "F_VRAM": "40_VRAM_13", "F_VCPU": "41_VCPU_5", "F_CSTRG": "42_ContextStg_20_B", "F_USTRG": "43_UserStrg_20_B",
    "F_UID": "44_UserID_10", "F_GID": "45_GroupID_10",
}
DEFAULT_MACROS = dict(
    COLUMN_ATOMS,
    # The manual's definition (spec §3.5); the same macro serves LIST and ENUMERATE.
    TAB_CPORT="tab_gen:3_Label_10%%macro:F_STYPE%%9_cport_5%%1_PM_15%%6_MAC_18%%7_TCP_15",
    TAB_TCP="tab_tcp",
)
MAX_MACRO_DEPTH = 15  # ctys CTYS_MAXRECURSE
MAX_BREAK_LINES = 50  # ctys' limit for the B (break) cut flag
_MACRO = re.compile(r"\{?macro:([A-Za-z0-9_]+)\}?")

# Seed-era TAB_TCP (spec §3.4): column, field key, width.
TAB_TCP_COLUMNS = (
    ("TCP-container", "host", 17),
    ("TCP-guest", "tcp", 17),
    ("label", "label", 20),
    ("sesstype", "sesstype", 8),
    ("c", "cstype", 1),
    ("user", "uid", 10),
    ("group", "gid", 10),
)

# ctys prints tables with "|" between columns, no outer border and no padding.
CTYS_FORMAT = TableFormat(
    lineabove=None, linebelowheader=None, linebetweenrows=None, linebelow=None,
    headerrow=DataRow("", "|", ""), datarow=DataRow("", "|", ""), padding=0, with_header_hide=None,
)


@dataclass
class Column:
    index: int  # 1-based field index of the record layout
    name: str
    width: int
    cut: str = ""  # "" cut right, "L" keep the right-most characters, "B" break over lines


@dataclass
class Table:
    headers: List[str]
    rows: List[List[str]] = field(default_factory=list)
    widths: List[int] = field(default_factory=list)  # fixed widths (tab_gen); empty = fit content

    def as_dicts(self):
        """Rows keyed by column name: what ``--out=json`` shows."""
        return [dict(zip(self.headers, row)) for row in self.rows]

    def render(self):
        """The ctys text form: ``|``-separated columns, header first."""
        if not self.widths:
            # The header goes in as the first row: tabulate pads real headers by two spaces.
            return tabulate([self.headers] + self.rows, tablefmt=CTYS_FORMAT, disable_numparse=True,
                            stralign="left")
        lines = ["|".join(h[:w].ljust(w) for h, w in zip(self.headers, self.widths))]
        lines.append("+".join("-" * w for w in self.widths))
        for row in self.rows:
            lines.append("|".join(v.ljust(w) for v, w in zip(row, self.widths)))
        return "\n".join(lines)


def expand_macros(text, macros=None, depth=0):
    """Replace every ``macro:NAME`` / ``{macro:NAME}`` by its text, recursively (ctys replaceMacro)."""
    macros = DEFAULT_MACROS if macros is None else macros
    if depth > MAX_MACRO_DEPTH:
        raise XenError(f"macro recursion deeper than {MAX_MACRO_DEPTH} in {text!r}")

    def replace(match):
        name = match.group(1)
        if name not in macros:
            raise XenError(f"unknown macro {name!r}: known are {', '.join(sorted(macros))}")
        return expand_macros(str(macros[name]), macros, depth + 1)

    return _MACRO.sub(replace, text)


def parse_tab_gen(spec, fields):
    """``3_Label_10%%2_stype_8%%9_cport_5_L`` -> [Column]; indexes are checked against ``fields``."""
    body = spec.split(":", 1)[1] if spec.lower().startswith(("tab_gen:", "tab:")) else spec
    columns = []
    for part in (p for p in re.split(r"%%?", body) if p):
        pieces = part.split("_")
        if len(pieces) < 2 or not pieces[0].isdigit():
            raise XenError(f"bad tab_gen column {part!r}: write <index>_<name>_<width>[_L|_B]")
        index = int(pieces[0])
        if not 1 <= index <= len(fields):
            raise XenError(f"tab_gen column {part!r}: index {index} is not in 1..{len(fields)}")
        name = pieces[1]
        width = int(pieces[2]) if len(pieces) > 2 and pieces[2].isdigit() and int(pieces[2]) > 0 else 10
        cut = pieces[3].upper() if len(pieces) > 3 else ""
        if cut not in ("", "L", "B"):
            raise XenError(f"tab_gen column {part!r}: cut flag must be L or B")
        columns.append(Column(index, name, width, cut))
    if not columns:
        raise XenError(f"tab_gen spec {spec!r} names no column")
    return columns


def _cells(value, column):
    """A value cut to its column as ctys does; a B column may spill onto several lines."""
    value = str(value if value is not None else "")
    if len(value) <= column.width:
        return [value]
    if column.cut == "L":
        return [value[-column.width:]]
    if column.cut == "B":
        parts = [value[i:i + column.width] for i in range(0, len(value), column.width)]
        return parts[:MAX_BREAK_LINES]
    return [value[:column.width]]


def tab_gen(records, columns, fields, host_key="host"):
    """A fixed-width generic table of records (dicts) for the given columns."""
    keys = {idx: key for idx, _, key in fields}
    table = Table(headers=[c.name for c in columns], widths=[c.width for c in columns])
    for record in records:
        cells = [_cells(record.get(keys[c.index], ""), c) for c in columns]
        for line in range(max(len(c) for c in cells)):
            table.rows.append([c[line] if line < len(c) else "" for c in cells])
    return table


def tab_tcp(records):
    """ctys' default LIST table (seed layout); empty values show as ``-``."""
    table = Table(headers=[name for name, _, _ in TAB_TCP_COLUMNS])
    for record in records:
        row = []
        for _, key, width in TAB_TCP_COLUMNS:
            value = record.get(key) or ""
            if key == "cstype":
                value = CSTYPE_LETTER.get(value, "?")
            row.append(str(value)[:width] or "-")
        table.rows.append(row)
    return table


def build_table(spec, records, kind="list", macros=None):
    """A Table for ``spec``: ``TAB_TCP``, ``macro:NAME``, or ``tab_gen:...``; kind list|enumerate."""
    fields = LIST_FIELDS if kind == "list" else ENUMERATE_FIELDS
    macros = DEFAULT_MACROS if macros is None else macros
    spec = spec or "TAB_TCP"
    if spec in macros:  # a bare macro name: table=TAB_CPORT
        spec = f"macro:{spec}"
    text = expand_macros(spec, macros)
    if text.strip().lower() in ("tab_tcp", "tab_tcp:"):
        return tab_tcp(records)
    if text.lower().startswith(("tab_gen:", "tab:")):
        return tab_gen(records, parse_tab_gen(text, fields), fields)
    raise XenError(f"unknown table {spec!r}: use TAB_TCP, macro:NAME or tab_gen:<idx>_<name>_<width>%%...")
