"""Parallel Salt calls on one real minion (issue 9): one DomU is started once, one state file is
written by one save.

The minion runs every job in its own process (``multiprocessing: True``, Salt's default: checked
below), so two ``salt lab00 xen.create l:tst100`` started together run truly in parallel; the
simulated ``xl create`` is slowed down (2 s) so that the two overlap (the second call starts
0.3 s after the first: see :func:`together` for why not at the same microsecond).  Without the per-DomU
lock in the minion's cachedir both would pass the "is it running?" check and the second would
fail inside xl ("Domain with name ... already exists"); with it, the second waits and then says
"already running" without calling ``xl create`` at all.

``salt-call`` processes use the same cachedir as the minion daemon, so their locks meet too.

Two saves of two DomUs onto one state file (different locks): one wins, the other is refused,
and the file holds one whole image (the loser's, if xl ran, is kept beside it and named).
"""

import json
import os
import threading
import time
from dataclasses import dataclass

import pytest
from harness import reset_lab_host, run_cmd, run_json
from seedtree import write_seed_tree
from xlsim import control

MINION = "lab00"
STAGGER = 0.3  # seconds between the starts of "parallel" calls (see together())
SLOW = 2.0  # seconds the simulated xl create / save takes: longer than any stagger plus start-up


@pytest.fixture(scope="module")
def seed(synced_minions, lab_hosts):
    """lab00 reset, with the seed tree; reset again afterwards (its .ctys side files would change
    other modules' tables: the shared minions outlive this module)."""
    host, opts = lab_hosts[MINION], synced_minions[MINION].config
    reset_lab_host(host, opts)
    yield write_seed_tree(host.base_dir)
    reset_lab_host(host, opts)


@pytest.fixture
def host(seed, lab_hosts):
    """lab00's simulated host, fresh: no domains, no faults."""
    state = str(lab_hosts[MINION].state_dir)
    control.make_host(state)
    yield lab_hosts[MINION]
    control.make_host(state)


def running(host):
    return sorted(name for name in control.domains(str(host.state_dir)) if name != "Domain-0")


@dataclass
class Outcome:
    returncode: int
    data: object  # the minion's return ("local" for salt-call), or None
    text: str  # stdout + stderr, for messages


def command(cli, *args, minion_tgt=None):
    """(argv, env) of a salt CLI call, built now; run later, in parallel (a salt-factories CLI
    object runs one process at a time: its ``run`` is not thread-safe)."""
    argv = cli.cmdline(*args, minion_tgt=minion_tgt) if minion_tgt else cli.cmdline(*args)
    env = dict(os.environ, **(getattr(cli, "environ", None) or {}))
    return [str(arg) for arg in argv], env


def execute(argv, env):
    proc = run_cmd(argv, env=env, timeout=300)
    data = None
    try:
        data = json.loads(proc.stdout)
        data = next(iter(data.values())) if isinstance(data, dict) and len(data) == 1 else data
    except ValueError:
        pass
    return Outcome(proc.returncode, data, proc.stdout + proc.stderr)


def together(*commands, stagger=STAGGER):
    """Run the commands at (nearly) the same moment, one thread each; their outcomes in order.

    Command ``i`` starts ``i * stagger`` seconds after the first: two ``salt`` publishes that
    reach the master in the same microsecond get the same jid (seen here twice in two tries with
    no stagger: Salt's default ``unique_jid: False``; see docs/reliability.md), and then each CLI
    prints whichever of the two returns comes first.  The slowed-down xl keeps the jobs
    overlapping on the minion all the same.
    """
    results = [None] * len(commands)
    barrier = threading.Barrier(len(commands))

    def run(index, argv_env):
        barrier.wait()
        time.sleep(index * stagger)
        results[index] = execute(*argv_env)

    threads = [threading.Thread(target=run, args=(i, cmd)) for i, cmd in enumerate(commands)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    return results


def test_minion_runs_jobs_in_processes(synced_minions, salt_cli):
    assert run_json(salt_cli, "config.get", "multiprocessing", minion_tgt=MINION) is True


def test_two_parallel_salt_creates_start_the_domu_once(host, salt_cli):
    control.set_fault(str(host.state_dir), latency={"create": SLOW})
    create = command(salt_cli, "-t", "120", "xen.create", "l:tst100", minion_tgt=MINION)
    outcomes = sorted(together(create, create), key=lambda outcome: outcome.returncode)
    assert outcomes[0].returncode == 0 and outcomes[0].data["action"] == "created", outcomes[0]
    assert outcomes[1].returncode != 0, outcomes[1]
    assert "already running" in outcomes[1].text, outcomes[1].text
    assert "already exists" not in outcomes[1].text  # the lock held it back: xl never saw it
    assert running(host) == ["tst100"]


def test_two_parallel_salt_calls_start_the_domu_once(host, salt_call_clis):
    control.set_fault(str(host.state_dir), latency={"create": SLOW})
    create = command(salt_call_clis[MINION], "--retcode-passthrough", "xen.create", "l:tst101")
    outcomes = sorted(together(create, create), key=lambda outcome: outcome.returncode)
    assert outcomes[0].returncode == 0 and outcomes[0].data["action"] == "created", outcomes[0]
    assert outcomes[1].returncode != 0 and "already running" in outcomes[1].text, outcomes[1]
    assert running(host) == ["tst101"]


def test_salt_and_salt_call_share_the_lock(host, salt_cli, salt_call_clis):
    control.set_fault(str(host.state_dir), latency={"create": SLOW})
    via_master, local = together(
        command(salt_cli, "-t", "120", "xen.create", "l:tst104", minion_tgt=MINION),
        command(salt_call_clis[MINION], "--retcode-passthrough", "xen.create", "l:tst104"),
    )
    assert sorted([via_master.returncode == 0, local.returncode == 0]) == [False, True], (via_master, local)
    assert "already running" in (via_master.text if via_master.returncode else local.text)
    assert running(host) == ["tst104"]


def test_two_parallel_saves_never_write_one_file(host, salt_cli, tmp_path):
    for label in ("tst100", "tst101"):
        run_json(salt_cli, "xen.create", f"l:{label}", minion_tgt=MINION)
    control.set_fault(str(host.state_dir), latency={"save": SLOW})
    statefile = str(tmp_path / "one.save")
    rets = together(*[command(salt_cli, "-t", "120", "xen.save", f"l:{label}", f"statefile={statefile}",
                              minion_tgt=MINION) for label in ("tst100", "tst101")])
    winners = [ret for ret in rets if ret.returncode == 0]
    losers = [ret for ret in rets if ret.returncode != 0]
    assert len(winners) == 1 and len(losers) == 1, rets
    winner = winners[0].data["label"]
    message = losers[0].text
    assert "appeared while saving" in message or "refusing to overwrite" in message, message
    with open(statefile, "rb") as handle:
        image = handle.read()
    assert f'"name": "{winner}"'.encode() in image
    loser = ({"tst100", "tst101"} - {winner}).pop()
    assert f'"name": "{loser}"'.encode() not in image
    if "appeared while saving" in message:
        kept = message.rsplit("see ", 1)[1].split()[0].rstrip("'\",")
        with open(kept, "rb") as handle:
            assert f'"name": "{loser}"'.encode() in handle.read()
    else:
        assert loser in running(host)
