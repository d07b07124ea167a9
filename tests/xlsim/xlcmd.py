"""The simulated ``xl``: argv in, Xen 4.17's stdout, stderr and exit status out.

Every message and exit status below was read off ``corpus/xl-real`` (the file named in the
comment); the few marked "not captured" follow xl's sources or man page instead.  stdout is
written through Python's buffered ``sys.stdout`` and stderr line by line, so that, piped
together, the two interleave as C's stdio does for the real xl (an error for an unknown domain
comes before the header xl printed first, xl-network-list-unknown.txt).
"""

import getopt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from xlsim import hoststate, libxlcfg, render
from xlsim.hoststate import SimExit

SAVE_MAGIC = b"Xen saved domain, xl format\n \0 \r"  # 32 bytes, as xl's savefileheader_magic
# xc's progress lines of a 65536-frame save (xl-save.txt), as fractions of the frame count.
_SAVE_STEPS = (4096, 8192, 11264, 15360, 18432, 22528, 25600, 29696, 32768, 36864, 40960, 44032, 48128, 51200,
               55296, 58368, 62464, 65536)
GLOBAL_OPTIONS = "vfNtT"
USAGE = {
    "create": "Usage: xl create <ConfigFile> [options] [vars]",
    "list": "Usage: xl list [options] [Domain]",
    "shutdown": "Usage: xl shutdown [options] <-a|Domain>",
    "reboot": "Usage: xl reboot [options] <-a|Domain>",
    "destroy": "Usage: xl destroy <Domain>",
    "pause": "Usage: xl pause <Domain>",
    "unpause": "Usage: xl unpause <Domain>",
    "save": "Usage: xl save [options] <Domain> <CheckpointFile> [<ConfigFile>]",
    "restore": "Usage: xl restore [options] [<ConfigFile>] <CheckpointFile>",
    "rename": "Usage: xl rename <Domain> <NewDomainName>",
    "domid": "Usage: xl domid <DomainName>",
    "domname": "Usage: xl domname <DomainId>",
    "trigger": "Usage: xl trigger <Domain> <nmi|reset|init|power|sleep|s3resume> [<VCPU>]",
    "network-list": "Usage: xl network-list <Domain(s)>",
    "mem-set": "Usage: xl mem-set <Domain> <MemMB['b'[bytes]|'k'|'m'|'g']>",
    "mem-max": "Usage: xl mem-max <Domain> <MemMB['b'[bytes]|'k'|'m'|'g']>",
    "vcpu-set": "Usage: xl vcpu-set <Domain> <vCPUs>",
    "uptime": "Usage: xl uptime [-s] [Domain]",
    "info": "Usage: xl info [-n]",
}


def out(line=""):
    sys.stdout.write(line + "\n")


def err(line=""):
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


# --- entry point -----------------------------------------------------------------------------------


def c_stdio():
    """stdout buffered like C's stdio (whole blocks unless a terminal), whatever PYTHONUNBUFFERED
    says: the interleaving of stdout and stderr in one pipe depends on it."""
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # pylint: disable=consider-using-with


def main(argv):
    """Run one xl command line (without the program name); return the exit status."""
    c_stdio()
    try:
        args = _strip_global_options(argv)
        if not args:
            sys.stdout.write(render.help_text())
            return 1  # xl-no-args.txt: the help, exit 1
        verb, rest = args[0], args[1:]
        folder = hoststate.state_dir()
        apply_faults(folder, verb)
        handler = COMMANDS.get(verb)
        if verb == "help":
            sys.stdout.write(render.help_text())
            return 0
        if handler is None:
            err("command not implemented")  # xl-bogus-subcommand.txt
            return 1
        return handler(folder, rest) or 0
    except SimExit as stop:
        for line in stop.stderr:
            err(line)
        return stop.rc
    finally:
        sys.stdout.flush()


def _strip_global_options(argv):
    args = list(argv)
    while args and args[0].startswith("-") and len(args[0]) > 1 and set(args[0][1:]) <= set(GLOBAL_OPTIONS):
        args.pop(0)
    return args


