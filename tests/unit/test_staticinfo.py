"""xenctys.staticinfo: xl info's static part kept between LISTs, keyed by boot and binary."""

import os

from xenctys import staticinfo
from xenctys.toolstack import Toolstack
from xlsim import control


def make(tmp_path):
    env = dict(os.environ, **control.make_host(tmp_path / "xlsim"))
    boot_id = tmp_path / "boot_id"
    boot_id.write_text("11111111-2222-3333-4444-555555555555\n")
    return Toolstack(env=env, timeout=20), str(tmp_path / "cache" / "xlinfo.json"), str(boot_id)


def verbs(toolstack):
    return [call[1:] for call in toolstack.calls]


def test_second_list_asks_no_xl_info(tmp_path, monkeypatch):
    ts, path, boot_id = make(tmp_path)
    monkeypatch.setattr(staticinfo, "BOOT_ID_FILE", boot_id)
    domains, info = staticinfo.list_snapshot(ts, path)
    assert info == {"xen_major": 4, "xen_minor": 17, "xen_extra": ".7", "xen_version": "4.17.7",
                    "xen_caps": info["xen_caps"]} and "x86_64" in info["xen_caps"]
    assert verbs(ts) == [["list", "-v"], ["list", "-l"], ["info"]] and domains[0]["name"] == "Domain-0"
    ts.calls.clear()
    assert staticinfo.list_snapshot(ts, path)[1] == info
    assert verbs(ts) == [["list", "-v"], ["list", "-l"]]


def test_new_boot_or_new_binary_or_refresh_asks_again(tmp_path, monkeypatch):
    ts, path, boot_id = make(tmp_path)
    monkeypatch.setattr(staticinfo, "BOOT_ID_FILE", boot_id)
    staticinfo.list_snapshot(ts, path)
    for change in ("boot", "binary", "refresh", "corrupt"):
        if change == "boot":
            with open(boot_id, "w", encoding="ascii") as handle:
                handle.write("66666666-2222-3333-4444-555555555555\n")
        elif change == "binary":
            stat = os.stat(ts.binary)
            os.utime(ts.binary, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        elif change == "corrupt":
            with open(path, "w", encoding="utf-8") as handle:
                handle.write("{not json")
        ts.calls.clear()
        staticinfo.list_snapshot(ts, path, refresh=change == "refresh")
        assert ["info"] in verbs(ts), change
        ts.calls.clear()
        staticinfo.list_snapshot(ts, path)
        assert ["info"] not in verbs(ts), change


def test_no_boot_id_or_no_file_means_xl_info_every_time(tmp_path, monkeypatch):
    ts, path, _ = make(tmp_path)
    monkeypatch.setattr(staticinfo, "BOOT_ID_FILE", str(tmp_path / "missing"))
    for _ in range(2):
        ts.calls.clear()
        staticinfo.list_snapshot(ts, path)
        assert ["info"] in verbs(ts)
    assert not os.path.exists(path)
    for _ in range(2):
        ts.calls.clear()
        staticinfo.list_snapshot(ts, None)
        assert ["info"] in verbs(ts)


def test_unwritable_cache_folder_costs_only_the_call(tmp_path, monkeypatch):
    ts, _, boot_id = make(tmp_path)
    monkeypatch.setattr(staticinfo, "BOOT_ID_FILE", boot_id)
    blocker = tmp_path / "file"
    blocker.write_text("")
    path = str(blocker / "xlinfo.json")  # its folder is a file
    for _ in range(2):
        ts.calls.clear()
        assert staticinfo.list_snapshot(ts, path)[1]["xen_version"] == "4.17.7"
        assert ["info"] in verbs(ts)
