"""The xen grains (xenctys.inventory_grains): no Xen, role, version, inventory, a hung toolstack."""

import os
import threading
import time
from types import SimpleNamespace

import pytest

from xenctys import inventory_grains as ig
from xenctys.domconfig import DomUConfig, Vif
from xenctys.errors import ToolstackError, ToolstackNotFound, XenError

UUID_HEX = "6842caf91e3e43249ed596b8b9f2c5c2"
UUID = "6842caf9-1e3e-4324-9ed5-96b8b9f2c5c2"


class FakeToolstack:
    """Counts its calls; ``hang`` seconds before answering, or raises ``error``."""

    def __init__(self, domains=(), hang=0.0, error=None, installed=True):
        self.domains = list(domains)
        self.hang = hang
        self.error = error
        self.installed = installed
        self.calls = 0
        self.released = threading.Event()

    name = "xl"

    @property
    def binary(self):
        if not self.installed:
            raise ToolstackNotFound("neither xl nor xm is installed")
        return "/usr/sbin/xl"

    def list_plain(self):
        self.calls += 1
        if self.hang:
            self.released.wait(self.hang)
        if self.error:
            raise self.error
        return [dict(d) for d in self.domains]


class FakeHost:
    def __init__(self, toolstack, configs=()):
        self.toolstack = toolstack
        self.configs = list(configs)
        self.inventory_calls = 0
        self.settings = SimpleNamespace(cache_file=None, base_paths=[])  # no cache: discovery every time

    def inventory(self):
        self.inventory_calls += 1
        return SimpleNamespace(configs=self.configs, problems=[])


def host_factory(host, seen=None):
    def make_host(opts, get, kwargs, fire_event):
        if seen is not None:
            seen.update(timeout=get("xen:timeout", 30), base_paths=get("xen:base_paths", None), kwargs=kwargs)
        return host

    return make_host


def config(label, path, uuid="", macs=()):
    return DomUConfig(path=path, label=label, uuid=uuid, vifs=[Vif(index=i, mac=m) for i, m in enumerate(macs)])


@pytest.fixture
def proc_root(tmp_path):
    root = tmp_path / "proc"
    root.mkdir()
    return root


@pytest.fixture
def sys_root(tmp_path):
    root = tmp_path / "sys"
    root.mkdir()
    return root


def make_dom0(proc_root):
    (proc_root / "xen").mkdir()
    (proc_root / "xen" / "capabilities").write_text("control_d\n")


def compute(host, proc_root, sys_root, opts=None, core=None, seen=None):
    return ig.compute(opts or {"id": "lab00", "cachedir": "/nonexistent"}, core or {}, proc_root=str(proc_root),
                      sys_root=str(sys_root), make_host=host_factory(host, seen))


# --- no Xen --------------------------------------------------------------------------------------


def test_no_xen_is_no_grains(proc_root, sys_root):
    assert compute(FakeHost(FakeToolstack(installed=False)), proc_root, sys_root) == {}


def test_no_xen_never_calls_anything(proc_root, sys_root):
    host = FakeHost(FakeToolstack(installed=False))
    compute(host, proc_root, sys_root)
    assert host.toolstack.calls == 0 and host.inventory_calls == 0


def test_domu_without_toolstack_has_its_role_only(proc_root, sys_root):
    grains = compute(FakeHost(FakeToolstack(installed=False)), proc_root, sys_root,
                     core={"virtual": "xen", "virtual_subtype": "Xen PV DomU"})
    assert grains == {"xen": {"role": "domU", "toolstack": "", "version": ""}}


def test_dom0_without_toolstack_says_so(proc_root, sys_root):
    make_dom0(proc_root)
    grains = compute(FakeHost(FakeToolstack(installed=False)), proc_root, sys_root)
    assert grains["xen"]["role"] == "dom0"
    assert grains["xen"]["errors"] == ["neither xl nor xm is installed"]


