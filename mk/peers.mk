# mk/peers.mk - other programs through the same harness (included by the Makefile).
#
#   make peers [PEERS_ARGS="--configs S,G --reps 3"]   cllm against PyTorch (bench/peers/torch_gpt.py)
#                                                    through build/scale: scripts/peers.sh
#
# build/peers/amdahl (bench/peers/amdahl.c) is the test program with a known
# serial fraction that tests/test_amdahl.sh sweeps; `make all` builds it.

# The Makefile includes mk/*.mk before its `all:` rule; a rule here would
# otherwise become the default goal of a bare `make`.
.DEFAULT_GOAL := all

EXTRA_ALL += $(BUILD)/peers/amdahl

$(BUILD)/peers/amdahl: bench/peers/amdahl.c mk/peers.mk
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) -D_GNU_SOURCE $< -pthread -lm -o $@

peers: deps all
	scripts/peers.sh $(PEERS_ARGS)
