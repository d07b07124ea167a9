"""Package layout of saltext-xen (metadata and dependencies are in setup.cfg).

The repository root is also a Salt file_root (``_modules/``, ``_utils/xenctys/``, ...), so the
folders do not follow a Python package layout and are mapped here:

- ``_utils/xenctys``      -> the plain package ``xenctys`` (with its subpackages, if any);
- ``_modules``, ``_states``, ``_runners``, ``_grains``, ``_beacons`` -> ``xenctys/_salt/<kind>``,
  found by Salt through ``xenctys.saltloader:get_dirs`` (entry point group ``salt.loader``).

A loader folder is only mapped when it holds Python files: a fresh clone has no empty folders,
and setuptools rejects a mapped folder that does not exist.
"""

import glob
import os

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))

# Salt's loader type (the key get_dirs returns) -> repository folder.
LOADER_DIRS = {
    "modules": "_modules",
    "states": "_states",
    "runners": "_runners",
    "grains": "_grains",
    "beacons": "_beacons",
}


def _layout():
    package_dir = {"xenctys": "_utils/xenctys"}
    packages = [f"xenctys.{sub}" for sub in find_packages(os.path.join(HERE, "_utils", "xenctys"))]
    packages.insert(0, "xenctys")
    for kind, folder in LOADER_DIRS.items():
        if glob.glob(os.path.join(HERE, folder, "*.py")):
            package = f"xenctys._salt.{kind}"
            package_dir[package] = folder
            packages.append(package)
    return package_dir, packages


PACKAGE_DIR, PACKAGES = _layout()

setup(package_dir=PACKAGE_DIR, packages=PACKAGES)