def apply_faults(folder, verb):
    """The switches of faults.json that act before any command: hang, latency, failures."""
    faults = hoststate.load_faults(folder)
    if _applies(faults.get("hang"), verb):
        hang_forever(folder)
    delay = faults.get("latency") or 0
    if isinstance(delay, dict):
        delay = delay.get(verb, delay.get("*", 0))
    if delay:
        time.sleep(float(delay))
    if faults.get("no_hypervisor"):
        raise SimExit(1, "xencall: error: Could not obtain handle on privileged command interface: "
                         "No such file or directory",
                      "libxl: error: libxl.c:102:libxl_ctx_alloc: cannot open libxc handle: No such file or directory",
                      "cannot init xl context")
    if faults.get("not_root"):
        raise SimExit(1, "xencall: error: Could not obtain handle on privileged command interface: Permission denied",
                      "libxl: error: libxl.c:102:libxl_ctx_alloc: cannot open libxc handle: Permission denied",
                      "cannot init xl context")
    if faults.get("fail_next"):
        with hoststate.transaction(folder) as host:
            failure = host.take_failure(verb)
        if failure:
            stderr, rc = failure
            raise SimExit(rc, *stderr.rstrip("\n").split("\n"))


def _applies(switch, verb):
    if isinstance(switch, (list, tuple)):
        return verb in switch
    return bool(switch)


def hang_forever(folder):
    """Sleep until killed, with a child that sleeps too: a caller must kill the whole group."""
    helper = shutil.which("sleep")
    pids = [os.getpid()]
    if helper:
        child = subprocess.Popen([helper, "3600"])  # pylint: disable=consider-using-with  # holds our pipes
        pids.append(child.pid)
    with open(os.path.join(folder, "hang.pids"), "a", encoding="ascii") as handle:
        handle.write(" ".join(str(p) for p in pids) + "\n")
    while True:
        time.sleep(3600)


# --- argument helpers ------------------------------------------------------------------------------


def parse_options(verb, args, shortopts, longopts=(), required=0):
    """getopt as xl's def_getopt: unknown option -> exit 2; too few arguments -> usage, exit 2."""
    try:
        opts, rest = getopt.gnu_getopt(args, shortopts, list(longopts))
    except getopt.GetoptError as exc:
        raise SimExit(2, f"option `{exc.opt}' not supported.") from None  # xl-top-batch.txt
    if len(rest) < required:
        plural = "s" if required > 1 else ""
        raise SimExit(2, f"'xl {verb}' requires at least {required} argument{plural}.", "", USAGE.get(verb, ""))
    return {name.lstrip("-"): value for name, value in opts}, rest


def invalid_domain(qualifier):
    return SimExit(1, f"{qualifier} is an invalid domain identifier (rc=-6)")  # xl-*-unknown.txt


def find_domain(host, qualifier, function="libxl_domain_info"):
    """xl's find_domain: a name must exist; a number passes and libxl finds out (not captured)."""
    domain = host.find(qualifier)
    if domain is not None:
        return domain
    if qualifier.isdigit():
        raise SimExit(1, f"libxl: error: libxl_domain.c:1183:{function}: Domain {qualifier}:Non-existant domain")
    raise invalid_domain(qualifier)


def destroy_cascade(domid):
    """What libxl adds after a failed create: it tries to destroy the half-built domain."""
    return (f"libxl: error: libxl_domain.c:1183:libxl__destroy_domid: Domain {domid}:Non-existant domain",
            f"libxl: error: libxl_domain.c:1137:domain_destroy_callback: Domain {domid}:Unable to destroy guest",
            f"libxl: error: libxl_domain.c:1064:domain_destroy_cb: Domain {domid}:Destruction of domain failed")


def name_exists(domid, name, verb_line):
    return (f'libxl: error: libxl_domain.c:81:libxl__domain_rename: Domain {domid}:Domain with name "{name}" '
            f"already exists.", verb_line)


# --- create ----------------------------------------------------------------------------------------


