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
  exchange  bytes_sent / bw + collectives x rtt: bytes_sent is what each rank
            sends per step (the report's mpi.bytes_sent_per_step: the
            gradient exchange and the parameter all-gather, (R-1)/R of the
            parameters each, and the per-step statistics), bw the probe's
            per-direction stream rate with both directions busy (the exchange
            sends and receives at once), rtt the probe's ping-pong round
            trip, once per collective (3 a step: the exchange, the
            statistics, the all-gather)
  off       compute + exchange
  on        compute + max(0, exchange - overlappable): overlappable is the
            backward (beside which the gradient buckets can go) plus the
            forward (beside which the parameter all-gather can go) of one
            worker of the reference
The probe is measured with the link otherwise idle: the kernel's TCP work
competes with the ranks for the CPUs during training, which the model leaves
out (the error column shows what that costs on a given machine).

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


def error(projected, measured):
    """(projected - measured) / measured, or None."""
    if projected is None or not measured:
        return None
    return (projected - measured) / measured
