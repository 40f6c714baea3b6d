# peers.gp - written by scripts/peers-report; redraw with: gnuplot -e 'fmt="svg"' peers.gp
if (!exists("fmt")) fmt = "png"
set encoding utf8
if (fmt eq "svg") { set terminal svg size 1560,560 dynamic enhanced font "Sans,13" background rgb "white"; set output "peers.svg" } else { set terminal pngcairo size 1560,560 enhanced font "Sans,13"; set output "peers.png" }
set datafile missing "?"
set grid lc rgb "#dddddd"
set multiplot layout 1,3 title "cllm against its peers: tokens/s, median of the reps, bars min-max\nweak scaling, 2 CPUs; dashed: a setting never kept"
set key below font ",10"
set xtics (1, 2)
set xrange [0.5:2.5]
set logscale y 10
set xlabel "threads"
set ylabel "tokens/s"
set title "config S"
plot 'peers.dat' index 0 using 1:2:3:4 with yerrorlines lw 2 pt 7 dt 1 lc rgb '#1d4e89' title "lock-free", 'peers.dat' index 0 using 1:5:6:7 with yerrorlines lw 2 pt 7 dt 1 lc rgb '#c8553d' title "locked", 'peers.dat' index 0 using 1:8:9:10 with yerrorlines lw 2 pt 7 dt 1 lc rgb '#2a9d8f' title "torch-passive", 'peers.dat' index 0 using 1:11:12:13 with yerrorlines lw 2 pt 7 dt 1 lc rgb '#8338ec' title "torch-active"
set title "config G"
plot 'peers.dat' index 1 using 1:2:3:4 with yerrorlines lw 2 pt 7 dt 1 lc rgb '#1d4e89' title "lock-free", 'peers.dat' index 1 using 1:5:6:7 with yerrorlines lw 2 pt 7 dt 1 lc rgb '#c8553d' title "locked", 'peers.dat' index 1 using 1:8:9:10 with yerrorlines lw 2 pt 7 dt 1 lc rgb '#2a9d8f' title "torch-passive", 'peers.dat' index 1 using 1:11:12:13 with yerrorlines lw 2 pt 7 dt 1 lc rgb '#8338ec' title "torch-active"
set title "config M"
plot 'peers.dat' index 2 using 1:2:3:4 with yerrorlines lw 2 pt 7 dt 1 lc rgb '#1d4e89' title "lock-free", 'peers.dat' index 2 using 1:5:6:7 with yerrorlines lw 2 pt 7 dt 1 lc rgb '#c8553d' title "locked", 'peers.dat' index 2 using 1:8:9:10 with yerrorlines lw 2 pt 7 dt 1 lc rgb '#2a9d8f' title "torch-passive", 'peers.dat' index 2 using 1:11:12:13 with yerrorlines lw 2 pt 7 dt 1 lc rgb '#8338ec' title "torch-active"
unset multiplot
