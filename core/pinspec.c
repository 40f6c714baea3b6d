/*
 * pinspec.c - --pin's parser and its bounds (see pinspec.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* CPU_SETSIZE */
#endif
#include "pinspec.h"

#include <ctype.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(PIN_CPU_LIMIT <= CPU_SETSIZE, "--pin's bound exceeds the CPU set the binding uses");

const char *pin_mode_name(int mode) {
    static const char *const names[] = { "none", "cores", "scatter", "list" };
    return mode >= 0 && mode <= PIN_LIST ? names[mode] : "?";
}

int pin_parse(const char *s, pin_spec *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (!s) s = "";
    if (!strcmp(s, "none")) { out->mode = PIN_NONE; return 0; }
    if (!strcmp(s, "cores")) { out->mode = PIN_CORES; return 0; }
    if (!strcmp(s, "scatter")) { out->mode = PIN_SCATTER; return 0; }
    out->mode = PIN_LIST;
    const char *p = s;
    for (;;) {
        char *end;
        errno = 0;
        long a = strtol(p, &end, 10), b = a;
        int ok = end != p && isdigit((unsigned char)*p) && !errno && a < PIN_CPU_LIMIT;
        if (ok && *end == '-') {
            p = end + 1;
            b = strtol(p, &end, 10);
            ok = end != p && isdigit((unsigned char)*p) && !errno && b >= a && b < PIN_CPU_LIMIT;
        }
        if (!ok || (*end != ',' && *end != '\0')) {
            snprintf(err, errlen, "--pin: '%.200s' is not none, cores, scatter or a list of CPU "
                     "numbers and ranges below %d like 0,2,4-7", s, PIN_CPU_LIMIT);
            return -1;
        }
        for (long c = a; c <= b; c++) {
            if (out->n == PIN_LIST_MAX) {
                snprintf(err, errlen, "--pin: '%.200s' has more than %d CPUs", s, PIN_LIST_MAX);
                return -1;
            }
            out->cpus[out->n++] = (int)c;
        }
        if (!*end) return 0;
        p = end + 1;
    }
}

