"""What changed between two looks at a host's running domains: the ``xen`` beacon's logic, Salt-free.

The beacon lists the domains once per poll (one ``xl list``), turns the list into a
:func:`snapshot` (label -> what we need to compare), and :func:`changes` compares it with the
snapshot of the previous poll.  One change per DomU that appeared, disappeared or changed state.

State words follow ``xl list``'s flags (xl(1)): ``r`` running, ``b`` blocked, ``p`` paused,
``s`` shutdown, ``c`` crashed, ``d`` dying.  An idle guest flips between ``r`` and ``b`` from one
``xl list`` to the next, so by default both read as ``running`` and those flips are no events;
``blocked: true`` in the beacon config reports them.

Event tags end in ``<label>/<new state>``, with ``gone`` for a DomU that is no longer listed, so a
reactor matches ``salt/beacon/*/xen/*/crashed`` whether the DomU crashed between two polls or
was first seen crashed.
"""

import fnmatch
from dataclasses import dataclass, field
from typing import List

from xenctys.errors import XenError

GONE = "gone"  # the state word of a DomU that is not listed (before it appeared, after it went)
STATES = ("running", "blocked", "paused", "shutdown", "crashed", "dying", GONE)

# Beacon options this module understands.
DEFAULTS = {"labels": [], "blocked": False, "emit_at_startup": False, "timeout": 10}
# Salt's own beacon options: validate() sees them, the beacon function mostly does not.
SALT_OPTIONS = ("interval", "enabled", "run_once", "disable_during_state_run", "beacon_module")

# Flags that say more than "it runs", most telling first: a dying domain may still show its
# crashed or shutdown flag, and a paused one also shows ``b`` or ``r`` on some hosts.
_FLAG_WORDS = (("d", "dying"), ("c", "crashed"), ("s", "shutdown"), ("p", "paused"))


@dataclass
class WatchSettings:
    """The beacon's own options, validated."""

    labels: List[str] = field(default_factory=list)  # glob patterns; empty = every DomU
    blocked: bool = False  # report running <-> blocked flips
    emit_at_startup: bool = False  # the first poll reports every listed DomU as appeared
    timeout: float = 10.0  # seconds for the one toolstack call of a poll


def parse_settings(config):
    """Beacon options (a dict, after ``list_to_dict``) -> :class:`WatchSettings`; XenError when wrong."""
    unknown = sorted(str(k) for k in config
                     if k not in DEFAULTS and k not in SALT_OPTIONS and not str(k).startswith("_"))
    if unknown:
        raise XenError(f"xen beacon: unknown option(s) {', '.join(unknown)}; "
                       f"known: {', '.join(DEFAULTS)}, {', '.join(SALT_OPTIONS)}")
    labels = config.get("labels", DEFAULTS["labels"])
    if isinstance(labels, str):
        labels = [labels]
    if not isinstance(labels, (list, tuple)) or not all(isinstance(p, str) and p for p in labels):
        raise XenError("xen beacon: labels must be a list of glob patterns, e.g. ['tst*', 'web01']")
    return WatchSettings(
        labels=list(labels),
        blocked=_flag("blocked", config.get("blocked", DEFAULTS["blocked"])),
        emit_at_startup=_flag("emit_at_startup", config.get("emit_at_startup", DEFAULTS["emit_at_startup"])),
        timeout=_seconds(config.get("timeout", DEFAULTS["timeout"])),
    )


def _flag(name, value):
    if isinstance(value, bool):
        return value
    raise XenError(f"xen beacon: {name} must be true or false, not {value!r}")


def _seconds(value):
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise XenError(f"xen beacon: timeout must be a number of seconds, not {value!r}") from None
    if seconds <= 0:
        raise XenError("xen beacon: timeout must be positive")
    return seconds


def state_word(flags, blocked=False):
    """``xl list`` state flags (``-b----``, ``--p---``, ...) -> one word of :data:`STATES`."""
    flags = flags or ""
    for letter, word in _FLAG_WORDS:
        if letter in flags:
            return word
    if blocked and "b" in flags and "r" not in flags:
        return "blocked"
    return "running"


def wanted(label, patterns):
    """True when ``label`` matches one of the glob ``patterns`` (all labels when there are none)."""
    return not patterns or any(fnmatch.fnmatchcase(label, pattern) for pattern in patterns)


def snapshot(domains, settings):
    """``{label: {"domid", "uuid", "state", "flags"}}`` of the listed DomUs the settings watch.

    ``domains`` are the toolstack's dicts (``name``, ``domid``, ``state`` flags, ``uuid`` when
    the listing has it).  Domain-0 is the host itself, never a DomU.
    """
    seen = {}
    for domain in domains:
        label = str(domain.get("name") or "")
        if not label or domain.get("domid") == 0 or label == "Domain-0":
            continue
        if not wanted(label, settings.labels):
            continue
        flags = str(domain.get("state") or "")
        seen[label] = {
            "domid": domain.get("domid"),
            "uuid": str(domain.get("uuid") or ""),
            "state": state_word(flags, settings.blocked),
            "flags": flags,
        }
    return seen


def changes(previous, current):
    """Event dicts for every DomU that appeared, disappeared or changed state, sorted by label.

    A DomU listed in both with another domid was destroyed and started again between two polls:
    that is two events, ``gone`` for the old domain and its new state for the new one.
    """
    events = []
    for label in sorted(set(previous) | set(current)):
        old, new = previous.get(label), current.get(label)
        if old is not None and new is not None and old["domid"] != new["domid"]:
            events.append(_event(label, old, None))
            events.append(_event(label, None, new))
        elif old is None or new is None or old["state"] != new["state"]:
            events.append(_event(label, old, new))
    return events


def _event(label, old, new):
    """One beacon event: the tag tail ``<label>/<new state>`` and what a reactor needs."""
    known = new or old
    new_state = new["state"] if new else GONE
    if old is None:
        change = "appeared"
    elif new is None:
        change = "disappeared"
    else:
        change = "state"
    return {
        # Salt prefixes salt/beacon/<minion id>/xen/; a "/" inside a label would add a tag level.
        "tag": f"{label.replace('/', '_')}/{new_state}",
        "label": label,
        "uuid": known["uuid"],
        "domid": known["domid"],
        "old_state": old["state"] if old else GONE,
        "new_state": new_state,
        "change": change,
        "flags": new["flags"] if new else "",
    }


def poll_events(previous, current, settings):
    """The events of one poll: nothing on the very first one unless ``emit_at_startup``.

    ``previous`` is None before the first poll.  Without a baseline every running DomU would
    "appear" each time the minion starts, and a reactor would act on guests that did nothing.
    """
    if previous is None and not settings.emit_at_startup:
        return []
    return changes(previous or {}, current)