def test_bad_option_is_an_error_entry_not_an_exception(proc_root, sys_root):
    grains = compute(FakeHost(FakeToolstack()), proc_root, sys_root,
                     opts={"xen": {"grains_timeout": "soon"}})
    assert grains["xen"]["errors"] == ["option xen:grains_timeout must be a number, not 'soon'"]


# --- role and version ----------------------------------------------------------------------------


def test_role_dom0_from_proc_xen_capabilities(proc_root):
    make_dom0(proc_root)
    assert ig.detect_role({}, str(proc_root)) == "dom0"


def test_role_domu_from_proc_xen_without_control_d(proc_root):
    (proc_root / "xen").mkdir()
    (proc_root / "xen" / "capabilities").write_text("")
    assert ig.detect_role({}, str(proc_root)) == "domU"


@pytest.mark.parametrize("subtype, role", [("Xen Dom0", "dom0"), ("Xen PV DomU", "domU"), ("Xen HVM DomU", "domU"),
                                           ("Xen PVH DomU", "domU"), ("KVM", "none"), (None, "none")])
def test_role_from_core_grains(proc_root, subtype, role):
    assert ig.detect_role({"virtual_subtype": subtype}, str(proc_root)) == role


def test_version_from_sys_hypervisor(sys_root):
    version = sys_root / "hypervisor" / "version"
    version.mkdir(parents=True)
    (sys_root / "hypervisor" / "type").write_text("xen\n")
    for name, value in (("major", "4"), ("minor", "17"), ("extra", ".7")):
        (version / name).write_text(value + "\n")
    assert ig.hypervisor_version(str(sys_root)) == "4.17.7"


def test_version_of_another_hypervisor_is_empty(sys_root):
    (sys_root / "hypervisor").mkdir()
    (sys_root / "hypervisor" / "type").write_text("kvm\n")
    assert ig.hypervisor_version(str(sys_root)) == ""
    assert ig.hypervisor_version(str(sys_root / "missing")) == ""


# --- inventory and running domains ---------------------------------------------------------------


CONFIGS = [
    config("tst100", "/etc/xen/a/tst100.conf", UUID_HEX, ["00:50:56:13:11:40"]),
    config("tst101", "/etc/xen/a/tst101.conf", "not-a-uuid", ["00:50:56:13:11:41", "00:50:56:13:11:42"]),
    config("tst100", "/etc/xen/b/tst100.conf", "11111111-2222-3333-4444-555555555555", ["00:50:56:13:11:43"]),
    config("", "/etc/xen/nameless.conf"),
]
DOMAINS = [
    {"name": "Domain-0", "domid": 0, "state": "r-----", "uuid": "00000000-0000-0000-0000-000000000000"},
    {"name": "tst100", "domid": 3, "state": "-b----", "uuid": UUID},
    {"name": "adhoc", "domid": 4, "state": "r-----", "uuid": "AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE"},
]


def test_domu_grains_merge_configs_and_running_domains():
    grains = ig.domu_grains(ig.config_rows(CONFIGS), DOMAINS)
    assert grains["domus"] == {
        "tst100": {"uuid": UUID, "macs": ["00:50:56:13:11:40"], "config": "/etc/xen/a/tst100.conf",
                   "other_configs": ["/etc/xen/b/tst100.conf"]},
        "tst101": {"uuid": "", "macs": ["00:50:56:13:11:41", "00:50:56:13:11:42"], "config": "/etc/xen/a/tst101.conf"},
        "adhoc": {"uuid": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "macs": [], "config": ""},
    }
    assert grains["labels"] == ["adhoc", "tst100", "tst101"]
    assert grains["uuids"] == ["11111111-2222-3333-4444-555555555555", UUID, "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"]
    assert grains["macs"] == ["00:50:56:13:11:40", "00:50:56:13:11:41", "00:50:56:13:11:42", "00:50:56:13:11:43"]


