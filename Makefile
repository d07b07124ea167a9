# saltext-xen: build, test and deploy helpers.  Every target runs the project's own venv (.venv),
# built from the pinned requirements with the system python3.  The project itself is NOT installed
# into .venv: unit tests import the core from _utils/, and the integration tests check the two real
# deployment modes (pip install into a fresh venv; saltutil.sync_all from a file_root).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.requirements.stamp
PYTEST := $(PY) -m pytest
# pytest exits 5 when it collected no test: say so (any non-zero exit fails CI).
PYTEST_RC = || { rc=$$?; [ $$rc -ne 5 ] || echo "pytest ran no test (exit 5)" >&2; exit $$rc; }

.PHONY: help venv test test-unit test-functional test-integration demo bench clean distclean

help:
	@echo "make venv              build $(VENV) from requirements-test.txt (only when they changed)"
	@echo "make test              all test tiers: unit, functional, integration (real daemons)"
	@echo "make test-unit         tests/unit: the Salt-free core"
	@echo "make test-functional   tests/functional: the real Salt loader in process"
	@echo "make test-integration  tests/integration: salt-master + minions, both deployment modes"
	@echo "make demo              the demo (demo/single_host.py)"
	@echo "make bench             every bench/bench_*.py"
	@echo "make clean             build and test leftovers; 'make distclean' also removes $(VENV)"

venv: $(STAMP)

$(STAMP): requirements.txt requirements-test.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-test.txt
	touch $@

test: venv
	$(PYTEST) tests --durations=20 $(PYTEST_RC)

test-unit: venv
	$(PYTEST) tests/unit $(PYTEST_RC)

test-functional: venv
	$(PYTEST) tests/functional $(PYTEST_RC)

test-integration: venv
	$(PYTEST) tests/integration $(PYTEST_RC)

demo: venv
	@if [ -f demo/single_host.py ]; then \
		$(PY) demo/single_host.py; \
	else \
		echo "demo/single_host.py is not written yet: no demo to run."; \
	fi

bench: venv
	@set -e; found=0; \
	for bench in bench/bench_*.py; do \
		[ -f "$$bench" ] || continue; found=1; \
		echo "== $$bench"; $(PY) "$$bench"; \
	done; \
	[ $$found -eq 1 ] || echo "no bench/bench_*.py yet"

clean:
	rm -rf build dist .pytest_cache .hypothesis *.egg-info _utils/*.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
