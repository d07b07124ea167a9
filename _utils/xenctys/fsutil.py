"""Small file-system helpers the core shares: atomic writes and per-DomU locks."""

import contextlib
import fcntl
import hashlib
import os
import re
import tempfile
import time

from xenctys.errors import XenError


def atomic_write(path, data):
    """Write ``data`` (bytes) to ``path`` so that a reader sees the old file or the new one, never half.

    A temporary file in the same directory is written, flushed to disk, then renamed over the
    target.  On any error the temporary file is removed and the previous file is left untouched.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_path)
        raise


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
MAX_LOCK_NAME = 200


@contextlib.contextmanager
def domain_lock(lock_dir, label, timeout=60.0):
    """Hold an exclusive lock for one DomU while it is started, saved or restored.

    Two ``xen.create`` calls for the same DomU then run one after the other: the second sees
    the domain running and does not start it again.  The lock file name is the label with
    anything but ``[A-Za-z0-9._-]`` replaced, so a hostile label cannot leave ``lock_dir``.
    """
    os.makedirs(lock_dir, exist_ok=True)
    name = _UNSAFE.sub("_", label or "_") or "_"
    if len(name) > MAX_LOCK_NAME:  # a file name has at most 255 bytes; keep long labels apart
        digest = hashlib.sha256(label.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        name = f"{name[:MAX_LOCK_NAME - 17]}-{digest}"
    path = os.path.join(lock_dir, f"{name}.lock")
    handle = open(path, "a+b")  # pylint: disable=consider-using-with
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise XenError(f"DomU {label!r} is busy: another call holds {path} for over {timeout:g} s")
                time.sleep(0.05)
        yield path
    finally:
        handle.close()  # closing releases the lock
