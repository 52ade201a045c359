#!/usr/bin/env bash
# Load run for the hotline (issue 2's numbers; a script, not a test):
# SIPp places CALLS calls at RATE calls/s; each caller speaks (CALLER_RTP below), stays HOLD_MS
# through the greeting and main menu, then hangs up with BYE. Prints failures from SIPp's
# statistics, the switch's CPU time per call (utime+stime from /proc/PID/stat) and its peak
# RSS (VmHWM from /proc/PID/status), shaped to paste into a note.
#
#   bash tests/load/run.sh                       # 300 calls at 30/s, 8 s each
#   CALLS=50 RATE=10 HOLD_MS=8000 bash tests/load/run.sh
#   HOTLINE_BIN=target/debug/hotline bash tests/load/run.sh   # skip the release build
#   GAPS=1 bash tests/load/run.sh     # also the p99 gap between the packets the switch sends
#   GAPS=1 FLOOD_RATE=2500 bash tests/load/run.sh   # ... while a second SIPp sends 2,500 OPTIONS/s
#   KEEP=1 bash tests/load/run.sh     # keep the work dir (switch log, records, recordings)
#
# Comparing builds or RECORDING=on/off, run each with KEEP=1: on ext4 without a journal (this
# machine's root), the 300 recordings a run deletes at its end make the next run's file
# creations scan past recently deleted inodes for minutes afterwards (ext4's
# `recently_deleted`), about 0.3 ms of the recordings thread's CPU per call.
set -euo pipefail

CALLS="${CALLS:-300}"
RATE="${RATE:-30}"
HOLD_MS="${HOLD_MS:-8000}"
RTP_PORTS="${RTP_PORTS:-20000-23999}"
SIPP_MEDIA_PORT="${SIPP_MEDIA_PORT:-19000}"
# GAPS captures what the switch sends to the one pcap-mode media port (see below).
CALLER_RTP="${CALLER_RTP:-$([ -n "${GAPS:-}" ] && echo pcap || echo stream)}"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
source "$repo/tests/load/switch.sh"

for tool in sipp cargo; do
    command -v "$tool" >/dev/null || { echo "load: $tool is not installed (bash tests/run.sh installs sipp)" >&2; exit 1; }
done

hotline_binary load

work="$(mktemp -d -t hotline-load-XXXXXX)"
switch_pid=""
cleanup() {
    stop_switch
    if [ -z "${KEEP:-}" ]; then rm -rf "$work"; else echo "load: kept $work" >&2; fi
}
trap cleanup EXIT

# A config copy whose admission limits fit the load: the shipped 200 calls at once and 10 new
# calls per second from one address would refuse most of one SIPp's 30/s (that is what
# they are for).
config="$work/config"
mkdir -p "$config"
# CONFIG_FROM: another release's dialplans/hardware/prompts, for its binary (HOTLINE_BIN).
from="${CONFIG_FROM:-$repo}"
cp -r "$from/dialplans" "$from/prompts" "$from/hardware" "$config/"
sed -i -e 's/^max_calls = .*/max_calls = 2000/' \
    -e 's/^new_calls_per_source = .*/new_calls_per_source = 1000/' "$config/dialplans/hotline.toml"
# RECORDING=off: the hotline records no call (to measure what recording costs).
if [ "${RECORDING:-on}" = off ]; then
    sed -i -e '/^\[hotline\.service\]/a record = false' "$config/dialplans/hotline.toml"
fi

RUST_LOG="${RUST_LOG:-warn}" "$bin" serve --config "$config" --sip 127.0.0.1:0 \
    --rtp-ports "$RTP_PORTS" --data "$work/data" --http 127.0.0.1:0 \
    >"$work/switch.out" 2>"$work/switch.log" &
switch_pid=$!
wait_ready load

source "$repo/tests/load/proc.sh"

