# speedup.gp - written by scripts/analyze; redraw with: gnuplot -e 'fmt="svg"' speedup.gp
if (!exists("fmt")) fmt = "png"
set encoding utf8
if (fmt eq "svg") { set terminal svg size 1400,760 dynamic enhanced font "Sans,13" background rgb "white"; set output "speedup.svg" } else { set terminal pngcairo size 1400,760 enhanced font "Sans,13"; set output "speedup.png" }
set datafile missing "?"
set grid lc rgb "#dddddd"
set title "cllm (config seed) weak-scaling speedup of tokens/s, 2 CPUs (reference-2core-avx2)"."\n{/*0.8 " . "points: median over reps, bars: min-max; curves fitted on the non-oversubscribed points; the 40-50x claim is not testable on 2 CPUs" . "}"
set logscale xy 2
set xrange [0.85:73.6]
set yrange [0.5:76.8]
set xtics (1, 2, 4, 8, 16, 32, 64)
set xlabel "worker threads"
set ylabel "speedup of tokens/s over 1 thread"
set key outside right top box opaque font ",10" spacing 1.1
set rmargin at screen 0.60
set object 1 rect from first 2, graph 0 to graph 1, graph 1 behind fc rgb "#f0f0f0" fs solid 1.0 noborder
set arrow 1 from first 2, graph 0 to first 2, graph 1 nohead dt 2 lw 2 lc rgb "#555555"
set label 1 "2 CPUs; beyond: oversubscribed,\nshown, not fitted" at first 2, graph 0.96 offset 0.6,0 left front tc rgb "#555555"
set object 2 rect from 58,40 to 68,50 behind fc rgb "#e9c46a" fs transparent solid 0.6 border lc rgb "#b08900"
plot x title 'ideal (linear)' lc rgb 'black' dt 3 lw 1.5, 'speedup_lockfree.dat' using 1:($5==0?$2:1/0):3:4 with yerrorbars pt 7 ps 1.4 lw 1.5 lc rgb '#1d4e89' title 'lock-free: whole step (median, min-max)', 'speedup_lockfree.dat' using 1:($5==0?$6:1/0) with points pt 4 ps 1.4 lw 1.5 lc rgb '#1d4e89' title 'lock-free: parallel part (forward+backward)', 'speedup_lockfree.dat' using 1:($5==1?$2:1/0):3:4 with yerrorbars pt 6 ps 1.6 lw 1.5 lc rgb '#1d4e89' title 'lock-free, oversubscribed (not fitted)', 'speedup_locked.dat' using 1:($5==0?$2:1/0):3:4 with yerrorbars pt 7 ps 1.4 lw 1.5 lc rgb '#c8553d' title 'locked: whole step (median, min-max)', 'speedup_locked.dat' using 1:($5==0?$6:1/0) with points pt 4 ps 1.4 lw 1.5 lc rgb '#c8553d' title 'locked: parallel part (forward+backward)', 'speedup_locked.dat' using 1:($5==1?$2:1/0):3:4 with yerrorbars pt 6 ps 1.6 lw 1.5 lc rgb '#c8553d' title 'locked, oversubscribed (not fitted)', 'projection_machine.dat' using 1:2 with lines lw 2.5 dt 2 lc rgb '#2a9d8f' title 'PROJECTION (model, not measured), this machine', 'projection_machine_spread.dat' using 1:2:3:4 with yerrorbars pt 1 ps 1.5 lw 2 lc rgb '#2a9d8f' title 'projection spread over the reps at 2 (this machine)', 'projection_target.dat' using 1:2 with lines lw 2.5 dt 5 lc rgb '#8338ec' title 'PROJECTION (model, not measured), target 64 cores, 200 GB/s', 'projection_target_spread.dat' using 1:2:3:4 with yerrorbars pt 1 ps 1.5 lw 2 lc rgb '#8338ec' title 'projection spread over the reps at 63 (target 64 cores, 200 GB/s)', NaN with boxes fs solid 0.6 fc rgb '#e9c46a' title 'the claim: 40-50x at 63 threads (config seed)'
