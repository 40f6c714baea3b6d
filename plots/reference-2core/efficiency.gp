# efficiency.gp - written by scripts/analyze.py; redraw with: gnuplot -e 'fmt="svg"' efficiency.gp
if (!exists("fmt")) fmt = "png"
set encoding utf8
if (fmt eq "svg") { set terminal svg size 1300,620 dynamic enhanced font "Sans,13" background rgb "white"; set output "efficiency.svg" } else { set terminal pngcairo size 1300,620 enhanced font "Sans,13"; set output "efficiency.png" }
set datafile missing "?"
set grid lc rgb "#dddddd"
set multiplot layout 1,2 title "parallel efficiency and Karp-Flatt serial fraction, 2 CPUs (reference-2core)"
set logscale x 2
set xrange [0.85:90]
set xtics (1, 2, 4, 8, 16, 32, 63)
set xlabel "worker threads"
set object 1 rect from first 2, graph 0 to graph 1, graph 1 behind fc rgb "#eeeeee" fs solid 1.0 noborder
set arrow 1 from first 2, graph 0 to first 2, graph 1 nohead dt 2 lw 2 lc rgb "#555555"
set label 1 "2 CPUs" at first 2, graph 0.03 offset 0.6,0 left tc rgb "#555555"
set label 2 "oversubscribed:\nshown, not fitted" at first 2.24, graph 0.5 left tc rgb "#777777"
set ylabel "efficiency, % (speedup / threads)"
set yrange [0:117]
set key top right box opaque font ",11"
plot 100 with lines dt 3 lc rgb "black" title "ideal", 'efficiency_lockfree.dat' using 1:($3==0?100*$2:1/0) with linespoints pt 7 ps 1.4 lw 2 lc rgb '#1d4e89' title 'lock-free', 'efficiency_lockfree.dat' using 1:($3==1?100*$2:1/0) with points pt 6 ps 1.8 lw 1.5 lc rgb '#1d4e89' title 'lock-free, oversubscribed', 'efficiency_locked.dat' using 1:($3==0?100*$2:1/0) with linespoints pt 7 ps 1.4 lw 2 lc rgb '#c8553d' title 'locked', 'efficiency_locked.dat' using 1:($3==1?100*$2:1/0) with points pt 6 ps 1.8 lw 1.5 lc rgb '#c8553d' title 'locked, oversubscribed'
set ylabel "Karp-Flatt e = (1/s - 1/N) / (1 - 1/N)"
set yrange [*:*]
set key top right box opaque font ",11"
set label 4 "40x at 63 needs e ≤ 0.93%" at first 1.0, first 0.0093 offset 0,0.6 left front tc rgb "#7a5c00"
plot 0.0093 with lines lw 2 lc rgb "#b08900" notitle, 0.0042 with lines lw 1 dt 2 lc rgb "#b08900" title "50x needs e ≤ 0.42%", 'efficiency_lockfree.dat' using 1:($3==0?$4:1/0):5:6 with yerrorbars pt 7 ps 1.4 lw 1.5 lc rgb '#1d4e89' title 'lock-free (95% bootstrap)', 'efficiency_lockfree.dat' using 1:($3==1?$4:1/0):5:6 with yerrorbars pt 6 ps 1.8 lw 1.5 lc rgb '#1d4e89' title 'lock-free, oversubscribed', 'efficiency_locked.dat' using 1:($3==0?$4:1/0):5:6 with yerrorbars pt 7 ps 1.4 lw 1.5 lc rgb '#c8553d' title 'locked (95% bootstrap)', 'efficiency_locked.dat' using 1:($3==1?$4:1/0):5:6 with yerrorbars pt 6 ps 1.8 lw 1.5 lc rgb '#c8553d' title 'locked, oversubscribed'
unset multiplot
