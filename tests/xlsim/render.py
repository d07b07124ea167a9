"""The output formats of the simulated tools, printf for printf as Xen 4.17's xl prints them.

Formats come from the real output in ``corpus/xl-real`` (widths checked there) and xl's sources:
``xl list`` rows are ``%-40s %5d %5lu %5d     %c%c%c%c%c%c  %8.1f``; ``xl uptime``
``%-33s %4d %s``; ``xl network-list`` ``%-3d %-2d <mac>%6d %5d %6d %5d/%-11d %-30s``; the JSON
of ``xl list -l`` is yajl's "beautify" style (4 spaces, ``"key": value``, an empty map printed
as ``{`` blank line ``}``).
"""

import json
import time

LIST_HEADER = "Name                                        ID   Mem VCPUs\tState\tTime(s)"
UPTIME_HEADER = "%-33s %4s %s" % ("Name", "ID", "Uptime")
NETWORK_HEADER = "%-3s %-2s %-17s %-6s %-5s %-6s %5s/%-5s %-30s" % (
    "Idx", "BE", "Mac Addr.", "handle", "state", "evt-ch", "tx-", "rx-ring-ref", "BE-path")
REASON_LETTERS = {"poweroff": "-", "reboot": "r", "suspend": "s", "crash": "c", "watchdog": "w", "soft_reset": "S"}
REASON_CODES = {"poweroff": 0, "reboot": 1, "suspend": 2, "crash": 3, "watchdog": 4, "soft_reset": 5}

# xl help / xl without arguments: the usage line and the subcommands this simulator knows.
HELP_COMMANDS = (
    ("create", "Create a domain from config file <filename>"),
    ("list", "List information about all/some domains"),
    ("destroy", "Terminate a domain immediately"),
    ("shutdown", "Issue a shutdown signal to a domain"),
    ("reboot", "Issue a reboot signal to a domain"),
    ("pause", "Pause execution of a domain"),
    ("unpause", "Unpause a paused domain"),
    ("save", "Save a domain state to restore later"),
    ("restore", "Restore a domain from a saved state"),
    ("mem-max", "Set the maximum amount reservation for a domain"),
    ("mem-set", "Set the current memory usage for a domain"),
    ("vcpu-set", "Set the number of active VCPUs allowed for the domain"),
    ("info", "Get information about Xen host"),
    ("domid", "Convert a domain name to domain id"),
    ("domname", "Convert a domain id to domain name"),
    ("rename", "Rename a domain"),
    ("trigger", "Send a trigger to a domain"),
    ("network-list", "List virtual network interfaces for a domain"),
    ("uptime", "Print uptime for all/some domains"),
)


def help_text():
    lines = ["Usage xl [-vfNtT] <subcommand> [args]", "", "xl full list of subcommands:", ""]
    lines += [" %-19s %s" % (name, text) for name, text in HELP_COMMANDS]
    return "\n".join(lines) + "\n"


# --- xl list ---------------------------------------------------------------------------------------


def state_letters(flags):
    """flags: dict running, blocked, paused, shutdown, reason, dying -> the six letters."""
    return "".join((
        "r" if flags["running"] else "-",
        "b" if flags["blocked"] else "-",
        "p" if flags["paused"] else "-",
        "s" if flags["shutdown"] else "-",
        REASON_LETTERS.get(flags["reason"], "?") if flags["shutdown"] else "-",
        "d" if flags["dying"] else "-",
    ))


def list_header(verbose=False, context=False, numa=False):
    header = LIST_HEADER
    if verbose:
        header += "   UUID                            Reason-Code\tSecurity Label"
    if context and not verbose:
        header += "   Security Label"
    if numa:
        header += " NODE Affinity"
    return header


def list_row(row, verbose=False, context=False, numa=False):
    """row: name, domid, memory (MiB), vcpus, state (letters), time, uuid, reason_code."""
    line = "%-40s %5d %5d %5d     %s  %8.1f" % (
        row["name"], row["domid"], row["memory"], row["vcpus"], row["state"], row["time"])
    if verbose:
        reason = "%8x" % row["reason_code"] if row.get("reason_code") is not None else "%8s" % "-"
        line += " " + row["uuid"] + " " + reason
    if verbose or context:
        line += " %16s" % "-"
    if numa:
        line += " all"
    return line


# --- xl uptime -------------------------------------------------------------------------------------


