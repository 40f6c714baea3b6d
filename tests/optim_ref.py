#!/usr/bin/env python3
"""optim_ref.py - check cllm's optimizer step against a written-out formula
and against torch.optim.AdamW.

    /usr/bin/python3 tests/optim_ref.py DUMP

DUMP is what build/tests/optim_dump wrote (layout: tests/optim_dump.c): the
options, the parameters before the first step, then for every step the
reduced gradient the optimizer was given and the parameters, Adam m and v it
produced, with the lr and gradient norm the trainer reports.

What cllm is meant to do at step t = 1, 2, ... (0-based s = t - 1; the
formula train_model --help documents, written out here on purpose rather
than read from the C):

  lr_t   warmup: lr * (s + 1) / warmup for s < warmup; then cosine from lr
         down to lr * min_lr_frac over [warmup, lr_steps]; lr * min_lr_frac
         from s >= lr_steps on
  norm   ||g||_2 over every parameter; scale = clip / norm when norm > clip
         (clip > 0), else 1; g' = g * scale
  AdamW  m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'^2
         p -= lr_t * (m / (1 - b1^t) / (sqrt(v / (1 - b2^t)) + eps) + wd_i p)
         with wd_i = wd for the decay set {wte, wpe, qkvw, attprojw, fcw,
         fcprojw} (matrices and embeddings) and 0 for biases and norms

Checks, each over every step:
  schedule   the trainer's lr against lr_t
  norm       the trainer's norm against ||g||_2 (float64); and clipping must
             be active in most steps, or the run would not test it
  formula    one step at a time: from cllm's state after step t-1 (float32)
             the formula in float64 gives m, v and, from cllm's m and v, p;
             compared element by element with cllm's state after step t
  torch      torch.optim.AdamW (float64, two parameter groups: the decay set
             and the rest) from the initial parameters, fed cllm's gradients
             clipped by torch.nn.utils.clip_grad_norm_, the lr of each step
             from the formula: p, exp_avg and exp_avg_sq against cllm's
             p, m and v after every step, tensor by tensor

Tolerances (u = 2^-24, float32's unit roundoff):
  formula, element by element. m: 16u (|b1 m_prev| + |(1 - b1) g'|): the
  three float32 roundings of the update, the rounding of scale = clip/norm
  and of the float norm, each at most u of the terms' magnitude, so 16u is
  about 3x the worst case; v: the same with b2 and g'^2 (g' rounded twice).
  p: 4u |p| for the final subtraction (at most u |p|), plus 64u * lr_t * (|m^/(sqrt(v^)+eps)|
  + wd_i |p_prev|): the update term's relative error comes mostly from
  1 - powf(b2, t), which loses log2(b2^t / (1 - b2^t)) bits (up to ~20u at
  small t for b2 = 0.95), halved by the sqrt, plus a few roundings.
  torch, per tensor over max magnitudes: errors do not feed back (the
  gradients are inputs), so after t steps they are at most the sum of t
  per-step errors: m, v within 2e-5 of the tensor's largest |m|, |v|
  (clip_grad_norm_ divides by norm + 1e-6, a relative 1e-6/norm of the
  scale: at most 4e-6 for the norms above 0.25 the test clips, plus the
  16u rounding above, and twice that where m's terms cancel); p within the sum over steps of 64u lr_s (1 + wd |p|)
  + 2u |p| of the tensor's largest values, doubled.
The mutations these checks must catch (scripts/mutants.py) move p by
lr * wd (5e-3 here), m by a factor norm/clip, v or the lr by tens of percent:
1e3 to 1e6 times these bounds.

Prints one line per check group and tensor with its worst ratio of error to
tolerance, and a last line "N passed, N failed"; exits 1 when any check
fails, 2 when the dump cannot be read.
"""
import math
import struct
import sys

# torch_ref (the forward/backward reference) says what to install and exits
# 2 when torch or numpy is missing
from torch_ref import PARAM_NAMES, param_shapes   # the checkpoint's tensor order and shapes
import numpy as np
import torch

U = 2.0 ** -24
DECAY_SET = {"wte", "wpe", "qkvw", "attprojw", "fcw", "fcprojw"}


def die(msg):
    print(f"optim_ref.py: {msg}", file=sys.stderr)
    print("0 passed, 1 failed")
    sys.exit(2)


