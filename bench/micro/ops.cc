/*
 * ops.cc - Google Benchmark kernels for the layers of core/ops.h at the shapes
 * of the configs seed, S and M: the five matmuls of a step (qkv C->3C,
 * attproj C->C, fc C->F, fcproj F->C over N = B*T rows, the tied classifier
 * C->V), attention, LayerNorm, GELU and cross-entropy, forward and backward,
 * and AdamW over the config's parameters.
 *
 * Each benchmark calls the core's function on buffers allocated and filled
 * once, outside the timed loop, and reports its analytic FLOPs and minimal
 * bytes (every input read once, every output written once, accumulated
 * outputs read and written; 4 bytes a float) as GFLOP/s and GB/s.
 * Timing is the calling thread's CPU time (Google Benchmark's default):
 * every kernel is single-threaded (OpenBLAS is set to 1 thread in main).
 */
#include "micro.h"

#include <cstdarg>
#include <cstdio>
#include <functional>

namespace micro {
namespace {

/* one matmul of the model: out (N,OC) = inp (N,C) @ w^T + bias */
struct Mm {
    const char *name;
    int C, OC;
    bool bias, accumulate;   /* accumulate: the residual add of attproj / fcproj */
};

std::vector<Mm> layer_matmuls(const config_t &c) {
    return {
        { "qkv", c.C, 3 * c.C, true, false },
        { "attproj", c.C, c.C, true, true },
        { "fc", c.C, c.F, true, false },
        { "fcproj", c.F, c.C, true, true },
        { "classifier", c.C, c.V, false, false },   /* tied wte, no bias */
    };
}

__attribute__((format(printf, 1, 2)))
std::string shape(const char *fmt, ...) {
    char buf[128];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return buf;
}

/* Floating-point operations of core/ops.c's exp_approx, counted from its
 * source: two clamps, the reduction (3), r in two steps (4), the degree-5
 * Horner polynomial (10), y (4), 2^n (1), the product (1) */
constexpr double EXP_OPS = 25;
/* tanh_approx: 2u, + 1, the division, 1 - */
constexpr double TANH_OPS = EXP_OPS + 4;
/* gelu_forward per element, without dgelu: u (5), tanh, 0.5 x (1 + th) (3) */
constexpr double GELU_OPS = 5 + TANH_OPS + 3;
/* with dgelu: u, tanh, sech^2 (2), the clamp (2), out (3), dgelu (11) */
constexpr double GELU_D_OPS = 5 + TANH_OPS + 2 + 2 + 3 + 11;
/* crossentropy_forward per logit: max (1), subtract (1), exp, the double sum (2) */
constexpr double CE_OPS = 1 + 1 + EXP_OPS + 2;

void reg(const std::string &name, const std::string &label,
         std::function<void(benchmark::State &)> fn) {
    benchmark::RegisterBenchmark(name.c_str(), [fn, label](benchmark::State &st) {
        fn(st);
        st.SetLabel(label);
    })->Unit(benchmark::kMicrosecond);
}

void register_matmuls(const std::string &cn, const config_t &c) {
    const int N = c.B * c.T;
    for (const Mm &m : layer_matmuls(c)) {
        std::string label = shape("N=%d C=%d OC=%d", N, m.C, m.OC);
        /* FLOPs: 2*N*C*OC multiply-adds, plus N*OC bias adds */
        const double mm = 2.0 * N * m.C * m.OC, nb = m.bias ? (double)N * m.OC : 0.0;
        reg("matmul_fwd/" + cn + "/" + m.name, label, [=](benchmark::State &st) {
            Buf inp((size_t)N * m.C), w((size_t)m.OC * m.C), b(m.OC), out((size_t)N * m.OC);
            inp.normal(1); w.normal(2, 0.02f); b.normal(3, 0.02f); out.normal(4);
            for (auto _ : st) {
                matmul_forward(out.get(), inp.get(), w.get(), m.bias ? b.get() : nullptr,
                               N, m.C, m.OC, m.accumulate);
                benchmark::ClobberMemory();
            }
            /* read inp, w, bias; write out (read it too when accumulating) */
            double bytes = 4.0 * ((double)N * m.C + (double)m.OC * m.C + (m.bias ? m.OC : 0) +
                                  (double)N * m.OC * (m.accumulate ? 2 : 1));
            set_work(st, mm + nb, bytes, footprint({ &inp, &w, &out }) + (m.bias ? 4.0 * m.OC : 0));
        });
        reg("matmul_bwd/" + cn + "/" + m.name, label, [=](benchmark::State &st) {
            Buf inp((size_t)N * m.C), w((size_t)m.OC * m.C), dout((size_t)N * m.OC);
            Buf dinp((size_t)N * m.C), dw((size_t)m.OC * m.C), db(m.OC);
            inp.normal(1); w.normal(2, 0.02f); dout.normal(5, 1e-3f);
            dw.fill(0); db.fill(0);
            for (auto _ : st) {
                matmul_backward(dinp.get(), dw.get(), m.bias ? db.get() : nullptr, dout.get(),
                                inp.get(), w.get(), N, m.C, m.OC, 1);
                benchmark::ClobberMemory();
            }
            /* dinp = dout @ w, dw += dout^T @ inp, dbias += column sums */
            double bytes = 4.0 * ((double)N * m.OC + (double)N * m.C + (double)m.OC * m.C +
                                  2.0 * m.OC * m.C + (m.bias ? 2.0 * m.OC : 0) + (double)N * m.C);
            set_work(st, 2 * mm + nb, bytes,
                     footprint({ &inp, &w, &dout, &dinp, &dw }) + (m.bias ? 4.0 * m.OC : 0));
        });
    }
}

void register_attention(const std::string &cn, const config_t &c) {
    const int B = c.B, T = c.T, C = c.C, NH = c.NH;
    std::string label = shape("B=%d T=%d C=%d NH=%d", B, T, C, NH);
    const double btc = (double)B * T * C, stats = 2.0 * B * NH * T;
    const size_t scratch = attention_scratch_floats((size_t)T);
    /* FLOPs: model FLOPs over the full T x T square, as config_flops counts
     * them (q k^T and a v, 2*T*T*HS each per head), though the blocked
     * kernel skips most of the masked half; the softmax is not counted */
    const double fwd_flop = 4.0 * B * (double)T * T * C;
    reg("attention_fwd/" + cn, label, [=](benchmark::State &st) {
        Buf qkv((size_t)(3 * btc)), s((size_t)stats), out((size_t)btc), scr(scratch);
        qkv.normal(6);
        for (auto _ : st) {
            attention_forward(out.get(), s.get(), scr.get(), qkv.get(), B, T, C, NH);
            benchmark::ClobberMemory();
        }
        /* read qkv; write stats, out */
        set_work(st, fwd_flop, 4.0 * (3 * btc + stats + btc), footprint({ &qkv, &s, &out, &scr }));
    });
    reg("attention_bwd/" + cn, label, [=](benchmark::State &st) {
        Buf qkv((size_t)(3 * btc)), s((size_t)stats), out((size_t)btc), dout((size_t)btc);
        Buf dqkv((size_t)(3 * btc)), scr(scratch);
        qkv.normal(6); dout.normal(7, 1e-3f);
        attention_forward(out.get(), s.get(), scr.get(), qkv.get(), B, T, C, NH);   /* real statistics */
        for (auto _ : st) {
            attention_backward(dqkv.get(), scr.get(), dout.get(), qkv.get(), s.get(), B, T, C, NH);
            benchmark::ClobberMemory();
        }
        /* model FLOPs: twice the forward's; read dout, qkv, stats; write dqkv */
        set_work(st, 2 * fwd_flop, 4.0 * (btc + 3 * btc + stats + 3 * btc),
                 footprint({ &qkv, &s, &dout, &dqkv, &scr }));
    });
}

void register_pointwise(const std::string &cn, const config_t &c) {
    const int N = c.B * c.T, C = c.C, F = c.F, V = c.V;
    const double nc = (double)N * C;
    std::string lnl = shape("N=%d C=%d", N, C);
    /* LayerNorm: about 8 FLOPs an element forward (mean, variance, normalise,
     * scale, shift) and 16 backward */
    reg("layernorm_fwd/" + cn, lnl, [=](benchmark::State &st) {
        Buf inp((size_t)nc), w(C), b(C), out((size_t)nc), mean(N), rstd(N);
        inp.normal(8); w.fill(1); b.fill(0);
        for (auto _ : st) {
            layernorm_forward(out.get(), mean.get(), rstd.get(), inp.get(), w.get(), b.get(),
                              nullptr, nullptr, N, C);
            benchmark::ClobberMemory();
        }
        set_work(st, 8 * nc, 4.0 * (2 * nc + 2.0 * C + 2.0 * N), footprint({ &inp, &w, &b, &out, &mean, &rstd }));
    });
    reg("layernorm_bwd/" + cn, lnl, [=](benchmark::State &st) {
        Buf inp((size_t)nc), w(C), b(C), out((size_t)nc), mean(N), rstd(N);
        Buf dout((size_t)nc), dinp((size_t)nc), dw(C), db(C);
        inp.normal(8); w.fill(1); b.fill(0); dout.normal(9, 1e-3f);
        dinp.fill(0); dw.fill(0); db.fill(0);
        layernorm_forward(out.get(), mean.get(), rstd.get(), inp.get(), w.get(), b.get(),
                          nullptr, nullptr, N, C);
        for (auto _ : st) {
            layernorm_backward(dinp.get(), dw.get(), db.get(), dout.get(), inp.get(), w.get(),
                               mean.get(), rstd.get(), N, C);
            benchmark::ClobberMemory();
        }
        /* read dout, inp, w, mean, rstd; dinp read and written; dw, db written */
        set_work(st, 16 * nc, 4.0 * (4 * nc + 5.0 * C + 2.0 * N),
                 footprint({ &inp, &w, &mean, &rstd, &dout, &dinp, &dw, &db }));
    });
    /* GELU over the MLP hidden (N,F): about 10 FLOPs an element forward
     * (tanh counted as one), 20 backward */
    const size_t nf = (size_t)N * F;
    std::string gl = shape("N=%d F=%d", N, F);
    reg("gelu_fwd/" + cn, gl, [=](benchmark::State &st) {
        Buf inp(nf), out(nf);
        inp.normal(10);
        for (auto _ : st) {
            gelu_forward(out.get(), nullptr, inp.get(), nf);
            benchmark::ClobberMemory();
        }
        set_work(st, 10.0 * nf, 8.0 * nf, footprint({ &inp, &out }), GELU_OPS * nf);
    });
    /* backward: the recompute pass (GELU and its derivative, about 20
     * FLOPs an element) and the product with dout (1) */
    reg("gelu_bwd/" + cn, gl, [=](benchmark::State &st) {
        Buf inp(nf), out(nf), dg(nf), dout(nf), dinp(nf);
        inp.normal(10); dout.normal(11, 1e-3f);
        for (auto _ : st) {
            gelu_forward(out.get(), dg.get(), inp.get(), nf);
            gelu_backward(dinp.get(), dg.get(), dout.get(), nf);
            benchmark::ClobberMemory();
        }
        set_work(st, 21.0 * nf, 24.0 * nf, footprint({ &inp, &out, &dg, &dout, &dinp }),
                 (GELU_D_OPS + 1) * nf);
    });
    /* cross-entropy over the logits (N,V): forward about 4 FLOPs an element
     * (max, subtract, exp, sum), backward 1 */
    const size_t nv = (size_t)N * V;
    std::string cl = shape("N=%d V=%d", N, V);
    reg("crossentropy_fwd/" + cn, cl, [=](benchmark::State &st) {
        Buf probs(nv), scale(N), losses(N);
        probs.normal(12);
        std::vector<int> tgt(N);
        for (int i = 0; i < N; i++) tgt[i] = (int)(rng_hash(13, (uint64_t)i, 0) % (uint64_t)V);
        double sink = 0;
        /* in place: later iterations softmax the previous probabilities,
         * which is the same work on finite values */
        for (auto _ : st) {
            sink += crossentropy_forward(probs.get(), scale.get(), losses.get(), tgt.data(), N, V);
            benchmark::ClobberMemory();
        }
        benchmark::DoNotOptimize(sink);
        set_work(st, 4.0 * nv, 4.0 * (2.0 * nv + 3.0 * N), footprint({ &probs, &scale, &losses }) + 4.0 * N,
                 CE_OPS * nv);
    });
    reg("crossentropy_bwd/" + cn, cl, [=](benchmark::State &st) {
        Buf probs(nv), scale(N), losses(N);
        probs.normal(12);
        std::vector<int> tgt(N);
        for (int i = 0; i < N; i++) tgt[i] = (int)(rng_hash(13, (uint64_t)i, 0) % (uint64_t)V);
        crossentropy_forward(probs.get(), scale.get(), losses.get(), tgt.data(), N, V);
        /* scale 1 and dloss 1: the values stay normal however many iterations
         * run (a factor below 1 would shrink them into denormals) */
        for (int i = 0; i < N; i++) scale.get()[i] = 1.0f;
        for (auto _ : st) {
            crossentropy_backward(probs.get(), scale.get(), tgt.data(), 1.0f, N, V);
            benchmark::ClobberMemory();
        }
        set_work(st, 1.0 * nv, 4.0 * (2.0 * nv + 2.0 * N), footprint({ &probs, &scale }) + 4.0 * N);
    });
}

/* AdamW over every parameter of the config (adamw_update, one call per
 * tensor in the trainer; one call over all of them here): 17 FLOPs a
 * parameter (as scripts/roofline.py counts them); reads grad, reads and writes p, m, v */
void register_adamw(const std::string &cn, const config_t &c) {
    size_t counts[P_COUNT];
    const size_t np = param_counts(&c, counts);
    reg("adamw/" + cn, shape("P=%zu", np), [=](benchmark::State &st) {
        Buf p(np), m(np), v(np), g(np);
        p.normal(14, 0.02f); m.fill(0); v.fill(0); g.normal(15, 1e-3f);
        adamw_step s = { 1e-4f, 0.9f, 0.95f, 1.0f / (1.0f - 0.9f), 1.0f / (1.0f - 0.95f), 1e-8f, 0.1f, 1.0f };
        for (auto _ : st) {
            adamw_update(p.get(), m.get(), v.get(), g.get(), np, &s);
            benchmark::ClobberMemory();
        }
        set_work(st, 17.0 * np, 4.0 * 7.0 * np, footprint({ &p, &m, &v, &g }));
    });
}

}  // namespace

void register_ops() {
    for (const std::string &cn : configs()) {
        config_t c = config_get(cn);
        register_matmuls(cn, c);
        register_attention(cn, c);
        register_pointwise(cn, c);
        register_adamw(cn, c);
    }
}

}  // namespace micro
