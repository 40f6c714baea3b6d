/*
 * pinspec.h - --pin's value (none | cores | scatter | LIST) parsed and
 * bounded in one place, for train_model (core/pin.c places and binds) and
 * build/scale (which checks a sweep's --pin before running anything). No
 * dependency beyond libc: bench/ compiles it without linking libcllm.
 */
#ifndef CLLM_PINSPEC_H
#define CLLM_PINSPEC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { PIN_NONE, PIN_CORES, PIN_SCATTER, PIN_LIST };

/* The largest CPU number a LIST may name, plus one: the size of the CPU
 * set the binding uses (glibc's CPU_SETSIZE, 1024). */
#define PIN_CPU_LIMIT 1024
/* LIST entries, ranges expanded */
#define PIN_LIST_MAX 1024

typedef struct {
    int mode;                    /* PIN_* */
    int n;                       /* LIST entries */
    int cpus[PIN_LIST_MAX];      /* LIST, in the order given, ranges expanded */
} pin_spec;

/* Parse --pin's value. -1 with err naming the bad value (a CPU number not
 * below PIN_CPU_LIMIT, more than PIN_LIST_MAX entries, bad syntax). */
int pin_parse(const char *s, pin_spec *out, char *err, size_t errlen);
const char *pin_mode_name(int mode);

#ifdef __cplusplus
}
#endif

#endif
