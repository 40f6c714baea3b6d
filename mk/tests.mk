# mk/tests.mk - test programs the Makefile's own rules do not pick up
# (included by the Makefile; built by `make all` through EXTRA_ALL):
#
#   $(BUILD)/tests/optim_dump   training steps dumped for the optimizer
#                               reference (tests/test_optim.sh); built by the
#                               Makefile's tests/%.c rule
# (bench/test_*.c are built by the Makefile's bench/test_%.c rule)

# a rule here would otherwise become the default goal of a bare `make`
.DEFAULT_GOAL := all

EXTRA_ALL += $(BUILD)/tests/optim_dump
