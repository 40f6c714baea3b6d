#!/usr/bin/env python3
"""torch_ref.py - check cllm's forward and backward against PyTorch.

    python3 tests/torch_ref.py CKPT DUMP [--loss-tol 1e-5] [--grad-tol 1e-4]

(a python3 that has torch and numpy: on Debian the system one, with
python3-torch and python3-numpy; tests/test_torch.sh picks it.)

CKPT is a checkpoint written by `train_model --save` (layout: core/ckpt.c),
DUMP what build/tests/torch_dump wrote for it (layout: tests/torch_dump.c):
cllm's mean loss and its gradient on some tokens, and those tokens.

The same GPT-2 style model is built here from the checkpoint's parameters
with PyTorch's own layers (F.layer_norm, F.linear, F.gelu(approximate='tanh'),
softmax, F.cross_entropy) and run forward and backward on the same tokens, in
float64 (the reference) and in float32 (for information: what float32
rounding alone costs). Checks, one line each:

  loss          |loss_cllm - loss_64| <= loss_tol * |loss_64|
  each tensor   max|g_cllm - g_64| <= grad_tol * max|g_64|, where a tensor
                is one parameter of one layer (qkvw[1] is layer 1's qkv
                weight), so that a wrong gradient in one layer is not hidden
                by a larger scale in another
  (and a gradient that is identically zero in the reference fails: the
  comparison would say nothing)

Why one bound fits every tensor: cllm computes in float32 (unit roundoff
6e-8) with float32 BLAS and float32 accumulations over at most
B*T (weight gradients), C, F or V (the softmax) terms; for the shapes the
test uses that is a relative error of order 1e-6 of each tensor's largest
gradient (measured: under 1e-6), 100x under 1e-4. The float32 torch column
shows the same floor, so no tensor needs a looser bound. A wrong formula (the
attention scale, a LayerNorm term, a GELU constant, the cross-entropy
gradient) showed up at 1e-3 to 1 once activations are out of the
near-linear range of softmax and GELU; see tests/test_torch.sh for why it
also checks a checkpoint trained further. The loss is a mean of B*T float32
losses, each computed from a double sum (crossentropy_forward): a relative
error of at most about 1e-7 (measured: 1e-8).

Prints the checks and a last line "N passed, N failed"; exits 1 when any
check fails, 2 when the inputs cannot be read.
"""
import argparse
import math
import struct
import sys

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"torch_ref.py: cannot import {e.name} ({e}); run scripts/deps.sh "
          f"(Debian: python3-torch python3-numpy) and use that python3", file=sys.stderr)
    print("0 passed, 1 failed")
    sys.exit(2)

# ---------------------------------------------------------------- checkpoint

CKPT_MAGIC = b"CLLMCKPT"
CKPT_HEADER_BYTES = {1: 128, 2: 256, 3: 256}   # version -> header size (core/CHECKPOINT.md)
CKPT_BLOCK_BYTES = 1 << 20                     # version 3's CRC-32C blocks
FNV_INIT, FNV_PRIME, MASK64 = 0xcbf29ce484222325, 0x100000001b3, (1 << 64) - 1

PARAM_NAMES = ["wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
               "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb"]


def die(msg):
    print(f"torch_ref.py: {msg}", file=sys.stderr)
    print("0 passed, 1 failed")
    sys.exit(2)


def fnv_words(h, data):
    """core/ckpt.c hash_update: FNV-1a over little-endian 64-bit words."""
    data = data + b"\0" * (-len(data) % 8)
    for (w,) in struct.iter_unpack("<Q", data):
        h = ((h ^ w) * FNV_PRIME) & MASK64
    return h


