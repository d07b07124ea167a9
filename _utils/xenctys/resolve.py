"""Match a machine address against DomU configs or running domains: one, none, or ambiguous.

ctys picks the first ``find`` hit with an unanchored regex and detects ambiguity only in its
cache (spec §2.2, §1.3.3; defects §10 items 5, 6, 11, 16).  Here:

* every part of the address must match, and matches are exact: ``p:`` is the same file
  (normalized path, or the same file through a symlink), ``f:`` a suffix of whole path
  components (``f:tst100/tst100.conf`` never hits ``.../xtst100/tst100.conf``), ``l:`` the exact,
  case-sensitive domain name, ``u:``/``m:`` normalized equality, ``t:`` one of the IPs or
  ``#@#IP`` host names, ``b:`` a path below a base path, component-wise;
* :func:`resolve_config` returns the one match or raises, listing every candidate; a file
  reached through several paths (symlinks) counts once;
* a multi-homed DomU (several MACs/IPs) is one config, so it is one candidate, never ambiguous;
* :func:`match_domains` applies the same rules to running domains and never returns Domain-0.

No DNS look-ups are made: ``t:<hostname>`` matches the names written in the config only.
"""

import os
import posixpath
import re
from itertools import repeat
from operator import contains, itemgetter
from typing import NamedTuple, Tuple

from xenctys.address import Address, expand_base_paths, normalize_ip, parse_address
from xenctys.domconfig import DomUConfig, normalize_mac, normalize_uuid
from xenctys.errors import AmbiguousAddressError, NoMatchError

DOMAIN0_NAME = "Domain-0"


class ConfigFacts(NamedTuple):
    """What an address can be matched against, taken from one config (and cached with it).

    Matching needs only these, so a cached inventory is matched without rebuilding every
    DomUConfig (see ``discovery.ConfigList``).  The matcher reads them by index, so a plain list
    of the same values in the same order (as msgpack returns them) matches the same.
    """

    path: str
    label: str
    uuid: str  # 32 lower-case hex digits or ""
    macs: Tuple[str, ...]  # normalized
    ips: Tuple[str, ...]  # normalized IPs (xl ``ip=`` lists split)
    names: Tuple[str, ...]  # lower-case host names of ``#@#IP`` entries and NETNAME


_PATH, _LABEL, _UUID, _MACS, _IPS, _NAMES = range(len(ConfigFacts._fields))
_UUID_HEX = re.compile(r"[0-9a-f]{32}\Z")


def config_facts(config):
    """The :class:`ConfigFacts` of a DomUConfig."""
    ips = tuple(dict.fromkeys(ip for ip in (normalize_ip(item) for item in _split_ips(config.ips)) if ip))
    names = tuple(dict.fromkeys(name.lower().rstrip(".") for name in _config_names(config)))
    return ConfigFacts(config.path, config.label, uuid_hex(config.uuid), tuple(config.macs), ips, names)


def uuid_hex(text):
    """``domconfig.normalize_uuid`` with "" for None, as one regex: discovery calls it for every
    config it parses, and the per-character check is a measurable part of a cold run."""
    if not isinstance(text, str):
        return ""
    digits = text.strip().replace("-", "").lower()
    return digits if _UUID_HEX.match(digits) else ""


# --- public API ----------------------------------------------------------------------------------


def match_configs(address, configs):
    """Every config the address names (all its parts match), in the order given.

    ``configs`` is any sequence of DomUConfig; one with a ``facts()`` method (the inventory's
    ``ConfigList``) is matched on those and only the matches are built.
    """
    matcher = _Matcher(_as_address(address))
    if hasattr(configs, "facts"):
        facts = configs.facts()
        return [configs[index] for index in _positions_worth_testing(matcher.address, facts)
                if matcher.facts_match(facts[index])]
    return [config for config in configs if matcher.facts_match(config_facts(config))]


def resolve_config(address, configs):
    """The one config the address names.

    Raises :class:`NoMatchError` when none matches and :class:`AmbiguousAddressError` (with
    ``.candidates``, a list of dicts) when several distinct files do.
    """
    address = _as_address(address)
    matches = distinct_files(match_configs(address, configs))
    if not matches:
        raise NoMatchError(f"no DomU matches {address.describe()}")
    if len(matches) > 1:
        raise ambiguity_error(address, matches)
    return matches[0]


