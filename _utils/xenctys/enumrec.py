"""ENUMERATE records: the static inventory of DomU configs in ctys' 47-field layout (spec §4.3, §4.4).

One record per interface address, as ctys writes them: MAC n is paired with each entry of
``#@#IP<n>``; an IP entry whose interface has no MAC still gets a record.  Unlike ctys (defect 10)
a MAC without any IP entry keeps a record of its own, so no configured MAC is ever dropped.
"""

from xenctys.domconfig import IPEntry
from xenctys.records import ENUMERATE_KEYS, empty_record

# ctys defaults for fields 46/47 (XEN_DEFAULT_HOSTS, XEN_DEFAULT_CONSOLE in xen.conf-Linux.sh).
DEFAULT_HOSTS = "VNC"
DEFAULT_CONSOLE = "GTERM"

# ENUMERATE field -> the ``#@#`` key it is read from (first non-empty one wins).
_CTYS_FIELD_KEYS = {
    "dist": ("DIST",),
    "distrel": ("DISTREL",),
    "os": ("OS",),
    "osrel": ("OSREL",),
    "verno": ("VERSION",),
    "serno": ("SERNO",),
    "vmstate": ("VMSTATE",),
    "hyperrel": ("INST_HYPERREL",),
    "stackcap": ("STACKCAP",),
    "stackreq": ("STACKREQ",),
    "hwcap": ("HWCAP",),
    "hwreq": ("HWREQ",),
    "execlocation": ("EXECLOCATION",),
    "reloccap": ("RELOCCAP",),
    "accelerator": ("INST_ACCELERATOR",),
    "exepath": ("STARTERCALL",),
    "ctysrelease": ("CTYSREL", "CTYSRELEASE"),
    "arch": ("ARCH",),
    "platform": ("PLATFORM",),
    "contextstg": ("CSTRG",),
    "userstrg": ("USTRG",),
}


def _ctys_value(config, keys):
    for key in keys:
        value = config.ctys.get(key, "")
        if value:
            return str(value)
    return ""


def interface_addresses(config):
    """(mac, IPEntry-or-None) pairs of a config, in interface order.

    MACs come from the vifs (index = order of appearance) and from ``#@#MAC<n>`` where the vif
    has none; IP entries from ``#@#IP<n>``, else from the vif's own ``ip=`` setting.
    """
    macs = {vif.index: vif.mac for vif in config.vifs if vif.mac}
    for key, value in config.ctys.items():
        if key.startswith("MAC"):
            suffix = key[3:]
            index = int(suffix) if suffix.isdigit() else 0 if suffix == "" else None
            if index is not None and index not in macs and value:
                macs[index] = str(value).lower().replace("-", ":")
    ips = {}
    for entry in config.ctys_ips:
        ips.setdefault(entry.interface, []).append(entry)
    pairs = []
    for index in sorted(set(macs) | set(ips) | {v.index for v in config.vifs if v.ip}):
        entries = ips.get(index)
        if not entries:
            vif_ip = next((v.ip for v in config.vifs if v.index == index and v.ip), "")
            entries = [IPEntry(interface=index, ip=vif_ip)] if vif_ip else [None]
        for entry in entries:
            pairs.append((macs.get(index, ""), entry))
    return pairs or [("", None)]


def enumerate_records(config, host, hyperrelrun="", uid="", gid=""):
    """The ENUMERATE records (dicts keyed by records.ENUMERATE_KEYS) of one DomU config."""
    base = empty_record(ENUMERATE_KEYS)
    base.update(
        host=host,
        sesstype="XEN",
        label=config.label,
        id=config.path,
        uuid=config.uuid,
        category="VM",
        hyperrelrun=hyperrelrun,
        vram="" if config.memory is None else str(config.memory),
        vcpu="" if config.vcpus is None else str(config.vcpus),
        uid=str(uid),
        gid=str(gid),
        defhosts=config.ctys.get("DEFAULTHOSTS") or DEFAULT_HOSTS,
        defconsole=config.ctys.get("DEFAULTCONSOLE") or DEFAULT_CONSOLE,
    )
    for field, keys in _CTYS_FIELD_KEYS.items():
        base[field] = _ctys_value(config, keys)
    # ctys replaces spaces in the distribution name so that the record stays one token.
    base["dist"] = base["dist"].replace(" ", "_")
    if not base["vram"]:
        base["vram"] = _ctys_value(config, ("VRAM",))
    if not base["vcpu"]:
        base["vcpu"] = _ctys_value(config, ("VCPU",))
    if not base["accelerator"]:
        base["accelerator"] = {"hvm": "HVM", "pvh": "PVH"}.get(config.type, "PARA")

    records = []
    for mac, entry in interface_addresses(config):
        record = dict(base, mac=mac)
        if entry is not None:
            record.update(
                tcp=entry.ip,
                netmask=entry.netmask,
                relay=entry.relay,
                ifname=entry.ifname,
                sshport=entry.sshport,
                gateway=entry.gateway,
            )
        records.append(record)
    return records
