"""machines_check.py - every hwloc snapshot against the lstopo output hwloc
itself expects from it (tests/test_machines.sh extracts them and runs this).

The .console files come from a newer hwloc than Debian's, and some were
made with options (a .test file's `options:`, e.g. --filter all:structure
--no-icaches): the structure is compared, not the text, and only what the
console shows:
  - the PUs it shows = build/topo --machine's usable list (online and
    allowed), and its "N processors not represented" mask = our offline PUs
    plus the online PUs the cgroup does not allow;
  - the partitions of those PUs into cores and packages (when the console
    shows that level), each PU's NUMA node (P#), and each PU's caches by
    level and size;
  - packages, NUMA nodes, cores and PUs counted as the console counts them.
Then, per snapshot, train_model --machine --pin-plan in every mode at a few
thread counts is checked for the plan invariants against the topology (the
exhaustive sweep over N is test_plan_invariants.c's), and bad input exits 2
naming the path.

usage: machines_check.py BUILD EXTRACTED_DIR SNAPSHOT_DIR
"""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from check import check, finish  # noqa: E402

BUILD, EXT, SNAP = sys.argv[1:4]
UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}
LINE = re.compile(r"^( *)(\w+)(?: L#(\d+))?(?: \((.*)\))?$")
CACHE = re.compile(r"^L(\d)(d|i|)Cache$")


def size_of(attrs):
    m = re.search(r"\bsize=(\d+)(\w+)", attrs or "")
    return int(m.group(1)) * UNITS[m.group(2)] if m else None


def pos_of(attrs):
    m = re.match(r"P#(\d+)", attrs or "")
    return int(m.group(1)) if m else None


def parse_mask(s):
    """hwloc's hex cpuset "0x00e0000f" or "0xf...,0x..." (32-bit words) -> set"""
    bits = int("".join(w[2:] if w.startswith("0x") else w for w in s.split(",")), 16)
    return {i for i in range(bits.bit_length()) if bits >> i & 1}


def parse_console(path):
    """the console's tree: for each PU P#, its ancestors [(type, P#, size)],
    and the NUMA nodes attached to each ancestor; the 'not represented' mask"""
    stack, pus, hidden, levels = [], {}, set(), set()
    node_of_obj = {}           # id of an object line -> NUMA P#s attached to it
    for raw in open(path):
        raw = raw.rstrip("\n")
        m = re.match(r"^\d+ processors not represented in topology: (\S+)", raw)
        if m:
            hidden = parse_mask(m.group(1))
            continue
        m = LINE.match(raw)
        if not m or raw.startswith(("depth", " depth", "Special", "Relative", "Topology", " index")):
            continue
        indent, typ, _, attrs = len(m.group(1)) // 2, m.group(2), m.group(3), m.group(4)
        del stack[indent:]
        obj = (typ, pos_of(attrs), size_of(attrs), len(node_of_obj))
        if typ == "NUMANode":  # a memory child: attached to its parent line
            if stack:
                node_of_obj.setdefault(stack[-1][3], []).append(pos_of(attrs))
            stack.append(obj)
            continue
        node_of_obj.setdefault(obj[3], [])
        levels.add(typ)
        stack.append(obj)           # every object, I/O and Misc too: the indentation is the tree
        if typ == "PU":
            pus[obj[1]] = list(stack)
    out = {}
    for pu, anc in pus.items():
        numa = None
        for a in reversed(anc):
            if node_of_obj.get(a[3]):
                numa = node_of_obj[a[3]][0]
                break
        out[pu] = {"anc": anc, "numa": numa}
    return out, hidden, levels


def cpulist(s):
    out = set()
    for part in filter(None, (s or "").split(",")):
        a, _, b = part.partition("-")
        out.update(range(int(a), int(b or a) + 1))
    return out


def partition(groups):
    return sorted(sorted(g) for g in groups if g)


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=60, **kw)


