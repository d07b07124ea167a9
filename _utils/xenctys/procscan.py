"""Client sessions on this host, read from /proc: VNC viewers (C) and ``ssh -L`` tunnels (T).

ctys lists these through its VNC plugin and its DIGGER tunnel plugin (spec §3.3, §9.3).  We read
each process's argv once; nothing is executed.
"""

import grp
import os
import pwd

VNC_BASEPORT = 5900
VNC_VIEWERS = frozenset(
    {"vncviewer", "xvncviewer", "xtightvncviewer", "xtigervncviewer", "tigervnc", "tightvncviewer",
     "xvnc4viewer", "gvncviewer", "vinagre", "remmina", "krdc", "ssvncviewer"}
)
# Our tunnels carry this tag in their (remote, harmless) shell comment, like ctys' "# DYNREMAP:XEN:..".
TUNNEL_TAG = "DYNREMAP:XEN:"


def _read_argv(proc_dir):
    try:
        with open(os.path.join(proc_dir, "cmdline"), "rb") as handle:
            raw = handle.read(65536)
    except OSError:  # the process ended, or is not ours to read
        return []
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def _owner(proc_dir):
    """(uid, gid) numbers of a process, from its status file; ("", "") when unknown."""
    uid = gid = ""
    try:
        with open(os.path.join(proc_dir, "status"), encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("Uid:"):
                    uid = line.split()[1]
                elif line.startswith("Gid:"):
                    gid = line.split()[1]
    except OSError:
        pass
    return uid, gid


def _names(uid, gid):
    """Numeric ids -> user and group names where the system knows them."""
    try:
        user = pwd.getpwuid(int(uid)).pw_name
    except (KeyError, ValueError):
        user = uid
    try:
        group = grp.getgrgid(int(gid)).gr_name
    except (KeyError, ValueError):
        group = gid
    return user, group


def parse_vnc_viewer(argv):
    """Label and client port of a VNC viewer's argv; None when argv is not a viewer."""
    if not argv or os.path.basename(argv[0]) not in VNC_VIEWERS:
        return None
    label, target = "", ""
    args = iter(argv[1:])
    for arg in args:
        if arg in ("-name", "-title", "--name", "--title"):
            label = next(args, "")
        elif not arg.startswith("-") and not target:
            target = arg
    host, port = target, ""
    if "::" in target:
        host, port = target.split("::", 1)
    elif ":" in target:
        host, display = target.rsplit(":", 1)
        if display.isdigit():
            port = str(VNC_BASEPORT + int(display))
    # ctys names its viewers "<label>:<display>"; keep the label part.
    if label and ":" in label:
        label = label.split(":", 1)[0]
    return {"label": label or host or "vnc", "cport": port if port.isdigit() else "", "target": target}


def parse_tunnel(argv):
    """Local port, remote port, host and label of an ``ssh -L`` VNC tunnel; None otherwise."""
    if not argv or os.path.basename(argv[0]) != "ssh":
        return None
    forward = None
    for i, arg in enumerate(argv):
        if arg == "-L" and i + 1 < len(argv):
            forward = argv[i + 1]
        elif arg.startswith("-L") and len(arg) > 2:
            forward = arg[2:]
    if not forward:
        return None
    # [bind_address:]port:host:hostport
    parts = forward.split(":")
    if len(parts) < 3:
        return None
    lport, rport = parts[-3], parts[-1]
    if not (lport.isdigit() and rport.isdigit()):
        return None
    label = ""
    joined = " ".join(argv)
    if TUNNEL_TAG in joined:
        # DYNREMAP:XEN:<label>:<host>  (written by xen.create console=vnc)
        label = joined.split(TUNNEL_TAG, 1)[1].split(":", 1)[0].split()[0]
    elif not VNC_BASEPORT <= int(rport) < VNC_BASEPORT + 100:
        return None  # an ssh forward of something that is not a VNC console
    return {"label": label or f"{lport}-{rport}", "lport": lport, "rport": rport}


def client_sessions(proc_root="/proc"):
    """Every VNC viewer and VNC ``ssh -L`` tunnel running on this host, as plain dicts."""
    sessions = []
    try:
        entries = os.listdir(proc_root)
    except OSError:
        return sessions
    for entry in entries:
        if not entry.isdigit():
            continue
        proc_dir = os.path.join(proc_root, entry)
        argv = _read_argv(proc_dir)
        viewer = parse_vnc_viewer(argv)
        tunnel = None if viewer else parse_tunnel(argv)
        if not viewer and not tunnel:
            continue
        user, group = _names(*_owner(proc_dir))
        if viewer:
            sessions.append(dict(viewer, kind="VNC", pid=entry, user=user, group=group))
        else:
            sessions.append(dict(tunnel, kind="TUNNEL", pid=entry, user=user, group=group))
    return sorted(sessions, key=lambda s: int(s["pid"]))
