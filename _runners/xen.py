"""
ctys over the whole fleet, from the master: LIST, ENUMERATE, CREATE / CANCEL plans, ctys-vhost
``-M all``, and duplicate MACs, UUIDs and labels.

Every minion answers with the ``xen`` execution module; this runner only targets, collects and
hands the answers to the Salt-free core (``xenctys.fleet`` and ``xenctys.tables``).

:depends: the core package ``xenctys`` on the master (``utils_dirs`` pointing at the
    repository's ``_utils``, ``salt-run saltutil.sync_utils``, or the pip-installed extension)
:configuration: master config, all optional::

    xen_tables:                  # your own ctys table macros, merged over the shipped ones
      TAB_MINE: "tab_gen:macro:F_LABEL%%macro:F_L_PID%%macro:F_PM"
      TAB_TCP: "tab_gen:1_host_20%%3_label_12"   # redefine the default LIST table
    outputter_dirs: [/srv/saltext-xen/_output]   # the xen_table outputter (or saltutil.sync_output)

Return shapes
-------------

``xen.list`` / ``xen.enumerate``::

    {"source": "live" | "mine",
     "columns": ["TCP-container", "TCP-guest", ...],     # the table's column names
     "rows": [{"TCP-container": "lab00.soho", ..., "minion": "lab00"}, ...],
     "no_response": ["lab01"],                           # targeted minions that did not answer
     "errors": {"lab02": "'xen.list' is not available."},
     "age": {"lab00": 42.0},                             # cached=True only: seconds since mine update
     "problems": {"lab00": ["..."]}}                     # enumerate: configs that could not be read

One row per session (LIST) or per config and interface (ENUMERATE), with the minion that reported
it.  Cell values are never cut to the column width (the text table cuts them).

How the table text reaches you: on the ``salt-run`` command line without ``--out``, the result
also carries ``"text"`` (the ctys table, then one line per host without an answer) and is shown by
the ``xen_table`` outputter; with ``--out=json|yaml|...`` you get the data above, without ``text``.
``text=True`` adds ``text`` for any caller.  When the ``xen_table`` outputter is not on the master,
the text is shown by Salt's ``txt`` outputter instead.

Errors (unknown table, bad plan, no minion matched, the master not reachable) are one result
``{"error": "<one line>", "retcode": 1}`` (text ``ERROR: <one line>``): salt-run exits 1 and
``--out=json`` stays JSON.  ``create`` / ``cancel`` results carry ``retcode`` 1 when an entry
failed, so salt-run exits 1 then too.
"""

import functools
import logging
import time

import salt.cache
import salt.client
import salt.loader
import salt.utils.args
import salt.utils.mine
import salt.utils.minions
from salt.exceptions import CommandExecutionError, SaltClientError, SaltInvocationError

try:
    from xenctys import fleet
    from xenctys.address import parse_address
    from xenctys.errors import XenError

    _IMPORT_ERROR = None
except ImportError as exc:  # the core package is not on the master
    _IMPORT_ERROR = exc

log = logging.getLogger(__name__)

__virtualname__ = "xen"
__func_alias__ = {"list_": "list", "enumerate_": "enumerate"}

OUTPUTTER = "xen_table"
MINE_BANK = "mine"  # Salt 3008 stores each minion's mine as bank "mine", key <minion id>
PLAN_TIMEOUT = 300  # seconds for one CREATE / CANCEL entry: xl create and a graceful shutdown wait


def __virtual__():
    if _IMPORT_ERROR is not None:
        return (False, f"xen runner: the core package xenctys is not importable ({_IMPORT_ERROR}); "
                       f"add the extension's _utils to utils_dirs or run salt-run saltutil.sync_utils")
    return __virtualname__


def _one_line_errors(function):
    """Return the call's SaltInvocationError / CommandExecutionError as one error result.

    Raised out of a runner, Salt 3008 prints them as "Passed invalid arguments: ... Usage:
    <docstring>" or as a traceback, not as JSON even with --out=json, and salt-run exits 0.
    Returned as ``{"error": "<one line>", "retcode": 1}``, the message stays one line, JSON stays
    JSON and salt-run exits 1 (salt/cli/run.py reads ``retcode``).
    """

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except (SaltInvocationError, CommandExecutionError) as exc:
            message = " ".join(str(exc).split())
            __context__["retcode"] = 1
            return _present({"error": message, "retcode": 1}, lambda: f"ERROR: {message}", kwargs.get("text"))

    return wrapper


