"""
Watch this host's DomUs: one event per DomU that appears, disappears or changes state.

Each poll is ONE toolstack call (``xl list``); the listing of the previous poll is kept in the
beacon's ``__context__``.  Minion config (or ``beacons.add``)::

    beacons:
      xen:
        - interval: 10            # seconds between polls (Salt's own beacon option)
        - labels: ['tst*', 'web01']   # glob patterns of the DomUs to watch; default: all
        - blocked: false          # true: also report running <-> blocked flips (idle guests flip often)
        - emit_at_startup: false  # true: the first poll reports every listed DomU (e.g. one already crashed)
        - timeout: 10             # seconds for the one xl call of a poll

Event tags: ``salt/beacon/<minion id>/xen/<label>/<new state>``, the new state being one of
``running``, ``blocked`` (only with ``blocked: true``), ``paused``, ``shutdown``, ``crashed``,
``dying`` or ``gone`` (no longer listed).  So a reactor for crashed DomUs on any host is::

    reactor:
      - 'salt/beacon/*/xen/*/crashed':
        - salt://reactor/xen_restart_crashed.sls

Event data::

    {"id": "lab00", "label": "tst100", "uuid": "6842caf9-...", "domid": 7,
     "old_state": "running", "new_state": "crashed", "change": "state", "flags": "----c-"}

``change`` is ``appeared`` (old_state ``gone``), ``disappeared`` (new_state ``gone``) or ``state``.
A DomU destroyed and started again between two polls (new domid) is two events: ``gone``, then
its new state.  The first poll after the minion starts, or after its modules are refreshed
(``saltutil.sync_*``, pillar refresh: Salt then builds new beacons), only records what runs,
unless ``emit_at_startup``.  A failed ``xl list`` fires nothing and keeps the previous listing,
so a toolstack hiccup never reads as "every DomU disappeared".

Salt counts ``interval`` in steps of the minion's ``loop_interval`` (1 s by default): with
another ``loop_interval`` the seconds change accordingly.

:depends: the core package ``xenctys`` and ``xl`` (or ``xm``) on this minion.
"""

import logging

import salt.utils.beacons

try:
    from xenctys import domwatch
    from xenctys.errors import XenError
    from xenctys.minion import build_host, toolstack_available

    _IMPORT_ERROR = None
except ImportError as exc:  # the core package was not synced or installed
    _IMPORT_ERROR = exc

log = logging.getLogger(__name__)

__virtualname__ = "xen"
# The previous poll: {"watching": (label patterns, blocked), "domains": {label: {domid, uuid, state, flags}}}
CONTEXT_KEY = "xen.beacon.previous"


def __virtual__():
    if _IMPORT_ERROR is not None:
        return (False, f"xen beacon: the core package xenctys is not importable ({_IMPORT_ERROR})")
    found, reason = toolstack_available(__opts__)
    if not found:
        return (False, f"xen beacon: {reason}")
    return __virtualname__


def _as_dict(config):
    """Salt 3008 hands beacon configs over as a list of one-key dicts."""
    if isinstance(config, dict):
        return config
    if isinstance(config, list) and all(isinstance(item, dict) for item in config):
        return salt.utils.beacons.list_to_dict(config)
    raise XenError("xen beacon: the configuration must be a list of dicts, e.g. [{'interval': 10}]")


def validate(config):
    """
    Check the beacon configuration: ``(True, message)`` or ``(False, what is wrong)``.

    Salt calls it before every poll; it is also what ``salt-call beacons.add xen ...`` checks.
    """
    try:
        domwatch.parse_settings(_as_dict(config))
    except XenError as exc:
        return False, exc.message
    return True, "valid xen beacon configuration"


def _list_domains(timeout):
    """The running domains: one ``xl list``, with this beacon's own timeout."""

    def get(key, default=None):
        return timeout if key == "xen:timeout" else __salt__["config.get"](key, default)

    host = build_host(__opts__, get, {}, lambda _action, _data: None)
    return host.toolstack.list_plain()


def beacon(config):
    """
    Poll the toolstack once and return one event per DomU that appeared, disappeared or changed
    state since the previous poll (see the module docstring for the configuration and events).
    """
    settings = domwatch.parse_settings(_as_dict(config))
    try:
        domains = _list_domains(settings.timeout)
    except XenError as exc:
        log.warning("xen beacon: listing the domains failed, trying again next poll: %s", exc.message)
        return []
    current = domwatch.snapshot(domains, settings)
    # A snapshot taken with other labels or blocked settings is no baseline: comparing with it
    # would report DomUs that merely entered or left the watched set.
    watching = (tuple(settings.labels), settings.blocked)
    previous = __context__.get(CONTEXT_KEY) or {}
    __context__[CONTEXT_KEY] = {"watching": watching, "domains": current}
    baseline = previous.get("domains") if previous.get("watching") == watching else None
    return domwatch.poll_events(baseline, current, settings)
