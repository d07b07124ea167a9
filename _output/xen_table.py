"""
Show the ctys tables of the ``xen`` runners as text.

The runners put the finished table into the result's ``text`` (``salt-run xen.list`` without
``--out`` selects this outputter itself); anything else is shown by the ``nested`` outputter.

CLI Example:

.. code-block:: bash

    salt-run xen.list
    salt-run xen.list --out=xen_table

Load it on the master with ``outputter_dirs: [<repository>/_output]`` or
``salt-run saltutil.sync_output``.
"""

__virtualname__ = "xen_table"


def __virtual__():
    return __virtualname__


def output(data, **kwargs):
    """The ``text`` of a xen runner result; a runner's progress line; else nested output."""
    if isinstance(data, dict):
        if isinstance(data.get("text"), str):
            return data["text"]
        event = data.get("event")
        if data.get("suffix") == "progress" and isinstance(event, dict) and "message" in event:
            return str(event["message"])
    return __salt__["nested"](data, **kwargs)