# --- public functions -----------------------------------------------------------------------------


@_one_line_errors
def list_(opts="", tgt="*", tgt_type="glob", table=None, sort=None, types=None, cached=False, timeout=None,
          text=None, **kwargs):
    """
    ctys LIST over the fleet: every session of every targeted Xen host, one table.

    CLI Example:

    .. code-block:: bash

        salt-run xen.list
        salt-run xen.list tgt=lab01 types=xen
        salt-run xen.list 'macro:TAB_CPORT'
        salt-run xen.list table='tab_gen:3_Label_10%%2_stype_8%%9_cport_5_L' sort=cport
        salt-run xen.list 'machine,titleidx' tgt='lab*'
        salt-run xen.list cached=True
        salt-run xen.list --out=json

    opts
        ctys LIST options, comma-separated: a table (``TAB_TCP`` (default), ``TAB_CPORT``,
        ``macro:<NAME>``, ``tab_gen:<idx>_<name>_<width>[_L|_B]%%...``), or ``machine`` with
        ``title`` / ``titleidx``; ``sort:[all|each][%unique][%<column>]``; ``pkg:xen%pm``;
        ``server`` / ``client`` / ``tunnel`` / ``both``.
    tgt, tgt_type
        The minions (Salt targeting), default all.
    table
        The same as ``opts`` (``table=machine,titleidx`` works too); wins over ``opts``.
    sort
        ``<column name or 1-based number>[,unique][,each]``.  Default: hosts in minion id order,
        each host's sessions in its own LIST order.
    types
        ``xen``, ``pm``, ``vnc``, ``tunnel``, comma-separated.  Default: all.
    cached
        ``True`` reads the mine (``mine_functions: {xen.list: []}``) and shows each host's data
        age; ``False`` (default, ctys ``-c off``) asks the minions now.
    timeout
        Seconds to wait for the minions (default: the master's ``timeout``).  Minions that do not
        answer in time are listed under ``no_response``.
    text
        ``True``/``False`` forces the ``text`` key in or out (default: the command line decides).
    """
    _reject_unknown(kwargs)
    macros = _macros()
    choice = _core(fleet.parse_options, [opts, table], "list", macros)
    choice = _with_kwargs(choice, sort=sort, types=types)
    _core(fleet.layout_for, choice, "list", macros)  # a bad table fails before any minion is asked
    if cached:
        hosts = _from_mine("xen.list", tgt, tgt_type, _list_host)
    else:
        kwarg = {"types": ",".join(choice.types)} if choice.types else {}
        hosts = _ask("xen.list", tgt, tgt_type, kwarg, timeout, _list_host)
    table_ = _core(fleet.fleet_table, hosts, choice, "list", macros, "mine" if cached else "live")
    return _present(table_.data(), table_.text, text)


@_one_line_errors
def enumerate_(opts="", tgt="*", tgt_type="glob", table=None, sort=None, types=None, base=None, cached=False,
               timeout=None, text=None, **kwargs):
    """
    ctys ENUMERATE over the fleet: every DomU config (and PM) of every targeted host, one table.

    CLI Example:

    .. code-block:: bash

        salt-run xen.enumerate
        salt-run xen.enumerate 'macro:TAB_CPORT,b:xen%/etc/ctys.d'
        salt-run xen.enumerate table=TAB_CPORT base=/srv/xen tgt='lab*'
        salt-run xen.enumerate 'machine,title'
        salt-run xen.enumerate cached=True --out=json

    opts
        ctys ENUMERATE options, as for ``xen.list`` (default table: host, type, label, ID), plus
        ``b:<path>%<path>`` base paths.  TAB_CPORT shows the configured TCP addresses and no
        cport (a VNC port exists at runtime only).
    base
        Base paths (``%`` or comma separated), passed to each minion's ``xen.enumerate``.
    tgt, tgt_type, table, sort, types, cached, timeout, text
        As for ``xen.list``.  ``cached=True`` uses the mine's ``xen.enumerate`` (its own base
        paths), so it cannot be combined with ``base``.
    """
    _reject_unknown(kwargs)
    macros = _macros()
    choice = _core(fleet.parse_options, [opts, table], "enumerate", macros)
    choice = _with_kwargs(choice, sort=sort, types=types)
    base = base if base not in (None, "") else choice.base
    _core(fleet.layout_for, choice, "enumerate", macros)
    if cached:
        if base:
            raise SaltInvocationError("cached=True reads the mine, which has no base paths: drop base= or cached=")
        hosts = _from_mine("xen.enumerate", tgt, tgt_type, _enumerate_host)
    else:
        kwarg = {"base": base} if base else {}
        if choice.types:
            kwarg["types"] = ",".join(choice.types)
        hosts = _ask("xen.enumerate", tgt, tgt_type, kwarg, timeout, _enumerate_host)
    table_ = _core(fleet.fleet_table, hosts, choice, "enumerate", macros, "mine" if cached else "live")
    return _present(table_.data(), table_.text, text)


