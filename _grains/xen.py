"""
Grains of a Xen host: its role, toolstack, Xen version, and the DomUs it holds.

All under the one grain ``xen``::

    xen:
      role: dom0                # dom0 | domU | none
      toolstack: xl             # xl | xm | "" (none installed)
      version: 4.17.7           # from /sys/hypervisor; "" when unknown
      domus:                    # every DomU config found, and every running domain
        tst100: {uuid: 6842caf9-1e3e-4324-9ed5-96b8b9f2c5c2, macs: ["00:50:56:13:11:40"],
                 config: /etc/xen/tst-ctys/tst100/tst100.conf}
      labels: [tst100, ...]     # flat lists, for targeting
      uuids: [6842caf9-1e3e-4324-9ed5-96b8b9f2c5c2, ...]
      macs: ["00:50:56:13:11:40", ...]
      errors: [...]             # only when part of it could not be read in time

Target the minion that holds a DomU::

    salt -G 'xen:labels:tst100' test.ping
    salt -G 'xen:macs:00:50:56:13:11:40' xen.status m:00:50:56:13:11:40
    salt -G 'xen:role:dom0' xen.list

A host without Xen gets no ``xen`` grain at all.  The running domains are one ``xl list`` and
the configs come from the inventory cache, both under ``xen:grains_timeout`` (minion config,
default 5 s), so a hung toolstack never holds up the minion.  Grains are computed at start and on
``saltutil.refresh_grains``: for the live state of a DomU ask ``xen.status`` or the ``xen`` beacon.

:configuration: minion config (pillar does not exist yet when grains run)::

    xen:
      base_paths: [/etc/xen, /etc/ctys.d]
      grains_timeout: 5
"""

import logging

try:
    from xenctys import inventory_grains

    _IMPORT_ERROR = None
except ImportError as exc:  # the core package was not synced or installed
    _IMPORT_ERROR = exc

log = logging.getLogger(__name__)

__virtualname__ = "xen"


def __virtual__():
    if _IMPORT_ERROR is not None:
        return (False, f"xen grains: the core package xenctys is not importable ({_IMPORT_ERROR})")
    return __virtualname__


def xen(grains=None):
    """
    The ``xen`` grain (see the module docstring); ``{}`` on a host without Xen.

    Salt passes the core grains computed so far as ``grains`` (``virtual_subtype`` tells a DomU).
    """
    try:
        result = inventory_grains.compute(__opts__, grains or {})
    except Exception:  # pylint: disable=broad-except  # the core never raises; a bug must not cost the other grains
        log.exception("xen grains: could not compute them")
        return {}
    for error in result.get("xen", {}).get("errors", ()):
        log.warning("xen grains: %s", error)
    return result
