# efficiency.gp - written by scripts/analyze; redraw with: gnuplot -e 'fmt="svg"' efficiency.gp
if (!exists("fmt")) fmt = "png"
set encoding utf8
if (fmt eq "svg") { set terminal svg size 1500,640 dynamic enhanced font "Sans,13" background rgb "white"; set output "efficiency.svg" } else { set terminal pngcairo size 1500,640 enhanced font "Sans,13"; set output "efficiency.png" }
set datafile missing "?"
set grid lc rgb "#dddddd"
set multiplot layout 1,2 title "parallel efficiency and Karp-Flatt serial fraction of tokens/s, 2 CPUs (reference-2core-avx2)"
set logscale x 2
set xrange [0.85:73.6]
set xtics (1, 2, 4, 8, 16, 32, 64)
set xlabel "worker threads"
set object 1 rect from first 2, graph 0 to graph 1, graph 1 behind fc rgb "#f0f0f0" fs solid 1.0 noborder
set arrow 1 from first 2, graph 0 to first 2, graph 1 nohead dt 2 lw 2 lc rgb "#555555"
set label 1 "2 CPUs; beyond: oversubscribed,\nshown, not fitted" at first 2, graph 0.96 offset 0.6,0 left front tc rgb "#555555"
set ylabel "efficiency, % (whole-step speedup / threads)"
set yrange [0:115]
set key below box opaque font ",10"
set bmargin 8
plot 100 with lines dt 3 lc rgb "black" title "ideal", 'efficiency_lockfree.dat' using 1:($3==0?100*$2:1/0) with linespoints pt 7 ps 1.4 lw 2 lc rgb '#1d4e89' title 'lock-free', 'efficiency_lockfree.dat' using 1:($3==1?100*$2:1/0) with points pt 6 ps 1.6 lw 1.5 lc rgb '#1d4e89' title 'lock-free, oversubscribed', 'efficiency_locked.dat' using 1:($3==0?100*$2:1/0) with linespoints pt 7 ps 1.4 lw 2 lc rgb '#c8553d' title 'locked', 'efficiency_locked.dat' using 1:($3==1?100*$2:1/0) with points pt 6 ps 1.6 lw 1.5 lc rgb '#c8553d' title 'locked, oversubscribed'
unset object 1
unset label 1
set ylabel "Karp-Flatt e = (1/s - 1/N) / (1 - 1/N), %"
set logscale y 10
set yrange [0.1:*]
set object 5 rect from graph 0, first 0.42 to graph 1, first 0.93 behind fc rgb "#e9c46a" fs transparent solid 0.45 noborder
set key below box opaque font ",10"
plot NaN with boxes fs solid 0.45 fc rgb "#e9c46a" title "band: e for 50x (0.42%) to 40x (0.93%) at 63 threads", 'efficiency_lockfree.dat' using 1:($3==0?$4:1/0):5:6 with yerrorbars pt 7 ps 1.4 lw 1.5 lc rgb '#1d4e89' title 'lock-free (95%)', 'efficiency_lockfree.dat' using 1:($3==1?$4:1/0):5:6 with yerrorbars pt 6 ps 1.6 lw 1.5 lc rgb '#1d4e89' title 'lock-free, oversubscribed', 'efficiency_locked.dat' using 1:($3==0?$4:1/0):5:6 with yerrorbars pt 7 ps 1.4 lw 1.5 lc rgb '#c8553d' title 'locked (95%)', 'efficiency_locked.dat' using 1:($3==1?$4:1/0):5:6 with yerrorbars pt 6 ps 1.6 lw 1.5 lc rgb '#c8553d' title 'locked, oversubscribed'
unset multiplot
