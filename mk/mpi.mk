# mk/mpi.mk - the MPI variant of the core (included by the Makefile): the
# same sources built with -DCLLM_MPI=1 and core/comm_mpi.c in place of
# core/comm_single.c, against Debian's Open MPI (openmpi-bin and
# libopenmpi-dev, installed by scripts/deps.sh). Built by `make all`.
#
#   build/mpi/train_model       mpirun -np R build/mpi/train_model --threads T ...
#   build/mpi/comm_probe        mpirun -np R build/mpi/comm_probe --config C: a step's
#                               messages without the training (scripts/cluster probe --mpi)
#   make bench-mpi [BENCH_MPI_ARGS=...]
#                               a ranks x threads sweep on this machine
#                               (scripts/bench-mpi.sh; results/<UTC>-<host>-mpi/)
#
# The compile and link flags come from `mpicc --showme:compile` and
# `--showme:link`, so CC stays the compiler of the other variants (gcc or
# clang, with -Werror in make test). The lock-free and locked builds never
# see mpi.h nor libmpi (tests/test_mpi.sh checks their ldd).
#
# Open MPI refuses to run as root unless OMPI_ALLOW_RUN_AS_ROOT=1 and
# OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 are in the environment (CI runs as root;
# the tests and bench-mpi set both when they run as root).

# a bare `make` still builds: this file is read before the Makefile's `all:` rule
.DEFAULT_GOAL := all

MPI_CFLAGS := $(shell mpicc --showme:compile 2>/dev/null)
MPI_LIBS   := $(shell mpicc --showme:link 2>/dev/null)
MPI_SRC    := $(filter-out core/comm_single.c,$(CORE_SRC)) core/comm_mpi.c
MPI_OBJ    := $(MPI_SRC:core/%.c=$(BUILD)/mpi/obj/%.o)

EXTRA_ALL += $(BUILD)/mpi/train_model $(BUILD)/mpi/comm_probe

$(BUILD)/mpi/obj/%.o: core/%.c $(CORE_HDR) Makefile mk/mpi.mk $(BUILD)/.blas
	@mkdir -p $(@D)
	@test -n "$(MPI_LIBS)" || { echo "mk/mpi.mk: mpicc not found: install openmpi-bin libopenmpi-dev (scripts/deps.sh)" >&2; exit 1; }
	$(CC) $(WARN) $(CFLAGS) $(BLAS_CFLAGS) $(HWLOC_CFLAGS) $(MPI_CFLAGS) $(DEFS) -DCLLM_LOCKED=0 -DCLLM_MPI=1 -c $< -o $@

$(BUILD)/mpi/obj/util.o: $(BUILD)/.gitrev

$(BUILD)/mpi/libcllm.a: $(MPI_OBJ)
	ar rcs $@ $^

$(BUILD)/mpi/train_model: core/train_model.c $(BUILD)/mpi/libcllm.a $(CORE_HDR)
	$(CC) $(WARN) $(CFLAGS) $(BLAS_CFLAGS) $(DEFS) -DCLLM_MPI=1 $< $(BUILD)/mpi/libcllm.a $(LIBS) $(MPI_LIBS) -o $@

$(BUILD)/mpi/comm_probe: core/comm_probe.c $(BUILD)/mpi/libcllm.a $(CORE_HDR)
	$(CC) $(WARN) $(CFLAGS) $(BLAS_CFLAGS) $(DEFS) -DCLLM_MPI=1 $< $(BUILD)/mpi/libcllm.a $(LIBS) $(MPI_LIBS) -o $@

.PHONY: bench-mpi
bench-mpi: deps all
	scripts/bench-mpi.sh $(BENCH_MPI_ARGS)

# make bench-2node [BENCH_2NODE_ARGS=...]: the MPI variant on two nodes of
# scripts/cluster (network namespaces, tbf-shaped veth link; root only),
# 1 thread per node, against the 2-node model from a link probe (TCP, and
# build/mpi/comm_probe: a step's MPI messages without training) and a 1-node
# x 2-thread reference of the same run (scripts/bench_2node.py --help;
# results/<UTC>-<host>-2node/).
.PHONY: bench-2node
bench-2node: deps all
	/usr/bin/python3 scripts/bench_2node.py $(BENCH_2NODE_ARGS)
