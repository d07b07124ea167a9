# Real Xen in CI (issue 10): included by the Makefile with `include xenlab/xenlab.mk`.
#
#   make test-xen        build (cached) + boot Xen 4.17 under QEMU TCG + run the project through
#                        Salt inside dom0 against the real xl + read the results back.
#                        xenlab/run.sh exits 0 pass, 1 fail, 77 SKIP (QEMU cannot start here);
#                        make turns any non-zero into its own exit 2, so the verdict is also in
#                        xenlab/results/status (pass | fail | skip) and the last line printed.
#   make test-xen-shell  the same dom0 with a root shell on the terminal (Ctrl-a x quits QEMU)
#
# Knobs (environment): XENLAB_ONLY, XENLAB_CLI, XENLAB_DEPLOY, DEADLINE, ACCEL, MEM ... (docs/real-xen.md)

.PHONY: test-xen test-xen-shell

test-xen: venv
	@bash xenlab/run.sh

test-xen-shell: venv
	@MODE=shell bash xenlab/run.sh
