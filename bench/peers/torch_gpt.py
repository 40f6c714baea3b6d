#!/usr/bin/env python3
"""torch_gpt.py - the peer: PyTorch training the same GPT-2 style model as
cllm (same shapes, tied embedding, GELU tanh, AdamW, random init), timed the
same way as cllm's report: tokens_per_s = training tokens of the steps after
the warm-up over their summed wall time (forward + backward + AdamW), and
the median milliseconds per step.

    /usr/bin/python3 bench/peers/torch_gpt.py --config S --threads 1 --steps 20 [--report FILE]

--scaling weak trains B x threads sequences per step (cllm's weak scaling:
B per worker), strong (the default) B sequences on --threads intra-op
threads. Prints one JSON line, and with --report FILE writes the same object
to FILE in the fields of cllm's report that a sweep reads (core/REPORT.md):
config, threads, scaling, steps, warmup_steps, tokens_per_step, tokens,
timed_wall_s, tokens_per_s, ms_per_step {median,min,max}, flops_per_step
(the same formula as cllm's), and torch's version and thread settings. Run it
through build/scale with --command (scripts/peers.sh does).
"""
import argparse, json, math, os, statistics, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {  # V, C, L, NH, F, T, B  (core/config.c)
    "tiny": (256, 32, 2, 2, 128, 16, 4),
    "seed": (788, 256, 6, 8, 1024, 64, 1),
    "S": (256, 128, 6, 4, 512, 128, 4),
    "G": (50257, 128, 6, 4, 512, 128, 4),
    "M": (256, 768, 12, 12, 3072, 256, 2),
    "bench": (256, 64, 2, 4, 256, 64, 2),
}


class Block(nn.Module):
    def __init__(s, C, NH, Fh):
        super().__init__()
        s.nh = NH
        s.ln1, s.ln2 = nn.LayerNorm(C), nn.LayerNorm(C)
        s.qkv, s.proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        s.fc, s.fcproj = nn.Linear(C, Fh), nn.Linear(Fh, C)

    def forward(s, x):
        B, T, C = x.shape
        q, k, v = s.qkv(s.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, s.nh, C // s.nh).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // s.nh)
        mask = torch.ones(T, T, dtype=torch.bool).triu(1)
        att = att.masked_fill(mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + s.proj(y)
        return x + s.fcproj(F.gelu(s.fc(s.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(s, V, C, L, NH, Fh, T):
        super().__init__()
        s.wte, s.wpe = nn.Embedding(V, C), nn.Embedding(T, C)
        s.blocks = nn.ModuleList(Block(C, NH, Fh) for _ in range(L))
        s.lnf = nn.LayerNorm(C)
        for n, p in s.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * L) if n.endswith("proj.weight") else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(s, idx, tgt):
        T = idx.shape[1]
        x = s.wte(idx) + s.wpe(torch.arange(T))
        for b in s.blocks:
            x = b(x)
        logits = s.lnf(x) @ s.wte.weight.t()
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), tgt.view(-1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="S", choices=sorted(CONFIGS))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch", type=int, default=0, help="sequences per step (default: the config's B)")
    ap.add_argument("--scaling", default="strong", choices=("strong", "weak"),
                    help="weak: batch x threads sequences per step (cllm's weak scaling)")
    ap.add_argument("--report", default="", help="also write the JSON object to this file")
    a = ap.parse_args()
    if a.threads < 1 or a.steps < 1 or a.warmup < 0 or a.batch < 0:
        sys.exit("torch_gpt.py: --threads and --steps must be >= 1, --warmup and --batch >= 0")
    torch.set_num_threads(a.threads)
    torch.manual_seed(1337)
    V, C, L, NH, Fh, T, B = CONFIGS[a.config]
    B = (a.batch or B) * (a.threads if a.scaling == "weak" else 1)
    model = GPT(V, C, L, NH, Fh, T)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)
    g = torch.Generator().manual_seed(1)
    times, cpu = [], []
    for step in range(a.warmup + a.steps):
        idx = torch.randint(0, min(V, 256), (B, T), generator=g)
        tgt = torch.randint(0, min(V, 256), (B, T), generator=g)
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=True)
        loss = model(idx, tgt)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        dt = (time.perf_counter() - t0) * 1e3
        dc = (time.process_time() - c0) * 1e3
        if step >= a.warmup:
            times.append(dt)
            cpu.append(dc)
    flops = 6.0 * B * T * (L * (4.0 * C * C + 2.0 * C * Fh) + V * C) + 12.0 * L * B * T * T * C
    med = statistics.median(times)
    timed = sum(times) / 1e3
    rep = {
        "tool": "torch_gpt", "torch": torch.__version__,
        "config": {"name": a.config, "V": V, "C": C, "L": L, "NH": NH, "F": Fh, "T": T, "B": B},
        "threads": a.threads, "scaling": a.scaling, "batch": B, "T": T,
        "steps": a.warmup + a.steps, "warmup_steps": a.warmup, "tokens_per_step": B * T,
        "tokens": B * T * (a.warmup + a.steps), "timed_wall_s": timed,
        "tokens_per_s": B * T * a.steps / timed,
        "ms_per_step": {"median": med, "min": min(times), "max": max(times)},
        # CPU time of the process (every thread) per timed step: what a
        # shared machine's other load does not add to
        "cpu_ms_per_step": {"median": statistics.median(cpu), "min": min(cpu), "max": max(cpu)},
        "timed_cpu_s": sum(cpu) / 1e3,
        "flops_per_step": flops,
        "intra_op_threads": torch.get_num_threads(), "inter_op_threads": torch.get_num_interop_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "final_loss": float(loss),
    }
    print(json.dumps(rep))
    if a.report:
        try:
            with open(a.report, "w") as f:
                f.write(json.dumps(rep) + "\n")
        except OSError as e:
            sys.exit(f"torch_gpt.py: cannot write --report {a.report}: {e.strerror}")


if __name__ == "__main__":
    main()