def compare(name, folder):
    test = open(os.path.join(SNAP, name + ".test")).read()
    opts = " ".join(re.findall(r"^options:(.*)$", test, re.M))
    con, hidden, levels = parse_console(os.path.join(SNAP, name + ".console"))
    r = run([f"{BUILD}/topo", "--machine", folder])
    check(f"{name}: build/topo --machine exits 0 ({r.stderr.strip()[:200]})", r.returncode == 0)
    if r.returncode:
        return None
    t = json.loads(r.stdout)
    check(f"{name}: machine is the snapshot", t["machine"] == "snapshot" and not t["this_system"])
    shown = set(con)
    usable = cpulist(t["usable_list"])
    check(f"{name}: PUs shown {len(shown)} = online and allowed {len(usable)}", shown == usable)
    offline = cpulist(t["offline_list"])
    disallowed = cpulist(t["online_list"]) - cpulist(t["allowed_list"])
    check(f"{name}: not represented {sorted(hidden)} = offline {sorted(offline)} + disallowed {sorted(disallowed)}",
          hidden == offline | disallowed)
    pm = {p["pu"]: p for p in t["pu_map"]}
    # partitions into cores and packages, over the PUs shown
    for level, key in (("Core", "core"), ("Package", "package")):
        if level not in levels:
            continue           # filtered out of this console (--filter ...:structure)
        theirs, ours = {}, {}
        for pu, c in con.items():
            anc = [a for a in c["anc"] if a[0] == level]
            theirs.setdefault(anc[0][3] if anc else None, set()).add(pu)
            ours.setdefault(pm[pu][key] if pu in pm else "missing", set()).add(pu)
        check(f"{name}: PUs by {key} as the console groups them", partition(theirs.values()) == partition(ours.values()))
        ncon = len(theirs)   # PUs the console shows outside any such object count as one group
        check(f"{name}: {key}s holding shown PUs: {len(ours)} = console {ncon}", len(ours) == ncon)
    # NUMA node of each PU (a node the cgroup disallows is not shown by lstopo)
    allowed_nodes = {n["os_index"] for n in t["numa"] if n["allowed"]}
    bad = [pu for pu, c in con.items() if pu in pm and
           (pm[pu]["numa"] if pm[pu]["numa"] in allowed_nodes else None) != c["numa"]]
    check(f"{name}: NUMA node of every PU (wrong for {bad[:5]})", not bad)
    ncon_nodes = len({c["numa"] for c in con.values() if c["numa"] is not None})
    ours_nodes = len({pm[pu]["numa"] for pu in con if pu in pm and pm[pu]["numa"] in allowed_nodes})
    check(f"{name}: NUMA nodes with shown PUs: {ours_nodes} = console {ncon_nodes}", ours_nodes == ncon_nodes)
    # caches: each PU's caches by name and size
    ours_c = {pu: {} for pu in pm}
    for c in t["caches"]:
        if "--no-icaches" in opts and c["type"] == "instruction":
            continue
        for inst, size in zip(c["shared_pus"], c["instance_bytes"]):
            for pu in cpulist(inst):
                ours_c.setdefault(pu, {})[c["name"]] = size
    name_of = lambda typ: "L%s%s" % CACHE.match(typ).groups()  # noqa: E731
    bad = []
    for pu, c in con.items():
        theirs = {name_of(a[0]): a[2] for a in c["anc"] if CACHE.match(a[0])}
        mine = ours_c.get(pu, {})
        if "filter" in opts:   # the console keeps only the caches that add structure
            mine = {k: v for k, v in mine.items() if k in theirs}
        if theirs != mine:
            bad.append((pu, theirs, mine))
    check(f"{name}: caches of every PU by level and size ({bad[:2]})", not bad)
    return t


def plan(folder, n, pin):
    r = run([f"{BUILD}/train_model"] + (["--machine", folder] if folder else []) +
            ["--threads", str(n), "--pin", pin, "--pin-plan"])
    return r, (json.loads(r.stdout) if r.returncode == 0 else None)