@_one_line_errors
def create(tgt=None, address=None, plan=None, timeout=PLAN_TIMEOUT, text=None, **kwargs):
    """
    ctys CREATE of several sessions on several hosts in one call: one result per plan entry.

    The whole plan is checked first (minions known, addresses and options valid); one bad entry
    refuses the plan and nothing is started.  Entries for the same minion run in plan order,
    different minions at the same time; a failing entry does not stop the others.

    CLI Example:

    .. code-block:: bash

        salt-run xen.create lab00 'f:xen/tst-ctys/tst100/tst100.conf,CONSOLE:none'
        salt-run xen.create lab00 l:tst100 console=vnc
        salt-run xen.create plan='[{"tgt": "lab00", "address": "f:xen/tst-ctys/tst100/tst100.conf,CONSOLE:none"},
                                   {"tgt": "lab01", "address": "l:tst101", "console": "none"}]'

    tgt, address
        The short form: one entry (further keyword arguments are its options).
    plan
        A list (or its YAML / JSON text) of entries ``{tgt: <minion id>, address: <ctys address>}``
        with optional ``console``, ``connect``, ``reuse``, ``resume``, ``paused``, ``cache``
        (the arguments of the execution module's ``xen.create``).
    timeout
        Seconds one entry may take (default 300).

    Returns ``{"results": [{"entry": 1, "minion": "lab00", "address": "...", "result": {...}}
    | {..., "error": "..."}], "failed": <count>, "retcode": 0 | 1}``.
    """
    return _run_plan("create", tgt, address, plan, timeout, text, kwargs)


@_one_line_errors
def cancel(tgt=None, address=None, plan=None, timeout=PLAN_TIMEOUT, text=None, **kwargs):
    """
    ctys CANCEL of several sessions on several hosts in one call: one result per plan entry.

    Checked as a whole first, then run like ``xen.create``.

    CLI Example:

    .. code-block:: bash

        salt-run xen.cancel lab01 'l:tst100,POWEROFF:0'
        salt-run xen.cancel plan='[{"tgt": "lab00", "address": "l:tst100,POWEROFF:0"},
                                   {"tgt": "lab01", "address": "l:tst101", "mode": "reboot"}]'

    plan
        Entries ``{tgt, address}`` with optional ``mode``, ``timeout``, ``force``, ``statefile``,
        ``cache`` (the arguments of the execution module's ``xen.cancel``).
    tgt, address, timeout
        As for ``xen.create``.
    """
    return _run_plan("cancel", tgt, address, plan, timeout, text, kwargs)


@_one_line_errors
def vhost(address, tgt="*", tgt_type="glob", timeout=None, text=None, **kwargs):
    """
    ctys-vhost ``-M all`` over the fleet: every host and config an address matches.

    CLI Example:

    .. code-block:: bash

        salt-run xen.vhost l:tst100
        salt-run xen.vhost m:00:50:56:13:11:40 tgt='lab*'

    Returns ``{"address", "matches": [{"minion", "label", "path", "uuid", "macs", ...}],
    "count", "no_response", "errors"}``.
    """
    _reject_unknown(kwargs)
    _core(parse_address, str(address))  # a malformed address fails here, not once per minion
    hosts = _ask("xen.vhost", tgt, tgt_type, {"address": str(address), "all": True}, timeout, _vhost_host)
    matches = fleet.vhost_matches(hosts)
    data = {"address": str(address), "matches": matches, "count": len(matches),
            "no_response": [h.minion for h in hosts if not h.answered and not h.error],
            "errors": {h.minion: h.error for h in hosts if h.error}}
    return _present(data, lambda: fleet.vhost_text(matches, hosts), text)


