/*
 * config.h - model shapes, the named presets, and their validation.
 *
 *   V vocabulary, C channels, L layers, NH heads, F MLP width,
 *   T sequence length, B sequences per worker per step (weak scaling) or
 *   the global batch (strong scaling).
 */
#ifndef CLLM_CONFIG_H
#define CLLM_CONFIG_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    char name[32];
    int V, C, L, NH, F, T, B;
} config_t;

/* Fill *c with preset `name`. Returns 0, or -1 for an unknown name. */
int config_preset(config_t *c, const char *name);
/* Preset i (0, 1, ...) into *c: 0, or -1 past the last. The presets' one
 * list: --help, the errors and train_model --describe read it. */
int config_at(int i, config_t *c);
/* The preset names joined by sep into buf (cut at n). */
void config_list(char *buf, size_t n, const char *sep);
/* train_model's config when --config is not given */
#define CONFIG_DEFAULT "tiny"

/* Validate shapes. Returns 0, or -1 with err naming the offending field
 * (NH not dividing C, a size <= 0 or absurdly large, byte counts that
 * overflow). The memory check against the machine is done by the trainer,
 * which knows the thread count. */
int config_validate(const config_t *c, char *err, size_t errlen);

/* Model FLOPs of one training step over `seqs` sequences:
 * 6*seqs*T*(L*(4*C^2 + 2*C*F) + V*C) + 12*L*seqs*T^2*C (forward + backward),
 * which is the usual 6*seqs*T*(12*L*C^2 + V*C) + ... when F = 4C. */
double config_flops(const config_t *c, long seqs);

#ifdef __cplusplus
}
#endif

#endif
