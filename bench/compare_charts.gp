# bench/compare_charts.gp: the bar charts of bench/compare, from the .dat
# files bench/compare_report.js writes (tab-separated, a header line, "?" for
# a missing figure). Run as:
#   gnuplot -e "dir='DIR'; term='pngcairo'" bench/compare_charts.gp
# term is pngcairo where gnuplot has it, else png (libgd).

if (term eq 'pngcairo') {
	set terminal pngcairo size 1100,700 font 'Sans,10' noenhanced
} else {
	set terminal png size 1100,700 noenhanced
}
set datafile separator "\t"
set datafile missing "?"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key above
set grid ytics
set xtics rotate by -30 left nomirror
set bmargin 14
set rmargin 22
set yrange [0:*]

set output dir.'/compare_bulk.png'
set title 'Bulk enqueue: jobs per second (higher is better)'
set ylabel 'jobs/s'
plot for [i=2:*] dir.'/bulk.dat' using i:xtic(1) title columnheader(i)

set output dir.'/compare_throughput.png'
set title 'No-op worker throughput: jobs per second (higher is better)'
plot for [i=2:*] dir.'/throughput.dat' using i:xtic(1) title columnheader(i)

set output dir.'/compare_fanin.png'
set title 'Batch fan-in: seconds from the first enqueue (lower is better)'
set ylabel 'seconds'
set xtics norotate
set bmargin 4
plot for [i=2:*] dir.'/fanin.dat' using i:xtic(1) title columnheader(i)

set output dir.'/compare_latency.png'
set title 'Enqueue COMMIT to handler start, idle workers: milliseconds (lower is better; log scale)'
set ylabel 'ms'
set logscale y
set yrange [0.1:*]
plot for [i=2:*] dir.'/latency.dat' using i:xtic(1) title columnheader(i)
