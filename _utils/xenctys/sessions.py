"""LIST records: the sessions of one host in ctys' 22-field layout (spec §3.2, §3.3).

Rows, in ctys order: client sessions (VNC viewers ``C``, tunnels ``T``), Domain-0, the DomUs,
and last the PM row of the host itself.  Every row also carries ``state`` (the domain's xl state
flags, or ``""``), which is not one of the 22 fields and so never shifts a field index.
"""

import os

from xenctys.domconfig import normalize_uuid
from xenctys.records import LIST_KEYS, empty_record

VNC_BASEPORT = 5900
ACCELERATOR = {"pv": "PARA", "pvh": "PVH", "hvm": "HVM"}


def arch_from_caps(xen_caps):
    """ctys ARCH: ``x86_64`` when the hypervisor capabilities name it, else ``i386``."""
    return "x86_64" if "x86_64" in (xen_caps or "") else "i386"


def hypervisor_release(xen_version):
    """ctys HYPERRELRUN form of the running Xen version: ``xen-4.17.7``."""
    return f"xen-{xen_version}" if xen_version else ""


def convention_config_path(disks):
    """ctys naming convention (spec §2.3): ``<dir of the boot disk>/<that dir's name>.conf``.

    Only a file that exists is returned: a guessed path would name a config nobody wrote.
    """
    for disk in reversed(list(disks or ())):  # ctys: the last disk source wins
        if not disk or not disk.startswith("/"):
            continue
        folder = os.path.dirname(disk)
        candidate = os.path.join(folder, os.path.basename(folder) + ".conf")
        if os.path.isfile(candidate):
            return candidate
    return ""


def config_for_domain(domain, associations, configs_by_label):
    """The config path of a running domain, and how it was found.

    Order (issue 4): the association recorded when we created it; else the one discovered config
    with that label; else the ctys naming convention.  Several configs with the label and no
    association: the path stays empty rather than naming the wrong one.
    """
    name = domain.get("name", "")
    assoc = associations.get(name)
    # A recorded association counts only for the very domain we created (same uuid): a later
    # domain of the same name started from another config must not inherit it.
    same_domain = not assoc or not assoc.get("uuid") or assoc["uuid"] == normalize_uuid(domain.get("uuid", ""))
    if assoc and assoc.get("config") and same_domain:
        return assoc["config"], "created"
    candidates = configs_by_label.get(name, [])
    if len(candidates) == 1:
        return candidates[0].path, "label"
    path = convention_config_path(domain.get("disks"))
    if path:
        return path, "convention"
    return "", "ambiguous" if candidates else "unknown"


def _domain_row(domain, host_info, associations, configs_by_label):
    row = empty_record(LIST_KEYS)
    name = domain.get("name", "")
    domid = domain.get("domid")
    vnc_port = domain.get("vnc_port")
    path, found_by = ("", "") if domid == 0 else config_for_domain(domain, associations, configs_by_label)
    assoc = associations.get(name, {}) if found_by == "created" else {}
    macs = [vif.get("mac") for vif in domain.get("vifs", ()) if vif.get("mac")]
    config = next((c for c in configs_by_label.get(name, []) if c.path == path), None)
    row.update(
        host=host_info["host"],
        sesstype="XEN",
        label=name,
        id=path,
        uuid=domain.get("uuid", ""),
        mac=macs[0] if macs else "",
        tcp=(config.ips[0] if config is not None and config.ips else ""),
        display=str(vnc_port - VNC_BASEPORT) if vnc_port else "",
        cport=str(vnc_port) if vnc_port else "",
        pid="" if domid is None else str(domid),
        uid=assoc.get("user", ""),
        gid=assoc.get("group", ""),
        cstype="SERVER",
        jobid=assoc.get("jid", ""),
        execpath=host_info.get("execpath", ""),
        hyperrelrun=host_info.get("hyperrelrun", ""),
        accelerator=ACCELERATOR.get(domain.get("type", ""), "" if domid == 0 else "PARA"),
        arch=host_info.get("arch", ""),
    )
    row["state"] = domain.get("state", "")
    row["config_source"] = found_by
    row["macs"] = macs
    return row


def _client_row(session, host_info):
    row = empty_record(LIST_KEYS)
    tunnel = session["kind"] == "TUNNEL"
    row.update(
        host=host_info["host"],
        sesstype="SSH(XEN)" if tunnel else "VNC",
        label=session["label"],
        id=f"{session['lport']}-{session['rport']}" if tunnel else session.get("target", ""),
        cport=session["lport"] if tunnel else session.get("cport", ""),
        sport=session["rport"] if tunnel else "",
        pid=session["pid"],
        uid=session.get("user", ""),
        gid=session.get("group", ""),
        cstype="TUNNEL" if tunnel else "CLIENT",
    )
    row["state"] = ""
    return row


def pm_row(host_info):
    """The PM row: the host itself, as ctys' PM plugin lists it."""
    row = empty_record(LIST_KEYS)
    row.update(
        host=host_info["host"],
        sesstype="PM",
        label=host_info.get("label", host_info["host"].split(".")[0]),
        tcp=host_info.get("fqdn", host_info["host"]),
        mac=host_info.get("mac", ""),
        cstype="SERVER",
        hyperrelrun=host_info.get("hyperrelrun", ""),
        arch=host_info.get("arch", ""),
    )
    row["state"] = ""
    return row


def list_records(host_info, domains, configs=(), associations=None, clients=()):
    """Every LIST row of a host.

    host_info: host, fqdn, label, mac, execpath, hyperrelrun, arch.
    domains: the toolstack's running domains (name, domid, uuid, state, type, vifs, disks, vnc_port).
    configs: discovered DomUConfig records, to name the config of each running domain.
    associations: label -> {config, uuid, user, group, jid} recorded at create.
    clients: procscan.client_sessions() of this host.
    """
    configs_by_label = {}
    for config in configs:
        configs_by_label.setdefault(config.label, []).append(config)
    associations = associations or {}
    rows = [_client_row(session, host_info) for session in clients]
    ordered = sorted(domains, key=lambda d: (d.get("domid") is None, d.get("domid") or 0))
    rows += [_domain_row(d, host_info, associations, configs_by_label) for d in ordered]
    rows.append(pm_row(host_info))
    return rows