@_one_line_errors
def conflicts(tgt="*", tgt_type="glob", kinds=None, base=None, cached=False, timeout=None, text=None, **kwargs):
    """
    The same MAC, UUID or label configured on more than one host or config (ENUMERATE of every
    host).  A duplicate MAC silently breaks the network of both guests once both run.

    CLI Example:

    .. code-block:: bash

        salt-run xen.conflicts
        salt-run xen.conflicts kinds=mac,uuid cached=True

    kinds
        ``mac``, ``uuid``, ``label``, comma-separated (default all three).
    base, cached, tgt, tgt_type, timeout
        As for ``xen.enumerate``.

    Returns ``{"conflicts": [{"kind": "mac", "value": "00:50:56:13:11:40", "configs":
    [{"minion", "host", "config"}, ...]}], "checked": {minion: configs}, "no_response", "errors"}``.
    """
    _reject_unknown(kwargs)
    chosen = _core(fleet.parse_kinds, kinds)
    if cached:
        if base:
            raise SaltInvocationError("cached=True reads the mine, which has no base paths: drop base= or cached=")
        hosts = _from_mine("xen.enumerate", tgt, tgt_type, _enumerate_host)
    else:
        hosts = _ask("xen.enumerate", tgt, tgt_type, {"base": base} if base else {}, timeout, _enumerate_host)
    found = fleet.find_conflicts(hosts, chosen)
    data = {"conflicts": found, "checked": {h.minion: h.extra.get("configs") for h in hosts if h.answered},
            "no_response": [h.minion for h in hosts if not h.answered and not h.error],
            "errors": {h.minion: h.error for h in hosts if h.error}}
    if cached:
        data["age"] = {h.minion: h.age for h in hosts if h.age is not None}
    return _present(data, lambda: fleet.conflicts_text(found, hosts), text)


# --- arguments --------------------------------------------------------------------------------------


def _reject_unknown(kwargs):
    unknown = sorted(salt.utils.args.clean_kwargs(**kwargs))
    if unknown:
        raise SaltInvocationError(f"unknown argument(s): {', '.join(unknown)}")


def _core(function, *args):
    """Call the core; its one-line XenError is an invocation error here (bad table, plan, ...)."""
    try:
        return function(*args)
    except XenError as exc:
        raise SaltInvocationError(exc.message) from None


def _with_kwargs(choice, sort=None, types=None):
    """Keyword arguments win over the option string's SORT / PKG."""
    if sort not in (None, ""):
        choice.sort = _core(fleet.parse_sort, sort)
    if types not in (None, ""):
        choice.types = _core(fleet.parse_types, types)
    return choice


def _macros():
    """Shipped macros (TAB_TCP, TAB_CPORT, F_*), with the master's ``xen_tables`` over them."""
    user = __opts__.get("xen_tables") or {}
    if not isinstance(user, dict):
        raise SaltInvocationError("master option xen_tables must be a mapping of NAME: table spec")
    return dict(fleet.FLEET_MACROS, **{str(name): str(spec) for name, spec in user.items()})


def _target(tgt, tgt_type):
    """The known minions a target matches, sorted (the default output order)."""
    found = salt.utils.minions.CkMinions(__opts__).check_minions(tgt, tgt_type=tgt_type)
    minions = sorted(found.get("minions") or ())
    if not minions:
        # Checked here: LocalClient would print "No minions matched" on stdout and break --out=json.
        raise SaltInvocationError(f"no minion matches tgt={tgt!r} (tgt_type={tgt_type})")
    return minions


def _timeout(timeout):
    try:
        return float(__opts__.get("timeout", 5) if timeout in (None, "") else timeout)
    except (TypeError, ValueError):
        raise SaltInvocationError(f"timeout must be a number of seconds, not {timeout!r}") from None


# --- asking the minions -------------------------------------------------------------------------------


