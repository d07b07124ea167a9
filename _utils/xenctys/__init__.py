"""xenctys: the Salt-free core of saltext-xen.

The ctys XEN plugin's logic (config reading, DomU discovery, machine addresses, LIST and
ENUMERATE records, the xl/xm toolstack client, tables) as plain Python.  The Salt adapters in
``_modules``, ``_states``, ``_runners``, ``_grains`` and ``_beacons`` import it at module level.
"""

__version__ = "0.1.0"
