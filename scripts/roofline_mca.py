#!/usr/bin/python3
"""roofline_mca.py - what a kernel's loop, as compiled, can do at best:
the static throughput llvm-mca gives for a loop of an object file.

    scripts/roofline_mca.py OBJ FUNC            list FUNC's loops (backward jumps)
    scripts/roofline_mca.py OBJ FUNC --loop I   llvm-mca of loop I [--mcpu znver3]
        [--per N] [--ghz G] [--flop F] [--bytes B] [--mca llvm-mca-14] [--full]

OBJ is an object file of the build (build/lockfree/obj/ops.o: the ISA clones
are FUNC_avx2, FUNC_avx512f and FUNC). A loop is the code from a backward
jump's target to the jump; I counts them in address order. With --per N (the
elements one iteration handles, read from the loop) it prints cycles per
element and, with --ghz (the effective clock: ceilings' FMA peak / FLOPs per
cycle, 32 for two 256-bit FMA pipes), --flop and --bytes per element, the
bound in GFLOP/s and GB/s. llvm-mca assumes every load hits L1 and knows no
clock: a bound from the instructions alone.
Exit 0, 1 when a tool fails, 2 on a usage error.
"""
import argparse
import re
import shutil
import subprocess
import sys

LINE = re.compile(r"^\s*([0-9a-f]+):\s+(\S.*)$")
JUMP = re.compile(r"^(j[a-z]+)\s+([0-9a-f]+)\b")


def die(msg, code=1):
    print(f"roofline_mca.py: {msg}", file=sys.stderr)
    sys.exit(code)


def disassemble(obj, func):
    r = subprocess.run(["objdump", "-d", "-w", "--no-show-raw-insn",
                        f"--disassemble={func}", obj], capture_output=True, text=True)
    if r.returncode != 0:
        die(f"objdump failed: {r.stderr.strip()}")
    ins = []
    for ln in r.stdout.splitlines():
        m = LINE.match(ln)
        if m:
            text = re.sub(r"\s*<[^>]*>", "", m.group(2)).split("#")[0].strip()
            ins.append((int(m.group(1), 16), text))
    if not ins:
        die(f"no function {func} in {obj}", 2)
    return ins


def loops(ins):
    out = []
    for i, (addr, text) in enumerate(ins):
        m = JUMP.match(text)
        if m and int(m.group(2), 16) <= addr:
            tgt = int(m.group(2), 16)
            start = next((j for j, (a, _) in enumerate(ins) if a == tgt), None)
            if start is not None:
                out.append((start, i))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("obj")
    ap.add_argument("func")
    ap.add_argument("--loop", type=int)
    ap.add_argument("--mcpu", default="znver3")
    ap.add_argument("--mca", default="llvm-mca-14")
    ap.add_argument("--per", type=float, help="elements one iteration handles")
    ap.add_argument("--ghz", type=float, help="effective clock, GHz")
    ap.add_argument("--flop", type=float, help="FLOPs an element")
    ap.add_argument("--bytes", type=float, help="bytes an element")
    ap.add_argument("--full", action="store_true", help="print llvm-mca's whole report")
    a = ap.parse_args()
    if not shutil.which(a.mca):
        die(f"{a.mca} is not installed (apt-get install llvm-14)")
    ins = disassemble(a.obj, a.func)
    lps = loops(ins)
    if a.loop is None:
        for k, (s, e) in enumerate(lps):
            inner = sum(1 for (s2, e2) in lps if s <= s2 and e2 <= e and (s2, e2) != (s, e))
            print(f"loop {k}: {hex(ins[s][0])}..{hex(ins[e][0])}, {e - s + 1} instructions, "
                  f"{'innermost' if inner == 0 else f'{inner} loops inside'}")
        return
    if not 0 <= a.loop < len(lps):
        die(f"--loop {a.loop}: {a.func} has loops 0..{len(lps) - 1}", 2)
    s, e = lps[a.loop]
    body = [t for _, t in ins[s:e]]
    jm = JUMP.match(ins[e][1])
    asm = "1:\n" + "\n".join(body) + f"\n{jm.group(1)} 1b\n"
    r = subprocess.run([a.mca, f"-mcpu={a.mcpu}", "-iterations=500", "-bottleneck-analysis",
                        "-timeline=false", "-instruction-info=" + ("true" if a.full else "false")],
                       input=asm, capture_output=True, text=True)
    if r.returncode != 0:
        die(f"{a.mca} failed: {r.stderr.strip()[:2000]}\n{asm}")
    rep = r.stdout
    cyc = float(re.search(r"Total Cycles:\s+(\d+)", rep).group(1)) / 500
    uops = float(re.search(r"Total uOps:\s+(\d+)", rep).group(1)) / 500
    print(f"{a.func} loop {a.loop} ({e - s + 1} instructions, {uops:.0f} uops): "
          f"{cyc:.2f} cycles an iteration (llvm-mca -mcpu={a.mcpu})")
    if a.per:
        cpe = cyc / a.per
        line = f"  {cpe:.3f} cycles an element ({a.per:g} an iteration)"
        if a.ghz:
            eps = a.ghz / cpe
            line += f"; at {a.ghz:.3f} GHz {eps:.3f} G elements/s"
            if a.flop:
                line += f", {eps * a.flop:.1f} GFLOP/s"
            if a.bytes:
                line += f", {eps * a.bytes:.1f} GB/s"
        print(line)
    if a.full:
        print(rep)
    else:
        m = re.search(r"(Cycles with backend pressure increase.*?)\n\s*\n", rep, re.S)
        print(m.group(1) if m else "  (no bottleneck report)")
        names = dict(re.findall(r"^\[([0-9.]+)\]\s+- (\S+)", rep, re.M))
        m = re.search(r"Resource pressure per iteration:\n(.*?)\n(.*?)\n", rep, re.S)
        if m:
            cols = re.findall(r"\[([0-9.]+)\]", m.group(1))
            vals = m.group(2).split()
            busy = sorted(((float(v), names.get(c, c)) for c, v in zip(cols, vals) if v != "-"), reverse=True)
            print("  busiest resources (cycles an iteration): " +
                  ", ".join(f"{n} {v:.2f}" for v, n in busy[:6]))


if __name__ == "__main__":
    main()
