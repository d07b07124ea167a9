"""The simulated ``xenstore-read`` and ``xenstore-ls``: the host's domains as a xenstore tree.

Only the nodes a toolstack client reads are there (``corpus/xl-real/xenstore-ls-domu1.txt``
has the real tree of a DomU): name, domid, vm, memory, console (with ``vnc-port`` when the
domain has a VNC display), and each vif's device node with its MAC.
"""

import sys

from xlsim import hoststate
from xlsim.hoststate import SimExit
from xlsim.xlcmd import apply_faults, c_stdio


def domain_nodes(domain):
    """{path: value} of one domain's leaves under /local/domain/<domid>."""
    base = f"/local/domain/{domain['domid']}"
    nodes = {
        f"{base}/domid": str(domain["domid"]),
        f"{base}/name": domain["name"],
        f"{base}/memory/static-max": str(domain["maxmem"] * 1024),
        f"{base}/memory/target": str(domain["memory"] * 1024),
    }
    if domain["domid"] == 0:
        return nodes
    nodes[f"{base}/vm"] = f"/vm/{domain['uuid']}"
    nodes[f"{base}/console/backend"] = f"/local/domain/0/backend/console/{domain['domid']}/0"
    nodes[f"{base}/console/type"] = "xenconsoled"
    nodes[f"{base}/console/tty"] = f"/dev/pts/{domain['domid']}"
    if domain.get("vnc_port"):
        nodes[f"{base}/console/vnc-port"] = str(domain["vnc_port"])
        nodes[f"{base}/console/vnc-listen"] = "127.0.0.1"
    nodes[f"{base}/control/shutdown"] = "" if not domain["pending"] else domain["pending"]["reason"]
    for nic in (domain.get("config") or {}).get("nics", ()):
        vif = f"{base}/device/vif/{nic['devid']}"
        nodes.update({f"{vif}/backend": f"/local/domain/0/backend/vif/{domain['domid']}/{nic['devid']}",
                      f"{vif}/handle": str(nic["devid"]), f"{vif}/mac": nic["mac"], f"{vif}/state": "4"})
    return nodes


def tree(host):
    """Every node (leaves and their parents, parents valued "") of the host's xenstore."""
    nodes = {}
    for domain in host.domains:
        for path, value in domain_nodes(domain).items():
            nodes[path] = value
            parent = path.rsplit("/", 1)[0]
            while parent and parent not in nodes:
                nodes[parent] = ""
                parent = parent.rsplit("/", 1)[0]
    return nodes


def _sorted_paths(paths):
    return sorted(paths, key=lambda p: [int(c) if c.isdigit() else c for c in p.split("/")])


def read_main(argv):
    """``xenstore-read PATH...``: each value on a line; the first missing path ends it, exit 1."""
    return _run("xenstore-read", argv, _read)


def ls_main(argv):
    """``xenstore-ls [-f] PATH``: the subtree below PATH (``-f``: full paths, as xenstore-ls-domu1.txt)."""
    return _run("xenstore-ls", argv, _ls)


def _run(tool, argv, action):
    c_stdio()
    try:
        folder = hoststate.state_dir()
        apply_faults(folder, tool)
        with hoststate.transaction(folder) as host:
            nodes = tree(host)
        return action(tool, argv, nodes)
    except SimExit as stop:
        for line in stop.stderr:
            sys.stderr.write(line + "\n")
        return stop.rc
    finally:
        sys.stdout.flush()


def _read(tool, argv, nodes):
    paths = [a for a in argv if not a.startswith("-")]
    if not paths:
        raise SimExit(2, f"Usage: {tool} [-h] [-s] [-p] [-R] key [...]")
    for path in paths:
        if path not in nodes:
            raise SimExit(1, f"{tool}: couldn't read path {path}")
        sys.stdout.write(nodes[path] + "\n")
    return 0


def _ls(tool, argv, nodes):
    full = "-f" in argv
    paths = [a for a in argv if not a.startswith("-")] or ["/"]
    root = paths[0].rstrip("/") or ""
    if root and root not in nodes:
        raise SimExit(1, f"{tool}: xs_directory ({root}): No such file or directory")
    below = [p for p in nodes if p.startswith(root + "/")]
    for path in _sorted_paths(below):
        if full:
            sys.stdout.write(f'{path} = "{nodes[path]}"\n')
        else:
            depth = path[len(root):].count("/") - 1
            sys.stdout.write(f'{" " * depth}{path.rsplit("/", 1)[1]} = "{nodes[path]}"\n')
    return 0