def match_domains(address, domains, configs_by_label=None):
    """The running domains the address names, for CANCEL; the caller decides what many means.

    ``domains`` are dicts with ``name``, ``domid``, ``uuid``, ``macs`` and optionally
    ``config_path`` and ``ips``.  ``configs_by_label`` maps a label to its config(s) (a dict of
    lists or of single configs) or is a sequence of configs (the inventory's ``ConfigList`` is
    used through its facts: nothing is unpacked).  A domain matches ``p:``/``f:``/``b:`` through
    its config: its ``config_path``, else the one config carrying its name (with several such
    configs the config is unknown and path parts do not match).  ``l:`` matches the domain name,
    ``u:``/``m:`` the domain itself, ``t:`` the domain's ``ips`` or its config's addresses.
    Domain-0 (domid 0) is never returned.
    """
    matcher = _Matcher(_as_address(address))
    known = _KnownConfigs(configs_by_label)
    return [domain for domain in domains
            if not _is_domain0(domain) and matcher.domain_matches(domain, known.facts_for(domain))]


def distinct_files(configs):
    """``configs`` with files reached through several paths (symlinks) kept once.

    Of several paths to one file the one that is not a symlink path is kept, else the first.
    """
    kept = {}
    for config in configs:
        real = _realpath(config.path)
        current = kept.get(real)
        if current is None or (_normpath(config.path) == real and _normpath(current.path) != real):
            kept[real] = config
    return list(kept.values())


def describe_candidate(config):
    """What identifies one candidate in an ambiguity report."""
    return {"path": config.path, "label": config.label, "uuid": config.uuid_hex or config.uuid,
            "macs": list(config.macs)}


def ambiguity_error(address, configs):
    """The :class:`AmbiguousAddressError` for several configs: every candidate in one line."""
    candidates = sorted((describe_candidate(config) for config in configs), key=lambda c: c["path"])
    listed = "; ".join(
        f"{c['path']} (label {c['label'] or '-'}, uuid {c['uuid'] or '-'}, MACs {' '.join(c['macs']) or '-'})"
        for c in candidates
    )
    return AmbiguousAddressError(
        f"{address.describe()} is ambiguous: {len(candidates)} DomU configs match: {listed}; "
        f"add parts (p:, f:, b:) to choose one",
        candidates=candidates,
    )


# --- matching ------------------------------------------------------------------------------------


def _positions_worth_testing(address, facts):
    """The positions in ``facts`` that can match ``address``, in order.

    One pass at C speed over the most selective part the address has (the exact label, UUID or
    MAC, else the file name of an ``f:`` suffix), so the full test runs on a handful of configs
    instead of 10,000.  Each check here is implied by :meth:`_Matcher.facts_match`, so no match
    is ever dropped: a component of a normalized path appears verbatim in the path it came from.
    """
    if address.label:
        column, wanted = map(itemgetter(_LABEL), facts), address.label
    elif address.uuid:
        column, wanted = map(itemgetter(_UUID), facts), address.uuid
    elif address.mac:
        column, wanted = map(contains, map(itemgetter(_MACS), facts), repeat(address.mac)), True
    elif address.filename:
        name = address.filename.rsplit("/", 1)[-1]
        column, wanted = map(contains, map(itemgetter(_PATH), facts), repeat(name)), True
    else:
        return range(len(facts))
    return _positions_of(list(column), wanted)


def _positions_of(values, wanted):
    """Every position of ``wanted`` in the list ``values`` (``list.index`` does the scanning)."""
    positions, start = [], 0
    try:
        while True:
            start = values.index(wanted, start)
            positions.append(start)
            start += 1
    except ValueError:
        return positions


