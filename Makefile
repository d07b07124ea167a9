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

.PHONY: help venv test test-py test-unit test-functional test-integration demo bench clean distclean

help:
	@echo "make venv              build $(VENV) from requirements-test.txt (only when they changed)"
	@echo "make test              all test tiers: unit, functional, integration (real daemons)"
	@echo "make test-unit         tests/unit: the Salt-free core"
	@echo "make test-functional   tests/functional: the real Salt loader in process"
	@echo "make test-integration  tests/integration: salt-master + minions, both deployment modes"
	@echo "make demo              the seed's use cases on a local master + 3 minions (demo/run_demo.py)"
	@echo "make test-py           the pytest tiers only (no real-Xen lab)"
	@echo "make test-xen          the real Xen 4.17 lab under QEMU (xenlab/)"
	@echo "make bench             every bench/bench_*.py"
	@echo "make clean             build and test leftovers; 'make distclean' also removes $(VENV)"

venv: $(STAMP)

$(STAMP): requirements.txt requirements-test.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-test.txt
	touch $@

# All tests: the real-Xen lab first (xenlab/run.sh: 0 pass, 1 fail, 77 skip -- a skip is said as
# such, never as a pass), then every pytest tier, so that pytest's summary is the closing line.
test: venv
	@xen=0; bash xenlab/run.sh || xen=$$?; \
	case $$xen in 0) verdict=passed;; 77) verdict="SKIPPED (QEMU cannot start here; not a pass)";; *) verdict=FAILED;; esac; \
	py=0; $(PYTEST) tests --durations=20 || py=$$?; \
	[ $$py -ne 5 ] || echo "pytest ran no test (exit 5)" >&2; \
	echo "real Xen (make test-xen): $$verdict"; \
	if [ $$py -ne 0 ]; then exit $$py; fi; \
	if [ $$xen -ne 0 ] && [ $$xen -ne 77 ]; then exit 1; fi

# The pytest tiers alone, without the real-Xen lab.
test-py: venv
	$(PYTEST) tests --durations=20 $(PYTEST_RC)

test-unit: venv
	$(PYTEST) tests/unit $(PYTEST_RC)

test-functional: venv
	$(PYTEST) tests/functional $(PYTEST_RC)

test-integration: venv
	$(PYTEST) tests/integration $(PYTEST_RC)

demo: venv
	$(PY) demo/run_demo.py

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

include xenlab/xenlab.mk
