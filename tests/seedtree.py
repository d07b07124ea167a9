"""The DomU config tree of the seed's use cases, written below a base path.

``xen/tst-ctys/tst100/tst100.conf`` and its siblings tst101 and tst104, with the seed's MACs and
tst100's UUID, so that every address form of the seed (f:xen/tst-ctys/tst100/tst100.conf,
f:tst100/tst100.conf, l:tst100, u:6842caf9..., m:00:50:56:13:11:40, t:192.168.1.220, p:/...)
names tst100.  The ctys side file ``tst100.ctys`` carries the guest data (#@#IP, #@#DIST ...)
and ``#@#MAGICID-IGNORE``, as in the seed model (spec §4.2): it is read, never enumerated.
"""

import os

SEED_DOMUS = {
    # label: (uuid, mac, ip)
    "tst100": ("6842caf91e3e43249ed596b8b9f2c5c2", "00:50:56:13:11:40", "192.168.1.220"),
    "tst101": ("6842caf91e3e43249ed596b8b9f2c5c3", "00:50:56:13:11:41", "192.168.1.221"),
    "tst104": ("6842caf91e3e43249ed596b8b9f2c5c6", "00:50:56:13:11:44", "192.168.1.224"),
}

CONFIG = """\
#@#MAGICID-XEN
# ctys test DomU {label} (seed ctys-uc-XEN); xl syntax
name = "{label}"
uuid = "{uuid}"
memory = 128
vcpus = 1
kernel = "/boot/vmlinuz-xen"
disk = [ 'file:{folder}/xvda.img,xvda,w' ]
vif = [ 'mac={mac}, bridge=xenbr0' ]
vfb = [ 'vnc=1, vncunused=1' ]
on_reboot = 'restart'
on_crash = 'restart'
"""

SIDECAR = """\
#@#MAGICID-IGNORE
#@#IP0 = "{ip}%255.255.255.0%xenbr0%eth0%22%192.168.1.1"
#@#DIST = "CentOS"
#@#DISTREL = "5"
#@#OS = "Linux"
#@#OSREL = "2.6.18"
#@#SERNO = "20080427002200"
#@#CATEGORY = "VM"
"""


def config_path(base, label):
    return os.path.join(str(base), "xen", "tst-ctys", label, f"{label}.conf")


def write_seed_tree(base, labels=tuple(SEED_DOMUS), side_files=True):
    """Write the configs (and, with ``side_files``, their ``.ctys`` side files) of ``labels`` below
    ``base``; returns {label: path}.  Without side files the DomUs have no IP (TCP columns stay
    empty)."""
    paths = {}
    for label in labels:
        uuid, mac, ip = SEED_DOMUS[label]
        path = config_path(base, label)
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(CONFIG.format(label=label, uuid=uuid, mac=mac, folder=folder))
        if side_files:
            with open(os.path.join(folder, f"{label}.ctys"), "w", encoding="utf-8") as handle:
                handle.write(SIDECAR.format(ip=ip))
        paths[label] = path
    return paths
