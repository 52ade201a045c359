#!/usr/bin/env bash
# What recording costs (issue 9's number: at most 25 % on top of the same run with recording
# off): PAIRS pairs of the 300-call load run (run.sh), recording off then on, with one
# binary, one after the other; prints each run's CPU per call and per thread, the medians,
# and on's extra over off. A single pair says little on a shared machine: runs of one build
# differ by 10 % or more.
#
#   bash tests/load/recording_cost.sh                  # 5 pairs of 300 calls, 8 s each
#   PAIRS=3 HOLD_MS=16000 bash tests/load/recording_cost.sh
#   HOTLINE_BIN=/tmp/hotline-other bash tests/load/recording_cost.sh   # another build
#
# The runs keep their work dirs (run.sh's KEEP=1) until the last one is done: on ext4 without
# a journal, removing a run's 300 recordings slows the next run's file creations (see
# run.sh).
set -euo pipefail

PAIRS="${PAIRS:-5}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
source "$repo/tests/load/switch.sh"
hotline_binary recording-cost

out="$(mktemp -d -t hotline-recording-cost-XXXXXX)"
kept=()
cleanup() {
    if [ "${#kept[@]}" -gt 0 ]; then rm -rf "${kept[@]}"; fi
    rm -rf "$out"
}
trap cleanup EXIT

for pair in $(seq "$PAIRS"); do
    for recording in off on; do
        log="$out/$pair-$recording.txt"
        if ! KEEP=1 RECORDING="$recording" HOTLINE_BIN="$bin" bash "$repo/tests/load/run.sh" >"$log" 2>&1; then
            echo "recording-cost: run $pair with recording $recording failed:" >&2
            tail -20 "$log" >&2
            exit 1
        fi
        dir="$(sed -n 's/^load: kept //p' "$log")"
        [ -n "$dir" ] && kept+=("$dir")
        ms="$(sed -n 's/.* = \([0-9.]*\) ms per call.*/\1/p' "$log")"
        threads="$(sed -n 's/^  - thread \([^:]*\): \([0-9.]*\) ms per call/\1 \2/p' "$log" | paste -sd' ')"
        echo "$recording $ms $threads" >>"$out/runs"
        echo "pair $pair, recording $recording: $ms ms per call ($threads)"
    done
done

awk '
function median(list, n,    i, j, t) {
    for (i = 2; i <= n; i++) for (j = i; j > 1 && list[j - 1] > list[j]; j--) { t = list[j]; list[j] = list[j - 1]; list[j - 1] = t }
    return n % 2 ? list[(n + 1) / 2] : (list[n / 2] + list[n / 2 + 1]) / 2
}
{ if ($1 == "off") off[++n_off] = $2; else on[++n_on] = $2 }
END {
    m_off = median(off, n_off); m_on = median(on, n_on)
    printf "recording cost over %d pairs: median %.2f ms per call off, %.2f on: +%.0f %% (target: at most +25 %%)\n", n_off, m_off, m_on, (m_on / m_off - 1) * 100
}' "$out/runs"