# GAPS=1: capture what the switch sends to SIPp's media port (every call's stream) and report
# the p99 and largest gap between consecutive packets of one stream.
capture_pid=""
if [ -n "${GAPS:-}" ]; then
    command -v dumpcap >/dev/null || { echo "load: GAPS needs dumpcap (tshark)" >&2; exit 1; }
    dumpcap -q -i lo -f "udp dst port $SIPP_MEDIA_PORT" -B 64 -w "$work/rtp.pcapng" 2>"$work/dumpcap.err" &
    capture_pid=$!
    sleep 1
fi

# CALLER_RTP=stream (default): each caller speaks from its own UDP socket (load_call.xml);
# pcap: SIPp's play_pcap_audio (basic_call.xml), whose raw sockets make every datagram on
# loopback cost more (see load_call.xml) — kept to compare with figures taken that way.
case "$CALLER_RTP" in
    stream)
        command -v sox >/dev/null || { echo "load: CALLER_RTP=stream needs sox" >&2; exit 1; }
        sox "$repo/prompts/en/main_menu.wav" -r 8000 -c 1 -t al "$work/caller.al"
        sed "s|\[caller_audio\]|$work/caller.al|" "$repo/tests/scenarios/load_call.xml" >"$work/load_call.xml"
        default_scenario="$work/load_call.xml" ;;
    pcap) default_scenario="$repo/tests/scenarios/basic_call.xml" ;;
    *) echo "load: CALLER_RTP must be stream or pcap" >&2; exit 2 ;;
esac

# FLOOD_RATE: a second SIPp, from another address (127.0.0.2, so the callers' per-source
# admission is not what it meets), sends that many OPTIONS per second for as long as the calls
# last; its answered and unanswered counts are printed with the rest.
flood_pid=""
flood_seconds=$(( CALLS / RATE + HOLD_MS / 1000 + 2 ))
if [ -n "${FLOOD_RATE:-}" ]; then
    sipp "$sip" -sf "$repo/tests/scenarios/options_flood.xml" -s 4008 -i 127.0.0.2 -p 0 \
        -m "$(( FLOOD_RATE * flood_seconds ))" -r "$FLOOD_RATE" -l "$(( FLOOD_RATE * 3 ))" \
        -nostdin -timeout "$(( flood_seconds + 30 ))s" -trace_stat -stf "$work/flood_stat.csv" -fd 1 \
        >"$work/flood.out" 2>"$work/flood.err" &
    flood_pid=$!
fi

cpu_before="$(cpu_ticks)"
threads_before="$(thread_ticks)"
started="$(date +%s.%N)"
set +e
sipp "$sip" -sf "${SCENARIO:-$default_scenario}" -s 4008 -i 127.0.0.1 \
    -mp "$SIPP_MEDIA_PORT" -key rtp_sink "$SIPP_MEDIA_PORT" \
    -m "$CALLS" -r "$RATE" -rp 1000 -l "$((CALLS))" -d "$HOLD_MS" \
    -cid_str "load-%u@%s" -nostdin -timeout "$(( CALLS / RATE + HOLD_MS / 1000 + 60 ))s" -timeout_error \
    -trace_err -error_file "$work/sipp_errors.log" \
    -trace_stat -stf "$work/sipp_stat.csv" -fd 1 \
    >"$work/sipp.out" 2>"$work/sipp.err"
sipp_status=$?
flood_status=""
if [ -n "$flood_pid" ]; then
    wait "$flood_pid"
    flood_status=$?
