"""
Desired state of Xen DomUs: running, poweroff (alias stopped), paused, saved.

.. code-block:: yaml

    tst100:
      xen.running:
        - console: vnc

    lab-tests:
      xen.poweroff:
        - names: [l:tst101, u:6842caf91e3e43249ed596b8b9f2c5c2]
        - timeout: 60
        - force: True

``name`` is a label or any ctys machine address.  Every state reads where the DomU is first:
already there is success with no changes; ``test=True`` says what would change and touches
nothing; a toolstack failure is ``result: False`` with its message, never a success.
"""

from salt.exceptions import CommandExecutionError

__virtualname__ = "xen"


def __virtual__():
    if "xen.status" in __salt__:
        return __virtualname__
    return (False, "xen state: the xen execution module is not available on this minion")


def _address(name):
    """A bare label is ``l:LABEL``; anything with a ``:`` is already a machine address."""
    return name if ":" in name else f"l:{name}"


def _ret(name):
    return {"name": name, "changes": {}, "result": True, "comment": ""}


def _status(name, ret, statefile=None):
    try:
        return __salt__["xen.status"](_address(name), statefile=statefile)
    except CommandExecutionError as exc:
        ret["result"] = False
        ret["comment"] = str(exc)
        return None


def _changes(before, after, wanted):
    """``state`` old -> new, plus domid and VNC port where they changed."""
    changes = {"state": {"old": before["state"], "new": wanted if after is None else after["state"]}}
    if after is not None:
        for key in ("domid", "vnc_port"):
            if before.get(key) != after.get(key):
                changes[key] = {"old": before.get(key), "new": after.get(key)}
    return changes


def _apply(name, ret, before, wanted, steps, statefile=None, accept=None):
    """Run the module calls in ``steps`` (or only say so under test), then read the state again.

    ``accept``: the states that count as ``wanted`` (a DomU that is down but has an old state
    file reads as "saved", which is off enough for poweroff).
    """
    label = before["label"]
    if __opts__["test"]:
        ret["result"] = None
        ret["changes"] = _changes(before, None, wanted)
        ret["comment"] = f"DomU {label} would be {wanted} (now {before['state']}): {', '.join(s[0] for s in steps)}"
        return ret
    try:
        for _description, function, args, kwargs in steps:
            __salt__[function](*args, **kwargs)
    except CommandExecutionError as exc:
        ret["result"] = False
        ret["comment"] = f"DomU {label} could not be made {wanted}: {exc}"
        after = _status(name, {}, statefile)
        if after and after["state"] != before["state"]:
            ret["changes"] = _changes(before, after, wanted)
        return ret
    after = _status(name, ret, statefile)
    if after is None:
        return ret
    ret["changes"] = _changes(before, after, wanted)
    if after["state"] not in (accept or {wanted}):
        ret["result"] = False
        ret["comment"] = f"DomU {label} is {after['state']}, not {wanted}, after {', '.join(s[0] for s in steps)}"
        return ret
    ret["comment"] = f"DomU {label} is {wanted} (was {before['state']})"
    return ret


def running(name, console="none", resume=True, statefile=None, timeout=20):  # pylint: disable=unused-argument
    """
    Make sure a DomU runs: start it, restore it from its state file, or unpause it.

    name
        Label or machine address of the DomU.
    console
        ``none`` or ``vnc`` / ``cli`` (the returned session data names how to connect).
    resume
        Restore from the state file when one exists (default ``<save_dir>/<label>.save``)
        instead of booting afresh.  The file is removed once the domain runs.
    statefile
        Another state file to resume from.
    timeout
        Only for ``watch``: seconds the guest gets to shut down when a watched state changed
        and the DomU is restarted to read its config again.
    """
    ret = _ret(name)
    before = _status(name, ret, statefile)
    if before is None:
        return ret
    state, address = before["state"], _address(name)
    if state in ("running", "starting"):
        ret["comment"] = f"DomU {before['label']} is already {state}"
        return ret
    if state == "paused":
        steps = [("unpause", "xen.unpause", [address], {})]
    elif state == "saved" and resume:
        steps = [("restore", "xen.create", [address], {"resume": before["statefile"], "console": console})]
    elif state in ("off", "saved"):
        steps = [("create", "xen.create", [address], {"console": console})]
    else:  # crashed, shutdown, dying: the old domain must go before a new one can use the name
        steps = [("destroy", "xen.destroy", [address], {}),
                 ("create", "xen.create", [address], {"console": console})]
    return _apply(name, ret, before, "running", steps, statefile, accept={"running", "starting"})


