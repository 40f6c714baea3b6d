# mk/topo.mk - build/topo, the command that prints bench/topo.c's topology
# JSON (what meta.json holds under host.topology) for the scripts, and the
# tests of the topology, outside-load and counter-group code (included by the
# Makefile; built by `make all` through EXTRA_ALL). bench/topo.c and
# bench/noise.c are also linked into build/scale with the other bench/*.c.

# a bare `make` still builds: this file is read before the Makefile's `all:` rule
.DEFAULT_GOAL := all

EXTRA_ALL += $(BUILD)/topo $(BUILD)/tests/test_topo $(BUILD)/tests/test_counter_groups

TOPO_SRC := bench/topo.c bench/json.c core/jsonw.c core/machine.c
TOPO_HDR := bench/topo.h bench/json.h core/jsonw.h core/machine.h

$(BUILD)/topo: $(TOPO_SRC) $(TOPO_HDR) mk/topo.mk
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) -D_GNU_SOURCE -DTOPO_MAIN $(HWLOC_CFLAGS) -Ibench $(TOPO_SRC) $(HWLOC_LIBS) -lm -o $@

$(BUILD)/tests/test_topo: bench/test_topo.c $(TOPO_SRC) $(TOPO_HDR) bench/noise.c bench/noise.h tests/check.h mk/topo.mk
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) -D_GNU_SOURCE $(HWLOC_CFLAGS) -Ibench -Itests bench/test_topo.c $(TOPO_SRC) bench/noise.c $(HWLOC_LIBS) -lm -o $@

$(BUILD)/tests/test_counter_groups: bench/test_counter_groups.c bench/counters.c bench/counters.h bench/counters_child.h \
    tests/check.h mk/topo.mk
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) -D_GNU_SOURCE -Ibench -Itests bench/test_counter_groups.c bench/counters.c -lpfm -lm -o $@
