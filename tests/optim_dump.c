/*
 * optim_dump.c - real training steps of cllm's trainer, with the optimizer's
 * inputs and outputs of every step dumped for the reference
 * (tests/optim_ref.py, run by tests/test_optim.sh). Not a test by itself: it
 * checks nothing, so it is named without the test_ prefix and the runner
 * does not run it.
 *
 *   optim_dump OUT [train_model's flags: --config --V.. --threads --steps
 *                   --lr --min-lr-frac --warmup --lr-steps --wd --clip --seed]
 *
 * Trains on the built-in synthetic corpus (bytes tokenizer) through the
 * library (trainer_create, trainer_step), as train_model does, and after
 * each step writes what the optimizer was given (the reduced gradient, before
 * clipping) and what it produced (parameters, Adam m and v), with the lr and
 * gradient norm the trainer reports.
 *
 * OUT, little-endian:
 *   char[8]    "CLLMOPT1"
 *   int32[8]   V, C, L, NH, F, T, B, threads
 *   int64[2]   nparams, steps
 *   float32[7] lr, min_lr_frac, wd, beta1, beta2, eps, clip (train_opts)
 *   int64[2]   warmup, lr_steps
 *   float32[nparams]  parameters before the first step
 *   per step:  int64 steps done; float32 lr, grad norm, loss;
 *              float32[nparams] x4: gradient, parameters, m, v after the step
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "data.h"
#include "trainer.h"
#include "util.h"

static void die(const char *msg, const char *what) {
    fprintf(stderr, "optim_dump: %s%s\n", msg, what ? what : "");
    exit(1);
}

int main(int argc, char **argv) {
    blas_single_thread();
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: optim_dump OUT [train_model's flags]\n");
        return 2;
    }
    const char *out = argv[1];
    cli_opts co;
    char err[1024];
    if (cli_parse(&co, argc - 1, argv + 1, err, sizeof err) != 0) die(err, NULL);
    config_t c;
    if (config_preset(&c, co.config_name) != 0) die("unknown config ", co.config_name);
    int *field[7] = { &c.V, &c.C, &c.L, &c.NH, &c.F, &c.T, &c.B };
    for (int k = 0; k < 7; k++) if (co.over[k] > 0) *field[k] = co.over[k];
    long steps = co.steps > 0 ? co.steps : 20;
    const train_opts *o = &co.opt;

    text_t text;
    tokenizer_t tk;
    if (text_synthetic(&text, 42, 1 << 18) != 0) die("cannot allocate the corpus", NULL);
    if (tokenizer_build(&tk, TOK_BYTES, text.text, text.len, c.V, err, sizeof err) != 0) die(err, NULL);
    size_t ntok;
    int *tok = tokenizer_encode(&tk, text.text, text.len, &ntok);
    corpus_t corpus;
    if (!tok || corpus_split(&corpus, tok, ntok, c.T, err, sizeof err) != 0) die("corpus: ", err);
    trainer_t *t = trainer_create(&c, o, co.threads, &corpus, err, sizeof err);
    if (!t) die(err, NULL);
    const size_t np = trainer_nparams(t);

    FILE *f = fopen(out, "wb");
    if (!f) die("cannot write ", out);
    int32_t hdr[8] = { c.V, c.C, c.L, c.NH, c.F, c.T, c.B, co.threads };
    int64_t sizes[2] = { (int64_t)np, steps };
    float hyper[7] = { o->lr, o->min_lr_frac, o->wd, o->beta1, o->beta2, o->eps, o->clip };
    int64_t sched[2] = { o->warmup, o->lr_steps };
    fwrite("CLLMOPT1", 1, 8, f);
    fwrite(hdr, sizeof hdr, 1, f);
    fwrite(sizes, sizeof sizes, 1, f);
    fwrite(hyper, sizeof hyper, 1, f);
    fwrite(sched, sizeof sched, 1, f);
    fwrite(trainer_params(t), sizeof(float), np, f);
    for (long s = 0; s < steps; s++) {
        float loss = trainer_step(t);
        int64_t done = trainer_steps_done(t);
        float rec[3] = { trainer_last_lr(t), trainer_last_grad_norm(t), loss };
        fwrite(&done, sizeof done, 1, f);
        fwrite(rec, sizeof rec, 1, f);
        fwrite(trainer_grads(t), sizeof(float), np, f);
        fwrite(trainer_params(t), sizeof(float), np, f);
        fwrite(trainer_adam_m(t), sizeof(float), np, f);
        fwrite(trainer_adam_v(t), sizeof(float), np, f);
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) die("write error on ", out);
    printf("optim_dump: V=%d C=%d L=%d NH=%d F=%d T=%d B=%d, %d threads, %zu params, %ld steps\n",
           c.V, c.C, c.L, c.NH, c.F, c.T, c.B, co.threads, np, steps);
    trainer_free(t);
    tokenizer_free(&tk);
    text_free(&text);
    free(tok);
    return 0;
}
