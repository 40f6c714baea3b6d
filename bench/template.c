/*
 * template.c - command templates (template.h): word splitting with a POSIX
 * shell's quoting rules and no shell, placeholders, the environment prefix,
 * expansion into an argv, the PATH search and shell quoting for display.
 *
 * A split word keeps each placeholder as two bytes, TPL_MARK and '0' + its
 * index, so that quoting and braces are resolved once, at parse time, and a
 * value substituted later can neither split a word nor be read as a brace.
 */
#include "template.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

#define TPL_MARK '\x01'

const char *const TEMPLATE_PLACEHOLDERS[TPL_NPLACEHOLDERS] = { "threads", "rep", "report", "out" };

static int fail(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (errlen) vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* A growing string. */
typedef struct { char *s; size_t n, cap; } buf;

static void buf_put(buf *b, char c) {
    if (b->n + 2 > b->cap) {
        b->cap = b->cap ? 2 * b->cap : 64;
        b->s = realloc(b->s, b->cap);
        if (!b->s) { fputs("scale: out of memory\n", stderr); exit(1); }
    }
    b->s[b->n++] = c;
    b->s[b->n] = '\0';
}

static void words_add(template *t, buf *w) {
    t->words = realloc(t->words, sizeof *t->words * (size_t)(t->nwords + 2));
    if (!t->words) { fputs("scale: out of memory\n", stderr); exit(1); }
    t->words[t->nwords++] = w->s ? w->s : strdup("");
    t->words[t->nwords] = NULL;
    memset(w, 0, sizeof *w);
}

/* A brace at s[*i] (s[*i] is '{' or '}'): appends a literal brace for "{{"
 * or "}}", or the mark of a known placeholder; advances *i past it. */
static int take_brace(template *t, const char *s, size_t *i, buf *w, char *err, size_t errlen) {
    char c = s[*i];
    if (s[*i + 1] == c) { buf_put(w, c); *i += 2; return 0; }
    if (c == '}')
        return fail(err, errlen, "a lone '}' at character %zu (write '}}' for a literal brace)", *i + 1);
    const char *end = strchr(s + *i + 1, '}');
    if (!end)
        return fail(err, errlen, "'{' at character %zu is not closed (write '{{' for a literal brace)", *i + 1);
    size_t len = (size_t)(end - (s + *i + 1));
    for (int k = 0; k < TPL_NPLACEHOLDERS; k++) {
        if (strlen(TEMPLATE_PLACEHOLDERS[k]) == len && strncmp(s + *i + 1, TEMPLATE_PLACEHOLDERS[k], len) == 0) {
            buf_put(w, TPL_MARK);
            buf_put(w, (char)('0' + k));
            t->uses[k]++;
            *i += len + 2;
            return 0;
        }
    }
    return fail(err, errlen, "unknown placeholder '{%.*s}' (known: {threads} {rep} {report} {out}; "
                "'{{' and '}}' are literal braces)", (int)(len > 40 ? 40 : len), s + *i + 1);
}

/* 1 when w (split, marks included) is NAME=VALUE with a literal NAME. */
static int is_assignment(const char *w) {
    if (!((*w >= 'A' && *w <= 'Z') || (*w >= 'a' && *w <= 'z') || *w == '_')) return 0;
    for (w++; *w && *w != '='; w++)
        if (!((*w >= 'A' && *w <= 'Z') || (*w >= 'a' && *w <= 'z') || (*w >= '0' && *w <= '9') || *w == '_'))
            return 0;
    return *w == '=';
}

int template_parse(template *t, const char *name, const char *text, char *err, size_t errlen) {
    size_t nl = strlen(name);
    if (nl == 0 || nl >= TEMPLATE_NAME_MAX)
        return fail(err, errlen, "the variant name must be 1..%d characters", TEMPLATE_NAME_MAX - 1);
    for (const char *c = name; *c; c++)
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '.' || *c == '-'))
            return fail(err, errlen, "the variant name '%s' may hold only letters, digits and _ . -", name);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->text = strdup(text);
    if (strchr(text, TPL_MARK)) return fail(err, errlen, "the template holds a \\x01 byte");
    buf w = { 0 };
    int in_word = 0;
    char quote = 0;
    for (size_t i = 0; text[i];) {
        char c = text[i];
        if (!quote && (c == ' ' || c == '\t' || c == '\n')) {
            if (in_word) words_add(t, &w);
            in_word = 0;
            i++;
            continue;
        }
        in_word = 1;
        if (c == '{' || c == '}') {
            if (take_brace(t, text, &i, &w, err, errlen) != 0) { free(w.s); return -1; }
        } else if (quote == '\'') {
            if (c == '\'') quote = 0; else buf_put(&w, c);
            i++;
        } else if (quote == '"') {
            if (c == '"') quote = 0;
            else if (c == '\\' && (text[i + 1] == '"' || text[i + 1] == '\\')) buf_put(&w, text[++i]);
            else buf_put(&w, c);
            i++;
        } else if (c == '\'' || c == '"') {
            quote = c;
            i++;
        } else if (c == '\\') {
            if (!text[i + 1]) { free(w.s); return fail(err, errlen, "the template ends with a backslash"); }
            buf_put(&w, text[i + 1]);
            i += 2;
        } else {
            buf_put(&w, c);
            i++;
        }
    }
    if (quote) { free(w.s); return fail(err, errlen, "a %s quote is not closed", quote == '"' ? "double" : "single"); }
    if (in_word) words_add(t, &w);
    while (t->nenv < t->nwords && is_assignment(t->words[t->nenv])) t->nenv++;
    if (t->nenv == t->nwords)
        return fail(err, errlen, t->nwords ? "no program after the environment settings" : "the template is empty");
    return 0;
}