def read_dump(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:8] != b"CLLMOPT1":
        die(f"{path}: not an optim_dump output")
    V, C, L, NH, F_, T, B, nth = struct.unpack_from("<8i", raw, 8)
    np_, steps = struct.unpack_from("<2q", raw, 40)
    hyper = struct.unpack_from("<7f", raw, 56)
    warmup, lr_steps = struct.unpack_from("<2q", raw, 84)
    shapes = param_shapes(dict(V=V, C=C, L=L, F=F_, T=T))
    sizes = [math.prod(shapes[n]) for n in PARAM_NAMES]
    if sum(sizes) != np_:
        die(f"{path}: {np_} parameters, the config needs {sum(sizes)}")
    off = 100
    rec = 8 + 12 + 16 * np_
    if len(raw) != off + 4 * np_ + steps * rec:
        die(f"{path}: {len(raw)} bytes, expected {off + 4 * np_ + steps * rec}")
    p0 = np.frombuffer(raw, "<f4", np_, off).astype(np.float64)
    off += 4 * np_
    out = []
    for _ in range(steps):
        (done,) = struct.unpack_from("<q", raw, off)
        lr, norm, loss = struct.unpack_from("<3f", raw, off + 8)
        arrs = [np.frombuffer(raw, "<f4", np_, off + 20 + 4 * np_ * k).astype(np.float64) for k in range(4)]
        out.append(dict(done=done, lr=lr, norm=norm, loss=loss, g=arrs[0], p=arrs[1], m=arrs[2], v=arrs[3]))
        off += rec
    opts = dict(zip(["lr", "min_lr_frac", "wd", "beta1", "beta2", "eps", "clip"], hyper))
    opts.update(warmup=warmup, lr_steps=lr_steps, threads=nth)
    return dict(V=V, C=C, L=L, NH=NH, F=F_, T=T, B=B), sizes, opts, p0, out


def lr_at(o, s):
    """The documented schedule (train_model --help), 0-based step s."""
    if s < o["warmup"]:
        return o["lr"] * (s + 1) / o["warmup"]
    if s >= o["lr_steps"]:
        return o["lr"] * o["min_lr_frac"]
    frac = (s - o["warmup"]) / max(1, o["lr_steps"] - o["warmup"])
    return o["lr"] * (o["min_lr_frac"] + (1 - o["min_lr_frac"]) * 0.5 * (1 + math.cos(math.pi * frac)))


def clip_scale(o, norm):
    return o["clip"] / norm if o["clip"] > 0 and norm > o["clip"] else 1.0


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, ok, line):
        print(("ok   " if ok else "FAIL ") + line)
        if ok:
            self.passed += 1
        else:
            self.failed += 1