def test_running_domain_fills_a_missing_config_uuid():
    grains = ig.domu_grains(ig.config_rows([config("tst101", "/x/tst101.conf")]),
                            [{"name": "tst101", "domid": 5, "uuid": UUID}])
    assert grains["domus"]["tst101"] == {"uuid": UUID, "macs": [], "config": "/x/tst101.conf"}


def test_compute_on_a_dom0(proc_root, sys_root):
    make_dom0(proc_root)
    host = FakeHost(FakeToolstack(DOMAINS), CONFIGS)
    grains = compute(host, proc_root, sys_root)["xen"]
    assert grains["role"] == "dom0" and grains["toolstack"] == "xl" and grains["version"] == ""
    assert grains["labels"] == ["adhoc", "tst100", "tst101"]
    assert "errors" not in grains


def test_simulated_host_without_proc_xen_still_has_its_domus(proc_root, sys_root):
    """A toolstack on PATH is enough (a dom0 without xenfs mounted, or the test simulator)."""
    grains = compute(FakeHost(FakeToolstack(DOMAINS), CONFIGS), proc_root, sys_root)["xen"]
    assert grains["role"] == "none" and "tst100" in grains["labels"]


def test_at_most_one_toolstack_call_and_one_inventory(proc_root, sys_root):
    host = FakeHost(FakeToolstack(DOMAINS), CONFIGS)
    compute(host, proc_root, sys_root)
    assert host.toolstack.calls == 1 and host.inventory_calls == 1


def test_toolstack_runs_with_the_grain_timeout(proc_root, sys_root):
    seen = {}
    compute(FakeHost(FakeToolstack()), proc_root, sys_root,
            opts={"xen": {"grains_timeout": 2, "timeout": 30, "base_paths": ["/srv/xen"]}}, seen=seen)
    assert seen == {"timeout": 2.0, "base_paths": ["/srv/xen"], "kwargs": {}}


def test_default_grain_timeout_is_five_seconds(proc_root, sys_root):
    seen = {}
    compute(FakeHost(FakeToolstack()), proc_root, sys_root, seen=seen)
    assert seen["timeout"] == 5.0


def test_hung_toolstack_returns_within_the_timeout_without_the_running_part(proc_root, sys_root):
    toolstack = FakeToolstack(DOMAINS, hang=30)
    host = FakeHost(toolstack, CONFIGS)
    started = time.monotonic()
    try:
        grains = compute(host, proc_root, sys_root, opts={"xen": {"grains_timeout": 0.3}})["xen"]
    finally:
        toolstack.released.set()  # let the abandoned thread end
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, elapsed
    assert grains["labels"] == ["tst100", "tst101"]  # configs only: "adhoc" runs without one
    assert grains["errors"] == ["running domains: not known within 0.3 s (xen:grains_timeout)"]


def test_failing_toolstack_keeps_the_configs(proc_root, sys_root):
    host = FakeHost(FakeToolstack(error=ToolstackError("xl list: libxl: cannot connect")), CONFIGS)
    grains = compute(host, proc_root, sys_root)["xen"]
    assert grains["labels"] == ["tst100", "tst101"]
    assert grains["errors"] == ["running domains: xl list: libxl: cannot connect"]


def test_unexpected_exception_in_a_part_never_escapes(proc_root, sys_root):
    host = FakeHost(FakeToolstack(error=RuntimeError("boom")), CONFIGS)
    grains = compute(host, proc_root, sys_root)["xen"]
    assert grains["errors"] == ["running domains: RuntimeError: boom"]


# --- the grains' summary of the inventory -------------------------------------------------------


class Discovery:
    """Stands in for ``host.inventory().configs``: one config per ``*.conf`` below the base, counted."""

    def __init__(self, base, inventory_file):
        self.base = base
        self.inventory_file = inventory_file
        self.calls = 0

    def __call__(self):
        self.calls += 1
        found = sorted(str(p) for p in self.base.rglob("*.conf"))
        self.inventory_file.write_bytes(str(found).encode())  # like discovery: the cache changes
        return [config(os.path.basename(p)[:-5], p, UUID_HEX) for p in found]