def invariants(name, folder, t):
    """train_model --pin-plan on the snapshot at all usable PUs (the sweep
    over every N and mode is plan_invariants.c's): the fields against the
    topology"""
    pm = {p["pu"]: p for p in t["pu_map"]}
    usable = cpulist(t["usable_list"])
    n = min(len(usable), 1024)
    for pin in ("cores", "scatter"):
        r, p = plan(folder, n, pin)
        check(f"{name} --pin {pin} --threads {n}: plan exits 0 ({r.stderr.strip()[:200]})", p is not None)
        if not p:
            continue
        pus = [w["pu"] for w in p["workers"]]
        check(f"{name} {pin} {n}: every usable PU once", sorted(pus) == sorted(usable)[:n] if n == len(usable)
              else len(set(pus)) == n)
        check(f"{name} {pin} {n}: usable_cpus and flags", p["machine"]["usable_cpus"] == t["usable_cpus"]
              and p["oversubscribed"] == (n > t["usable_cpus"]) and p["bound"] == 0 and p["machine"]["source"] == "snapshot")
        check(f"{name} {pin} {n}: each worker's core, package, NUMA node from the topology",
              all(w["core"] == pm[w["pu"]]["core"] and w["package"] == pm[w["pu"]]["package"]
                  and w["numa"] == pm[w["pu"]]["numa"] for w in p["workers"]))
        bm = p["blas_max_threads"]
        check(f"{name} {pin} {n}: the plan says when N is past the BLAS's MAX_THREADS ({bm})",
              (p["blas_note"] is not None) == (bm is not None and n > bm))
        check(f"{name} {pin} {n}: parameter slices cover the vector once",
              p["workers"][0]["params_first"] == 0 and p["workers"][-1]["params_end"] == p["nparams"] and
              all(a["params_end"] == b["params_first"] for a, b in zip(p["workers"], p["workers"][1:])))


def scale_plan(ext):
    """build/scale --machine: plan only, one JSON object, per thread count
    the verdict against the snapshot's usable PUs and train_model's plan"""
    folder = os.path.join(ext, "16amd64-4n4c-cgroup-distance-merge")   # 4 usable of 16 PUs
    out = os.path.join(ext, "scale-out")
    r = run([f"{BUILD}/scale", "--machine", folder, "--threads", "1,4,6", "--pin", "scatter", "--out", out])
    j = json.loads(r.stdout) if r.returncode == 0 else {}
    pts = j.get("points") or []
    check(f"scale --machine: exit 0, one point per thread count ({r.stderr[-200:]})", len(pts) == 3)
    check("scale --machine: oversubscribed past the 4 usable PUs, and the plans' sizes",
          [p["oversubscribed"] for p in pts] == [False, False, True] and
          [len(p["plan"]["workers"]) for p in pts] == [1, 4, 6] and j["machine"]["usable_cpus"] == 4)
    check("scale --machine: nothing written", not os.path.exists(out))
    r = run([f"{BUILD}/scale", "--machine", os.path.join(ext, "nothere"), "--threads", "1"])
    check(f"scale --machine missing: exit 2 naming it ({r.stderr[-200:]})", r.returncode == 2 and "nothere" in r.stderr)


def live_equals_plan(ext):
    """the live --pin binds what --pin-plan prints: one function"""
    live = run(["nproc"]).stdout.strip()
    for pin in ("cores", "scatter"):
        n = 3   # past a 2-CPU machine's count too: the wrap is part of the plan
        r, p = plan(None, n, pin)
        rep = os.path.join(ext, f"live-{pin}.json")
        t = run([f"{BUILD}/train_model", "--threads", str(n), "--pin", pin, "--steps", "1", "--eval-batches", "0",
                 "--quiet", "--report", rep])
        check(f"live --pin {pin}: plan and a 1-step run exit 0 ({r.stderr[-200:]} {t.stderr[-200:]})",
              p is not None and t.returncode == 0)
        if p is None or t.returncode:
            continue
        bound = [w["bound"] for w in json.load(open(rep))["pin"]["workers"]]
        check(f"live --pin {pin} on {live} CPUs: bound {bound} = planned {[w['pu'] for w in p['workers']]}",
              bound == [w["pu"] for w in p["workers"]] and p["bound"] == 1)