def cmd_create(folder, args):
    opts, rest = parse_options("create", args, "hnqf:pcdFeV", ("help", "quiet", "defconfig=", "dryrun", "vncviewer"))
    config_file = opts.get("f") or opts.get("defconfig")
    if config_file is None:
        if not rest or "=" in rest[0]:
            raise SimExit(2, "'xl create' requires a config file.", "", USAGE["create"])
        config_file, rest = rest[0], rest[1:]
    config = read_domain_config(config_file, rest)
    if "n" in opts or "dryrun" in opts:
        out(render.yajl_dumps(libxlcfg.domain_config(config, config.uuid or hoststate.new_uuid(), created=False)))
        return 0  # xl-create-dry-run.txt
    with hoststate.transaction(folder) as host:
        domid = host.next_domid()
        check_can_create(host, domid, config)
        uuid = config.uuid or hoststate.new_uuid()
        host.add_domain(new_domain(host, domid, config, uuid, paused="p" in opts))
    return 0  # xl-create.txt: only "Parsing config from ..."


def read_domain_config(path, overrides):
    """Read CONFIG with key=value overrides appended, as xl does; config errors as xl prints them."""
    # Imported here, not at the top: only create needs the config reader, and every xl call
    # pays the import time of what the module imports.
    from xenctys.cfgreader import read_config  # pylint: disable=import-outside-toplevel
    from xenctys.errors import ConfigError  # pylint: disable=import-outside-toplevel

    try:
        with open(path, "rb") as handle:
            text = handle.read()
    except OSError as exc:
        raise SimExit(3, f"Failed to read config file: {path}: {exc.strerror}") from None  # xl-create-missing-config
    err(f"Parsing config from {path}")
    source = path
    if overrides:  # xl appends the command-line settings to the file's text and parses the whole
        handle, source = tempfile.mkstemp(prefix="xlsim-cfg-", suffix=".cfg")
        with os.fdopen(handle, "wb") as temporary:
            temporary.write(text + b"\n" + "\n".join(overrides).encode() + b"\n")
    try:
        config = read_config(source, sidecars=False)
    except ConfigError as exc:  # xl-create-syntax-error.txt (the reason is cfgreader's wording)
        raise SimExit(1, f"{path}:{exc.line}: config parsing error: {exc.reason}",
                      "Failed to parse config: Invalid argument") from None
    finally:
        if source != path:
            os.unlink(source)
    config.path = os.path.abspath(path)
    if not config.label:
        raise SimExit(1, "Domain name must be specified.")  # not captured: xl's parse_config_data
    return config


def check_can_create(host, domid, config):
    """Duplicate name (xl-create-duplicate-name.txt), kernel too big (xl-create-too-little-memory)."""
    if host.by_name(config.label):
        raise SimExit(3, *name_exists(domid, config.label,
                                      f"libxl: error: libxl_create.c:1296:initiate_domain_create: Domain {domid}:"
                                      f"cannot make domain: -6"), *destroy_cascade(domid))
    memory = config.memory or 128
    if memory < host.seconds("min_memory"):
        pages = memory * 256
        raise SimExit(3, f"xc: error: panic: xg_dom_core.c:536: xc_dom_chk_alloc_pages: segment kernel too large "
                         f"(0x3a00 > 0x{pages:x} - 0x1000 pages): Out of memory",
                      "libxl: error: libxl_dom.c:594:libxl__build_dom: xc_dom_build_image failed: "
                      "No such file or directory",
                      f"libxl: error: libxl_create.c:1640:domcreate_rebuild_done: Domain {domid}:cannot (re-)build "
                      f"domain: -3", *destroy_cascade(domid))


def new_domain(host, domid, config, uuid, paused):
    data = libxlcfg.domain_config(config, uuid)
    memory = config.memory or 128
    return {
        "domid": domid, "name": config.label, "uuid": uuid, "type": config.type or "pv", "memory": memory,
        "maxmem": data["b_info"]["max_memkb"] // 1024, "vcpus": config.vcpus or 1,
        "max_vcpus": data["b_info"]["max_vcpus"], "paused": paused, "shutdown": None, "pending": None,
        "reap_at": None, "monitor": True, "created": host.now, "config_path": config.path, "config": data,
        "vnc_port": None, "on_poweroff": config.on_poweroff or "destroy", "on_reboot": config.on_reboot or "restart",
        "on_crash": config.on_crash or "destroy",
    }


# --- list, info, uptime ----------------------------------------------------------------------------


