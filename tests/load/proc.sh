# Sourced by the load scripts: the switch's CPU from /proc (needs $switch_pid).
clk_tck="$(getconf CLK_TCK)"
# Fields 14 and 15 of /proc/PID/stat (utime, stime in clock ticks); the command name in
# field 2 may hold spaces, so count from the closing parenthesis.
cpu_ticks() { sed 's/^.*) //' "/proc/$switch_pid/stat" | awk '{ print $12 + $13 }'; }
# The same per thread, as "name ticks" lines summed by thread name (media-0, records, ...).
thread_ticks() {
    for stat in /proc/"$switch_pid"/task/*/stat; do
        name="$(sed 's/^[^(]*(\(.*\)) .*$/\1/' "$stat" 2>/dev/null)" || continue
        ticks="$(sed 's/^.*) //' "$stat" 2>/dev/null | awk '{ print $12 + $13 }')" || continue
        echo "$name $ticks"
    done | awk '{ t[$1] += $2 } END { for (n in t) print n, t[n] }' | sort
}
# "  - thread NAME: X ms per call" between two thread_ticks snapshots, over CALLS calls
# (threads that ended in between are not counted).
print_thread_cpu() { # before after calls
    join -a 2 -e 0 -o 0,1.2,2.2 <(echo "$1") <(echo "$2") |
        awk -v calls="$3" -v tck="$clk_tck" '{ ms = ($3 - $2) * 1000 / tck / calls; if (ms > 0) printf "  - thread %s: %.2f ms per call\n", $1, ms }'
}
