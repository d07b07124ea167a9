"""
Xen DomUs on this host, the ctys way: CREATE, CANCEL, LIST, ENUMERATE, SHOW, INFO.

Wraps the ``xl`` toolstack (legacy ``xm`` too), discovers DomU config files below the base paths
and resolves ctys machine addresses (``l:tst100``, ``f:tst100/tst100.conf``, ``m:00:50:56:13:11:40``,
``u:...``, ``p:/abs/path.conf``, ``t:192.168.1.220``).  Every function also accepts the ctys
argument string verbatim, suboptions included::

    salt lab00 xen.create 'f:xen/tst-ctys/tst100/tst100.conf,CONSOLE:vnc'
    salt lab01 xen.cancel 'l:tst100,POWEROFF:0'

An address that matches nothing, or more than one DomU, is an error listing the candidates, and
nothing is touched.

:depends: the Salt-free core package ``xenctys`` (synced from ``_utils/`` or pip-installed)
:configuration: minion config or pillar, all optional::

    xen:
      base_paths: [/etc/xen, /etc/ctys.d]   # where DomU configs are found
      toolstack: auto        # auto | xl | xm
      privilege: none        # none | sudo (sudo -n) | ksu (ksu -q -e), for a non-root minion
      timeout: 30            # seconds for one toolstack call
      long_timeout: 300      # save, restore, create, shutdown -w
      save_dir: /var/lib/xen/save   # default state files of SUSPEND / RESUME
      cache: true            # inventory cache in the minion cachedir (ctys -c)
"""

import logging

import salt.utils.event
from salt.exceptions import CommandExecutionError

try:
    from xenctys import __version__ as CORE_VERSION
    from xenctys import minion as adapters
    from xenctys.errors import XenError

    _IMPORT_ERROR = None
except ImportError as exc:  # the core package was not synced or installed
    _IMPORT_ERROR = exc

log = logging.getLogger(__name__)

__virtualname__ = "xen"
__func_alias__ = {"list_": "list"}


def __virtual__():
    if _IMPORT_ERROR is not None:
        return (False, f"xen: the core package xenctys is not importable ({_IMPORT_ERROR}); run saltutil.sync_all")
    found, reason = adapters.toolstack_available(__opts__)
    if not found:
        return (False, f"xen: {reason}")
    return __virtualname__


def _host(kwargs=None):
    """The XenHost of this minion for one call; kwargs' ``__pub_*`` tell who asked."""
    return adapters.build_host(__opts__, __salt__["config.get"], kwargs or {}, _fire_event)


def _fire_event(action, data):
    """Fire ``xen/domu/LABEL/ACTION``; an event that cannot be sent never fails the action."""
    tag = f"xen/domu/{data.get('label') or 'unknown'}/{action}"
    try:
        if __opts__.get("file_client") == "local" or __opts__.get("master_type") == "disable":
            # Masterless: event.send would wait for a master that is not there (about 1 s each);
            # the local minion bus still lets a local beacon/engine see the event.
            with salt.utils.event.get_event("minion", opts=__opts__, listen=False) as bus:
                bus.fire_event(data, tag)
        else:
            __salt__["event.send"](tag, data)
    except Exception as exc:  # pylint: disable=broad-except
        log.warning("xen: could not fire event %s: %s", tag, exc)


def _call(function, *args, **kwargs):
    """Run a core call; its one-line XenError becomes CommandExecutionError.  The result is made
    sendable (non-UTF-8 file names escaped), or Salt could not return it."""
    try:
        return adapters.sendable(function(*args, **kwargs))
    except XenError as exc:
        raise CommandExecutionError(exc.message) from None


def create(address, console=None, connect=None, reuse=None, resume=None, paused=None, cache=None, **kwargs):
    """
    Start the DomU an address names (ctys CREATE), or connect to it when it runs.

    CLI Example:

    .. code-block:: bash

        salt lab00 xen.create 'f:xen/tst-ctys/tst100/tst100.conf,CONSOLE:vnc'
        salt lab00 xen.create l:tst100 console=none
        salt lab00 xen.create u:6842caf91e3e43249ed596b8b9f2c5c2 connect=True console=cli
        salt lab01 xen.create 'l:tst100,RESUME:/var/lib/xen/save/tst100.save'

    address
        A ctys machine address, optionally with suboptions (CONSOLE:, CONNECT, REUSE, RESUME[:file]).
    console
        ``none`` (headless, default), ``vnc`` (returns the VNC port, viewer and ``ssh -L`` tunnel
        commands), ``cli`` (returns the ``xl console`` command).
    connect
        The DomU must be running already; return its session and start nothing.
    reuse
        Connect when running, start otherwise.
    resume
        ``True`` restores from the default state file (``<save_dir>/<label>.save``), a path
        restores from that file.  The file is removed once the domain runs.
    paused
        Start the domain paused (``xl create -p``).
    cache
        ``False`` rescans the base paths instead of using the inventory cache (ctys ``-c off``).
    """
    request = _call(adapters.parse_request, address, "create", kwargs, console=console, connect=connect,
                    reuse=reuse, resume=resume, paused=paused, cache=cache)
    return _call(_host(kwargs).create, request.address, **request.options)


