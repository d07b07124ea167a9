#!/opt/salt/bin/python
"""salt-call with a warm start, for the lab's dom0 under QEMU TCG.

A fresh ``salt-call --local`` costs 15-30 s under TCG (imports, pillar, loaders: measured in
docs/real-xen.md), so most lab steps go through this helper instead.  It builds the very object
``salt-call --local --out=json`` builds (``salt.cli.call.SaltCall`` parses the same command line and
config, ``salt.cli.caller.Caller.factory`` makes the same SMinion: grains, pillar, loaders) ONCE,
then serves each request in a fresh ``fork()`` of it, where ``Caller.run()`` does exactly what
salt-call does after start-up: parse_input + load_args_and_kwargs, the executor, retcode, the json
outputter, ``sys.exit``.  Like a salt-minion daemon's forked jobs: no in-memory state leaks from
one step to the next, the disk (cache, sync, state files) is shared as it would be.

Protocol (stdin/stdout, one JSON object per line):
  -> {"argv": ["xen.create", "l:tst100"], "timeout": 180}
  <- {"rc": 0, "stdout": "...", "stderr": "...", "wall": 1.23}
The first line written is {"ready": true, "init_s": <seconds>} once the caller is built.
"""

import json
import os
import signal
import sys
import tempfile
import time


def build_caller():
    import salt.cli.call  # pylint: disable=import-outside-toplevel
    import salt.cli.caller  # pylint: disable=import-outside-toplevel

    parser = salt.cli.call.SaltCall()
    extra = ["-c", os.environ["WARMCALL_CONFIG_DIR"]] if os.environ.get("WARMCALL_CONFIG_DIR") else []
    parser.parse_args(extra + ["--local", "--out=json", "test.version"])
    parser.config["file_client"] = "local"
    caller = salt.cli.caller.Caller.factory(parser.config)
    # What a long-running minion has loaded by its first job: the modules the lab calls, so no
    # fork imports them again (the loader is lazy).  A module that does not load stays unloaded
    # here and reports its reason in the job, exactly as salt-call would.
    for fun in os.environ.get("WARMCALL_PRELOAD", "xen.info,state.apply,cmd.run,test.version").split(","):
        try:
            caller.minion.functions[fun]  # pylint: disable=pointless-statement
        except Exception:  # pylint: disable=broad-except
            pass
    return caller


def serve_one(caller, argv, timeout):
    out = tempfile.TemporaryFile(mode="w+b")
    err = tempfile.TemporaryFile(mode="w+b")
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the job: salt-call's run() on the warm caller
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        sys.stdout = os.fdopen(1, "w", closefd=False)
        sys.stderr = os.fdopen(2, "w", closefd=False)
        code = 0
        try:
            caller.opts["fun"] = argv[0]
            caller.opts["arg"] = list(argv[1:])
            caller.run()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if not isinstance(exc.code, (int, type(None))):
                sys.stderr.write(f"{exc.code}\n")
        except BaseException as exc:  # pylint: disable=broad-except
            sys.stderr.write(f"warmcall: {type(exc).__name__}: {exc}\n")
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code & 0xFF)
    rc = None
    deadline = start + timeout
    while rc is None:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            rc = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            rc = 124
            break
        time.sleep(0.05)
    wall = time.monotonic() - start
    out.seek(0)
    err.seek(0)
    return {"rc": rc, "stdout": out.read().decode(errors="replace"),
            "stderr": err.read().decode(errors="replace"), "wall": round(wall, 2)}


def main():
    start = time.monotonic()
    reply = sys.stdout
    sys.stdout = sys.stderr  # nothing Salt prints while starting may corrupt the protocol
    caller = build_caller()
    reply.write(json.dumps({"ready": True, "init_s": round(time.monotonic() - start, 2)}) + "\n")
    reply.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        result = serve_one(caller, request["argv"], float(request.get("timeout", 180)))
        reply.write(json.dumps(result) + "\n")
        reply.flush()


if __name__ == "__main__":
    main()