def cmd_list(folder, args):
    opts, rest = parse_options("list", args, "lvZncx", ("long", "verbose", "context", "numa", "cpupool"))
    with hoststate.transaction(folder) as host:
        domains = [find_domain(host, rest[0])] if rest else list(host.domains)
        if "l" in opts or "long" in opts:
            for domain in (d for d in domains if host.rebuilding(d)):
                err("libxl: error: libxl_domain.c:2335:retrieve_domain_configuration_lock_acquired: "
                    f"Domain {domain['domid']}:Fail to get domain configuration")
            entries = [{"domid": d["domid"], "config": d["config"] or dom0_config(d)}
                       for d in domains if not host.rebuilding(d)]
            out(render.yajl_dumps(entries))
            out()  # xl-list-l.json ends with an empty line
            return 0
        verbose, context = "v" in opts or "verbose" in opts, "Z" in opts or "context" in opts
        numa = "n" in opts or "numa" in opts
        out(render.list_header(verbose, context, numa))
        for domain in domains:
            out(render.list_row(list_values(host, domain), verbose, context, numa))
    return 0


def list_values(host, domain):
    flags = host.flags(domain)
    reason = render.REASON_CODES.get(flags["reason"]) if flags["shutdown"] else None
    return {"name": host.shown_name(domain), "domid": domain["domid"], "memory": domain["memory"],
            "vcpus": domain["vcpus"],
            "state": render.state_letters(flags), "time": host.cpu_time(domain), "uuid": domain["uuid"],
            "reason_code": reason}


def dom0_config(domain):
    """Domain-0's entry in ``xl list -l`` (xl-list-l.json): no uuid, no devices."""
    memkb = domain["memory"] * 1024
    return {"c_info": {"type": "pv", "name": domain["name"]},
            "b_info": {"max_memkb": memkb, "target_memkb": memkb - 1,
                       "sched_params": {"sched": "credit2", "weight": 256, "cap": 0},
                       "type.pv": {}, "arch_arm": {}, "arch_x86": {}}}


def cmd_info(folder, args):
    opts, _ = parse_options("info", args, "n", ("numa",))
    with hoststate.transaction(folder) as host:
        values = {"host": host.state.get("hostname", "dom0"), "free_memory": str(host.free_memory())}
    sys.stdout.write(render.info_text(values, numa="n" in opts or "numa" in opts))
    return 0


def cmd_uptime(folder, args):
    opts, rest = parse_options("uptime", args, "s")
    with hoststate.transaction(folder) as host:
        domains = [find_domain(host, q) for q in rest] if rest else list(host.domains)
        if "s" not in opts:
            out(render.UPTIME_HEADER)
        for domain in domains:
            start = host.state["boot_time"] if domain["domid"] == 0 else domain["created"]
            seconds = host.now - start
            if "s" in opts:
                out(render.uptime_short_row(domain["name"], domain["domid"], seconds, host.now))
            else:
                out(render.uptime_row(domain["name"], domain["domid"], seconds))
    return 0


# --- shutdown, reboot, destroy, pause ----------------------------------------------------------------


def cmd_shutdown(folder, args):
    opts, rest = parse_options("shutdown", args, "awF", ("all", "wait"))
    return _shutdown_or_reboot(folder, "shutdown", opts, rest)


def cmd_reboot(folder, args):
    opts, rest = parse_options("reboot", args, "awF", ("all", "wait"))
    return _shutdown_or_reboot(folder, "reboot", opts, rest)


def _shutdown_or_reboot(folder, verb, opts, rest):
    every = "a" in opts or "all" in opts
    if not every and not rest:
        raise SimExit(2, f"'xl {verb}' requires at least 1 argument.", "", USAGE[verb])
    reason = "poweroff" if verb == "shutdown" else "reboot"
    words = "Shutting down" if verb == "shutdown" else "Rebooting"
    with hoststate.transaction(folder) as host:
        targets = [d for d in host.domains if d["domid"] != 0] if every else [find_domain(host, rest[0])]
        for domain in targets:
            err(f"{words} domain {domain['domid']}")  # xl-shutdown-nowait.txt, xl-reboot.txt
            host.request_shutdown(domain, reason)
        domids = [d["domid"] for d in targets]
    if "w" in opts or "wait" in opts:
        wait_for_shutdowns(folder, domids)
    return 0


