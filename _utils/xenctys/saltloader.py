"""Where a pip-installed saltext-xen keeps its Salt loader folders.

Named by the entry point ``salt.loader: saltext-xen = xenctys.saltloader:get_dirs``.  Salt 3008
(``salt.loader._module_dirs``) calls a plain function found there and, when it returns a dict,
looks up the loader type it is building (its ``ext_type``): ``modules``, ``states``,
``runners``, ``grains``, ``beacons``, ``output`` -- not ``module`` or ``runner``.  Each value must
be a list of folders; a single string is rejected.  Utils are never taken from entry points, which is why ``xenctys`` itself is an
ordinary installed package.

When the core is synced from ``_utils/`` to a minion instead, this module is shipped along and
simply never called.
"""

import os

SALT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_salt")


def get_dirs():
    """``{loader type: [folder]}`` for every loader folder shipped in this installation.

    setup.py installs each repository folder ``_<type>`` (``_modules``, ``_states``, ``_runners``,
    ``_grains``, ``_beacons``, ``_output``, ...) as ``xenctys/_salt/<type>``.
    """
    if not os.path.isdir(SALT_DIR):
        return {}
    return {
        kind: [os.path.join(SALT_DIR, kind)]
        for kind in sorted(os.listdir(SALT_DIR))
        if not kind.startswith((".", "_")) and os.path.isdir(os.path.join(SALT_DIR, kind))
    }