@pytest.fixture
def tree(tmp_path):
    base = tmp_path / "configs"
    (base / "pool" / "a").mkdir(parents=True)
    (base / "pool" / "a" / "tst100.conf").write_text("name = 'tst100'\n")
    cache = tmp_path / "cache"
    cache.mkdir()
    discovery = Discovery(base, cache / "inventory.msgpack")
    summary = cache / "grains.msgpack"

    def labels():
        return ig.summarised_config_grains(str(summary), [str(base)], str(discovery.inventory_file), discovery)["labels"]

    age_everything(base)
    return SimpleNamespace(base=base, discovery=discovery, summary=summary, labels=labels)


def age_everything(base, seconds=60):
    """Folder mtimes a minute old: outside the racy window of the summary's look."""
    old = time.time() - seconds
    for folder in [base, *[p for p in base.rglob("*") if p.is_dir()]]:
        os.utime(folder, (old, old))


def test_summary_answers_while_nothing_changed(tree):
    first = tree.labels()
    assert first == ["tst100"] and tree.discovery.calls == 1
    assert tree.labels() == first and tree.discovery.calls == 1


def test_summary_sees_a_new_config(tree):
    tree.labels()
    (tree.base / "pool" / "a" / "tst101.conf").write_text("name = 'tst101'\n")
    assert tree.labels() == ["tst100", "tst101"] and tree.discovery.calls == 2


def test_summary_sees_a_new_folder_deep_down(tree):
    tree.labels()
    (tree.base / "pool" / "a" / "b").mkdir()
    (tree.base / "pool" / "a" / "b" / "tst102.conf").write_text("name = 'tst102'\n")
    assert "tst102" in tree.labels()


def test_summary_sees_a_removed_config(tree):
    tree.labels()
    (tree.base / "pool" / "a" / "tst100.conf").unlink()
    assert tree.labels() == []


def test_summary_follows_the_inventory_cache(tree):
    """An in-place edit keeps the folder's mtime; discovery (any xen call) rewrites the cache."""
    tree.labels()
    tree.discovery.inventory_file.write_bytes(b"rewritten by another discovery")
    tree.labels()
    assert tree.discovery.calls == 2


def test_summary_of_other_base_paths_is_not_used(tree, tmp_path):
    tree.labels()
    other = tmp_path / "other"
    other.mkdir()
    ig.summarised_config_grains(str(tree.summary), [str(other)], str(tree.discovery.inventory_file), tree.discovery)
    assert tree.discovery.calls == 2


def test_summary_taken_within_the_racy_window_is_checked_again(tree):
    (tree.base / "pool" / "a" / "tst101.conf").write_text("name = 'tst101'\n")  # folder mtime: now
    tree.labels()
    tree.labels()
    assert tree.discovery.calls == 2


def test_damaged_summary_is_rebuilt(tree):
    tree.labels()
    tree.summary.write_bytes(b"\xc1 not msgpack")
    assert tree.labels() == ["tst100"] and tree.discovery.calls == 2


def test_unwritable_summary_costs_only_time(tree):
    tree.summary.mkdir()  # a folder where the file should go: atomic_write fails
    assert tree.labels() == ["tst100"]


def test_folder_stamps_follow_symlinks_once(tmp_path):
    base = tmp_path / "b"
    (base / "real").mkdir(parents=True)
    (base / "link").symlink_to(base / "real")
    (base / "real" / "loop").symlink_to(base)
    folders = [folder for folder, _ in ig.folder_stamps([str(base), str(tmp_path / "missing")])]
    assert folders[0] == str(base) and folders[-1] == str(tmp_path / "missing")
    assert len(folders) == 3  # base, one of real and link, missing: the loop back to base is not walked
    assert ig.folder_stamps([str(tmp_path / "missing")]) == [[str(tmp_path / "missing"), None]]