def cancel(address, mode=None, timeout=None, force=None, statefile=None, cache=None, **kwargs):
    """
    Stop, reboot, reset, pause or suspend a running DomU (ctys CANCEL).

    CLI Example:

    .. code-block:: bash

        salt lab01 xen.cancel 'l:tst100,POWEROFF:0'
        salt lab00 xen.cancel 'poweroff:0,p:/srv/xen/tst-ctys/tst100/tst100.conf'
        salt lab01 xen.cancel 'l:tst100,FORCE,REBOOT'
        salt lab01 xen.cancel l:tst100 mode=suspend statefile=/var/lib/xen/save/tst100.save

    address
        A ctys machine address, optionally with suboptions (POWEROFF[:s], REBOOT, RESET, PAUSE,
        SUSPEND, INIT:0|6, FORCE, TIMEOUT:s).
    mode
        ``poweroff`` (default: graceful shutdown, wait ``timeout`` s, then destroy; ``POWEROFF:0``
        destroys right after asking), ``reboot`` (graceful), ``reset`` (hard), ``pause``,
        ``suspend`` (save to a state file, never overwriting one), ``init`` (INIT:0 / INIT:6).
    timeout
        Seconds to wait for a graceful shutdown (default 20).
    force
        Use xl's ``-F`` fallback (ACPI event) for guests without PV shutdown support.
    statefile
        State file of ``suspend`` (default ``<save_dir>/<label>.save``).
    """
    request = _call(adapters.parse_request, address, "cancel", kwargs, mode=mode, timeout=timeout,
                    force=force, statefile=statefile, cache=cache)
    return _call(_host(kwargs).cancel, request.address, **request.options)


def shutdown(address, wait=False, timeout=20, force=False, **kwargs):
    """
    Ask a running DomU to shut down (``xl shutdown``); with ``wait``, until it is gone.

    CLI Example:

    .. code-block:: bash

        salt lab00 xen.shutdown l:tst100 wait=True timeout=60
    """
    return _simple(address, "shutdown", kwargs, wait=wait, timeout=timeout, force=force)


def destroy(address, **kwargs):
    """
    Destroy a running DomU at once (``xl destroy``): like pulling the power cord.

    CLI Example:

    .. code-block:: bash

        salt lab00 xen.destroy l:tst100
    """
    return _simple(address, "destroy", kwargs)


def reboot(address, force=False, **kwargs):
    """
    Reboot a running DomU gracefully (``xl reboot``).

    CLI Example:

    .. code-block:: bash

        salt lab00 xen.reboot m:00:50:56:13:11:40
    """
    return _simple(address, "reboot", kwargs, force=force)


def reset(address, **kwargs):
    """
    Reset a running DomU hard (``xl trigger DOM reset``).

    CLI Example:

    .. code-block:: bash

        salt lab00 xen.reset l:tst100
    """
    return _simple(address, "reset", kwargs)


def pause(address, **kwargs):
    """
    Pause a running DomU (``xl pause``).

    CLI Example:

    .. code-block:: bash

        salt lab00 xen.pause l:tst100
    """
    return _simple(address, "pause", kwargs)


def unpause(address, **kwargs):
    """
    Unpause a paused DomU (``xl unpause``).

    CLI Example:

    .. code-block:: bash

        salt lab00 xen.unpause l:tst100
    """
    return _simple(address, "unpause", kwargs)


def _simple(address, action, kwargs, **options):
    request = _call(adapters.parse_request, address, "address", kwargs)
    return _call(_host(kwargs).simple_action, request.address, action, **options)


def save(address, statefile=None, checkpoint=False, **kwargs):
    """
    Save a running DomU to a state file (``xl save``); an existing file is never overwritten.

    CLI Example:

    .. code-block:: bash

        salt lab00 xen.save l:tst100
        salt lab00 xen.save l:tst100 statefile=/srv/save/tst100.save checkpoint=True
    """
    host = _host(kwargs)
    request = _call(adapters.parse_request, address, "address", kwargs)
    domain = _call(host.match_running, request.address)[0]
    path = statefile or _call(host.default_statefile, domain["name"])
    saved = _call(host.save, domain["name"], path, checkpoint=bool(checkpoint), domain=domain)
    return {"label": domain["name"], "domid": domain.get("domid"), "statefile": saved, "result": "saved"}


