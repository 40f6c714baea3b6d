# speedup.gp - written by scripts/analyze.py; redraw with: gnuplot -e 'fmt="svg"' speedup.gp
if (!exists("fmt")) fmt = "png"
set encoding utf8
if (fmt eq "svg") { set terminal svg size 1150,720 dynamic enhanced font "Sans,13" background rgb "white"; set output "speedup.svg" } else { set terminal pngcairo size 1150,720 enhanced font "Sans,13"; set output "speedup.png" }
set datafile missing "?"
set grid lc rgb "#dddddd"
set title "cllm weak-scaling speedup, config seed, 2 CPUs (reference-2core)"."\n{/*0.8 " . "fit not determined: 2 non-oversubscribed thread counts (1, 2); the fit needs at least 3\nthe 40-50x claim is not testable on 2 CPUs" . "}"
set logscale xy 2
set xrange [0.85:90]
set yrange [0.5:90]
set xtics (1, 2, 4, 8, 16, 32, 63)
set ytics ("1/8" 0.125, "1/4" 0.25, "1/2" 0.5, 1, 2, 4, 8, 16, 32, 64)
set xlabel "worker threads"
set ylabel "speedup: tokens/s over the 1-thread median"
set key top left box opaque font ",11"
set object 1 rect from first 2, graph 0 to graph 1, graph 1 behind fc rgb "#eeeeee" fs solid 1.0 noborder
set arrow 1 from first 2, graph 0 to first 2, graph 1 nohead dt 2 lw 2 lc rgb "#555555"
set label 1 "2 CPUs" at first 2, graph 0.03 offset 0.6,0 left tc rgb "#555555"
set label 2 "oversubscribed:\nshown, not fitted" at first 2.24, graph 0.45 left tc rgb "#777777"
set object 2 rect from 55,40 to 72,50 front fc rgb "#e9c46a" fs transparent solid 0.6 border lc rgb "#b08900"
set style textbox opaque noborder
set label 3 "claim: 40-50x\nat 63 threads" at 53, 45 right front boxed tc rgb "#7a5c00"
plot x title 'ideal (linear)' lc rgb 'black' dt 3 lw 1.5, 'speedup_lockfree.dat' using 1:($5==0?$2:1/0):3:4 with yerrorbars pt 7 ps 1.4 lw 1.5 lc rgb '#1d4e89' title 'lock-free (median, min-max)', 'speedup_lockfree.dat' using 1:($5==1?$2:1/0):3:4 with yerrorbars pt 6 ps 1.8 lw 1.5 lc rgb '#1d4e89' title 'lock-free, oversubscribed (not fitted)', 'speedup_locked.dat' using 1:($5==0?$2:1/0):3:4 with yerrorbars pt 7 ps 1.4 lw 1.5 lc rgb '#c8553d' title 'locked (median, min-max)', 'speedup_locked.dat' using 1:($5==1?$2:1/0):3:4 with yerrorbars pt 6 ps 1.8 lw 1.5 lc rgb '#c8553d' title 'locked, oversubscribed (not fitted)'
