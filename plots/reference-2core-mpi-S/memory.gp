# memory.gp - written by scripts/analyze; redraw with: gnuplot -e 'fmt="svg"' memory.gp
if (!exists("fmt")) fmt = "png"
set encoding utf8
if (fmt eq "svg") { set terminal svg size 1300,650 dynamic enhanced font "Sans,13" background rgb "white"; set output "memory.svg" } else { set terminal pngcairo size 1300,650 enhanced font "Sans,13"; set output "memory.png" }
set datafile missing "?"
set grid lc rgb "#dddddd"
set title "memory: analytic total and peak RSS by threads (reference-2core-mpi-S, config S)"."\n{/*0.8 weak scaling: the RSS slope is the measured per-thread size}"
set logscale x 2
set xrange [0.85:2.3]
set xtics (1, 2)
set xlabel "worker threads"
set ylabel "MiB"
set key outside right top box opaque font ",10"
plot 'memory_mpi.dat' using 1:2 with points pt 7 ps 1.3 lc rgb '#2a9d8f' title 'mpi: peak RSS (median)', 'memory_mpi.dat' using 1:3 with linespoints pt 4 ps 1.2 lw 2 lc rgb '#2a9d8f' title 'mpi: analytic total at N', (2.80166e+07 + x * 2.83156e+07) / 2**20 lw 1.5 dt 2 lc rgb '#2a9d8f' title 'mpi: RSS slope fit (weak scaling)'