def restore(statefile, paused=False, keep_statefile=True, **kwargs):
    """
    Restore a DomU from a state file (``xl restore``).

    CLI Example:

    .. code-block:: bash

        salt lab00 xen.restore /var/lib/xen/save/tst100.save
    """
    return _call(_host(kwargs).restore, statefile, paused=bool(paused), keep_statefile=bool(keep_statefile))


def list_(opts="", types=None, cache=None, **kwargs):
    """
    This host's sessions as ctys LIST records (22 fields, spec §3.3).

    CLI Example:

    .. code-block:: bash

        salt lab00 xen.list
        salt lab00 xen.list 'machine,titleidx'
        salt lab00 xen.list types=xen

    opts
        ctys LIST suboptions: ``machine`` gives the raw ``;``-separated records, ``titleidx``
        adds the ``Name(n)`` header, ``terse`` drops it.  Without them: one dict per session.
    types
        Which rows: any of ``xen`` (Domain-0 and DomUs), ``pm`` (this host), ``vnc`` (viewers),
        ``tunnel`` (``ssh -L`` tunnels).  Default: all.
    """
    return _call(adapters.list_sessions, _host(kwargs), __opts__, __grains__, opts, types=types, cache=cache)


def enumerate(opts="", base=None, cache=True, types=None, **kwargs):  # pylint: disable=redefined-builtin
    """
    Every DomU config below the base paths as ctys ENUMERATE records (47 fields, spec §4.4).

    CLI Example:

    .. code-block:: bash

        salt lab00 xen.enumerate
        salt lab00 xen.enumerate base='/srv/xen%/etc/ctys.d' cache=False
        salt lab00 xen.enumerate 'machine,title,b:xen'

    opts
        ctys ENUMERATE suboptions: ``machine``, ``title``, ``titleidx``, ``terse`` and
        ``b:<path>[%<path>]`` (base paths, relative ones to the minion user's home).
    base
        Base paths to scan instead of ``xen:base_paths`` (a list or ``p1%p2``).
    cache
        ``False`` rescans every file (ctys ``-c off``).
    types
        ``xen`` (the configs) and/or ``pm`` (this host's own row, as ctys' PM plugin gives it).

    Returns ``records``, the ``problems`` met while walking the base paths (unreadable, binary,
    oversized files, symlink loops: none stops the walk), ``base_paths`` and ``configs``.
    """
    return _call(adapters.enumerate_configs, _host(kwargs), __opts__, __grains__, opts, base=base, cache=cache,
                 types=types)


def resolve(address, cache=True, **kwargs):
    """
    The one DomU config an address names, or an error listing every candidate.

    CLI Example:

    .. code-block:: bash

        salt lab00 xen.resolve f:tst100/tst100.conf
    """
    request = _call(adapters.parse_request, address, "address", kwargs, cache=cache)
    config = _call(_host(kwargs).resolve_config, request.address, use_cache=request.options.get("use_cache", True))
    return adapters.config_summary(config)


def vhost(address, all=False, cache=True, **kwargs):  # pylint: disable=redefined-builtin
    """
    ctys-vhost on this host: the config an address names (unique), or every match (``all=True``).

    CLI Example:

    .. code-block:: bash

        salt lab00 xen.vhost l:tst100
        salt lab00 xen.vhost l:tst100 all=True
    """
    return _call(adapters.vhost, _host(kwargs), address, all_matches=bool(all), cache=cache)


def status(address, statefile=None, cache=True, **kwargs):
    """
    Where a DomU is now: ``running``, ``paused``, ``crashed``, ``shutdown``, ``dying``,
    ``saved`` (not running, its state file exists) or ``off``.

    CLI Example:

    .. code-block:: bash

        salt lab00 xen.status l:tst100
    """
    request = _call(adapters.parse_request, address, "address", kwargs, cache=cache)
    return _call(_host(kwargs).status, request.address, statefile=statefile,
                 use_cache=request.options["use_cache"])


def show(**kwargs):
    """
    Dynamic data of this host: free memory, running domains, uptime, load (ctys SHOW).

    CLI Example:

    .. code-block:: bash

        salt lab00 xen.show
    """
    return _call(adapters.show, _host(kwargs), __grains__)


def info(**kwargs):
    """
    Static data of this host and module: toolstack, Xen version and capabilities, base paths,
    cache, privilege mode, module version (ctys INFO).

    CLI Example:

    .. code-block:: bash

        salt lab00 xen.info
    """
    return _call(adapters.info, _host(kwargs), __opts__, CORE_VERSION)
