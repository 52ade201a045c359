#!/usr/bin/env bash
# An idle switch (a script, not a test): the switch on the shipped configuration with no call
# for SECONDS, and what it spent meanwhile, per thread: wake-ups (voluntary and involuntary
# context switches from /proc/PID/task/TID/status) and CPU (utime+stime), shaped to paste
# into a note. A switch waiting for calls should neither wake its threads nor spend CPU.
#
#   bash tests/load/idle.sh                        # 20 s
#   SECONDS_IDLE=60 HOTLINE_BIN=/tmp/hotline-old bash tests/load/idle.sh
set -euo pipefail

SECONDS_IDLE="${SECONDS_IDLE:-20}"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
source "$repo/tests/load/switch.sh"
hotline_binary idle

work="$(mktemp -d -t hotline-idle-XXXXXX)"
switch_pid=""
cleanup() {
    stop_switch
    rm -rf "$work"
}
trap cleanup EXIT

RUST_LOG="${RUST_LOG:-warn}" "$bin" serve --config "$repo" --sip 127.0.0.1:0 \
    --data "$work/data" --http 127.0.0.1:0 >"$work/switch.out" 2>"$work/switch.log" &
switch_pid=$!
wait_ready idle
# Let start-up settle (prompt decoding, the first retention and review passes).
sleep 3

# "name switches ticks" per thread.
snapshot() {
    for task in /proc/"$switch_pid"/task/*; do
        name="$(cat "$task/comm" 2>/dev/null)" || continue
        switches="$(awk '/ctxt_switches/ { n += $2 } END { print n + 0 }' "$task/status" 2>/dev/null)" || continue
        ticks="$(sed 's/^.*) //' "$task/stat" 2>/dev/null | awk '{ print $12 + $13 }')" || continue
        echo "$name $switches $ticks"
    done | sort
}
before="$(snapshot)"
sleep "$SECONDS_IDLE"
after="$(snapshot)"

echo "hotline idle for $SECONDS_IDLE s on the shipped configuration:"
join -a 2 -e 0 -o 0,1.2,1.3,2.2,2.3 <(echo "$before") <(echo "$after") |
    awk -v s="$SECONDS_IDLE" -v tck="$(getconf CLK_TCK)" '
        { w = ($4 - $2) / s; c = ($5 - $3) * 1000 / tck; tw += w; tc += c
          printf "  - thread %s: %.1f wake-ups/s, %.0f ms CPU\n", $1, w, c }
        END { printf "- all threads: %.1f wake-ups/s, %.0f ms CPU in %d s\n", tw, tc, s }'
