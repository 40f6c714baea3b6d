# mk/tests.mk - test programs the Makefile's own rules do not pick up
# (included by the Makefile; built by `make all` through EXTRA_ALL):
#
#   $(BUILD)/tests/optim_dump   training steps dumped for the optimizer
#                               reference (tests/test_optim.sh); built by the
#                               Makefile's tests/%.c rule
#   $(BUILD)/tests/test_stats   bench/stats.c's statistics on known inputs
#                               (bench/test_stats.c)
#   $(BUILD)/tests/test_json    the JSON writer and the strict reader
#                               (bench/test_json.c)

# a rule here would otherwise become the default goal of a bare `make`
.DEFAULT_GOAL := all

EXTRA_ALL += $(BUILD)/tests/optim_dump $(if $(wildcard bench/test_stats.c),$(BUILD)/tests/test_stats) $(BUILD)/tests/test_json

$(BUILD)/tests/test_stats: bench/test_stats.c bench/stats.c bench/stats.h bench/json.c bench/json.h \
                           core/jsonw.c core/jsonw.h bench/counters.c bench/counters.h tests/check.h mk/tests.mk
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(DEFS) -Ibench -Itests bench/test_stats.c bench/stats.c bench/json.c core/jsonw.c \
	    bench/counters.c -lpfm -lm -o $@

# the JSON writer (core/jsonw.c) and the strict reader (bench/json.c) together
$(BUILD)/tests/test_json: bench/test_json.c bench/json.c bench/json.h core/jsonw.c core/jsonw.h tests/check.h mk/tests.mk
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) -D_GNU_SOURCE -Ibench -Itests bench/test_json.c bench/json.c core/jsonw.c -lm -o $@