def crc32c(data):
    """CRC-32C (Castagnoli; core/crc32c.h), bit by bit: for headers only."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def param_shapes(cfg):
    """Shapes in the order of core/model.h (the checkpoint's layout)."""
    V, C, L, F_, T = cfg["V"], cfg["C"], cfg["L"], cfg["F"], cfg["T"]
    return {
        "wte": (V, C), "wpe": (T, C), "ln1w": (L, C), "ln1b": (L, C),
        "qkvw": (L, 3 * C, C), "qkvb": (L, 3 * C), "attprojw": (L, C, C), "attprojb": (L, C),
        "ln2w": (L, C), "ln2b": (L, C), "fcw": (L, F_, C), "fcb": (L, F_),
        "fcprojw": (L, C, F_), "fcprojb": (L, C), "lnfw": (C,), "lnfb": (C,),
    }


def split_params(flat, cfg):
    out, off = {}, 0
    for name in PARAM_NAMES:
        shape = param_shapes(cfg)[name]
        n = math.prod(shape)
        out[name] = flat[off:off + n].reshape(shape)
        off += n
    if off != flat.size:
        die(f"parameter count {flat.size} does not match the config ({off})")
    return out


def read_ckpt(path):
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 16 or raw[:8] != CKPT_MAGIC:
        die(f"{path}: not a cllm checkpoint")
    version, hdrbytes = struct.unpack_from("<II", raw, 8)
    hb = CKPT_HEADER_BYTES.get(version)
    if hb is None or hdrbytes != hb or len(raw) < hb + 8:
        die(f"{path}: version {version} header {hdrbytes}, this script reads versions "
            + ", ".join(f"{v} (header {b})" for v, b in CKPT_HEADER_BYTES.items()))
    (hsum,) = struct.unpack_from("<Q", raw, hb)
    if (crc32c(raw[:hb]) if version == 3 else fnv_words(FNV_INIT, raw[:hb])) != hsum:
        die(f"{path}: header checksum mismatch")
    V, C, L, NH, F_, T, B, tok_kind, tok_words = struct.unpack_from("<9i", raw, 16)
    name = raw[52:84].split(b"\0")[0].decode("ascii", "replace")
    vocab_bytes, nparams, step, seed = struct.unpack_from("<QQQQ", raw, 88)
    cfg = dict(V=V, C=C, L=L, NH=NH, F=F_, T=T, B=B, name=name, step=step)
    if C % NH:
        die(f"{path}: NH={NH} does not divide C={C}")
    start = hb + 8 + vocab_bytes
    blocks = sum(-(-n // CKPT_BLOCK_BYTES) for n in (vocab_bytes, 4 * nparams, 4 * nparams, 4 * nparams))
    expect = start + 12 * nparams + (4 * blocks if version == 3 else 0)
    if len(raw) != expect:
        die(f"{path}: {len(raw)} bytes, the header promises {expect}")
    flat = np.frombuffer(raw, dtype="<f4", count=nparams, offset=start)
    return cfg, split_params(flat, cfg)


def read_dump(path, cfg):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:8] != b"CLLMDUMP":
        die(f"{path}: not a torch_dump output")
    version, B, T, V, C, L, NH, F_ = struct.unpack_from("<8i", raw, 8)
    (nparams,) = struct.unpack_from("<q", raw, 40)
    (loss,) = struct.unpack_from("<d", raw, 48)
    if version != 1:
        die(f"{path}: dump version {version}")
    if (T, V, C, L, NH, F_) != tuple(cfg[k] for k in ("T", "V", "C", "L", "NH", "F")):
        die(f"{path}: config differs from the checkpoint's")
    off = 56
    inp = np.frombuffer(raw, dtype="<i4", count=B * T, offset=off).reshape(B, T)
    tgt = np.frombuffer(raw, dtype="<i4", count=B * T, offset=off + 4 * B * T).reshape(B, T)
    off += 8 * B * T
    if len(raw) != off + 4 * nparams:
        die(f"{path}: {len(raw)} bytes, expected {off + 4 * nparams}")
    grads = np.frombuffer(raw, dtype="<f4", count=nparams, offset=off)
    return loss, inp, tgt, split_params(grads, cfg)


# ---------------------------------------------------------------- the model


def forward(P, inp, tgt, cfg, stats=None):
    """Mean cross-entropy of the GPT-2 style model, written with torch's layers.
    stats, when a dict, gets the largest attention score and MLP pre-activation
    (how far into the nonlinear range of softmax and GELU the check reaches)."""
    B, T = inp.shape
    C, L, NH, V = cfg["C"], cfg["L"], cfg["NH"], cfg["V"]
    HS = C // NH
    x = P["wte"][inp] + P["wpe"][:T]                      # token + position embedding
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    for l in range(L):
        h = F.layer_norm(x, (C,), P["ln1w"][l], P["ln1b"][l], eps=1e-5)
        qkv = F.linear(h, P["qkvw"][l], P["qkvb"][l])     # (B,T,3C): q | k | v
        q, k, v = (t.view(B, T, NH, HS).transpose(1, 2) for t in qkv.split(C, dim=-1))
        s = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(HS))
        a = torch.softmax(s.masked_fill(~causal, float("-inf")), dim=-1)
        y = (a @ v).transpose(1, 2).reshape(B, T, C)
        x = x + F.linear(y, P["attprojw"][l], P["attprojb"][l])
        h = F.layer_norm(x, (C,), P["ln2w"][l], P["ln2b"][l], eps=1e-5)
        fch = F.linear(h, P["fcw"][l], P["fcb"][l])
        if stats is not None:
            stats["score"] = max(stats.get("score", 0.0), s.masked_fill(~causal, 0).abs().max().item())
            stats["fch"] = max(stats.get("fch", 0.0), fch.abs().max().item())
        h = F.gelu(fch, approximate="tanh")
        x = x + F.linear(h, P["fcprojw"][l], P["fcprojb"][l])
    x = F.layer_norm(x, (C,), P["lnfw"], P["lnfb"], eps=1e-5)
    logits = x @ P["wte"].t()                             # tied embedding
    return F.cross_entropy(logits.reshape(-1, V), tgt.reshape(-1))


def run_torch(params, inp, tgt, cfg, dtype, stats=None):
    P = {k: torch.tensor(np.array(v), dtype=dtype, requires_grad=True) for k, v in params.items()}
    loss = forward(P, torch.from_numpy(inp.astype(np.int64)), torch.from_numpy(tgt.astype(np.int64)),
                   cfg, stats)
    loss.backward()
    return loss.item(), {k: t.grad.double().numpy() for k, t in P.items()}


def pieces(name, g, cfg):
    """(label, array) per layer for the per-layer tensors, one for the others."""
    if name in ("wte", "wpe", "lnfw", "lnfb"):
        return [(name, g)]
    return [(f"{name}[{l}]", g[l]) for l in range(cfg["L"])]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("ckpt")
    ap.add_argument("dump")
    ap.add_argument("--loss-tol", type=float, default=1e-5)
    ap.add_argument("--grad-tol", type=float, default=1e-4)
    args = ap.parse_args()

    torch.set_num_threads(1)
    cfg, params = read_ckpt(args.ckpt)
    loss_c, inp, tgt, grads_c = read_dump(args.dump, cfg)
    B, T = inp.shape
    if inp.min() < 0 or inp.max() >= cfg["V"] or tgt.min() < 0 or tgt.max() >= cfg["V"]:
        die(f"{args.dump}: token out of range")
    stats = {}
    loss64, g64 = run_torch(params, inp, tgt, cfg, torch.float64, stats)
    loss32, g32 = run_torch(params, inp, tgt, cfg, torch.float32)
    print(f"config {cfg['name']}: V={cfg['V']} C={cfg['C']} L={cfg['L']} NH={cfg['NH']} "
          f"F={cfg['F']} T={T} B={B}, step {cfg['step']}, "
          f"{len(np.unique(inp))} distinct input tokens of {inp.size}, "
          f"max |attention score| {stats['score']:.3g}, max |MLP pre-activation| {stats['fch']:.3g}")

    passed = failed = 0

    def check(ok, line):
        nonlocal passed, failed
        print(("ok   " if ok else "FAIL ") + line)
        if ok:
            passed += 1
        else:
            failed += 1

    rel = abs(loss_c - loss64) / abs(loss64)
    check(rel <= args.loss_tol,
          f"{'loss':12s} cllm {loss_c:.9f} torch64 {loss64:.9f} rel diff {rel:.2e} "
          f"(tol {args.loss_tol:.0e}; torch32 rel diff {abs(loss32 - loss64) / abs(loss64):.2e})")

    worst = 0.0
    for name in PARAM_NAMES:
        for (label, gc), (_, gr), (_, gf) in zip(pieces(name, grads_c[name].astype(np.float64), cfg),
                                                 pieces(name, g64[name], cfg),
                                                 pieces(name, g32[name], cfg)):
            scale = float(np.abs(gr).max())
            diff = float(np.abs(gc - gr).max())
            diff32 = float(np.abs(gf - gr).max())
            if not np.all(np.isfinite(gc)):
                check(False, f"{label:12s} cllm gradient has NaN/Inf")
                continue
            if scale == 0.0:
                check(False, f"{label:12s} reference gradient is identically zero: nothing to compare")
                continue
            r = diff / scale
            worst = max(worst, r)
            check(diff <= args.grad_tol * scale,
                  f"{label:12s} max|diff| {diff:.3e}  scale {scale:.3e}  rel {r:.2e} "
                  f"(tol {args.grad_tol:.0e}; torch32 rel {diff32 / scale:.2e})")
    print(f"worst gradient rel diff {worst:.2e}, loss rel diff {rel:.2e}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