def bad_input(ext):
    cases = {"not a snapshot": os.path.join(ext, "notasnapshot")}
    os.makedirs(cases["not a snapshot"], exist_ok=True)
    xml = os.path.join(ext, "broken.xml")
    open(xml, "w").write("<?xml version=\"1.0\"?>\n<topology><object type=\"Machine\"")
    cases["XML hwloc refuses"] = xml
    # snapshots with some CPUs' sysfs folders cut away, as a cut tarball
    # leaves them: one with sys/devices/system/cpu/online, one of an old
    # kernel without it (proc/cpuinfo says which CPUs there were)
    for src, last in (("8em64t-2s2ca2c", 8), ("16em64t-4s2c2t", 16)):
        trunc = os.path.join(ext, "truncated-" + src)
        subprocess.run(["cp", "-r", os.path.join(ext, src), trunc], check=True)
        for c in range(last // 2, last):
            subprocess.run(["rm", "-rf", os.path.join(trunc, "sys/devices/system/cpu", f"cpu{c}")], check=True)
        cases["truncated " + src] = trunc
    cases["missing path"] = os.path.join(ext, "nothere")
    for what, path in cases.items():
        for cmd in ([f"{BUILD}/topo", "--machine", path],
                    [f"{BUILD}/train_model", "--machine", path, "--pin-plan", "--pin", "cores"]):
            r = run(cmd)
            check(f"{what}: {os.path.basename(cmd[0])} exits 2 naming the path (rc {r.returncode}: {r.stderr[-300:]})",
                  r.returncode == 2 and path in r.stderr)
    r = run([f"{BUILD}/train_model", "--machine", os.path.join(ext, "16em64t-4s2c2t"), "--steps", "1"])
    check(f"--machine while training: exit 2 naming the path ({r.stderr[-200:]})",
          r.returncode == 2 and "16em64t-4s2c2t" in r.stderr and "--pin-plan" in r.stderr)


def hybrid():
    """a made-up hybrid machine (hwloc XML with two cpukinds): kinds shown,
    the straggler warning, SMT per kind, fastest kind first"""
    xml = os.path.join(os.path.dirname(__file__), "data", "hybrid-8e6p.xml")
    r = run([f"{BUILD}/topo", "--machine", xml])
    t = json.loads(r.stdout) if r.returncode == 0 else {}
    check(f"hybrid: topo --machine XML ({r.stderr[-200:]})", t.get("machine") == "xml")
    kinds = t.get("cpukinds", [])
    check("hybrid: two kinds, E-cores 0-7 kind 0, P-cores 8-19 kind 1",
          [(k["pus"], k["info"].get("CoreType")) for k in kinds] == [("0-7", "IntelAtom"), ("8-19", "IntelCore")])
    check("hybrid: SMT 2 on P-cores, 1 on E-cores", t.get("pus_per_core") == 2 and t.get("pus_per_core_min") == 1)
    check("hybrid: straggler warning", "straggler" in (t.get("cpukinds_warning") or ""))
    check("hybrid: no live value under an XML machine", t.get("cpuinfo_mhz") is None and t["cgroup"]["quota_cpus"] is None
          and t["cgroup"]["absent"] and t["cpufreq"]["absent"] and t.get("online_cpus") == 20)
    r, p = plan(xml, 8, "cores")
    kinds = [w["kind"] for w in p["workers"]] if p else []
    check(f"hybrid --pin cores 8: six P-cores then two E-cores ({kinds})", kinds == [1] * 6 + [0] * 2)


def projection(ext):
    """--project machine=PATH: the model's shares on made-up plans, and the
    analysis of the committed reference run (a copy) onto the hybrid XML"""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts"))
    from cllm_analysis import project
    t = {"node": [0, 1, 0, 1], "kind_mhz": [None] * 4, "core": [0, 1, 2, 3]}
    per, cross, slow = project.machine_shares(t, 4)
    check(f"shares: 2+2 workers on 2 nodes: half the combine's reads cross ({cross})", per == {0: 2, 1: 2} and cross == 0.5)
    check("shares: one worker reads nothing remote", project.machine_shares(t, 1)[1] == 0.0)
    t = {"node": [0, 0, 0], "kind_mhz": [4700.0, 4700.0, 2400.0], "core": [5, 6, 0]}
    check("shares: the slowest kind's factor once it is planned",
          project.machine_shares(t, 2)[2] == 1.0 and abs(project.machine_shares(t, 3)[2] - 4700 / 2400) < 1e-12)
    t = {"node": [0, 0], "kind_mhz": [None] * 2, "core": [3, 3]}
    check("shares: two workers on one core's SMT siblings count twice", project.machine_shares(t, 2)[2] == 2)
    for bad in ("machine=x,cores=4", "machine=x,dram-gbs-per-node=0", "machine=x,link-gbs=-1", "machine="):
        try:
            project.parse_target(bad)
            check(f"--project {bad} refused", False)
        except ValueError:
            check(f"--project {bad} refused", True)
    ref = os.path.join(ext, "ref")
    subprocess.run(["cp", "-r", os.path.join(os.path.dirname(__file__), "..", "results", "reference-2core"), ref], check=True)
    xml = os.path.join(os.path.dirname(__file__), "data", "hybrid-8e6p.xml")
    an = os.path.join(os.path.dirname(__file__), "..", "scripts", "analyze")
    r = run([an, ref, "--no-plots", "--bootstrap", "50", "--project", f"machine={xml},dram-gbs-per-node=1000,link-gbs=50"])
    fit = json.load(open(os.path.join(ref, "fit.json"))) if r.returncode == 0 else {}
    tg = ((fit.get("projection") or {}).get("target") or {})
    check(f"analyze --project machine=XML: exit 0 ({r.stderr[-300:]})", r.returncode == 0)
    check("analyze --project machine=XML: 20 workers, kinds and SMT slow the step 4700/2400 x 2",
          len(tg.get("speedup") or []) == 20 and abs(max(tg.get("slowest_kind_factor") or [0]) - 2 * 4700 / 2400) < 1e-9)
    check("analyze --project machine=XML: the report names the machine",
          r.returncode == 0 and "hybrid-8e6p.xml" in open(os.path.join(ref, "REPORT.md")).read())
    r = run([an, ref, "--no-plots", "--machine", os.path.join(ext, "nothere")])
    check(f"analyze --machine missing: exit 2 naming it ({r.stderr[-200:]})", r.returncode == 2 and "nothere" in r.stderr)


def pool_decision(ext):
    """the pool spins at its barriers only up to the usable CPUs, quota
    included: 2 threads under a 1-CPU quota sleep at once whatever the
    affinity mask (the quota file through the test-only cgroup root)"""
    cg = os.path.join(ext, "cg", "q")
    os.makedirs(cg, exist_ok=True)
    open(os.path.join(cg, "cpu.max"), "w").write("100000 100000\n")
    base = [f"{BUILD}/train_model", "--steps", "1", "--eval-batches", "0", "--quiet"]
    for threads, env, spin, usable in ((1, {}, True, None), (2, {"CLLM_TOPO_CGROUP_ROOT": os.path.join(ext, "cg"),
                                                                  "CLLM_TOPO_CGROUP_PATH": "/q"}, False, 1)):
        rep = os.path.join(ext, f"pool-{threads}.json")
        r = run(base + ["--threads", str(threads), "--report", rep], env={**os.environ, **env})
        j = json.load(open(rep)) if r.returncode == 0 else {}
        check(f"pool: {threads} thread(s) {env and 'under a 1-CPU quota' or 'no quota'}: usable {j.get('usable_cpus')}, "
              f"spin {j.get('barrier_spin_ns')} ns ({r.stderr[-200:]})",
              r.returncode == 0 and (j.get("barrier_spin_ns", 0) > 0) == spin
              and (usable is None or j.get("usable_cpus") == usable))


def main():
    names = sorted(f[:-len(".tar.bz2")] for f in os.listdir(SNAP) if f.endswith(".tar.bz2"))
    check(f"eleven snapshots found ({len(names)})", len(names) >= 11)
    for name in names:
        # the tarball's folder (8em64t-2s4c-asymcaches extracts to ...-heterogeneous)
        top = subprocess.run(["tar", "tjf", os.path.join(SNAP, name + ".tar.bz2")], capture_output=True,
                             text=True).stdout.split("\n")[0].split("/")[0]
        folder = os.path.join(EXT, top)
        t = compare(name, folder)
        if t:
            invariants(name, folder, t)
    live_equals_plan(EXT)
    scale_plan(EXT)
    pool_decision(EXT)
    hybrid()
    projection(EXT)
    bad_input(EXT)
    finish()


main()
