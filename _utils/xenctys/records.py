"""ctys record layouts: LIST (22 fields) and ENUMERATE (47 fields).

The 1-based indexes are a public interface: ctys table specs (``tab_gen:3_Label_10``), macros and
saved cache files all address fields by them (spec §3.3, §4.4).  Never reorder.
"""

# (index, TITLEIDX name, key used in our dict records)
LIST_FIELDS = (
    (1, "ContainingMachine", "host"),
    (2, "SessionType", "sesstype"),
    (3, "Label", "label"),
    (4, "ID", "id"),
    (5, "UUID", "uuid"),
    (6, "MAC", "mac"),
    (7, "TCP", "tcp"),
    (8, "DISPLAY", "display"),
    (9, "ClientAccessPort", "cport"),
    (10, "ServerAccessPort", "sport"),
    (11, "PID", "pid"),
    (12, "UID", "uid"),
    (13, "GUID", "gid"),
    (14, "C/S-Type", "cstype"),
    (15, "JobID", "jobid"),
    (16, "IFNAME", "ifname"),
    (17, "RESERVED1", "reserved1"),
    (18, "CONTEXTSTRG", "contextstrg"),
    (19, "EXECPATH", "execpath"),
    (20, "HYPERRELRUN", "hyperrelrun"),
    (21, "ACCELERATOR", "accelerator"),
    (22, "ARCH", "arch"),
)

ENUMERATE_FIELDS = (
    (1, "ContainingMachine", "host"),
    (2, "SessionType", "sesstype"),
    (3, "Label", "label"),
    (4, "ID", "id"),
    (5, "UUID", "uuid"),
    (6, "MAC", "mac"),
    (7, "TCP", "tcp"),
    (8, "DISPLAY", "display"),
    (9, "ClientAccessPort", "cport"),
    (10, "ServerAccessPort", "sport"),
    (11, "VNCbasePort", "vncbase"),
    (12, "Distro", "dist"),
    (13, "Distrorel", "distrel"),
    (14, "OS", "os"),
    (15, "OSREL", "osrel"),
    (16, "VersNo", "verno"),
    (17, "SerialNo", "serno"),
    (18, "Category", "category"),
    (19, "VMstate", "vmstate"),
    (20, "hyperrel", "hyperrel"),
    (21, "StackCap", "stackcap"),
    (22, "StackReq", "stackreq"),
    (23, "HWCAP", "hwcap"),
    (24, "HWREQ", "hwreq"),
    (25, "ExecLocation", "execlocation"),
    (26, "RelocationCapacity", "reloccap"),
    (27, "SSHport", "sshport"),
    (28, "Netname", "netname"),
    (29, "Hyperrelrun", "hyperrelrun"),
    (30, "Accellerator", "accelerator"),
    (31, "Exepath", "exepath"),
    (32, "rsrv", "index"),
    (33, "IFname", "ifname"),
    (34, "CTYSRelease", "ctysrelease"),
    (35, "netmask", "netmask"),
    (36, "gateway", "gateway"),
    (37, "relay", "relay"),
    (38, "Arch", "arch"),
    (39, "Platform", "platform"),
    (40, "VRAM", "vram"),
    (41, "VCPU", "vcpu"),
    (42, "ContextStg", "contextstg"),
    (43, "UserStrg", "userstrg"),
    (44, "UID", "uid"),
    (45, "GID", "gid"),
    (46, "DefHOSTs", "defhosts"),
    (47, "DefCONSOLE", "defconsole"),
)

LIST_KEYS = tuple(key for _, _, key in LIST_FIELDS)
ENUMERATE_KEYS = tuple(key for _, _, key in ENUMERATE_FIELDS)

# ctys C/S-Type values and their one-letter column "c" of TAB_TCP.
CSTYPE_LETTER = {"SERVER": "S", "CLIENT": "C", "TUNNEL": "T"}


def empty_record(keys):
    """A record dict with every field of the layout present and empty."""
    return {key: "" for key in keys}


def to_machine(record, keys):
    """The ctys MACHINE form: all fields in index order, ``;``-separated, no decoration.

    A ``;`` inside a value would shift every later field, so it is replaced by ``,``.
    """
    return ";".join(str(record.get(key, "") if record.get(key) is not None else "").replace(";", ",")
                    for key in keys)


def titleidx(fields):
    """The ctys TITLEIDX header: ``Name(n)`` for every field, ``;``-separated."""
    return ";".join(f"{name}({idx})" for idx, name, _ in fields)


def field_key(fields, index):
    """Key of the 1-based field ``index`` in ``fields``; ValueError when out of range."""
    for idx, _, key in fields:
        if idx == index:
            return key
    raise ValueError(f"field index {index} is not in 1..{len(fields)}")