# --- helpers -------------------------------------------------------------------------------------


def test_opts_getter_reads_the_xen_section_and_flat_keys():
    get = ig.opts_getter({"xen": {"toolstack": "xl"}, "xen:timeout": 7})
    assert get("xen:toolstack", "auto") == "xl"
    assert get("xen:timeout", 30) == 7
    assert get("xen:privilege", "none") == "none"


@pytest.mark.parametrize("value", [0, -1, "x", None])
def test_bad_grain_timeout(value):
    with pytest.raises(XenError, match="xen:grains_timeout"):
        ig.grains_timeout(lambda key, default: value)


def test_canonical_uuid():
    assert ig.canonical_uuid(UUID_HEX.upper()) == UUID
    assert ig.canonical_uuid("nonsense") == ""


def test_run_with_deadline_outcomes():
    outcomes = ig.run_with_deadline({"fast": lambda: 42, "bad": _raise_xen, "slow": lambda: time.sleep(2)}, 0.2)
    assert outcomes == {"fast": ("ok", 42), "bad": ("error", "nope"), "slow": ("timeout", None)}


def _raise_xen():
    raise XenError("nope")


def test_compute_on_this_machine_never_raises():
    """Whatever this test machine is, the real entry point answers (a dict) without an exception."""
    assert isinstance(ig.compute({"id": "t", "cachedir": os.devnull + "-nonexistent"}, {}), dict)


# --- the real toolstack against the simulated xl -------------------------------------------------


@pytest.fixture
def simulated_dom0(tmp_path, monkeypatch):
    """The simulated xl on PATH, one DomU config, the minion's options; the real build_host."""
    from xlsim import control  # pylint: disable=import-outside-toplevel  # tests/ is on sys.path

    env = control.make_host(tmp_path / "xlsim")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    base = tmp_path / "configs"
    base.mkdir()
    (base / "tst100.cfg").write_text(
        f'name = "tst100"\nuuid = "{UUID}"\nmemory = 128\nvcpus = 1\nkernel = "/k"\n'
        "vif = [ 'mac=00:50:56:13:11:40' ]\ndisk = [ 'format=raw, vdev=xvda, access=rw, target=/x.img' ]\n")
    opts = {"id": "lab00", "cachedir": str(tmp_path / "cachedir"),
            "xen": {"toolstack": "xl", "base_paths": [str(base)], "grains_timeout": 1}}
    return SimpleNamespace(control=control, state=tmp_path / "xlsim", base=base, opts=opts)


def test_simulated_dom0_grains(simulated_dom0, proc_root, sys_root):
    import subprocess  # pylint: disable=import-outside-toplevel

    subprocess.run(["xl", "create", str(simulated_dom0.base / "tst100.cfg")], check=True, capture_output=True)
    grains = ig.compute(simulated_dom0.opts, {}, proc_root=str(proc_root), sys_root=str(sys_root))["xen"]
    assert grains["toolstack"] == "xl" and "errors" not in grains
    assert grains["domus"]["tst100"] == {"uuid": UUID, "macs": ["00:50:56:13:11:40"],
                                         "config": str(simulated_dom0.base / "tst100.cfg")}


def test_hung_simulated_xl_costs_the_grain_timeout_only(simulated_dom0, proc_root, sys_root):
    simulated_dom0.control.set_fault(simulated_dom0.state, hang=True)
    started = time.monotonic()
    grains = ig.compute(simulated_dom0.opts, {}, proc_root=str(proc_root), sys_root=str(sys_root))["xen"]
    elapsed = time.monotonic() - started
    assert elapsed < 2.5, elapsed  # grains_timeout is 1 s
    assert grains["labels"] == ["tst100"]  # from the config; the running part is missing
    assert grains["errors"] == ["running domains: not known within 1 s (xen:grains_timeout)"]