def poweroff(name, timeout=20, force=False):
    """
    Make sure a DomU is off: graceful shutdown, wait ``timeout`` seconds, then destroy when ``force``.

    name
        Label or machine address of the DomU.
    timeout
        Seconds the guest gets to shut down.
    force
        Destroy the domain when it did not shut down in time; without it that is a failure.
    """
    ret = _ret(name)
    before = _status(name, ret)
    if before is None:
        return ret
    if before["state"] in ("off", "saved"):
        extra = f" (a state file exists: {before['statefile']})" if before["state"] == "saved" else ""
        ret["comment"] = f"DomU {before['label']} is already off{extra}"
        return ret
    address = _address(name)
    if before["state"] in ("crashed", "dying"):
        steps = [("destroy", "xen.destroy", [address], {})]
    elif before["state"] == "paused" and not force:
        # A paused guest cannot see the shutdown request: let it run so that it can obey.
        steps = [("unpause", "xen.unpause", [address], {}),
                 ("shutdown", "xen.shutdown", [address], {"wait": True, "timeout": timeout})]
    elif force:
        steps = [("shutdown, then destroy after the timeout", "xen.cancel", [address],
                  {"mode": "poweroff", "timeout": timeout})]
    else:
        steps = [("shutdown", "xen.shutdown", [address], {"wait": True, "timeout": timeout})]
    return _apply(name, ret, before, "off", steps, accept={"off", "saved"})


stopped = poweroff  # pylint: disable=invalid-name


def paused(name, console="none"):
    """
    Make sure a DomU is paused: pause it when running, start it paused when off.

    name
        Label or machine address of the DomU.
    """
    ret = _ret(name)
    before = _status(name, ret)
    if before is None:
        return ret
    state, address = before["state"], _address(name)
    if state == "paused":
        ret["comment"] = f"DomU {before['label']} is already paused"
        return ret
    if state in ("running", "starting"):
        steps = [("pause", "xen.pause", [address], {})]
    elif state == "saved":
        steps = [("restore paused", "xen.create", [address],
                  {"resume": before["statefile"], "paused": True, "console": console})]
    elif state == "off":
        steps = [("create paused", "xen.create", [address], {"paused": True, "console": console})]
    else:
        ret["result"] = False
        ret["comment"] = f"DomU {before['label']} is {state}: destroy it before pausing a new one"
        return ret
    return _apply(name, ret, before, "paused", steps)


def saved(name, statefile=None):
    """
    Make sure a DomU is suspended to a state file (``xl save``); an existing file is never overwritten.

    name
        Label or machine address of the DomU.
    statefile
        Where to save (default ``<save_dir>/<label>.save``).
    """
    ret = _ret(name)
    before = _status(name, ret, statefile)
    if before is None:
        return ret
    state = before["state"]
    if state == "saved":
        ret["comment"] = f"DomU {before['label']} is already saved in {before['statefile']}"
        return ret
    if state == "off":
        ret["result"] = False
        ret["comment"] = f"DomU {before['label']} is off and has no state file {before['statefile']}: nothing to save"
        return ret
    if state not in ("running", "starting", "paused"):
        ret["result"] = False
        ret["comment"] = f"DomU {before['label']} is {state}: it cannot be saved"
        return ret
    steps = [("save", "xen.save", [_address(name)], {"statefile": before["statefile"]})]
    return _apply(name, ret, before, "saved", steps, before["statefile"])


def mod_watch(name, sfun=None, **kwargs):
    """
    React to a watched state's changes: ``xen.running`` restarts the DomU (graceful shutdown
    within ``timeout``, then destroy, then create) because xl reads the config file only at
    create time; a reboot would keep the old settings.  A DomU that is not running is started.
    """
    if sfun != "running":
        ret = _ret(name)
        ret["comment"] = f"xen.{sfun} does nothing on watch"
        return ret
    ret = _ret(name)
    before = _status(name, ret, kwargs.get("statefile"))
    if before is None:
        return ret
    if before["state"] not in ("running", "starting"):
        return running(name, console=kwargs.get("console", "none"), resume=kwargs.get("resume", True),
                       statefile=kwargs.get("statefile"))
    address = _address(name)
    steps = [("shutdown, destroy after the timeout", "xen.cancel", [address],
              {"mode": "poweroff", "timeout": kwargs.get("timeout", 20)}),
             ("create", "xen.create", [address], {"console": kwargs.get("console", "none")})]
    ret = _apply(name, ret, before, "running", steps)
    if ret["result"] and not __opts__["test"]:
        ret["changes"]["restarted"] = True
        ret["comment"] = f"DomU {before['label']} restarted to read its config again"
    return ret
