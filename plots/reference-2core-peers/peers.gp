# gnuplot script: cd plots/reference-2core-peers && gnuplot peers.gp
set datafile missing "NA"
set key below
set grid
set xtics (1, 2)
set xrange [0.5:2.5]
set yrange [0:*]
set xlabel "threads"
set ylabel "tokens/s"
set terminal pngcairo size 800,480 font ",10"
set output 'peers.png'
set multiplot layout 1,2 title "cllm vs PyTorch: tokens/s, median of the reps, bars min-max\n(cllm at N threads: N x B sequences/step; PyTorch: B sequences/step on N intra-op threads)"
set title "config S"
plot 'peers.dat' index 0 using 1:2:3:4 with yerrorlines lw 2 pt 7 title 'cllm lock-free', '' index 0 using 1:5:6:7 with yerrorlines lw 2 pt 5 title 'cllm locked', '' index 0 using 1:8:9:10 with yerrorlines lw 2 pt 9 title 'PyTorch'
set title "config G"
plot 'peers.dat' index 1 using 1:2:3:4 with yerrorlines lw 2 pt 7 title 'cllm lock-free', '' index 1 using 1:5:6:7 with yerrorlines lw 2 pt 5 title 'cllm locked', '' index 1 using 1:8:9:10 with yerrorlines lw 2 pt 9 title 'PyTorch'
unset multiplot
unset output
set terminal svg size 800,480 dynamic font ",10"
set output 'peers.svg'
set multiplot layout 1,2 title "cllm vs PyTorch: tokens/s, median of the reps, bars min-max\n(cllm at N threads: N x B sequences/step; PyTorch: B sequences/step on N intra-op threads)"
set title "config S"
plot 'peers.dat' index 0 using 1:2:3:4 with yerrorlines lw 2 pt 7 title 'cllm lock-free', '' index 0 using 1:5:6:7 with yerrorlines lw 2 pt 5 title 'cllm locked', '' index 0 using 1:8:9:10 with yerrorlines lw 2 pt 9 title 'PyTorch'
set title "config G"
plot 'peers.dat' index 1 using 1:2:3:4 with yerrorlines lw 2 pt 7 title 'cllm lock-free', '' index 1 using 1:5:6:7 with yerrorlines lw 2 pt 5 title 'cllm locked', '' index 1 using 1:8:9:10 with yerrorlines lw 2 pt 9 title 'PyTorch'
unset multiplot
unset output
