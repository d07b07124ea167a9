"""The typed record of one DomU config file, as the config reader returns it.

Plain data: it round-trips through ``to_dict``/``from_dict`` (msgpack inventory cache, Salt
return values) without losing anything.
"""

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional


def normalize_mac(mac):
    """``00-50-56-13-11-4A`` / ``00:50:56:13:11:4a`` -> ``00:50:56:13:11:4a``; None when malformed."""
    if not isinstance(mac, str):
        return None
    mac = mac.strip().replace("-", ":")
    return mac.lower() if _MAC.fullmatch(mac) else None


_MAC = re.compile(r"[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}")  # ASCII hex digits only, as before


def normalize_uuid(uuid):
    """Any case, with or without dashes -> 32 lower-case hex digits; None when malformed."""
    if not isinstance(uuid, str):
        return None
    hexdigits = uuid.strip().replace("-", "").lower()
    if len(hexdigits) != 32 or any(c not in "0123456789abcdef" for c in hexdigits):
        return None
    return hexdigits


@dataclass
class Vif:
    """One ``vif`` entry (xl-network-configuration(5)); index = order of appearance."""

    index: int
    mac: str = ""  # normalized (normalize_mac) or "" when the toolstack will generate one
    bridge: str = ""
    ip: str = ""  # the vif's own ``ip=`` setting, if any
    spec: str = ""  # the entry as written


@dataclass
class IPEntry:
    """One entry of a ctys ``#@#IP<n> = "ip%mask%relay%if%sshport%gw"`` key (spec §8.4)."""

    interface: int
    ip: str = ""
    netmask: str = ""
    relay: str = ""
    ifname: str = ""
    sshport: str = ""
    gateway: str = ""


@dataclass
class DomUConfig:
    """A DomU config file read as data.  Nothing in it was ever executed."""

    path: str  # absolute path of the config file (ctys: ID == pathname)
    syntax: str = "xl"  # "xl" or "xm" (Python-subset legacy config)
    label: str = ""  # ``name`` (Xen domain name), fallback ``#@#LABEL``
    uuid: str = ""  # as written; use uuid_hex for comparisons
    memory: Optional[int] = None  # MiB
    maxmem: Optional[int] = None
    vcpus: Optional[int] = None
    type: str = "pv"  # pv, pvh or hvm (``type=``, legacy ``builder=``)
    kernel: str = ""
    ramdisk: str = ""
    cmdline: str = ""  # ``cmdline`` / ``extra`` / ``root``
    bootloader: str = ""
    disks: List[str] = field(default_factory=list)
    vifs: List[Vif] = field(default_factory=list)
    vnc: Dict[str, object] = field(default_factory=dict)  # vnc, vncunused, vncdisplay, vnclisten, vncconsole
    on_poweroff: str = ""
    on_reboot: str = ""
    on_crash: str = ""
    ctys: Dict[str, str] = field(default_factory=dict)  # ``#@#KEY`` -> value (without the ``#@#``)
    ctys_ips: List[IPEntry] = field(default_factory=list)
    magic: List[str] = field(default_factory=list)  # MAGICID-XEN / -IGNORE / -NOENUM seen in the file
    raw: Dict[str, object] = field(default_factory=dict)  # every key = value as parsed
    warnings: List[str] = field(default_factory=list)  # "path:line: reason" for skipped lines
    sources: List[str] = field(default_factory=list)  # files read: the config, then ctys sidecars
    mtime: float = 0.0
    size: int = 0

    @property
    def uuid_hex(self):
        return normalize_uuid(self.uuid) or ""

    @property
    def macs(self):
        """Every MAC of the DomU, vif MACs first, then ``#@#MAC<n>`` ones not already there."""
        seen = [v.mac for v in self.vifs if v.mac]
        for key in sorted(k for k in self.ctys if k.startswith("MAC")):
            mac = normalize_mac(self.ctys[key])
            if mac and mac not in seen:
                seen.append(mac)
        return seen

    @property
    def ips(self):
        return [e.ip for e in self.ctys_ips if e.ip] + [v.ip for v in self.vifs if v.ip]

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        data = dict(data)
        data["vifs"] = [Vif(**v) for v in data.get("vifs", [])]
        data["ctys_ips"] = [IPEntry(**e) for e in data.get("ctys_ips", [])]
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