def wait_for_shutdowns(folder, domids):
    """``-w``: until each domain has shut down (not until it is gone: xen-lab pitfall 7)."""
    err(f"Waiting for {len(domids)} domains")  # xl-shutdown-w.txt
    waiting = list(domids)
    while waiting:
        with hoststate.transaction(folder) as host:
            for domid in list(waiting):
                domain = host.by_domid(domid)
                if domain is None:
                    err(f"Domain {domid} has been destroyed.")
                    waiting.remove(domid)
                elif domain["shutdown"]:
                    code = render.REASON_CODES.get(domain["shutdown"]["reason"], 0)
                    err(f"Domain {domid} has been shut down, reason code {code}")
                    waiting.remove(domid)
        if waiting:
            time.sleep(0.05)


def cmd_destroy(folder, args):
    _, rest = parse_options("destroy", args, "f", required=1)
    with hoststate.transaction(folder) as host:
        domain = find_domain(host, rest[0], "libxl__destroy_domid")
        if domain["domid"] == 0:  # xl-destroy-dom0.txt
            raise SimExit(1, "Not destroying domain 0; use -f to force.",
                          "This can only be done when using a disaggregated hardware domain and toolstack.", "")
        racing_monitor = bool(domain.get("shutdown")) and domain.get("monitor") and domain.get("reap_at") is not None
        host.domains.remove(domain)
    if racing_monitor:
        # Real xl (xenlab/results/captured-notable/xl-destroy-racing-monitor.txt): destroying a
        # domain whose xl monitor is already reaping it after a shutdown fails with rc=-15, yet the
        # domain is gone afterwards.
        domid = domain["domid"]
        raise SimExit(1, *(line.format(domid=domid) for line in DESTROY_RACE_STDERR))
    return 0


DESTROY_RACE_STDERR = (
    "libxl: error: libxl_aoutils.c:646:libxl__kill_xs_path: Device Model already exited",
    "libxl: error: libxl_linux.c:119:libxl__hotplug_nic: Domain {domid}:unable to read script from "
    "/local/domain/0/backend/vif/{domid}/0: No such file or directory",
    "libxl: error: libxl_device.c:1261:device_hotplug: Domain {domid}:unable to get args/env to execute hotplug "
    "script for device /local/domain/0/backend/vif/{domid}/0",
    "libxl: error: libxl_domain.c:1530:devices_destroy_cb: Domain {domid}:libxl__devices_destroy failed",
    "libxl: error: libxl_dom.c:1216:libxl__userdata_path: unable to find domain info for domain {domid}: "
    "No such file or directory",
    "libxl: error: libxl_domain.c:1137:domain_destroy_callback: Domain {domid}:Unable to destroy guest",
    "libxl: error: libxl_domain.c:1064:domain_destroy_cb: Domain {domid}:Destruction of domain failed",
    "destroy failed (rc=-15)",
)


def cmd_pause(folder, args):
    _, rest = parse_options("pause", args, "", required=1)
    with hoststate.transaction(folder) as host:
        domain = find_domain(host, rest[0], "libxl_domain_pause")
        if domain["domid"] != 0:  # pausing dom0 would freeze the host: the simulator ignores it
            domain["paused"] = True
    return 0


def cmd_unpause(folder, args):
    _, rest = parse_options("unpause", args, "", required=1)
    with hoststate.transaction(folder) as host:
        find_domain(host, rest[0], "libxl_domain_unpause")["paused"] = False
    return 0


def cmd_trigger(folder, args):
    """Only reset and power act; man page: "only available for HVM domains" (not captured)."""
    _, rest = parse_options("trigger", args, "", required=2)
    trigger = rest[1]
    if trigger not in ("nmi", "reset", "init", "power", "sleep", "s3resume"):
        raise SimExit(1, f'Invalid trigger "{trigger}"')
    with hoststate.transaction(folder) as host:
        domain = find_domain(host, rest[0], "libxl_send_trigger")
        if domain["type"] == "pv" and not host.faults.get("pv_triggers"):
            raise SimExit(1, f"libxl: error: libxl_domain.c:1789:libxl_send_trigger: Domain {domain['domid']}:"
                             f"Send trigger '{trigger}' failed: Invalid argument")
        if trigger == "reset":
            domain.update(shutdown=None, pending=None, reap_at=None, paused=False, created=host.now)
        elif trigger == "power":
            host.request_shutdown(domain, "poweroff")
    return 0


