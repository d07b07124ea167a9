"""Minion options, atomic writes, per-DomU locks, the association store."""

import os
import threading
import time

import pytest

from xenctys.assoc import AssociationStore
from xenctys.errors import XenError
from xenctys.fsutil import atomic_write, domain_lock
from xenctys.options import load_options, split_paths


def _getter(values):
    return lambda key, default: values.get(key, default)


def test_defaults_and_ctys_path_lists():
    options = load_options(_getter({}))
    assert options.base_paths == ["/etc/xen", "/etc/ctys.d"]
    assert (options.toolstack, options.privilege, options.timeout) == ("auto", "none", 30.0)
    assert split_paths("xen%/etc/ctys.d") == ["xen", "/etc/ctys.d"]
    assert split_paths(["/a", " /b "]) == ["/a", "/b"]


@pytest.mark.parametrize("key,value", [("xen:toolstack", "virsh"), ("xen:privilege", "doas"),
                                       ("xen:timeout", "soon"), ("xen:long_timeout", -1)])
def test_bad_option_values_are_one_line_errors(key, value):
    with pytest.raises(XenError, match=key.split(":")[1]):
        load_options(_getter({key: value}))


def test_atomic_write_keeps_the_old_file_when_replace_fails(tmp_path, monkeypatch):
    target = tmp_path / "f"
    atomic_write(str(target), b"old")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        atomic_write(str(target), b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]  # no temporary file left behind


def test_domain_lock_serialises_and_times_out(tmp_path):
    order = []

    def second():
        with domain_lock(str(tmp_path), "tst100", timeout=5):
            order.append("second")

    with domain_lock(str(tmp_path), "tst100"):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)
        order.append("first")
        with pytest.raises(XenError, match="busy"):
            with domain_lock(str(tmp_path), "tst100", timeout=0.2):
                pass
    thread.join()
    assert order == ["first", "second"]


def test_domain_lock_names_cannot_escape_the_lock_dir(tmp_path):
    with domain_lock(str(tmp_path / "locks"), "../../etc/passwd") as path:
        assert os.path.dirname(path) == str(tmp_path / "locks")


def test_association_store_round_trip_and_damaged_file(tmp_path):
    store = AssociationStore(str(tmp_path / "x" / "assoc.json"))
    assert store.load() == {}
    store.record("tst100", "/srv/tst100.conf", uuid="ab", user="root", jid="2026")
    assert store.load()["tst100"]["config"] == "/srv/tst100.conf"
    store.forget("tst100")
    assert store.load() == {}
    (tmp_path / "x" / "assoc.json").write_text("{not json")
    assert store.load() == {}
