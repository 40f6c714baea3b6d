/*
 * config.c - presets and validation of model shapes.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const config_t presets[] = {
    /* name       V      C    L  NH   F     T    B */
    { "tiny",     256,   32,  2, 2,   128,  16,  4 },  /* tests */
    { "seed",     788,   256, 6, 8,   1024, 64,  1 },  /* the original note's memory table */
    { "seed-cli", 10000, 256, 6, 8,   1024, 128, 32 }, /* the original CLI defaults */
    { "S",        256,   128, 6, 4,   512,  128, 4 },
    { "G",        50257, 128, 6, 4,   512,  128, 4 },
    { "M",        256,   768, 12, 12, 3072, 256, 2 },
    { "bench",    256,   64,  2, 4,   256,  64,  2 },  /* make bench's default sweep */
};

int config_at(int i, config_t *c) {
    if (i < 0 || (size_t)i >= sizeof presets / sizeof presets[0]) return -1;
    *c = presets[i];
    return 0;
}

void config_list(char *buf, size_t n, const char *sep) {
    size_t used = 0;
    if (n) buf[0] = '\0';
    for (size_t i = 0; i < sizeof presets / sizeof presets[0] && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? sep : "", presets[i].name);
}

int config_preset(config_t *c, const char *name) {
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        if (strcmp(presets[i].name, name) == 0) {
            *c = presets[i];
            return 0;
        }
    }
    return -1;
}

int config_validate(const config_t *c, char *err, size_t errlen) {
    struct { const char *name; int v; int max; } f[] = {
        { "V", c->V, 1 << 22 }, { "C", c->C, 1 << 16 }, { "L", c->L, 1024 },
        { "NH", c->NH, 4096 },  { "F", c->F, 1 << 18 }, { "T", c->T, 1 << 16 },
        { "B", c->B, 1 << 20 },
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (f[i].v <= 0) {
            snprintf(err, errlen, "config field %s must be positive (got %d)", f[i].name, f[i].v);
            return -1;
        }
        if (f[i].v > f[i].max) {
            snprintf(err, errlen, "config field %s=%d is larger than the limit %d",
                     f[i].name, f[i].v, f[i].max);
            return -1;
        }
    }
    if (c->C % c->NH != 0) {
        snprintf(err, errlen, "config field NH=%d does not divide C=%d", c->NH, c->C);
        return -1;
    }
    if (c->V < 4) {
        snprintf(err, errlen, "config field V=%d is too small (at least 4)", c->V);
        return -1;
    }
    /* The largest single buffers: B*T*V logits, B*NH*T*T*L attention,
     * L*F*C weights. Each must fit in a size_t of floats with room to spare. */
    double big[] = {
        (double)c->B * c->T * c->V, (double)c->B * c->NH * c->T * c->T * c->L,
        (double)c->L * c->F * c->C, (double)c->L * c->B * c->T * c->F,
    };
    const char *bign[] = { "B*T*V", "L*B*NH*T*T", "L*F*C", "L*B*T*F" };
    for (int i = 0; i < 4; i++) {
        if (big[i] * 4.0 > (double)(SIZE_MAX / 4)) {
            snprintf(err, errlen, "config sizes overflow: %s = %.3g elements", bign[i], big[i]);
            return -1;
        }
    }
    return 0;
}

double config_flops(const config_t *c, long seqs) {
    /* 12*L*C^2 is L*(4*C^2 + 2*C*F) with F = 4C, as in every preset; the
     * general form is used so overridden F is counted right. */
    double C = c->C, T = c->T, L = c->L, V = c->V, F = c->F, n = (double)seqs;
    return 6.0 * n * T * (L * (4.0 * C * C + 2.0 * C * F) + V * C) + 12.0 * L * n * T * T * C;
}