# --- save, restore ---------------------------------------------------------------------------------


def cmd_save(folder, args):
    opts, rest = parse_options("save", args, "cpD", required=2)
    qualifier, statefile = rest[0], rest[1]
    with hoststate.transaction(folder) as host:
        domain = find_domain(host, qualifier, "libxl_domain_suspend")
        record = json.dumps({"xlsim": 1, "domain": domain}).encode()
        try:
            with open(statefile, "wb") as handle:
                handle.write(SAVE_MAGIC + record)
        except OSError:
            raise SimExit(1, f"Failed to open temp file {statefile} for writing") from None
        config_len = len(json.dumps(domain.get("config") or {}))
        err(f"Saving to {statefile} new xl format (info 0x3/0x0/{config_len})")  # xl-save.txt
        kind = "PV" if domain["type"] == "pv" else "HVM"
        err(f"xc: info: Saving domain {domain['domid']}, type x86 {kind}")
        for line in save_progress(domain["maxmem"] * 256):
            err(line)
        if "c" in opts:
            domain["monitor"] = False  # xen-lab pitfall 8: the checkpoint ends xl's monitor
        elif "p" in opts:
            domain["paused"] = True
        else:
            host.domains.remove(domain)
    return 0


def save_progress(frames):
    steps = [max(1, step * frames // 65536) for step in _SAVE_STEPS]
    lines = ["xc: progress: Frames: %d/%d  %3d%%" % (done, frames, done * 100 // frames) for done in steps]
    return lines + ["xc: progress: End of stream: 0/0    0%"]


def cmd_restore(folder, args):
    opts, rest = parse_options("restore", args, "pedV", required=1)
    statefile = rest[-1]
    try:
        with open(statefile, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise SimExit(1, f"Can't open restore file: {exc.strerror}") from None  # xl-restore-missing-file.txt
    if not data.startswith(SAVE_MAGIC):
        raise SimExit(1, "File has wrong magic number - corrupt or for a different tool?")
    try:
        saved = json.loads(data[len(SAVE_MAGIC):].decode())["domain"]
    except (ValueError, KeyError, UnicodeDecodeError):
        raise SimExit(1, "Failed to parse config: Invalid argument") from None
    config_len = len(json.dumps(saved.get("config") or {}))
    for line in (f"Loading new save file {statefile} (new xl fmt info 0x3/0x0/{config_len})",  # xl-restore.txt
                 " Savefile contains xl domain config in JSON format", "Parsing config from <saved>",
                 f"xc: info: Found x86 {'PV' if saved['type'] == 'pv' else 'HVM'} domain from Xen 4.17",
                 "xc: info: Restoring domain", "xc: info: Restore successful",
                 "xc: info: XenStore: mfn 0xb1d64, dom 0, evt 1", "xc: info: Console: mfn 0xb1d63, dom 0, evt 2"):
        err(line)
    with hoststate.transaction(folder) as host:
        domid = host.next_domid()
        if host.by_name(saved["name"]):
            raise SimExit(1, *name_exists(domid, saved["name"],
                                          f"libxl: error: libxl_create.c:1296:initiate_domain_create: Domain {domid}:"
                                          f"cannot make domain: -6"), *destroy_cascade(domid))
        saved.update(domid=domid, paused="p" in opts, shutdown=None, pending=None, reap_at=None, monitor=True,
                     created=host.now)
        host.add_domain(saved)
    return 0


# --- names and ids ---------------------------------------------------------------------------------


def cmd_rename(folder, args):
    _, rest = parse_options("rename", args, "", required=2)
    with hoststate.transaction(folder) as host:
        domain = find_domain(host, rest[0])
        other = host.by_name(rest[1])
        if other is not None and other is not domain:  # not captured: libxl__domain_rename's check
            raise SimExit(1, *name_exists(domain["domid"], rest[1], f"Can't rename domain '{rest[0]}'."))
        domain["name"] = rest[1]
        if domain.get("config"):
            domain["config"]["c_info"]["name"] = rest[1]
    return 0


def cmd_domid(folder, args):
    _, rest = parse_options("domid", args, "", required=1)
    with hoststate.transaction(folder) as host:
        domain = host.by_name(rest[0])
    if domain is None:  # xl-domid-unknown.txt
        raise SimExit(1, f"Can't get domid of domain name '{rest[0]}', maybe this domain does not exist.")
    out(str(domain["domid"]))  # xl-domid.txt
    return 0


def cmd_domname(folder, args):
    _, rest = parse_options("domname", args, "", required=1)
    if not rest[0].isdigit():
        raise SimExit(1, "Invalid domain id.", "")
    with hoststate.transaction(folder) as host:
        domain = host.by_domid(int(rest[0]))
    if domain is None:
        raise SimExit(1, f"Can't get domain name of domain id '{int(rest[0])}', maybe this domain does not exist.")
    out(domain["name"])  # xl-domname.txt
    return 0


# --- devices and resources -------------------------------------------------------------------------


def cmd_network_list(folder, args):
    _, rest = parse_options("network-list", args, "", required=1)
    out(render.NETWORK_HEADER)  # printed first, so it follows an error when piped together
    with hoststate.transaction(folder) as host:
        for qualifier in rest:
            domain = find_domain(host, qualifier)
            for nic in (domain.get("config") or {}).get("nics", ()):
                out(render.network_row(nic["devid"], nic["mac"], domain["domid"]))
    return 0


def mem_size_mib(text):
    """xl's memory sizes: a number with b/k/m/g/t; kiB by default."""
    units = {"b": 1 / 1024, "k": 1, "m": 1024, "g": 1024 ** 2, "t": 1024 ** 3}
    text = text.strip().lower()
    unit = units.get(text[-1:], None)
    number = text[:-1] if unit is not None else text
    if not number.isdigit():
        raise SimExit(1, f"Parse error in \"{text}\".")
    return int(int(number) * (unit or 1) // 1024)


def cmd_mem_set(folder, args):
    _, rest = parse_options("mem-set", args, "", required=2)
    with hoststate.transaction(folder) as host:
        domain = find_domain(host, rest[0])
        domain["memory"] = mem_size_mib(rest[1])
        if domain.get("config"):
            domain["config"]["b_info"]["target_memkb"] = domain["memory"] * 1024
    return 0


def cmd_mem_max(folder, args):
    _, rest = parse_options("mem-max", args, "", required=2)
    with hoststate.transaction(folder) as host:
        domain = find_domain(host, rest[0])
        domain["maxmem"] = mem_size_mib(rest[1])
    return 0


def cmd_vcpu_set(folder, args):
    """The guest in xl-real did not online the new vcpu: the count shows after the next boot."""
    _, rest = parse_options("vcpu-set", args, "", required=2)
    with hoststate.transaction(folder) as host:
        domain = find_domain(host, rest[0])
        count = int(rest[1])
        if domain.get("config") and count >= 1:
            domain["config"]["b_info"]["avail_vcpus"] = list(range(min(count, domain["max_vcpus"])))
    return 0


def cmd_top(_folder, args):
    """``xl top`` takes no options (xl-top-batch.txt); without any it would run xentop."""
    parse_options("top", args, "")
    raise SimExit(1, "xlsim: xl top (xentop) is not simulated")


COMMANDS = {
    "create": cmd_create,
    "list": cmd_list,
    "info": cmd_info,
    "uptime": cmd_uptime,
    "shutdown": cmd_shutdown,
    "reboot": cmd_reboot,
    "destroy": cmd_destroy,
    "pause": cmd_pause,
    "unpause": cmd_unpause,
    "trigger": cmd_trigger,
    "save": cmd_save,
    "restore": cmd_restore,
    "rename": cmd_rename,
    "domid": cmd_domid,
    "domname": cmd_domname,
    "network-list": cmd_network_list,
    "mem-set": cmd_mem_set,
    "mem-max": cmd_mem_max,
    "vcpu-set": cmd_vcpu_set,
    "top": cmd_top,
}
