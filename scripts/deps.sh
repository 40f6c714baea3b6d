#!/usr/bin/env bash
# deps.sh - install the Debian packages cllm needs, if any are missing.
# As root it runs apt-get; otherwise it prints the exact command and stops.
#
#   scripts/deps.sh        (make deps; make test and make bench call it)
#
# Exit codes: 0 everything installed (or just installed), 1 packages missing
# and not root (the apt-get line is printed) or apt-get failed, 2 usage.
set -euo pipefail
case ${1:-} in
    '') ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "deps.sh: unknown option '$1' (it takes none; see scripts/deps.sh --help)" >&2; exit 2 ;;
esac

pkgs=(
    make gcc clang libc6-dev            # build (gcc and clang, both with -Werror in make test)
    pkg-config                          # the Makefile's flags of OpenBLAS and hwloc (their .pc files)
    libopenblas-dev                     # CBLAS sgemm (pthread variant: see README, "BLAS")
    libblis-serial-dev                  # make BLAS=blis: BLIS without threads of its own (README, "BLAS")
    libpfm4-dev                         # bench/counters: event names -> perf_event_open
    libhwloc-dev                        # bench/topo: packages, NUMA nodes, cores, SMT, caches (hwloc)
    openmpi-bin libopenmpi-dev          # the MPI variant (build/mpi, mk/mpi.mk): mpirun, mpicc's flags
    iproute2                            # scripts/cluster: ip netns, veth, tc tbf (make bench-2node)
    libbenchmark-dev g++                # bench/micro: Google Benchmark kernels
    linux-perf hyperfine                # make perf, make hyperfine
    gnuplot-nox                         # plots
    valgrind libclang-rt-14-dev         # memcheck test; libFuzzer and sanitizer runtimes for clang
    python3 python3-numpy python3-torch # reference tests against PyTorch, analysis
    python3-scipy                       # analysis: least_squares, t and F quantiles, Mann-Whitney, bootstrap
)

# make test-arm64 (mk/arm64.mk): on an amd64 machine, a cross compiler, the
# arm64 libraries through Debian's multiarch and qemu-user to run the tests
arm64=0
if [[ $(dpkg --print-architecture) == amd64 ]]; then
    arm64=1
    pkgs+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
           libopenblas-dev:arm64 libhwloc-dev:arm64)
fi

missing=()
for p in "${pkgs[@]}"; do
    [[ $p == \#* ]] && continue
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

# the arm64 packages need the architecture added to dpkg first (multiarch)
add_arch=0
if (( arm64 )) && ! dpkg --print-foreign-architectures | grep -qx arm64; then add_arch=1; fi
if [[ $(id -u) -ne 0 ]]; then
    echo "deps.sh: missing Debian packages: ${missing[*]}" >&2
    echo "deps.sh: not root, so not installing them. Run:" >&2
    (( add_arch )) && echo "    sudo dpkg --add-architecture arm64" >&2
    echo "    sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if (( add_arch )); then dpkg --add-architecture arm64; fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
