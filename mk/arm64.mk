# mk/arm64.mk - the aarch64 build and its tests (included by the Makefile).
#
#   make test-arm64     cross build of the core and the fast correctness tests
#                       for aarch64 into build/arm64 (Debian's
#                       gcc-aarch64-linux-gnu, the arm64 libraries through
#                       multiarch: scripts/deps.sh installs them), run under
#                       qemu-user (qemu-aarch64), or natively on an aarch64
#                       machine: tests/test_arm64.sh, which `make test` runs
#                       too, without the two slowest programs (it skips,
#                       saying why, without the toolchain)
#   make arm64-build    the build alone
#
# The flags come from the arm64 .pc files: pkg-config with PKG_CONFIG_LIBDIR
# set to the cross compiler's multiarch folder (-print-multiarch).

# a bare `make` still builds: this file is read before the Makefile's `all:` rule
.DEFAULT_GOAL := all

ARM64_CC    ?= $(if $(filter aarch64,$(shell uname -m)),cc,aarch64-linux-gnu-gcc)
ARM64_BUILD ?= build/arm64
ARM64_TESTS := test_ops test_model test_threads test_ckpt test_clones
ARM64_BINS  := $(ARM64_BUILD)/lockfree/train_model $(ARM64_BUILD)/locked/train_model \
               $(ARM64_TESTS:%=$(ARM64_BUILD)/tests/%) $(ARM64_BUILD)/micro/ceilings

# GCC 12.2 for aarch64 stops with an internal compiler error in its loop
# vectoriser (vect_transform_reduction) on tests/test_threads.c at -O3; the
# test program alone is built without loop vectorisation there
ifneq ($(filter aarch64%,$(MULTIARCH)),)
$(BUILD)/tests/test_threads: CFLAGS += -fno-tree-loop-vectorize
endif

.PHONY: arm64-build test-arm64
arm64-build:
	@command -v $(ARM64_CC) >/dev/null || { echo "mk/arm64.mk: $(ARM64_CC) not found: scripts/deps.sh installs gcc-aarch64-linux-gnu and the arm64 libraries" >&2; exit 1; }
	$(MAKE) CC=$(ARM64_CC) BUILD=$(ARM64_BUILD) BLAS=openblas WERROR=$(WERROR) \
	    PKG_CONFIG="env PKG_CONFIG_LIBDIR=/usr/lib/$$($(ARM64_CC) -print-multiarch)/pkgconfig:/usr/share/pkgconfig pkg-config" \
	    $(ARM64_BINS)

# deps: scripts/deps.sh installs the cross toolchain, the arm64 libraries and
# qemu-user where they are missing (as root; otherwise it prints the line)
test-arm64: deps
	ARM64_FULL=1 ARM64_CC=$(ARM64_CC) tests/test_arm64.sh
