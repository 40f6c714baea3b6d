# mk/mutants.mk - the standing mutation check (included by the Makefile; not
# part of `make test` or CI):
#
#   make mutants [MUTANTS="NAME ..."] [MUTANTS_ARGS=--keep]
#                   re-introduce each known bug of scripts/mutants.py's table
#                   into a scratch copy of the tree, build it, run the tests
#                   that must catch it, print caught / MISSED per mutant;
#                   fails unless every one is caught (about 15 minutes on 2
#                   cores: one build and a few tests per mutant)
#   make mutants-list   the table: name, files, tests, the bug
#
# Every bug fixed from now on gets a mutant there (how: scripts/mutants.py's
# header).

# the first rule of a fragment would otherwise become the default goal
.DEFAULT_GOAL := all

.PHONY: mutants mutants-list
mutants: all
	/usr/bin/python3 scripts/mutants.py $(MUTANTS_ARGS) $(MUTANTS)

mutants-list:
	@/usr/bin/python3 scripts/mutants.py --list