class _Jobs:
    """One LocalClient: publish jobs and read their returns from the master's event bus."""

    def __init__(self):
        # The runner's own options are the client config of __opts__["conf_file"] already
        # (salt-run reads it with client_config); reading the file again costs ~0.15 s per call.
        self.client = salt.client.get_local_client(mopts=dict(__opts__))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.client.destroy()

    def publish(self, tgt, fun, kwarg, tgt_type="glob", timeout=None):
        """Publish a job; ``(jid, minions expected to answer)``."""
        try:
            # listen=True subscribes to the job's events before publishing: no early return is lost.
            pub = self.client.run_job(tgt, fun, tgt_type=tgt_type, kwarg=kwarg or None, timeout=timeout,
                                      listen=True)
        except SaltClientError as exc:
            raise XenError(f"could not publish {fun} to {tgt}: {exc}") from None
        if not pub or not pub.get("jid"):
            raise XenError(f"the master did not accept {fun} for {tgt}")
        return pub["jid"], sorted(pub.get("minions") or ())

    def returns(self, jids, wait):
        """``[(jid, minion, event data)]`` of the returns of ``jids`` arriving within ``wait`` s."""
        found = []
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            # get_event blocks forever with wait=0; after the first return, only drain what is there.
            event = self.client.event.get_event(wait=max(left, 0.01), tag="salt/job/", match_type="startswith",
                                                full=True, no_block=bool(found), auto_reconnect=True)
            if event is None:
                if found or left <= 0:
                    return found
                continue
            parts = event["tag"].split("/")
            if len(parts) >= 5 and parts[3] == "ret" and parts[2] in jids:
                data = event.get("data") or {}
                found.append((parts[2], data.get("id") or parts[4], data))


def _ask(fun, tgt, tgt_type, kwarg, timeout, unpack):
    """Run ``fun`` on the target; HostResults in target order within ``timeout`` seconds.

    A minion without an answer by then is a HostResult without records: "no response".
    """
    expected = _target(tgt, tgt_type)
    seconds = _timeout(timeout)
    answers = {}
    try:
        with _Jobs() as jobs:
            jid, published = jobs.publish(tgt, fun, kwarg, tgt_type, seconds)
            _presentation()  # looks the outputter up (cached) while the minions work
            pending = set(published)
            deadline = time.monotonic() + seconds
            while pending and time.monotonic() < deadline:
                for _, minion, data in jobs.returns([jid], deadline - time.monotonic()):
                    answers[minion] = data
                    pending.discard(minion)
    except XenError as exc:
        raise CommandExecutionError(exc.message) from None
    return [_answer(minion, answers.get(minion), unpack) for minion in sorted(set(expected) | set(answers))]


def _answer(minion, data, unpack):
    if data is None:
        return fleet.HostResult(minion)
    value, error = fleet.minion_outcome(data.get("return"), data.get("retcode"), data.get("success"))
    if error:
        return fleet.HostResult(minion, error=error)
    return unpack(minion, value)


def _from_mine(fun, tgt, tgt_type, unpack):
    """HostResults from the master's mine cache, each with the age of its data."""
    cache = salt.cache.factory(__opts__)
    now = time.time()
    hosts = []
    for minion in _target(tgt, tgt_type):
        mine = cache.fetch(MINE_BANK, minion) or {}
        if fun not in mine:
            hosts.append(fleet.HostResult(minion, error=f"no mine data for {fun} (mine_functions, then mine.update)"))
            continue
        value = mine[fun]
        if isinstance(value, dict) and salt.utils.mine.MINE_ITEM_ACL_DATA in value:
            value = value[salt.utils.mine.MINE_ITEM_ACL_DATA]  # stored with allow_tgt
        host = unpack(minion, value)
        updated = cache.updated(MINE_BANK, minion)
        host.age = max(0.0, now - updated) if updated else None
        hosts.append(host)
    return hosts


def _list_host(minion, value):
    if not isinstance(value, list):
        return fleet.HostResult(minion, error=f"xen.list returned {type(value).__name__}, not rows")
    return fleet.HostResult(minion, records=[row for row in value if isinstance(row, dict)])


def _enumerate_host(minion, value):
    if not isinstance(value, dict) or not isinstance(value.get("records"), list):
        return fleet.HostResult(minion, error="xen.enumerate returned no records")
    extra = {key: value.get(key) for key in ("problems", "base_paths", "configs")}
    records = [row for row in value["records"] if isinstance(row, dict)]
    return fleet.HostResult(minion, records=records, extra=extra)


