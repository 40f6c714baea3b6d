# mk/tests.mk - test programs the Makefile's own rules do not pick up
# (included by the Makefile; built by `make all` through EXTRA_ALL):
#
#   $(BUILD)/tests/optim_dump   training steps dumped for the optimizer
#                               reference (tests/test_optim.sh); built by the
#                               Makefile's tests/%.c rule
# (bench/test_*.c are built by the Makefile's bench/test_%.c rule)
#   make test-long              the long versions of cheap tests (below)
#   $(BUILD)/tests/plan_invariants   the worker plan's invariants on extracted
#                               machine snapshots (tests/test_machines.sh runs it);
#                               built by the Makefile's tests/%.c rule

# a rule here would otherwise become the default goal of a bare `make`
.DEFAULT_GOAL := all

EXTRA_ALL += $(BUILD)/tests/optim_dump $(BUILD)/tests/plan_invariants

# make test-long: longer versions of cheap tests, not part of `make test`:
# 2,000 SIGKILLs inside checkpoint writes and 40 at random steps of a
# --save-every run (tests/crash_kill.py; test_ckpt_integrity.sh runs 200 and 6)
.PHONY: test-long
test-long: all
	d=$$(mktemp -d) && /usr/bin/python3 tests/crash_kill.py $(BUILD)/lockfree/train_model "$$d" \
	    --kills 2000 --periodic 40; rc=$$?; rm -rf "$$d"; exit $$rc
