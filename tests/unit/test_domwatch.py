"""The xen beacon's diff logic (xenctys.domwatch): appear, disappear, state change, filters."""

import pytest

from xenctys import domwatch
from xenctys.errors import XenError

DOM0 = {"name": "Domain-0", "domid": 0, "state": "r-----", "uuid": "00000000-0000-0000-0000-000000000000"}


def dom(name, domid, flags="-b----", uuid=""):
    return {"name": name, "domid": domid, "state": flags, "uuid": uuid or f"{domid:08d}-0000-0000-0000-000000000000"}


def settings(**options):
    return domwatch.parse_settings(options)


def poll(previous_domains, current_domains, **options):
    chosen = settings(**options)
    return domwatch.changes(domwatch.snapshot(previous_domains, chosen), domwatch.snapshot(current_domains, chosen))


# --- state words ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "flags, blocked, word",
    [
        ("r-----", False, "running"),
        ("-b----", False, "running"),
        ("-b----", True, "blocked"),
        ("rb----", True, "running"),  # r wins over b: a vCPU runs right now
        ("------", True, "running"),  # no flag at all: runnable, not scheduled at this instant
        ("--p---", False, "paused"),
        ("-bp---", True, "paused"),
        ("---s--", False, "shutdown"),
        ("----c-", False, "crashed"),
        ("---sc-", False, "crashed"),
        ("----cd", False, "dying"),
        ("", False, "running"),
    ],
)
def test_state_word(flags, blocked, word):
    assert domwatch.state_word(flags, blocked=blocked) == word


# --- snapshots -----------------------------------------------------------------------------------


def test_snapshot_skips_domain0_and_keeps_what_events_need():
    snap = domwatch.snapshot([DOM0, dom("tst100", 3, "r-----", "6842caf9-1e3e-4324-9ed5-96b8b9f2c5c2")], settings())
    assert snap == {"tst100": {"domid": 3, "uuid": "6842caf9-1e3e-4324-9ed5-96b8b9f2c5c2",
                               "state": "running", "flags": "r-----"}}


def test_snapshot_filters_by_label_globs():
    domains = [dom("tst100", 1), dom("tst101", 2), dom("web01", 3), dom("db01", 4)]
    snap = domwatch.snapshot(domains, settings(labels=["tst*", "web0?"]))
    assert sorted(snap) == ["tst100", "tst101", "web01"]


def test_label_globs_are_case_sensitive_like_xen_names():
    assert not domwatch.wanted("TST100", ["tst*"])
    assert domwatch.wanted("anything", [])


# --- changes -------------------------------------------------------------------------------------


def test_nothing_changed_no_events():
    domains = [DOM0, dom("tst100", 1, "r-----"), dom("tst101", 2, "--p---")]
    assert poll(domains, domains) == []


def test_running_blocked_flips_are_not_events_by_default():
    assert poll([dom("tst100", 1, "r-----")], [dom("tst100", 1, "-b----")]) == []


def test_running_blocked_flips_are_events_when_asked():
    events = poll([dom("tst100", 1, "r-----")], [dom("tst100", 1, "-b----")], blocked=True)
    assert [(e["tag"], e["old_state"], e["new_state"]) for e in events] == [("tst100/blocked", "running", "blocked")]


def test_appeared():
    (event,) = poll([DOM0], [DOM0, dom("tst100", 7, "r-----", "u-7")])
    assert event == {"tag": "tst100/running", "label": "tst100", "uuid": "u-7", "domid": 7, "old_state": "gone",
                     "new_state": "running", "change": "appeared", "flags": "r-----"}


def test_appeared_already_crashed_is_tagged_crashed():
    (event,) = poll([], [dom("tst100", 7, "----c-")])
    assert event["tag"] == "tst100/crashed"
    assert event["change"] == "appeared"


def test_disappeared_keeps_the_last_known_identity():
    (event,) = poll([dom("tst100", 7, "-b----", "u-7")], [])
    assert event == {"tag": "tst100/gone", "label": "tst100", "uuid": "u-7", "domid": 7, "old_state": "running",
                     "new_state": "gone", "change": "disappeared", "flags": ""}


@pytest.mark.parametrize("flags, state", [("--p---", "paused"), ("----c-", "crashed"), ("---s--", "shutdown"),
                                          ("-----d", "dying")])
def test_state_change(flags, state):
    (event,) = poll([dom("tst100", 7, "-b----")], [dom("tst100", 7, flags)])
    assert (event["tag"], event["old_state"], event["new_state"], event["change"]) == (
        f"tst100/{state}", "running", state, "state")
    assert event["domid"] == 7 and event["flags"] == flags


def test_restarted_between_polls_is_gone_then_new():
    events = poll([dom("tst100", 7, "-b----")], [dom("tst100", 8, "r-----")])
    assert [(e["tag"], e["domid"], e["change"]) for e in events] == [
        ("tst100/gone", 7, "disappeared"), ("tst100/running", 8, "appeared")]


def test_one_event_per_domu_sorted_by_label():
    before = [dom("a", 1), dom("b", 2, "r-----"), dom("c", 3)]
    after = [dom("b", 2, "----c-"), dom("c", 3), dom("d", 4)]
    assert [e["tag"] for e in poll(before, after)] == ["a/gone", "b/crashed", "d/running"]


