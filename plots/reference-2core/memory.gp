# memory.gp - written by scripts/analyze.py; redraw with: gnuplot -e 'fmt="svg"' memory.gp
if (!exists("fmt")) fmt = "png"
set encoding utf8
if (fmt eq "svg") { set terminal svg size 1350,650 dynamic enhanced font "Sans,13" background rgb "white"; set output "memory.svg" } else { set terminal pngcairo size 1350,650 enhanced font "Sans,13"; set output "memory.png" }
set datafile missing "?"
set grid lc rgb "#dddddd"
set multiplot layout 1,2 title "memory per thread and in total (reference-2core, config seed)"
set logscale y 10
set style fill solid 0.85 border rgb "#333333"
set boxwidth 0.6
set ylabel "MiB per thread"
set xtics rotate by -25 font ",11"
set yrange [*:*]
set palette defined (0 "#1d4e89", 1 "#72b7b2", 2 "#b08900", 3 "#6a4c93")
unset colorbox
set title "per-thread overhead: analytic (buffers) vs measured (RSS slope)"
plot 'memory_bars.dat' using 0:2:3:xtic(1) with boxes lc palette notitle, '' using 0:2:(sprintf("%.3g", $2)) with labels offset 0,0.8 notitle
unset xtics
set xtics norotate font ",13"
set xtics (1, 8, 16, 32, 48, 63)
set xrange [1:66]
set xlabel "worker threads"
set ylabel "MiB in total"
set title "total memory against threads, up to 63"
set key bottom right box opaque font ",10"
set arrow 3 from 63, graph 0 to 63, graph 1 nohead dt 3 lc rgb "#999999"
a_lockfree(x) = (5.94862e+07 + x * 2.58216e+07) / 2**20
m_lockfree(x) = (6.66769e+07 + x * 2.64884e+07) / 2**20
a_locked(x) = (5.94862e+07 + x * 2.58216e+07) / 2**20
m_locked(x) = (6.72666e+07 + x * 2.58978e+07) / 2**20
s_cllm(x) = (5.94862e+07 + x * 2.58216e+07) / 2**20
set label 5 "note: 386 MB" at 63, 386 offset -1,0 right tc rgb "#7a5c00"
set label 6 "cllm seed: 1608 MiB" at 63, 1608.13 offset -1,0.8 right tc rgb "#6a4c93"
plot a_lockfree(x) lw 2 lc rgb '#1d4e89' title 'lock-free: analytic, config seed', m_lockfree(x) lw 1.5 dt 2 lc rgb '#1d4e89' title 'lock-free: measured fit, extrapolated', 'memory_rss_lockfree.dat' using 1:2 with points pt 7 ps 1.3 lc rgb '#1d4e89' title 'lock-free: peak RSS (median)', a_locked(x) lw 2 lc rgb '#c8553d' title 'locked: analytic, config seed', m_locked(x) lw 1.5 dt 2 lc rgb '#c8553d' title 'locked: measured fit, extrapolated', 'memory_rss_locked.dat' using 1:2 with points pt 7 ps 1.3 lc rgb '#c8553d' title 'locked: peak RSS (median)', x * 6277 / 1024.0 lw 2 lc rgb '#b08900' title 'original note (seed): 6.1 MB x threads', s_cllm(x) lw 2 lc rgb '#6a4c93' title 'cllm analytic, config seed'
unset multiplot
