/*
 * torch_dump.c - one forward and backward of cllm's model on a checkpoint,
 * dumped for the PyTorch reference (tests/torch_ref.py, run by
 * tests/test_torch.sh). Not a test by itself: it checks nothing, so it is
 * named without the test_ prefix and the test runner does not run it.
 *
 *   torch_dump CKPT OUT [--batch B] [--seed S] [--tokens FILE]
 *
 * Loads CKPT (written by train_model --save), fills B sequences (default:
 * the checkpoint's B) with tokens, runs model_forward and model_backward
 * with dloss = 1/(B*T) on a gradient buffer prefilled with NaN (every
 * gradient must be overwritten: a missed one reaches the reference as NaN),
 * and writes OUT.
 *
 * Tokens: by default a splitmix64 stream seeded with S (default 1), uniform
 * over the tokenizer's ids; with --tokens, FILE holds B*(T+1) integers
 * (whitespace separated), one sequence of T+1 tokens after another. Either
 * way a sequence s of T+1 tokens gives inp = s[0..T) and tgt = s[1..T], as
 * the batch sampler does.
 *
 * OUT, little-endian:
 *   char[8]    "CLLMDUMP"
 *   int32[8]   version (1), B, T, V, C, L, NH, F
 *   int64      nparams
 *   float64    mean loss over the B*T positions
 *   int32[B*T] inp
 *   int32[B*T] tgt
 *   float32[nparams] gradient of the mean loss, in the checkpoint's
 *              parameter order (core/model.h)
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "config.h"
#include "model.h"
#include "util.h"

static void usage(void) {
    fprintf(stderr, "usage: torch_dump CKPT OUT [--batch B] [--seed S] [--tokens FILE]\n");
    exit(2);
}

static long parse_long(const char *flag, const char *s, long lo, long hi) {
    if (!s) { fprintf(stderr, "torch_dump: %s needs a value\n", flag); exit(2); }
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno == ERANGE || v < lo || v > hi) {
        fprintf(stderr, "torch_dump: %s: '%s' is not an integer in %ld..%ld\n", flag, s, lo, hi);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv) {
    blas_single_thread();
    const char *ckpath = NULL, *out = NULL, *tokfile = NULL;
    long B = -1;
    unsigned long long seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--batch") == 0) { B = parse_long(a, v, 1, 1 << 16); i++; }
        else if (strcmp(a, "--seed") == 0) { seed = (unsigned long long)parse_long(a, v, 0, 1L << 62); i++; }
        else if (strcmp(a, "--tokens") == 0) { if (!v) usage(); tokfile = v; i++; }
        else if (a[0] == '-') usage();
        else if (!ckpath) ckpath = a;
        else if (!out) out = a;
        else usage();
    }
    if (!ckpath || !out) usage();

    char err[1024];
    ckpt_t ck;
    if (ckpt_load(ckpath, &ck, err, sizeof err) != 0) {
        fprintf(stderr, "torch_dump: %s\n", err);
        return 1;
    }
    const config_t *c = &ck.cfg;
    if (B < 0) B = c->B;
    const int T = c->T;
    const size_t BT = (size_t)B * T;

    ctx_t x;
    mem_item items[CTX_ITEMS];
    size_t total;
    if (ctx_layout(c, (int)B, RECOMPUTE_NONE, &x, items, &total) != CTX_ITEMS) {
        fprintf(stderr, "torch_dump: context for B=%ld does not fit\n", B);
        return 1;
    }
    char *mem = mem_alloc(total);
    float *grads = mem_alloc(ck.nparams * sizeof(float));
    int *seqs = malloc(sizeof(int) * (size_t)B * (T + 1));
    if (!mem || !grads || !seqs) {
        fprintf(stderr, "torch_dump: cannot allocate %zu bytes\n", total + ck.nparams * sizeof(float));
        return 1;
    }
    ctx_carve(c, (int)B, RECOMPUTE_NONE, &x, mem);

    /* ---- tokens */
    const int nids = ck.tok_kind == TOK_WORDS ? ck.tok_words : c->V;
    const size_t ntok = (size_t)B * (T + 1);
    if (tokfile) {
        FILE *f = fopen(tokfile, "r");
        if (!f) { fprintf(stderr, "torch_dump: cannot read %s: %s\n", tokfile, strerror(errno)); return 1; }
        for (size_t i = 0; i < ntok; i++) {
            long t;
            if (fscanf(f, "%ld", &t) != 1) {
                fprintf(stderr, "torch_dump: %s: %zu tokens, need B*(T+1) = %zu\n", tokfile, i, ntok);
                return 1;
            }
            if (t < 0 || t >= c->V) {
                fprintf(stderr, "torch_dump: %s: token %ld out of range 0..%d\n", tokfile, t, c->V - 1);
                return 1;
            }
            seqs[i] = (int)t;
        }
        fclose(f);
    } else {
        rng_t r = { seed };
        for (size_t i = 0; i < ntok; i++) seqs[i] = (int)(rng_next(&r) % (uint64_t)nids);
    }
    for (long b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            x.inp[b * T + t] = seqs[b * (T + 1) + t];
            x.tgt[b * T + t] = seqs[b * (T + 1) + t + 1];
        }
    }

    /* ---- forward and backward of the mean loss */
    params_t p, g;
    params_point(&p, ck.params, c);
    params_point(&g, grads, c);
    for (size_t k = 0; k < ck.nparams; k++) grads[k] = NAN;
    double loss = model_forward(c, &p, &x, (int)B, &g, 1.0f / (float)BT) / (double)BT;
    model_backward(c, &p, &g, &x, (int)B);

    /* ---- dump */
    FILE *f = fopen(out, "wb");
    if (!f) { fprintf(stderr, "torch_dump: cannot write %s: %s\n", out, strerror(errno)); return 1; }
    int32_t hdr[8] = { 1, (int32_t)B, T, c->V, c->C, c->L, c->NH, c->F };
    int64_t np = (int64_t)ck.nparams;
    fwrite("CLLMDUMP", 1, 8, f);
    fwrite(hdr, sizeof hdr[0], 8, f);
    fwrite(&np, sizeof np, 1, f);
    fwrite(&loss, sizeof loss, 1, f);
    fwrite(x.inp, sizeof(int), BT, f);
    fwrite(x.tgt, sizeof(int), BT, f);
    fwrite(grads, sizeof(float), ck.nparams, f);
    int bad = ferror(f);
    if (fclose(f) != 0) bad = 1;
    if (bad) {
        fprintf(stderr, "torch_dump: write error on %s\n", out);
        return 1;
    }
    printf("torch_dump: %s: B=%ld T=%d V=%d C=%d L=%d NH=%d F=%d step=%ld loss=%.9f\n",
           c->name, B, T, c->V, c->C, c->L, c->NH, c->F, ck.step, loss);
    free(seqs);
    mem_free(grads);
    mem_free(mem);
    ckpt_free(&ck);
    return 0;
}
