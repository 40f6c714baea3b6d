# timeline.gp - written by scripts/analyze; redraw with: gnuplot -e 'fmt="svg"' timeline.gp
if (!exists("fmt")) fmt = "png"
set encoding utf8
if (fmt eq "svg") { set terminal svg size 1400,940 dynamic enhanced font "Sans,13" background rgb "white"; set output "timeline.svg" } else { set terminal pngcairo size 1400,940 enhanced font "Sans,13"; set output "timeline.png" }
set datafile missing "?"
set grid lc rgb "#dddddd"
set linetype 1 lc rgb '#bab0ac'
set linetype 2 lc rgb '#4c78a8'
set linetype 3 lc rgb '#72b7b2'
set linetype 4 lc rgb '#e45756'
set linetype 5 lc rgb '#f58518'
set linetype 6 lc rgb '#54a24b'
set linetype 7 lc rgb '#b279a2'
set linetype 8 lc rgb '#9d755d'
set linetype 9 lc rgb '#eeca3b'
set multiplot layout 2,1 title "timeline: 3 steps after the first, 2 workers (reference-2core-avx2); phase clocks, train\\_model --trace"
set xrange [0:282.781]
set xlabel 'ms since the first step shown'
set key at screen 0.5, screen 0.01 center bottom horizontal font ',10'
set bmargin 5
set title "lock-free"
set yrange [1.5:-0.5]
set ytics ("worker 0: CPU 1 (unbound)" 0, "worker 1: CPU 0 (unbound)" 1) font ',10'
plot 'timeline_lockfree.dat' using 1:2:3:4:5:6:7 with boxxyerror fs solid 1.0 noborder lc variable notitle
set title "locked"
set yrange [1.5:-0.5]
set ytics ("worker 0: CPU 1 (unbound)" 0, "worker 1: CPU 0 (unbound)" 1) font ',10'
plot 'timeline_locked.dat' using 1:2:3:4:5:6:7 with boxxyerror fs solid 1.0 noborder lc variable notitle, keyentry with boxes fs solid lc rgb '#bab0ac' title 'job start (waking)', keyentry with boxes fs solid lc rgb '#4c78a8' title 'forward', keyentry with boxes fs solid lc rgb '#72b7b2' title 'backward', keyentry with boxes fs solid lc rgb '#e45756' title 'lock wait', keyentry with boxes fs solid lc rgb '#f58518' title 'barrier wait', keyentry with boxes fs solid lc rgb '#54a24b' title 'combine', keyentry with boxes fs solid lc rgb '#b279a2' title 'optimizer', keyentry with boxes fs solid lc rgb '#9d755d' title 'MPI calls', keyentry with boxes fs solid lc rgb '#eeca3b' title 'rank-order sum'
unset multiplot
