"""ctys ``#@#`` keys (spec §8.4) and the ``.ctys`` side files they are looked up in (spec §8.1).

For a config file X the files are consulted in this order, existing ones only:

1. X itself,
2. ``${X%.vdi}.ctys`` (for ``vm.conf`` that is ``vm.conf.ctys``),
3. ``${X%.*}.ctys`` (``vm.ctys``: the usual side file next to the config),
4. ``${X%/*}.ctys`` (``<dir>.ctys``: named after the VM directory, in the parent directory),
5. the common file (ctys: ``/etc/ctys.d/vm.conf``), only when one is given.

For each key the first file yielding a non-empty value wins.  Within one file the first line of a
key is the file's value, as ctys' ``grep``-based getter sees it; a repeated line is warned about.

Two deliberate departures from ctys: ``${X%.*}`` takes the extension off the *file name* only
(the shell would cut at a dot in a directory name when the file name has none), and the
``.vmx``/``.conf`` siblings of X (VMware and other configs) are not read for ``#@#`` keys.
Side files are read line by line (:func:`~xenctys.cfgsyntax.scan_ctys_lines`), never parsed as
xl or Python: they usually are shell fragments.
"""

import os
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

from xenctys.cfgsyntax import DEFAULT_MAX_BYTES, read_config_text, scan_ctys_lines
from xenctys.domconfig import IPEntry, normalize_mac
from xenctys.errors import ConfigError

DEFAULT_COMMON_FILE = "/etc/ctys.d/vm.conf"  # ctys' CTYSCONF for VMs; callers pass it explicitly
IP_ENTRY_FIELDS = ("ip", "netmask", "relay", "ifname", "sshport", "gateway")  # "%"-separated order


@dataclass
class CtysKeys:
    """The ``#@#`` keys of one DomU, merged over its config and side files."""

    values: Dict[str, str] = field(default_factory=dict)  # key (without #@#) -> first non-empty value
    origins: Dict[str, Tuple[str, int]] = field(default_factory=dict)  # key -> (path, line) it came from
    ips: List[IPEntry] = field(default_factory=list)  # from #@#IP<n>, by interface then written order
    warnings: List[str] = field(default_factory=list)  # "PATH:LINE: reason"
    sources: List[str] = field(default_factory=list)  # side files that exist and were read, in order


def sidecar_paths(config_path, common_file=None):
    """The side files consulted after ``config_path`` itself, in ctys order, existing or not."""
    stem = os.path.splitext(config_path)[0]
    vdi_stem = config_path[: -len(".vdi")] if config_path.endswith(".vdi") else config_path
    candidates = [vdi_stem + ".ctys", stem + ".ctys"]
    folder = os.path.dirname(config_path).rstrip("/")
    if folder:  # "${X%/*}.ctys" of a file in "/" or of a bare file name is no side file
        candidates.append(folder + ".ctys")
    if common_file:
        candidates.append(common_file)
    return [path for path in dict.fromkeys(candidates) if path != config_path]


def collect_ctys_keys(config_path, config_lines, sidecars=True, common_file=None, max_bytes=DEFAULT_MAX_BYTES,
                      listings=None):
    """Merge the config's own ``#@#`` lines with those of its side files (when ``sidecars``).

    ``config_lines``: the config's :class:`~xenctys.cfgsyntax.CtysLine` list.  A side file that
    cannot be read is a warning, not an error: the config itself is fine.  ``listings``: folder ->
    set of the names in it, as the caller listed them; a side file in such a folder whose name is
    not listed counts as absent without a system call.
    """
    files = [(config_path, config_lines)]
    keys = CtysKeys()
    for path in sidecar_paths(config_path, common_file) if sidecars else ():
        if listings and not listed(path, listings):
            continue
        try:
            text_and_info = read_config_text(path, max_bytes, missing_ok=True)
        except ConfigError as err:
            keys.warnings.append(f"{err}: side file ignored")
            continue
        if text_and_info is not None:
            files.append((path, scan_ctys_lines(text_and_info[0])[0]))
            keys.sources.append(path)
    _merge(files, keys)
    _drop_redundant_interfaces(keys)
    _check_macs(keys)
    keys.ips = ip_entries(keys.values)
    return keys


def listed(path, listings):
    """False when ``listings`` (folder -> set of names) knows ``path``'s folder and not its name."""
    folder, _, name = path.rpartition("/")
    names = listings.get(folder or "/")
    return names is None or name in names


def _merge(files, keys):
    """First non-empty value per key over ``files`` (in lookup order); warn on repeats in a file."""
    for path, lines in files:
        first_line_of = {}
        for entry in lines:
            if entry.key in first_line_of:
                keys.warnings.append(f"{path}:{entry.line}: #@#{entry.key} repeated "
                                     f"(line {first_line_of[entry.key]} wins)")
                continue
            first_line_of[entry.key] = entry.line
            if entry.value and entry.key not in keys.values:
                keys.values[entry.key] = entry.value
                keys.origins[entry.key] = (path, entry.line)


def _drop_redundant_interfaces(keys):
    """``#@#IP`` and ``#@#IP0`` (or ``MAC``/``MAC0``) name one interface: the first one found wins.

    ``keys.values`` is in lookup order (file, then line), so "first" is its iteration order.
    """
    for prefix in ("IP", "MAC"):
        owner_of = {}
        for key in list(keys.values):
            index = interface_index(key, prefix)
            if index is None:
                continue
            if index in owner_of:
                path, line = keys.origins.pop(key)
                del keys.values[key]
                first_path, first_line = keys.origins[owner_of[index]]
                keys.warnings.append(f"{path}:{line}: #@#{key} repeats interface {index} of "
                                     f"#@#{owner_of[index]} ({first_path}:{first_line}): ignored")
            else:
                owner_of[index] = key


def _check_macs(keys):
    for key, value in keys.values.items():
        if interface_index(key, "MAC") is not None and normalize_mac(value) is None:
            path, line = keys.origins[key]
            keys.warnings.append(f"{path}:{line}: #@#{key}: malformed MAC {value!r}")


def interface_index(key, prefix):
    """``IP`` -> 0, ``IP3`` -> 3 for ``prefix`` "IP"; None when ``key`` is no such interface key."""
    if not key.startswith(prefix):
        return None
    digits = key[len(prefix):]
    if not digits:
        return 0  # spec §8.4: a missing index means interface 0
    if digits.isascii() and digits.isdigit():
        return int(digits)
    return None  # e.g. "MACHINE", "IPADDR": other keys that happen to share the prefix


def ip_entries(values):
    """Every ``#@#IP<n>`` of merged ``values`` as :class:`IPEntry` objects, interface by interface."""
    interfaces = sorted((index, key) for key in values
                        if (index := interface_index(key, "IP")) is not None)
    return [entry for index, key in interfaces for entry in parse_ip_value(index, values[key])]


def parse_ip_value(interface, value):
    """``"ip%mask%relay%if%sshport%gw[,next...]"`` -> IPEntry list (empty entries dropped).

    Fields may be left out from the right; more than six ``%``-fields: the extra ones are ignored.
    """
    entries = []
    for item in value.split(","):
        fields = [part.strip() for part in item.split("%")][: len(IP_ENTRY_FIELDS)]
        if any(fields):
            entries.append(IPEntry(interface, **dict(zip(IP_ENTRY_FIELDS, fields))))
    return entries