/* w with its marks replaced by the values (malloc'ed). */
static char *expand_word(const char *w, const char *const val[TPL_NPLACEHOLDERS]) {
    buf b = { 0 };
    buf_put(&b, 'x');
    b.n = 0;
    for (; *w; w++) {
        if (*w == TPL_MARK && w[1] >= '0' && w[1] < '0' + TPL_NPLACEHOLDERS) {
            for (const char *v = val[w[1] - '0']; v && *v; v++) buf_put(&b, *v);
            w++;
        } else buf_put(&b, *w);
    }
    b.s[b.n] = '\0';
    return b.s;
}

void template_expand(const template *t, const char *const val[TPL_NPLACEHOLDERS],
                     char ***envv, char ***argv) {
    char **e = calloc((size_t)t->nenv + 1, sizeof *e);
    char **a = calloc((size_t)(t->nwords - t->nenv) + 1, sizeof *a);
    if (!e || !a) { fputs("scale: out of memory\n", stderr); exit(1); }
    for (int i = 0; i < t->nwords; i++) {
        char *x = expand_word(t->words[i], val);
        if (i < t->nenv) e[i] = x; else a[i - t->nenv] = x;
    }
    *envv = e;
    *argv = a;
}

void template_free_words(char **words) {
    for (char **w = words; w && *w; w++) free(*w);
    free(words);
}

char **template_child_env(char *const *envv) {
    size_t n = 0, k = 0, m = 0;
    while (environ && environ[n]) n++;
    while (envv && envv[m]) m++;
    char **out = calloc(n + m + 1, sizeof *out);
    if (!out) { fputs("scale: out of memory\n", stderr); exit(1); }
    for (size_t i = 0; i < n; i++) {
        size_t len = strcspn(environ[i], "=");
        int replaced = 0;
        for (size_t j = 0; j < m && !replaced; j++)
            replaced = strncmp(envv[j], environ[i], len) == 0 && envv[j][len] == '=';
        if (!replaced) out[k++] = environ[i];
    }
    for (size_t j = 0; j < m; j++) {
        size_t len = strcspn(envv[j], "=");
        int later = 0;   /* A=1 A=2 prog: the last one wins, as in a shell */
        for (size_t l = j + 1; l < m && !later; l++) later = strncmp(envv[l], envv[j], len + 1) == 0;
        if (!later) out[k++] = envv[j];
    }
    out[k] = NULL;
    return out;
}

static int executable_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

int template_find_program(const char *prog, const char *path, char *out, size_t n,
                          char *err, size_t errlen) {
    if (!*prog) return fail(err, errlen, "the program is an empty word");
    if (strchr(prog, '/')) {
        struct stat st;
        if (stat(prog, &st) != 0) return fail(err, errlen, "program %s: %s", prog, strerror(errno));
        if (!executable_file(prog)) return fail(err, errlen, "program %s is not an executable file", prog);
        snprintf(out, n, "%s", prog);
        return 0;
    }
    if (!path) path = "/usr/local/bin:/usr/bin:/bin";   /* execvp's default without PATH (glibc) */
    for (const char *s = path;;) {
        size_t len = strcspn(s, ":");
        snprintf(out, n, "%.*s%s%s", (int)len, s, len ? "/" : "", prog);
        if (executable_file(out)) return 0;
        if (!s[len]) break;
        s += len + 1;
    }
    return fail(err, errlen, "program '%s' not found in PATH (%.300s)", prog, path);
}

static void put_quoted(FILE *f, const char *w) {
    int plain = *w != '\0';
    for (const char *c = w; *c && plain; c++)
        plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./=:,+-@%", *c) != NULL;
    if (plain) { fputs(w, f); return; }
    fputc('\'', f);
    for (const char *c = w; *c; c++)
        if (*c == '\'') fputs("'\\''", f); else fputc(*c, f);
    fputc('\'', f);
}

void template_put_shell(FILE *f, char *const *envv, char *const *argv) {
    int first = 1;
    for (int pass = 0; pass < 2; pass++)
        for (char *const *w = pass ? argv : envv; w && *w; w++) {
            if (!first) fputc(' ', f);
            first = 0;
            if (pass == 0) {   /* NAME=VALUE: the name stays bare so a shell still assigns */
                size_t len = strcspn(*w, "=");
                fprintf(f, "%.*s=", (int)len, *w);
                if ((*w)[len + 1]) put_quoted(f, *w + len + 1);
            } else put_quoted(f, *w);
        }
}

void template_free(template *t) {
    if (!t) return;
    template_free_words(t->words);
    free(t->text);
    memset(t, 0, sizeof *t);
}
