"""A DomU config (``xenctys.cfgreader.DomUConfig``) as libxl's JSON ``libxl_domain_config``.

The shape is the one real ``xl list -l`` prints (``corpus/xl-real/xl-list-l.json``) and, with
``created=False``, the one of ``xl create -n`` (``xl-create-dry-run.txt``): keys in libxl's
order, defbools as "True"/"False", on_poweroff/on_crash only when not "destroy".
"""

import random

NO_DOMID = 4294967295  # c_info.domid of a created domain: "not chosen by the config"
TRUE, FALSE = "True", "False"


def domain_config(config, uuid, created=True):
    """The libxl JSON dict of a DomUConfig."""
    data = {"c_info": _c_info(config, uuid, created), "b_info": _b_info(config, created)}
    disks = [_disk(spec) for spec in config.disks]
    if disks:
        data["disks"] = [d for d in disks if d]
    nics = [_nic(vif, created) for vif in config.vifs]
    if nics:
        data["nics"] = nics
    vnc = vnc_settings(config)
    if vnc["enable"] == TRUE and config.type != "hvm":
        # real xl 4.17 prints an empty sdl object for a PV vfb (xenlab captured-vnc/xl-list-l-tst102-vfb-vnc.json)
        data["vfbs"] = [{"devid": 0, "vnc": vnc, "sdl": {}}]
        data["vkbs"] = [{"devid": 0}]
    for event, default in (("on_poweroff", "destroy"), ("on_reboot", None), ("on_crash", "destroy")):
        action = getattr(config, event) or ("restart" if event == "on_reboot" else "destroy")
        if action != default:
            data[event] = action
    data["on_soft_reset"] = "soft_reset"
    return data


def _c_info(config, uuid, created):
    c_info = {"type": config.type or "pv", "name": config.label}
    if created:
        c_info["domid"] = NO_DOMID
    c_info["uuid"] = uuid
    c_info["run_hotplug_scripts"] = TRUE
    return c_info


def _b_info(config, created):
    vcpus = config.vcpus or 1
    max_vcpus = _int(config.raw.get("maxvcpus")) or vcpus
    memory = config.memory or 128
    maxmem = max(config.maxmem or memory, memory)
    b_info = {"max_vcpus": max_vcpus, "avail_vcpus": list(range(vcpus)), "max_memkb": maxmem * 1024,
              "target_memkb": memory * 1024}
    if created:
        b_info["video_memkb"] = 8192 if config.type == "hvm" else 0
        b_info["sched_params"] = {"sched": "credit2", "weight": 256, "cap": 0}
    else:
        b_info["sched_params"] = {}
    b_info["claim_mode"] = TRUE
    for key, value in (("kernel", config.kernel), ("cmdline", config.cmdline), ("ramdisk", config.ramdisk)):
        if value:
            b_info[key] = value
    type_key = "type." + (config.type or "pv")
    b_info[type_key] = _type_info(config)
    b_info["arch_arm"] = {}
    b_info["arch_x86"] = {"msr_relaxed": FALSE} if created else {}
    return b_info


def _type_info(config):
    if config.type == "hvm":
        return {"vnc": vnc_settings(config), "sdl": {"enable": FALSE}}
    if config.bootloader:
        return {"bootloader": config.bootloader}
    return {}


def _nic(vif, created):
    nic = {"devid": vif.index, "mac": vif.mac or random_mac(), "bridge": vif.bridge or "xenbr0"}
    if vif.ip:
        nic["ip"] = vif.ip
    if created:
        nic["nictype"] = "vif"
    return nic


def random_mac():
    """xl's choice for a vif without ``mac=``: Xen's OUI 00:16:3e and three random bytes."""
    return "00:16:3e:%02x:%02x:%02x" % (random.randrange(128), random.randrange(256), random.randrange(256))


def _disk(spec):
    """A ``disk`` entry (positional ``target,vdev,access`` or ``key=value``) as libxl JSON."""
    parts = [p.strip() for p in spec.split(",")]
    named = dict(p.split("=", 1) for p in parts if "=" in p)
    positional = [p for p in parts if "=" not in p]
    target = named.get("target") or (positional[0] if positional else "")
    vdev = named.get("vdev") or (positional[1] if len(positional) > 1 else "")
    access = named.get("access") or (positional[2] if len(positional) > 2 else "w")
    cdrom = "cdrom" in (named.get("devtype", ""), vdev.rpartition(":")[2])
    path = target.split(":")[-1] if ":" in target else target
    if not path:
        return None
    disk = {"pdev_path": path, "vdev": vdev.split(":")[0], "backend": "phy" if target.startswith("phy:") else "qdisk",
            "format": named.get("format", "raw"), "removable": 1}
    if cdrom:
        disk["is_cdrom"] = 1
    else:
        disk["readwrite"] = 0 if access.startswith("r") else 1
    return disk


def vnc_settings(config):
    """{enable, listen, display, findunused} of a DomUConfig's vnc keys (xl.cfg(5) defaults)."""
    vnc = config.vnc or {}
    enabled = _flag(vnc.get("vnc"), default=config.type == "hvm")  # HVM guests default to vnc=1
    settings = {"enable": TRUE if enabled else FALSE, "listen": str(vnc.get("vnclisten", "127.0.0.1"))}
    display = _int(vnc.get("vncdisplay"))
    if display is not None:
        settings["display"] = display
    settings["findunused"] = TRUE if _flag(vnc.get("vncunused"), default=True) else FALSE
    return settings


def _flag(value, default):
    if value is None or value == "":
        return default
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
