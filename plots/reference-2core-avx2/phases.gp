# phases.gp - written by scripts/analyze; redraw with: gnuplot -e 'fmt="svg"' phases.gp
if (!exists("fmt")) fmt = "png"
set encoding utf8
if (fmt eq "svg") { set terminal svg size 1300,700 dynamic enhanced font "Sans,13" background rgb "white"; set output "phases.svg" } else { set terminal pngcairo size 1300,700 enhanced font "Sans,13"; set output "phases.png" }
set datafile missing "?"
set grid lc rgb "#dddddd"
set title "the step at N workers: ms per worker per step by part (reference-2core-avx2)"."\n{/*0.8 flat bars = perfect weak scaling; * = oversubscribed (threads > 2 CPUs)}"
set style data histograms
set style histogram rowstacked title offset 0,-1 font ",13"
set bmargin 5
set style fill solid 0.9 border rgb "#333333"
set boxwidth 0.7
set key outside right top vertical font ",12"
set ylabel "ms per worker per step"
set yrange [0:*]
plot newhistogram "lock-free" lt 1, 'phases.dat' index 0 using 2:xtic(1) lc rgb '#4c78a8' title "compute", 'phases.dat' index 0 using 3 lc rgb '#72b7b2' title "combine", 'phases.dat' index 0 using 4 lc rgb '#e45756' title "optimizer", 'phases.dat' index 0 using 5 lc rgb '#f58518' title "waiting", 'phases.dat' index 0 using 6 lc rgb '#b279a2' title "other", newhistogram "locked" lt 1, 'phases.dat' index 1 using 2:xtic(1) lc rgb '#4c78a8' notitle, 'phases.dat' index 1 using 3 lc rgb '#72b7b2' notitle, 'phases.dat' index 1 using 4 lc rgb '#e45756' notitle, 'phases.dat' index 1 using 5 lc rgb '#f58518' notitle, 'phases.dat' index 1 using 6 lc rgb '#b279a2' notitle