def main():
    if len(sys.argv) != 2:
        die("usage: optim_ref.py DUMP")
    cfg, sizes, o, p0, steps = read_dump(sys.argv[1])
    bounds = np.cumsum([0] + sizes)
    tensors = [(n, slice(bounds[i], bounds[i + 1])) for i, n in enumerate(PARAM_NAMES)]
    wd_vec = np.concatenate([np.full(sz, o["wd"] if n in DECAY_SET else 0.0) for n, sz in zip(PARAM_NAMES, sizes)])
    b1, b2, eps = o["beta1"], o["beta2"], o["eps"]
    n = len(steps)
    print(f"config V={cfg['V']} C={cfg['C']} L={cfg['L']} NH={cfg['NH']} F={cfg['F']} T={cfg['T']} "
          f"B={cfg['B']}, {o['threads']} threads, {p0.size} parameters, {n} steps; lr {o['lr']:.3g} "
          f"warmup {o['warmup']} lr_steps {o['lr_steps']} min_lr_frac {o['min_lr_frac']:.3g} wd {o['wd']:.3g} "
          f"betas {b1:.3g} {b2:.3g} eps {eps:.3g} clip {o['clip']:.3g}")
    if o["lr_steps"] <= 0 or o["warmup"] <= 0 or o["lr_steps"] >= n or o["clip"] <= 0 or o["wd"] <= 0:
        die("the run must set --warmup > 0, --lr-steps below --steps (both branches of the schedule "
            "after warmup), --clip > 0 and --wd > 0, or the checks would not test them")
    c = Checks()

    # ---- schedule and norm
    lr_ref = [lr_at(o, s) for s in range(n)]
    worst = max(abs(st["lr"] - r) / r for st, r in zip(steps, lr_ref))
    c.check(worst <= 1e-6, f"{'schedule':10s} lr of {n} steps against the formula: worst rel diff {worst:.2e} (tol 1e-06)")
    c.check([st["done"] for st in steps] == list(range(1, n + 1)), f"{'steps':10s} steps done count 1..{n}")
    norms = [float(np.sqrt(np.sum(st["g"] ** 2))) for st in steps]
    worst = max(abs(st["norm"] - r) / r for st, r in zip(steps, norms))
    c.check(worst <= 1e-6, f"{'norm':10s} gradient norm against ||g||_2: worst rel diff {worst:.2e} (tol 1e-06)")
    clipped = sum(r > o["clip"] for r in norms)
    c.check(clipped >= 0.75 * n, f"{'clipping':10s} active in {clipped} of {n} steps (norms {min(norms):.3g}.."
            f"{max(norms):.3g}, clip {o['clip']:.3g}; the check needs it in at least 3/4 of them)")

    # ---- the formula, one step at a time from cllm's previous state
    worst = {k: [0.0] * len(tensors) for k in "mvp"}
    pp, mp, vp = p0, np.zeros_like(p0), np.zeros_like(p0)
    for t, st in enumerate(steps, 1):
        gs = st["g"] * clip_scale(o, norms[t - 1])
        m = b1 * mp + (1 - b1) * gs
        v = b2 * vp + (1 - b2) * gs * gs
        tol_m = 16 * U * (np.abs(b1 * mp) + np.abs((1 - b1) * gs)) + 1e-30
        tol_v = 16 * U * (np.abs(b2 * vp) + np.abs((1 - b2) * gs * gs)) + 1e-30
        mh, vh = st["m"] / (1 - b1 ** t), st["v"] / (1 - b2 ** t)
        upd = mh / (np.sqrt(vh) + eps)
        p = pp - lr_ref[t - 1] * (upd + wd_vec * pp)
        tol_p = 4 * U * np.abs(p) + 64 * U * lr_ref[t - 1] * (np.abs(upd) + wd_vec * np.abs(pp)) + 1e-30
        for i, (_, sl) in enumerate(tensors):
            for k, ref, got, tol in (("m", m, st["m"], tol_m), ("v", v, st["v"], tol_v), ("p", p, st["p"], tol_p)):
                worst[k][i] = max(worst[k][i], float(np.max(np.abs(got[sl] - ref[sl]) / tol[sl])))
        pp, mp, vp = st["p"], st["m"], st["v"]
    for k, what in (("m", "first moment"), ("v", "second moment"), ("p", "parameters")):
        bad = [tensors[i][0] for i, w in enumerate(worst[k]) if not w <= 1]
        c.check(not bad, f"{'formula':10s} {what} ({k}) of every tensor, every step: worst error/tol "
                f"{max(worst[k]):.2e}" + (f"; over the bound in {' '.join(bad)}" if bad else ""))

    # ---- torch.optim.AdamW over the whole run from the initial parameters
    P = [torch.tensor(p0[sl].copy(), dtype=torch.float64, requires_grad=True) for _, sl in tensors]
    groups = [{"params": [P[i] for i, (nm, _) in enumerate(tensors) if nm in DECAY_SET], "weight_decay": o["wd"]},
              {"params": [P[i] for i, (nm, _) in enumerate(tensors) if nm not in DECAY_SET], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=o["lr"], betas=(b1, b2), eps=eps)
    worst = {k: [0.0] * len(tensors) for k in "mvp"}
    lr_sum = 0.0
    for t, st in enumerate(steps, 1):
        for x, (_, sl) in zip(P, tensors):
            x.grad = torch.from_numpy(st["g"][sl].copy())
        torch.nn.utils.clip_grad_norm_(P, o["clip"])
        for gr in opt.param_groups:
            gr["lr"] = lr_ref[t - 1]
        opt.step()
        lr_sum += lr_ref[t - 1]
        for i, (x, (_, sl)) in enumerate(zip(P, tensors)):
            state = opt.state[x]
            ref = {"p": x.detach().numpy(), "m": state["exp_avg"].numpy(), "v": state["exp_avg_sq"].numpy()}
            pmax = float(np.max(np.abs(ref["p"])))
            tol = {"m": 2e-5 * float(np.max(np.abs(ref["m"]))) + 1e-30,
                   "v": 2e-5 * float(np.max(np.abs(ref["v"]))) + 1e-30,
                   "p": 2 * (64 * U * lr_sum * (1 + o["wd"] * pmax) + 2 * U * t * pmax)}
            for k in "mvp":
                worst[k][i] = max(worst[k][i], float(np.max(np.abs(st[k][sl] - ref[k]))) / tol[k])
    for k, what in (("m", "exp_avg"), ("v", "exp_avg_sq"), ("p", "parameters")):
        bad = [tensors[i][0] for i, w in enumerate(worst[k]) if not w <= 1]
        c.check(not bad, f"{'torch':10s} {what} ({k}) of every tensor, every step: worst error/tol "
                f"{max(worst[k]):.2e}" + (f"; over the bound in {' '.join(bad)}" if bad else ""))

    print(f"loss {steps[0]['loss']:.4f} -> {steps[-1]['loss']:.4f} over the {n} steps")
    print(f"{c.passed} passed, {c.failed} failed")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