def uptime_string(seconds, short=False):
    """xl's uptime_to_string: ``[N day(s), ]%2d:%02d[:%02d]``."""
    seconds = int(max(0, seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = "%2d:%02d" % (hours, minutes) if short else "%2d:%02d:%02d" % (hours, minutes, secs)
    if days:
        return "%d day%s, %s" % (days, "s" if days > 1 else "", clock)
    return clock


def uptime_row(name, domid, seconds):
    return "%-33s %4d %s" % (name, domid, uptime_string(seconds))


def uptime_short_row(name, domid, seconds, now):
    return " %s up %s, %s (%d)" % (time.strftime("%H:%M:%S", time.localtime(now)), uptime_string(seconds, True),
                                    name, domid)


# --- xl network-list -------------------------------------------------------------------------------


def network_row(devid, mac, domid):
    tx_ref = 520 + 2 * devid
    return "%-3d %-2d %s%6d %5d %6d %5d/%-11d %-30s" % (
        devid, 0, mac, devid, 4, -1, tx_ref, tx_ref + 1, f"/local/domain/0/backend/vif/{domid}/{devid}")


# --- xl info ---------------------------------------------------------------------------------------

INFO_TEMPLATE = (
    ("host", "dom0"),
    ("release", "6.1.0-56-amd64"),
    ("version", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)"),
    ("machine", "x86_64"),
    ("nr_cpus", "2"),
    ("max_cpu_id", "1"),
    ("nr_nodes", "1"),
    ("cores_per_socket", "2"),
    ("threads_per_core", "1"),
    ("cpu_mhz", "2600.000"),
    ("hw_caps", "178bf3fd:80002001:20100800:00000007:00000000:00000000:00000000:00000000"),
    ("virt_caps", "pv hvm hap gnttab-v1 gnttab-v2"),
    ("total_memory", "3071"),
    ("free_memory", "1502"),
    ("sharing_freed_memory", "0"),
    ("sharing_used_memory", "0"),
    ("outstanding_claims", "0"),
    ("free_cpus", "0"),
    ("xen_major", "4"),
    ("xen_minor", "17"),
    ("xen_extra", ".7"),
    ("xen_version", "4.17.7"),
    ("xen_caps", "xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64 "),
    ("xen_scheduler", "credit2"),
    ("xen_pagesize", "4096"),
    ("platform_params", "virt_start=0xffff800000000000"),
    ("xen_changeset", ""),
    ("xen_commandline", "console=com1 com1=115200,8n1 dom0_mem=1536M,max:1536M dom0_max_vcpus=2 loglvl=all "
                        "guest_loglvl=all"),
    ("cc_compiler", "x86_64-linux-gnu-gcc (Debian 12.2.0-14+deb12u1) 12.2.0"),
    ("cc_compile_by", "pkg-xen-devel"),
    ("cc_compile_domain", "lists.alioth.debian.org"),
    ("cc_compile_date", "Wed Nov  4 16:52:28 UTC 2026"),
    ("build_id", "151b373fd64b321593bf987fd923cd10dabadac4"),
    ("xend_config_format", "4"),
)
NUMA_LINES = {
    "free_cpus": [
        "cpu_topology           :",
        "cpu:    core    socket     node",
        "  0:       0        0        0",
        "  1:       1        0        0",
        "device topology        :",
        "device           node",
        "No device topology data available",
        "numa_info              :",
        "node:    memsize    memfree    distances",
        "   0:      {total:>4}       {free:>4}      10",
    ],
}


def info_text(values, numa=False):
    """``xl info [-n]``: ``%-23s: %s`` lines; with ``numa`` the topology tables after free_cpus."""
    lines = []
    for key, default in INFO_TEMPLATE:
        lines.append("%-23s: %s" % (key, values.get(key, default)))
        if numa and key in NUMA_LINES:
            total = values.get("total_memory", "3071")
            free = values.get("free_memory", "1502")
            lines += [line.format(total=total, free=free) for line in NUMA_LINES[key]]
    return "\n".join(lines) + "\n"


# --- yajl-style JSON -------------------------------------------------------------------------------


def yajl_dumps(value, indent=0):
    """JSON as libxl's yajl generator prints it with beautify on (4 spaces per level)."""
    pad, inner = " " * indent, " " * (indent + 4)
    if isinstance(value, dict):
        if not value:
            return "{\n\n" + pad + "}"
        items = [inner + json.dumps(k) + ": " + yajl_dumps(v, indent + 4) for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list):
        if not value:
            return "[\n\n" + pad + "]"
        items = [inner + yajl_dumps(v, indent + 4) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(value)
