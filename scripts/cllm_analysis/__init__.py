"""cllm_analysis - the scaling analysis of build/scale results folders.

Modules, each one job, imported only downwards in this list (no cycles):

    atomic    atomic file writes (standard library only: scripts/sweep_common.py uses it)
    util      numbers, formatting, JSON cleaning (and atomic's writer, re-exported)
    stats     scipy statistics: t quantiles, Hodges-Lehmann ratio and interval, Welch interval, Mann-Whitney, bootstrap
    models    USL / Amdahl / the step model with its amortisation term, the
              log estimator with profile intervals, R usl's estimator
    runs      loading a results folder (refusing what build/scale did not write)
    project   the projection of step time at N from per-phase costs and ceilings
    analysis  one run's rows, fits, memory, counters, projection and verdict
    compare   the point-by-point comparison and the gate's verdicts
    report    REPORT.md
    plots     gnuplot data and scripts, drawn to PNG and SVG
    peers     make peers: cllm against its peers in one table and one plot, MFU
    nodes     the 2-node model (a step from the 1-node phases, the bytes and a probed link)
    twonode   make bench-2node's folder: its table with the model's error, REPORT.md
    cli       the analyze, compare and peers-report command lines (scripts/analyze,
              scripts/compare, scripts/peers-report)

Every function from data to results is pure (no files), so the tests build
their inputs in memory; only runs.load_folder, report.write, plots.make,
peers.load, peers.write, twonode.load, twonode.write and cli touch files.
"""
