"""docs/ctys-to-salt.md covers every ctys call of the seed, and each row names a test that exists."""

import re

import pytest
from harness import REPO, SHARED_DIR

SEED = SHARED_DIR / "seed" / "ctys-uc-XEN.txt"
DOC = REPO / "docs" / "ctys-to-salt.md"
SEED_TEST = REPO / "tests" / "integration" / "test_seed_calls.py"


def seed_calls():
    """The seed's ``ctys`` calls in order, backslash continuations joined, spaces folded."""
    calls, current = [], None
    for line in SEED.read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if current is not None:
            current += " " + text.rstrip("\\").strip()
            if not text.endswith("\\"):
                calls.append(current)
                current = None
        elif text.startswith("ctys"):
            if text.endswith("\\"):
                current = text.rstrip("\\").strip()
            else:
                calls.append(text)
    return [re.sub(r"\s+", " ", call).strip() for call in calls]


@pytest.fixture(scope="module")
def rows():
    if not SEED.is_file():
        pytest.skip(f"no seed beside the repository ({SEED})")
    found = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\| (S\d\d) \| `(.*?)` \| (.*) \| `test_seed_call\[(S\d\d)\]` \|$", line)
        if match:
            row, call, _, test_row = match.groups()
            assert row == test_row, line
            found[row] = call.replace("\\|", "|")
    return found


def test_every_seed_call_has_its_row(rows):
    calls = seed_calls()
    # call 1 is the page title ("ctys-uc-XEN - ..."), the last one the SEE ALSO list
    real_calls = {f"S{n:02d}": call for n, call in enumerate(calls, 1) if call.startswith(("ctys -", "ctys-vhost "))}
    assert len(real_calls) == 54
    assert rows == real_calls


def test_every_row_is_run_by_the_seed_test(rows):
    text = SEED_TEST.read_text(encoding="utf-8")
    defined = set(re.findall(r'^    "(S\d\d)": \(', text, flags=re.M))
    assert defined == set(rows)
