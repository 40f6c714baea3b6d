/*
 * template.h - command templates of build/scale's --command NAME='TEMPLATE':
 * the template is split into words without a shell (the quoting rules of a
 * POSIX shell's words, nothing else: no expansion, no globbing, no
 * redirection), its placeholders {threads} {rep} {report} {out} are found,
 * leading NAME=VALUE words become the child's environment, and each point
 * expands it into an argv. The rules are in bench/RESULTS.md ("Command
 * templates"). Nothing here prints or exits: errors come back in err.
 */
#ifndef CLLM_TEMPLATE_H
#define CLLM_TEMPLATE_H

#include <stddef.h>
#include <stdio.h>

#define TEMPLATE_NAME_MAX 32   /* variant names: 1..31 of [A-Za-z0-9_.-] */

enum { TPL_THREADS, TPL_REP, TPL_REPORT, TPL_OUT, TPL_NPLACEHOLDERS };
extern const char *const TEMPLATE_PLACEHOLDERS[TPL_NPLACEHOLDERS];

typedef struct {
    char name[TEMPLATE_NAME_MAX];
    char *text;                /* the template as given (malloc'ed) */
    char **words;              /* split words, placeholders encoded (malloc'ed) */
    int nwords;
    int nenv;                  /* leading NAME=VALUE words: the environment prefix */
    int uses[TPL_NPLACEHOLDERS];   /* how often each placeholder appears */
} template;

/* Checks name and splits text into t (zeroed before). Returns 0, or -1 with
 * err saying what is wrong (bad name, an unknown or unclosed placeholder, a
 * lone brace, an unclosed quote, a trailing backslash, no program). */
int template_parse(template *t, const char *name, const char *text, char *err, size_t errlen);

/* The words of t with the placeholders replaced by val[TPL_*]; the values
 * never split a word. On return *envv holds the nenv NAME=VALUE words and
 * *argv the rest, both NULL-terminated and malloc'ed (free with
 * template_free_words). */
void template_expand(const template *t, const char *const val[TPL_NPLACEHOLDERS],
                     char ***envv, char ***argv);
void template_free_words(char **words);

/* The environment of a child: environ with the NAME=VALUE words of envv
 * replacing or added to it; NULL-terminated, malloc'ed (the strings are
 * not copied: free the array only). */
char **template_child_env(char *const *envv);

/* Where prog would be executed from (execvp's search of path, the PATH of
 * the child's environment; prog with a '/' is taken as it is). Returns 0
 * with the file in out, or -1 with err (not found, not an executable file). */
int template_find_program(const char *prog, const char *path, char *out, size_t n,
                          char *err, size_t errlen);

/* Writes env words then argv words, each quoted for a POSIX shell where it
 * needs it (so the line can be pasted into one), separated by spaces. */
void template_put_shell(FILE *f, char *const *envv, char *const *argv);

void template_free(template *t);   /* tolerates a zeroed t */

#endif