def _vhost_host(minion, value):
    if not isinstance(value, list):
        return fleet.HostResult(minion, error="xen.vhost returned no list of matches")
    return fleet.HostResult(minion, records=value)


# --- plans ---------------------------------------------------------------------------------------------


def _run_plan(action, tgt, address, plan, timeout, text, kwargs):
    options = salt.utils.args.clean_kwargs(**kwargs)
    if plan is not None and (tgt is not None or address is not None or options):
        raise SaltInvocationError("give either plan=... or the short form TGT ADDRESS [options], not both")
    if plan is None:
        if tgt is None or address is None:
            raise SaltInvocationError(f"xen.{action} needs plan=[...] or a minion and an address")
        plan = [dict(options, tgt=str(tgt), address=str(address))]
    entries = _core(fleet.parse_plan, plan, action, _known_minions)
    seconds = _timeout(timeout)
    progress = _progress if _presentation(text) == "outputter" else None
    try:
        with _Jobs() as jobs:
            run = fleet.PlanRun(entries, lambda entry: _start_entry(jobs, action, entry, seconds),
                                lambda jids, wait: _plan_returns(jobs, jids, wait), seconds, on_result=progress)
            results = run.run()
    except XenError as exc:
        raise CommandExecutionError(exc.message) from None
    failed = sum(1 for result in results if "error" in result)
    __context__["retcode"] = 1 if failed else 0
    data = {"results": results, "failed": failed, "retcode": 1 if failed else 0}
    return _present(data, lambda: fleet.plan_text(results), text)


def _known_minions(tgt):
    return salt.utils.minions.CkMinions(__opts__).check_minions(tgt, tgt_type="glob").get("minions") or []


def _start_entry(jobs, action, entry, seconds):
    jid, _ = jobs.publish(entry.minion, f"xen.{action}", dict(entry.kwargs, address=entry.address), "glob",
                          seconds)
    return jid


def _plan_returns(jobs, jids, wait):
    results = []
    for jid, _, data in jobs.returns(jids, wait):
        value, error = fleet.minion_outcome(data.get("return"), data.get("retcode"), data.get("success"))
        results.append((jid, value, error))
    return results


def _progress(result):
    """One line per finished entry while the plan runs (text mode only: events would corrupt JSON)."""
    line = f"entry {result['entry']} {result['minion']} {result['address']}: {fleet.plan_outcome(result)}"
    __jid_event__.fire_event({"message": line, "outputter": OUTPUTTER}, "progress")


# --- how the result is shown -------------------------------------------------------------------------


def _presentation(text=None):
    """How the result is returned: "data", "text" (data plus its ctys text), "outputter" (that,
    shown by the xen_table outputter) or "txt" (only the text, for Salt's txt outputter).

    ``selected_output_option`` exists only in the options of a command line.  There, without
    --out, the return may choose its outputter; with --out it must not, because a returned
    outputter overrides --out (salt/client/mixins.py, print_async_event).
    """
    if text is not None:
        return "text" if str(text).lower() not in ("0", "false", "no", "off", "none") else "data"
    if "selected_output_option" not in __opts__:
        return "data"  # orchestration, salt-api, RunnerClient: plain data
    output = __opts__.get("output")
    if output == OUTPUTTER:
        return "text"
    if output is not None:
        return "data"
    return "outputter" if _outputter_available() else "txt"


def _present(data, make_text, text=None):
    presentation = _presentation(text)
    if presentation == "data":
        return data
    data["text"] = make_text()
    if presentation == "text":
        return data
    if presentation == "txt":
        return {"data": data["text"], "outputter": "txt"}
    return {"data": data, "outputter": OUTPUTTER}


@functools.lru_cache(maxsize=None)
def _outputter_available():
    """Whether the master can load the xen_table outputter.  Asked on command lines only, whose
    process ends with the call, so the answer is kept for the process."""
    try:
        return OUTPUTTER in salt.loader.outputters(__opts__)
    except Exception:  # pylint: disable=broad-except  # a broken outputter dir must not fail the call
        log.debug("xen: could not look up the %s outputter", OUTPUTTER, exc_info=True)
        return False
