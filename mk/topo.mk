# mk/topo.mk - the tests of the counter-group code (included by the Makefile;
# built by `make all` through EXTRA_ALL).

# a bare `make` still builds: this file is read before the Makefile's `all:` rule
.DEFAULT_GOAL := all

EXTRA_ALL += $(BUILD)/tests/test_counter_groups

$(BUILD)/tests/test_counter_groups: bench/test_counter_groups.c bench/counters.c bench/counters.h tests/check.h mk/topo.mk
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) -D_GNU_SOURCE -Ibench -Itests bench/test_counter_groups.c bench/counters.c -lpfm -lm -o $@