fi
set -e
# Let the last BYEs and record writes settle before reading the clock.
sleep 1
cpu_after="$(cpu_ticks)"
threads_after="$(thread_ticks)"
finished="$(date +%s.%N)"
hwm_kib="$(awk '/^VmHWM:/ { print $2 }' "/proc/$switch_pid/status")"
recorded_kib="$({ du -sk "$work/data/recordings" 2>/dev/null || true; } | awk '{ print $1 }')"
recorded_kib="${recorded_kib:-0}"
gaps=""
if [ -n "$capture_pid" ]; then
    kill -INT "$capture_pid" 2>/dev/null || true
    wait "$capture_pid" 2>/dev/null || true
    gaps="$(tshark -r "$work/rtp.pcapng" -d "udp.port==$SIPP_MEDIA_PORT,rtp" -T fields \
            -e frame.time_epoch -e rtp.ssrc 2>/dev/null |
        awk 'NF == 2 { if ($2 in last) printf "%.3f\n", ($1 - last[$2]) * 1000; last[$2] = $1 }' |
        sort -n | awk '{ g[NR] = $1 } END { if (NR) printf "%d gaps: p50 %.2f ms, p99 %.2f ms, max %.2f ms", NR, g[int(NR * 0.5) + 1], g[int(NR * 0.99) + 1], g[NR] }')"
fi

stat_col() { # name [csv] -> value in the last row of SIPp's statistics CSV
    awk -F';' -v name="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) col = i; next }
        NF > 1 { last = $col } END { print last + 0 }' "${2:-$work/sipp_stat.csv}"
}
ok="$(stat_col 'SuccessfulCall(C)')"
failed="$(stat_col 'FailedCall(C)')"
flood=""
if [ -n "$flood_pid" ]; then
    flood="$(stat_col 'SuccessfulCall(C)' "$work/flood_stat.csv") answered, $(stat_col 'FailedCall(C)' "$work/flood_stat.csv") unanswered within 2 s (SIPp exit $flood_status)"
fi
records="$("$bin" calls list --data "$work/data" --json --limit 100000 2>/dev/null | grep -o '"sip_call_id"' | wc -l || true)"

awk -v calls="$CALLS" -v rate="$RATE" -v hold="$HOLD_MS" -v ok="$ok" -v failed="$failed" \
    -v status="$sipp_status" -v before="$cpu_before" -v after="$cpu_after" -v tck="$clk_tck" \
    -v hwm="$hwm_kib" -v t0="$started" -v t1="$finished" -v records="$records" -v gaps="$gaps" -v flood="$flood" -v flood_rate="${FLOOD_RATE:-0}" -v caller_rtp="$CALLER_RTP" -v recorded="$recorded_kib" -v sipp_v="$(sipp -v 2>&1 | grep -o 'v[0-9.]*' | head -1)" '
BEGIN {
    cpu_s = (after - before) / tck
    printf "hotline load run: %d calls at %d calls/s, each %.1f s with caller speech (%s), SIPp %s\n", calls, rate, hold / 1000, caller_rtp, sipp_v
    printf "- calls: %d successful, %d failed (SIPp exit %d)\n", ok, failed, status
    printf "- switch CPU: %.2f s over %.1f s wall = %.2f ms per call (utime+stime, /proc/PID/stat)\n", cpu_s, t1 - t0, (ok + failed > 0 ? cpu_s * 1000 / calls : 0)
    printf "- switch peak RSS: %.1f MiB (VmHWM)\n", hwm / 1024
    printf "- call records: %d (hotline calls list)\n", records
    printf "- recordings written: %.1f MiB, %.0f KiB/s over the run (du of DATA/recordings)\n", recorded / 1024, recorded / (t1 - t0)
    if (flood != "") printf "- OPTIONS flood at %d/s from 127.0.0.2: %s\n", flood_rate, flood
    if (gaps != "") printf "- RTP the switch sent, gaps between packets of one stream: %s (dumpcap on lo)\n", gaps
}'

# Where the CPU went, per thread name.
print_thread_cpu "$threads_before" "$threads_after" "$CALLS"

if [ "$sipp_status" -ne 0 ] || [ "$failed" -ne 0 ]; then
    echo "load: SIPp reported failures; first errors:" >&2
    head -30 "$work/sipp_errors.log" >&2 || true
    exit 1
fi
