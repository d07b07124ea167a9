"""Package layout of saltext-xen (metadata and dependencies are in setup.cfg).

The repository root is also a Salt file_root (``_modules/``, ``_utils/xenctys/``, ...), so the
folders do not follow a Python package layout and are mapped here:

- ``_utils/xenctys``      -> the plain package ``xenctys`` (with its subpackages, if any);
- each Salt loader folder ``_<type>`` (``_modules``, ``_states``, ``_runners``, ``_grains``,
  ``_beacons``, ``_output``, ...) -> ``xenctys/_salt/<type>``, found by Salt through
  ``xenctys.saltloader:get_dirs`` (entry point group ``salt.loader``).

A loader folder is only mapped when it holds Python files: a fresh clone has no empty folders,
and setuptools rejects a mapped folder that does not exist.
"""

import glob
import os

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))

# The Salt loader folders of a file_root are named ``_<type>`` after the loader type they feed
# (``_modules`` -> ``modules``, ``_output`` -> ``output``, ...): the same names are the keys of the
# dict that the salt.loader entry point returns.  ``_utils`` is not one: Salt never takes utils
# from entry points, so the core installs as the plain package ``xenctys`` instead.
def _loader_folders():
    for path in sorted(glob.glob(os.path.join(HERE, "_*", "*.py"))):
        folder = os.path.basename(os.path.dirname(path))
        if folder != "_utils":
            yield folder


def _layout():
    package_dir = {"xenctys": "_utils/xenctys"}
    packages = ["xenctys"] + [f"xenctys.{sub}" for sub in find_packages(os.path.join(HERE, "_utils", "xenctys"))]
    for folder in dict.fromkeys(_loader_folders()):
        package = f"xenctys._salt.{folder[1:]}"
        package_dir[package] = folder
        packages.append(package)
    return package_dir, packages


PACKAGE_DIR, PACKAGES = _layout()

# Salt looks for extensions in the entry-point group "salt.loader" (declared here rather than in
# setup.cfg, where a line starting with "salt" reads like an unpinned "salt" requirement to the
# project's checks).
setup(
    package_dir=PACKAGE_DIR,
    packages=PACKAGES,
    entry_points={"salt.loader": ["saltext-xen = xenctys.saltloader:get_dirs"]},
)
