# mpi_common.sh - what the MPI variant's tests share (sourced by
# tests/test_mpi.sh and tests/test_mpi_fail.sh; not a test itself): the
# environment, mpirun's command for 2 CPUs, a temp folder and tests/check.sh.
#
# Open MPI refuses to run as root unless both variables below are set; CI
# runs as root, so the tests set them (a user running as root sets them too,
# or runs as another user).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Under make test's ASan pass (BUILD=build/asan): LeakSanitizer leaves out
# what Open MPI keeps allocated after MPI_Finalize (tests/lsan_mpi.supp names
# its libraries only), which needs full stacks (Open MPI is built without
# frame pointers) and its components still mapped at exit (no dlclose in
# MPI_Finalize, for Open MPI's and PMIx's own component loaders).
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan_mpi.supp:fast_unwind_on_malloc=0"
export OMPI_MCA_mca_base_component_disable_dlclose=1 PMIX_MCA_mca_base_component_disable_dlclose=1

# 2 CPUs: 4 ranks need --oversubscribe (oversubscription, labelled as such
# where it is measured); unbound, so that 2 threads of a rank do not share a core
RUN=(mpirun --oversubscribe --bind-to none)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. tests/check.sh    # ok, bad, check, check_finish
