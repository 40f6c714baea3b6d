"""nodes.py - the 2-node model: a step of R ranks on R nodes, one rank per
node, from the 1-node phase costs, the bytes the collectives move and a
probed link (scripts/cluster probe), with and without overlap; and its check
against what make bench-2node measured.

The model (every figure in ms per step, per rank):
  compute   the 1-node reference's step (1 node x R threads of the lock-free
            build, the same workers and batch): forward, backward, the
            in-process combine and the optimizer, on the same CPUs as the
            ranks use; the ranks' own sum of the R rank sums (comm_sum)
            stands in for the in-process combine
  exchange  the MPI probe's time for one step's messages (scripts/cluster
            probe --mpi: build/mpi/comm_probe moves the step's bytes in the
            trainer's own calls between the nodes, without training; its
            median over the iterations): pattern off = the three collectives
            of --overlap off, pattern on = the buckets of --overlap on
  net CPU   the CPU the kernel's TCP and the MPI library spend on those bytes,
            which on a machine whose ranks fill every CPU comes out of the
            compute: CPU seconds per byte carried (the MPI probe's ranks'
            user + system time over pattern on, its waits testing every
            200 us with sleeps between instead of spinning; without it the
            TCP stream's, both ends) x the bytes the nodes sharing this
            machine send per step / its CPUs
  off       compute + exchange(off)
  on        compute + net CPU + max(0, exchange(on) - overlappable):
            overlappable is the backward (beside which the gradient buckets
            can go) plus the forward (beside which the parameter all-gather
            can go) of one worker of the reference
The TCP model of the first version is kept beside it (model_tcp): exchange =
bytes_sent / bw + collectives x rtt, bw the TCP probe's per-direction stream
rate with both directions busy, rtt its ping-pong, and no CPU cost; it is
what a folder without the MPI probe gets.

Pure functions; no files, no printing.
"""
COLLECTIVES_PER_STEP = 3


def phase_ms(report, name):
    """Mean over workers of a phase's wall time per step (ms), or None."""
    ph = (report or {}).get("phases") or {}
    names, walls = ph.get("names") or [], ph.get("wall_s") or []
    steps = report.get("steps") or 0
    if name not in names or not steps:
        return None
    w = walls[names.index(name)]
    return 1e3 * sum(w) / len(w) / steps if w else None


def exchange_least_ms(report, ranks, threads):
    """The exchange per step (ms) of the rank that waited least in it: the
    smallest over the ranks of worker 0's time in MPI calls (comm). Every
    rank's comm includes waiting for the last rank to arrive; the last one
    waits the least, so this is the nearest the clocks come to the transfer
    itself (an upper bound of it)."""
    ph = (report or {}).get("phases") or {}
    names, walls = ph.get("names") or [], ph.get("wall_s") or []
    steps = report.get("steps") or 0
    if "comm" not in names or not steps:
        return None
    w = walls[names.index("comm")]
    w0 = [w[k * threads] for k in range(ranks) if k * threads < len(w)]
    return 1e3 * min(w0) / steps if w0 else None


def model(ref_step_ms, fwd_ms, bwd_ms, bytes_sent, bw_gbps, rtt_us):
    """The 2-node step, overlap off and on (dict of ms)."""
    exchange = bytes_sent * 8 / (bw_gbps * 1e9) * 1e3 + COLLECTIVES_PER_STEP * rtt_us * 1e-3
    overlappable = (fwd_ms or 0.0) + (bwd_ms or 0.0)
    exposed_on = max(0.0, exchange - overlappable)
    return {"compute_ms": ref_step_ms, "exchange_ms": exchange, "overlappable_ms": overlappable,
            "step_off_ms": ref_step_ms + exchange, "step_on_ms": ref_step_ms + exposed_on,
            "exposed_on_ms": exposed_on, "hidden_on_ms": exchange - exposed_on}


def net_cpu_ms(s_per_gb, bytes_sent, nodes_here, cpus, workers_here):
    """The compute's stretch (ms per step) from the exchange's CPU work, or
    None: s_per_gb CPU seconds (both ends) per GB carried one way, each of
    nodes_here nodes on this machine sending bytes_sent a step; it comes out
    of the compute when the ranks' workers fill every one of the cpus (0
    when CPUs are left idle: they absorb it, to first order)."""
    if s_per_gb is None or not bytes_sent or not cpus:
        return None
    if workers_here < cpus:
        return 0.0
    return s_per_gb * bytes_sent * nodes_here / 1e9 / cpus * 1e3


def model_mpi(ref_step_ms, fwd_ms, bwd_ms, mpi_off_ms, mpi_on_ms, net_ms):
    """The 2-node step from the MPI probe (dict of ms; None where an input is)."""
    overlappable = (fwd_ms or 0.0) + (bwd_ms or 0.0)
    out = {"compute_ms": ref_step_ms, "exchange_off_ms": mpi_off_ms, "exchange_on_ms": mpi_on_ms,
           "net_cpu_ms": net_ms, "overlappable_ms": overlappable,
           "step_off_ms": None, "step_on_ms": None, "exposed_on_ms": None}
    if ref_step_ms is None:
        return out
    if mpi_off_ms is not None:
        out["step_off_ms"] = ref_step_ms + mpi_off_ms
    if mpi_on_ms is not None:
        out["exposed_on_ms"] = max(0.0, mpi_on_ms - overlappable)
        out["step_on_ms"] = ref_step_ms + (net_ms or 0.0) + out["exposed_on_ms"]
    return out


def error(projected, measured):
    """(projected - measured) / measured, or None."""
    if projected is None or not measured:
        return None
    return (projected - measured) / measured
