"""Where a pip-installed saltext-xen keeps its Salt loader folders.

Named by the entry point ``salt.loader: saltext-xen = xenctys.saltloader:get_dirs``.  Salt 3008
(``salt.loader._module_dirs``) calls a plain function found there and, when it returns a dict,
looks up the loader type it is building: ``modules``, ``states``, ``runners``, ``grains``,
``beacons`` (not ``module`` or ``runner``).  Each value must be a list of folders; a single string
is rejected.  Utils are never taken from entry points, which is why ``xenctys`` itself is an
ordinary installed package.

When the core is synced from ``_utils/`` to a minion instead, this module is shipped along and
simply never called.
"""

import os

KINDS = ("modules", "states", "runners", "grains", "beacons")


def get_dirs():
    """``{loader type: [folder]}`` for every loader folder shipped in this installation."""
    base = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_salt")
    dirs = {}
    for kind in KINDS:
        folder = os.path.join(base, kind)
        if os.path.isdir(folder):
            dirs[kind] = [folder]
    return dirs