class _Matcher:
    """One address's parts, prepared once, tested against many configs or domains."""

    def __init__(self, address):
        self.address = address
        self.target = _PathTarget(address.pathname) if address.pathname else None
        self.suffix = tuple(address.filename.split("/")) if address.filename else ()
        self.bases = expand_base_paths(address.base_paths) if address.base_paths else []
        self.tcp_ip = normalize_ip(address.tcp) if address.tcp else ""
        self.tcp_name = address.tcp.lower().rstrip(".") if address.tcp and not self.tcp_ip else ""

    # Cheap string comparisons first; the path (which may stat) last.
    def facts_match(self, facts):
        """``facts``: a ConfigFacts or a list of its values (read by index)."""
        address = self.address
        return (
            (not address.label or facts[_LABEL] == address.label)
            and (not address.uuid or facts[_UUID] == address.uuid)
            and (not address.mac or address.mac in facts[_MACS])
            and (not address.tcp or self._tcp_matches(facts[_IPS], facts[_NAMES]))
            and self._path_matches(facts[_PATH])
        )

    def domain_matches(self, domain, facts):
        """``facts``: those of the domain's config, or None when its config is unknown."""
        address = self.address
        if address.label and domain.get("name") != address.label:
            return False
        if address.uuid and normalize_uuid(str(domain.get("uuid") or "")) != address.uuid:
            return False
        if address.mac and address.mac not in {normalize_mac(m) for m in domain.get("macs") or ()}:
            return False
        if address.tcp:
            ips = [normalize_ip(ip) for ip in _split_ips(domain.get("ips") or ())]
            if not self._tcp_matches(ips + list(facts[_IPS] if facts else ()), facts[_NAMES] if facts else ()):
                return False
        if address.pathname or address.filename or address.base_paths:
            path = domain.get("config_path") or (facts[_PATH] if facts else "")
            return bool(path) and self._path_matches(path)
        return True

    def _path_matches(self, path):
        if not (self.target or self.suffix or self.bases):
            return True
        normalized = _normpath(path)
        if self.suffix and not _has_suffix(normalized, self.suffix):
            return False
        if self.bases and not any(_is_under(normalized, base) for base in self.bases):
            return False
        return not self.target or self.target.is_same(normalized)

    def _tcp_matches(self, ips, names):
        """``ips`` normalized, ``names`` lower case (as in ConfigFacts)."""
        if self.tcp_ip:
            return self.tcp_ip in ips
        return self.tcp_name in names


class _PathTarget:
    """The file a ``p:`` names: its normalized path, real path and identity (when it exists)."""

    def __init__(self, pathname):
        self.path = _normpath(pathname)
        self.real = _realpath(self.path)
        try:
            self.identity = _identity(os.stat(self.path))
        except OSError:
            self.identity = None  # a path that is not there can still match a cached record

    def is_same(self, normalized_path):
        if normalized_path in (self.path, self.real):
            return True
        if self.identity is None:
            return False
        try:
            return _identity(os.stat(normalized_path)) == self.identity
        except OSError:
            return False


# --- helpers -------------------------------------------------------------------------------------


def _as_address(address):
    """Accept an :class:`Address` or its text (parsed with no action)."""
    if isinstance(address, Address):
        return address
    return parse_address(address)[0]


def _is_domain0(domain):
    return str(domain.get("domid")) == "0" or domain.get("name") == DOMAIN0_NAME


class _KnownConfigs:
    """The facts of the configs running domains may come from, by path and by label."""

    def __init__(self, configs_by_label):
        self.by_label, self.by_path = {}, {}
        for facts in _facts_of(configs_by_label):
            self.by_label.setdefault(facts[_LABEL], []).append(facts)
            self.by_path[_normpath(facts[_PATH])] = facts

    def facts_for(self, domain):
        """The config of a running domain: by its ``config_path``, else the only one with its name."""
        path = domain.get("config_path")
        if path:
            return self.by_path.get(_normpath(path))
        candidates = self.by_label.get(domain.get("name"), [])
        return candidates[0] if len(candidates) == 1 else None


def _facts_of(configs):
    """Facts of every config in any of the shapes match_domains accepts."""
    if configs is None:
        return []
    if hasattr(configs, "facts"):
        return configs.facts()
    if isinstance(configs, dict):
        flat = []
        for value in configs.values():
            flat.extend(value if isinstance(value, (list, tuple)) else [value])
        configs = flat
    return [config_facts(config) for config in configs if isinstance(config, DomUConfig)]


def _config_names(config):
    """Host names a config gives for its interfaces: ``#@#IP`` entries that are not IPs, NETNAME."""
    names = [entry.ip for entry in config.ctys_ips if entry.ip and not normalize_ip(entry.ip)]
    netname = config.ctys.get("NETNAME", "")
    if netname:
        names.append(netname)
    return names


def _split_ips(values):
    """Each IP of a list whose items may hold several (xl: ``ip=10.0.0.1 10.1.1.1``)."""
    for value in values:
        for item in str(value).replace(",", " ").split():
            yield item


def _has_suffix(normalized_path, suffix):
    components = tuple(normalized_path.split("/"))
    return len(components) > len(suffix) and components[-len(suffix):] == suffix


def _is_under(normalized_path, base):
    if base == "/":
        return True
    return normalized_path == base or normalized_path.startswith(base + "/")


def _normpath(path):
    normalized = posixpath.normpath(path)
    return "/" + normalized.lstrip("/") if normalized.startswith("//") else normalized


def _realpath(path):
    try:
        return os.path.realpath(path)
    except (OSError, ValueError):
        return _normpath(path)


def _identity(stat_result):
    return (stat_result.st_dev, stat_result.st_ino)
