# memory.gp - written by scripts/analyze; redraw with: gnuplot -e 'fmt="svg"' memory.gp
if (!exists("fmt")) fmt = "png"
set encoding utf8
if (fmt eq "svg") { set terminal svg size 1300,650 dynamic enhanced font "Sans,13" background rgb "white"; set output "memory.svg" } else { set terminal pngcairo size 1300,650 enhanced font "Sans,13"; set output "memory.png" }
set datafile missing "?"
set grid lc rgb "#dddddd"
set title "memory: analytic total and peak RSS by threads (reference-2core-avx2, config seed)"."\n{/*0.8 weak scaling: the RSS slope is the measured per-thread size}"
set logscale x 2
set xrange [0.85:72.45]
set xtics (1, 2, 4, 8, 16, 32, 63)
set xlabel "worker threads"
set ylabel "MiB"
set key outside right top box opaque font ",10"
plot 'memory_lockfree.dat' using 1:2 with points pt 7 ps 1.3 lc rgb '#1d4e89' title 'lock-free: peak RSS (median)', 'memory_lockfree.dat' using 1:3 with linespoints pt 4 ps 1.2 lw 2 lc rgb '#1d4e89' title 'lock-free: analytic total at N', (6.72126e+07 + x * 2.5293e+07) / 2**20 lw 1.5 dt 2 lc rgb '#1d4e89' title 'lock-free: RSS slope fit (weak scaling)', 'memory_locked.dat' using 1:2 with points pt 7 ps 1.3 lc rgb '#c8553d' title 'locked: peak RSS (median)', 'memory_locked.dat' using 1:3 with linespoints pt 4 ps 1.2 lw 2 lc rgb '#c8553d' title 'locked: analytic total at N', (6.76283e+07 + x * 2.48981e+07) / 2**20 lw 1.5 dt 2 lc rgb '#c8553d' title 'locked: RSS slope fit (weak scaling)', x * 6277 / 1024.0 lw 2 lc rgb '#b08900' title 'original note (seed): 6.1 MB x threads'
