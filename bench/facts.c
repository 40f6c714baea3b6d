/*
 * facts.c - train_model's configs and limits from `train_model --describe`
 * (facts.h).
 */
#include "facts.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int facts_from_json(facts *f, const json *d, char *err, size_t errlen) {
    memset(f, 0, sizeof *f);
    static const char *const lim[3] = { "limits.threads_max", "limits.ranks_max", "limits.workers_max" };
    int *dst[3] = { &f->threads_max, &f->ranks_max, &f->workers_max };
    for (int k = 0; k < 3; k++) {
        double v = json_num(json_path(d, lim[k]), NAN);
        if (!(v >= 1 && v <= 1 << 30)) {
            snprintf(err, errlen, "the description has no %s", lim[k]);
            return -1;
        }
        *dst[k] = (int)v;
    }
    const json *cs = json_get(d, "configs");
    for (const json *c = cs && cs->type == JSON_ARR ? cs->child : NULL; c; c = c->next) {
        const char *name = json_str(json_get(c, "name"), NULL);
        if (!name || !*name || strlen(name) >= FACTS_NAME_MAX || f->nconfigs == FACTS_CONFIGS_MAX) {
            snprintf(err, errlen, "the description's configs[%d] has no name of 1..%d characters",
                     f->nconfigs, FACTS_NAME_MAX - 1);
            return -1;
        }
        snprintf(f->configs[f->nconfigs++], FACTS_NAME_MAX, "%s", name);
    }
    if (f->nconfigs == 0) {
        snprintf(err, errlen, "the description lists no configs");
        return -1;
    }
    f->known = 1;
    return 0;
}

/* The stdout of `bin --describe` (malloc'ed, NUL-terminated), NULL with err. */
static char *run_describe(const char *bin, size_t *len, char *err, size_t errlen) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return NULL;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(p[0]);
        close(p[1]);
        return NULL;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(p[1], 1);
        if (null >= 0) dup2(null, 2);
        execl(bin, bin, "--describe", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    ssize_t r = 0;
    while (buf && (r = read(p[0], buf + n, cap - n - 1)) != 0) {
        if (r < 0) {
            if (errno == EINTR) continue;
            break;
        }
        n += (size_t)r;
        if (n + 1 == cap) {
            char *b = realloc(buf, cap *= 2);
            if (!b) { free(buf); buf = NULL; }
            else buf = b;
        }
    }
    close(p[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    if (!buf || r < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        snprintf(err, errlen, "%s --describe %s", bin, !buf ? "gave more output than memory holds" :
                 r < 0 ? "could not be read" : "failed (exit status or signal)");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

int facts_read(facts *f, const char *bin_dir, char *err, size_t errlen) {
    static const char *const variants[] = { "lockfree", "locked", "mpi" };
    memset(f, 0, sizeof *f);
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        char bin[sizeof f->source];
        snprintf(bin, sizeof bin, "%s/%s/train_model", bin_dir, variants[v]);
        if (access(bin, X_OK) != 0) continue;
        size_t n;
        char *text = run_describe(bin, &n, err, errlen);
        if (!text) return -1;
        char perr[256];
        json *d = json_parse(text, n, perr, sizeof perr);
        free(text);
        if (!d) {
            snprintf(err, errlen, "%s --describe: not JSON: %s", bin, perr);
            return -1;
        }
        int rc = facts_from_json(f, d, perr, sizeof perr);
        json_free(d);
        if (rc != 0) {
            snprintf(err, errlen, "%s --describe: %s", bin, perr);
            return -1;
        }
        snprintf(f->source, sizeof f->source, "%s", bin);
        return 0;
    }
    snprintf(err, errlen, "no train_model under %s/{lockfree,locked,mpi}", bin_dir);
    return -1;
}

int facts_has_config(const facts *f, const char *name) {
    if (!f->known) return 1;
    for (int i = 0; i < f->nconfigs; i++)
        if (strcmp(f->configs[i], name) == 0) return 1;
    return 0;
}

void facts_config_list(const facts *f, char *buf, size_t n) {
    size_t used = 0;
    if (n) buf[0] = '\0';
    for (int i = 0; i < f->nconfigs && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? ", " : "", f->configs[i]);
}
