# speedup.gp - written by scripts/analyze; redraw with: gnuplot -e 'fmt="svg"' speedup.gp
if (!exists("fmt")) fmt = "png"
set encoding utf8
if (fmt eq "svg") { set terminal svg size 1400,760 dynamic enhanced font "Sans,13" background rgb "white"; set output "speedup.svg" } else { set terminal pngcairo size 1400,760 enhanced font "Sans,13"; set output "speedup.png" }
set datafile missing "?"
set grid lc rgb "#dddddd"
set title "cllm (config S) weak-scaling speedup of tokens/s, 2 CPUs (reference-2core-mpi-S)"."\n{/*0.8 " . "points: median over reps, bars: min-max; curves fitted on the non-oversubscribed points" . "}"
set logscale xy 2
set xrange [0.85:2.3]
set yrange [0.5:2.643]
set xtics (1, 2)
set xlabel "worker threads"
set ylabel "speedup of tokens/s over 1 thread"
set key outside right top box opaque font ",10" spacing 1.1
set rmargin at screen 0.60
plot x title 'ideal (linear)' lc rgb 'black' dt 3 lw 1.5, 'speedup_mpi.dat' using 1:($5==0?$2:1/0):3:4 with yerrorbars pt 7 ps 1.4 lw 1.5 lc rgb '#2a9d8f' title 'mpi: whole step (median, min-max)', 'speedup_mpi.dat' using 1:($5==0?$6:1/0) with points pt 4 ps 1.4 lw 1.5 lc rgb '#2a9d8f' title 'mpi: parallel part (forward+backward)'