def test_filter_applies_to_both_snapshots():
    events = poll([dom("web01", 1)], [dom("web01", 1, "----c-"), dom("tst100", 2, "----c-")], labels=["tst*"])
    assert [e["label"] for e in events] == ["tst100"]


def test_slash_in_a_label_does_not_add_a_tag_level():
    (event,) = poll([], [dom("a/b", 1)])
    assert event["tag"] == "a_b/running" and event["label"] == "a/b"


# --- the first poll ------------------------------------------------------------------------------


def test_first_poll_is_a_baseline():
    current = domwatch.snapshot([dom("tst100", 1, "----c-")], settings())
    assert domwatch.poll_events(None, current, settings()) == []


def test_first_poll_reports_everything_with_emit_at_startup():
    chosen = settings(emit_at_startup=True)
    current = domwatch.snapshot([dom("tst100", 1, "----c-"), dom("tst101", 2)], chosen)
    assert [e["tag"] for e in domwatch.poll_events(None, current, chosen)] == ["tst100/crashed", "tst101/running"]


def test_later_polls_diff_against_the_previous():
    chosen = settings()
    previous = domwatch.snapshot([dom("tst100", 1)], chosen)
    current = domwatch.snapshot([], chosen)
    assert [e["tag"] for e in domwatch.poll_events(previous, current, chosen)] == ["tst100/gone"]


# --- settings ------------------------------------------------------------------------------------


def test_defaults():
    assert settings() == domwatch.WatchSettings(labels=[], blocked=False, emit_at_startup=False, timeout=10.0)


def test_salt_options_and_private_keys_are_accepted():
    chosen = domwatch.parse_settings({"interval": 5, "enabled": True, "_beacon_name": "xen", "labels": "tst*"})
    assert chosen.labels == ["tst*"]


@pytest.mark.parametrize(
    "config, message",
    [
        ({"label": ["tst*"]}, "unknown option(s) label"),
        ({"labels": [1]}, "labels must be a list of glob patterns"),
        ({"labels": {"tst*": 1}}, "labels must be a list of glob patterns"),
        ({"blocked": "yes"}, "blocked must be true or false"),
        ({"timeout": "soon"}, "timeout must be a number"),
        ({"timeout": 0}, "timeout must be positive"),
    ],
)
def test_bad_settings_are_one_line_errors(config, message):
    with pytest.raises(XenError, match=message.replace("(", r"\(").replace(")", r"\)")):
        domwatch.parse_settings(config)


# --- the beacon adapter (_beacons/xen.py) with injected dunders --------------------------------


@pytest.fixture
def beacon_module(monkeypatch):
    """_beacons/xen.py loaded as a plain module; the toolstack listing replaced by a list we control."""
    import importlib.util  # pylint: disable=import-outside-toplevel
    import pathlib  # pylint: disable=import-outside-toplevel

    path = pathlib.Path(__file__).resolve().parents[2] / "_beacons" / "xen.py"
    spec = importlib.util.spec_from_file_location("xen_beacon_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.__opts__ = {"id": "lab00", "cachedir": "/nonexistent"}
    module.__context__ = {}
    module.__salt__ = {"config.get": lambda key, default=None: default}
    listing = {"domains": [], "calls": 0, "error": None}

    def list_domains(timeout):
        listing["calls"] += 1
        listing["timeout"] = timeout
        if listing["error"]:
            raise listing["error"]
        return [dict(d) for d in listing["domains"]]

    monkeypatch.setattr(module, "_list_domains", list_domains)
    module.listing = listing
    return module


def test_beacon_validate_takes_salts_list_of_dicts(beacon_module):
    assert beacon_module.validate([{"interval": 5}, {"labels": ["tst*"]}])[0] is True
    assert beacon_module.validate([{"lables": ["tst*"]}]) == (
        False, "xen beacon: unknown option(s) lables; known: labels, blocked, emit_at_startup, timeout, "
               "interval, enabled, run_once, disable_during_state_run, beacon_module")
    assert beacon_module.validate("labels")[0] is False


def test_beacon_polls_once_and_reports_changes(beacon_module):
    config = [{"timeout": 3}, {"_beacon_name": "xen"}]
    beacon_module.listing["domains"] = [DOM0, dom("tst100", 5, "-b----")]
    assert beacon_module.beacon(config) == []  # the baseline
    beacon_module.listing["domains"] = [DOM0, dom("tst100", 5, "----c-")]
    (event,) = beacon_module.beacon(config)
    assert event["tag"] == "tst100/crashed" and event["old_state"] == "running"
    assert beacon_module.listing["calls"] == 2 and beacon_module.listing["timeout"] == 3.0
    assert beacon_module.beacon(config) == []  # reported once, not on every poll


def test_beacon_failed_listing_is_no_disappearance(beacon_module):
    config = [{"interval": 1}]
    beacon_module.listing["domains"] = [dom("tst100", 5)]
    beacon_module.beacon(config)
    beacon_module.listing["error"] = XenError("xl list timed out after 10 s")
    assert beacon_module.beacon(config) == []
    beacon_module.listing["error"] = None
    assert beacon_module.beacon(config) == []  # still the same domain: nothing happened


def test_beacon_new_filter_starts_a_new_baseline(beacon_module):
    beacon_module.listing["domains"] = [dom("tst100", 5), dom("web01", 6)]
    beacon_module.beacon([{"labels": ["tst*"]}])
    assert beacon_module.beacon([{"labels": ["*"]}]) == []  # web01 did not "appear"
