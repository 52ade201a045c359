#!/usr/bin/env bash
# Load run for queues and agents (issue 3's numbers; a script, not a test):
# PHONES desk phones (2001…, one SIPp that takes every phone's calls: each phone REGISTERs
# with its own password and a Contact naming that one SIPp's port) answer after ANSWER_MS,
# speak (g711a.pcap) and hang up after TALK_MS. CALLERS trunk callers (SIPp, RATE calls/s)
# press 1 for sales and wait in the queue until an agent takes them and hangs up. With more
# callers than phones, half of them wait for a phone to come free (talk + wrap-up).
# Prints lost calls (callers no agent answered), the queue's waits, the switch's CPU time
# (utime+stime from /proc/PID/stat) and its peak RSS (VmHWM), shaped to paste into a note.
#
#   bash tests/load/queues.sh                        # 100 callers, 50 phones, 20 s talk
#   CALLERS=20 PHONES=10 TALK_MS=5000 bash tests/load/queues.sh
#   HOTLINE_BIN=target/debug/hotline bash tests/load/queues.sh   # skip the release build
set -euo pipefail

CALLERS="${CALLERS:-100}"
PHONES="${PHONES:-50}"
RATE="${RATE:-10}"
TALK_MS="${TALK_MS:-20000}"
ANSWER_MS="${ANSWER_MS:-500}"
WRAP_UP="${WRAP_UP:-1s}"
RTP_PORTS="${RTP_PORTS:-20000-23999}"
CALLER_MEDIA_PORT="${CALLER_MEDIA_PORT:-19000}"
PHONE_MEDIA_PORT="${PHONE_MEDIA_PORT:-19100}"
# SIP ports: the phones' call-taking SIPp, the callers' SIPp, and one per registering phone.
PHONE_SIP_PORT="${PHONE_SIP_PORT:-17000}"
CALLER_SIP_PORT="${CALLER_SIP_PORT:-17001}"
REGISTER_PORT_BASE="${REGISTER_PORT_BASE:-17100}"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
source "$repo/tests/load/switch.sh"
scenarios="$repo/tests/scenarios"

for tool in sipp soxi awk; do
    command -v "$tool" >/dev/null || { echo "queues: $tool is not installed (bash tests/run.sh installs sipp and sox)" >&2; exit 1; }
done
[ "$PHONES" -ge 1 ] && [ "$CALLERS" -ge 1 ] || { echo "queues: CALLERS and PHONES must be at least 1" >&2; exit 2; }

hotline_binary queues

work="$(mktemp -d -t hotline-queues-XXXXXX)"
switch_pid=""
phones_pid=""
cleanup() {
    if [ -n "$phones_pid" ] && kill -0 "$phones_pid" 2>/dev/null; then
        kill -TERM "$phones_pid" 2>/dev/null || true
    fi
    stop_switch
    if [ -z "${KEEP:-}" ]; then rm -rf "$work"; else echo "queues: kept $work" >&2; fi
}
trap cleanup EXIT

# A config copy: the shipped dialplans and prompts, the sales queue with a short wrap-up,
# and PHONES desk phones whose agents have every shipped queue's skill (the switch refuses a
# queue no agent could take; only sales gets calls here).
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
for plan in "$config"/dialplans/*.toml; do
    awk -v wrap="$WRAP_UP" '
        /^[[:space:]]*\[/ { in_sales = ($0 ~ /^[[:space:]]*\[queue\.sales\][[:space:]]*$/) ; print; if (in_sales) printf "wrap_up = \"%s\"\n", wrap; next }
        in_sales && /^[[:space:]]*wrap_up[[:space:]]*=/ { next }
        { print }' "$plan" >"$plan.new"
    mv "$plan.new" "$plan"
done
{
    echo "# ${PHONES} desk phones for the queue load run."
    for i in $(seq "$PHONES"); do
        ext=$((2000 + i))
        printf '\n[phone.%s]\nuser = "%s"\npassword = "load-%s"\nkind = "desk_phone"\nmodel = "SIPp"\n' "$ext" "$ext" "$ext"
        printf 'agent = { id = "a%s", name = "Load agent %s" }\nskills = ["sales", "support", "accounts", "operator"]\nlogin_on_register = true\n' "$ext" "$ext"
    done
} >"$config/hardware/phones.toml"
# The audio both sides speak, from each SIPp's working directory.
# CALLER_RTP=stream (default): SIPp's rtp_stream, a steady 50 packets/s of A-law speech from
# each call's own UDP socket (scenario copies with [rtpstream_audio_port] in their SDP);
# pcap: play_pcap_audio — SIPp's A-law speech (7 s, 33 packets/s), or with STEADY_AUDIO_S a
# steady 50 packets/s that long — through raw sockets, each of which the kernel hands a copy
# of every datagram on loopback (see tests/scenarios/load_call.xml), so figures taken that
# way carry SIPp's cost too. The callers' DTMF "1" is a pcap either way.
mkdir -p "$work/phones" "$work/callers" "$work/scenarios"
cp "$scenarios"/*.xml "$work/scenarios/"
if [ "${CALLER_RTP:-stream}" = stream ]; then
    sox "$repo/prompts/en/main_menu.wav" -r 8000 -c 1 -t al "$work/audio.al"
    sed -i -e 's|m=audio \[rtp_sink\]|m=audio [rtpstream_audio_port]|' \
        -e "s|<exec play_pcap_audio=\"agent_audio.pcap\"/>|<exec rtp_stream=\"$work/audio.al,-1,8\"/>|" \
        -e "s|<exec play_pcap_audio=\"caller_audio.pcap\"/>|<exec rtp_stream=\"$work/audio.al,-1,8\"/>|" \
        "$work/scenarios/agent_answers.xml" "$work/scenarios/queue_caller.xml"
    grep -q rtp_stream "$work/scenarios/agent_answers.xml" && grep -q rtp_stream "$work/scenarios/queue_caller.xml" ||
        { echo "queues: the scenarios no longer have the lines CALLER_RTP=stream replaces" >&2; exit 1; }
fi
scenarios="$work/scenarios"
if [ -n "${STEADY_AUDIO_S:-}" ]; then
    python3 "$repo/tests/load/steady_rtp_pcap.py" "$STEADY_AUDIO_S" "$work/phones/agent_audio.pcap"
    cp "$work/phones/agent_audio.pcap" "$work/callers/caller_audio.pcap"
else
    cp /usr/share/sip-tester/g711a.pcap "$work/phones/agent_audio.pcap"
    cp /usr/share/sip-tester/g711a.pcap "$work/callers/caller_audio.pcap"
fi

RUST_LOG="${RUST_LOG:-warn}" "$bin" serve --config "$config" --sip 127.0.0.1:0 \
    --rtp-ports "$RTP_PORTS" --data "$work/data" --http 127.0.0.1:0 \
    >"$work/switch.out" 2>"$work/switch.log" &
switch_pid=$!
wait_ready queues

# One SIPp takes every phone's calls: the switch INVITEs each registered Contact
# (sip:EXT@127.0.0.1:PHONE_SIP_PORT), and SIPp runs each as a call of its own.
(cd "$work/phones" && exec sipp -sf "$scenarios/agent_answers.xml" -i 127.0.0.1 -p "$PHONE_SIP_PORT" \
    -mp "$PHONE_MEDIA_PORT" -key rtp_sink "$PHONE_MEDIA_PORT" -m "$CALLERS" \
    -set answer_after_ms "$ANSWER_MS" -set who_hangs_up agent -set talk_ms "$TALK_MS" \
    -nostdin -timeout 600s -timeout_error -trace_err -error_file "$work/phones_errors.log" \
    -trace_stat -stf "$work/phones_stat.csv" -fd 1 "$sip" \
    >"$work/phones.out" 2>"$work/phones.err") &
phones_pid=$!
sleep 1

# Register the phones, ten at a time; each REGISTER answers its own digest challenge.
register_pids=()
for i in $(seq "$PHONES"); do
    ext=$((2000 + i))
    (sipp "$sip" -sf "$scenarios/phone_register.xml" -i 127.0.0.1 -p $((REGISTER_PORT_BASE + i)) \
        -mp $((PHONE_MEDIA_PORT + 10 + 4 * (i % 10))) -m 1 -key user "$ext" -key contact_port "$PHONE_SIP_PORT" \
        -key expires 3600 -au "$ext" -ap "load-$ext" -nostdin -timeout 10s -timeout_error \
        >/dev/null 2>&1 && touch "$work/registered-$ext") &
    register_pids+=("$!")
    if [ "${#register_pids[@]}" -ge 10 ] || [ "$i" -eq "$PHONES" ]; then
        wait "${register_pids[@]}" || true
        register_pids=()
    fi
done
registered="$(ls "$work"/registered-* 2>/dev/null | wc -l)"
register_failed=$((PHONES - registered))
echo "queues: $registered of $PHONES phones registered" >&2

greeting_ms="$(soxi -D "$config/prompts/zh/welcome.wav" "$config/prompts/zh/recording_notice.wav" 2>/dev/null |
    awk '{ s += $1 } END { printf "%d", s * 1000 }')"
first_digit_ms=$((greeting_ms + 1000))

source "$repo/tests/load/proc.sh"

# Calls the phones' SIPp has in progress (its statistics file, rewritten every second).
phone_calls() { stat_col "$work/phones_stat.csv" 'CurrentCall'; }
stat_col() { # file name -> value in the last row of a SIPp statistics CSV
    [ -f "$1" ] || { echo 0; return; }
    awk -F';' -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) col = i; next }
        NF > 1 { last = $col } END { print last + 0 }' "$1"
}
# Every half second: time, the switch's CPU ticks, and the phones' calls in progress; the
# stretch where every caller is talking to an agent gives the CPU per bridged call-second.
(while kill -0 "$switch_pid" 2>/dev/null; do
    echo "$(date +%s.%N) $(cpu_ticks) $(phone_calls)"
    sleep 0.5
done) >"$work/samples" 2>/dev/null &
sampler_pid=$!

cpu_before="$(cpu_ticks)"
threads_before="$(thread_ticks)"
started="$(date +%s.%N)"
set +e
(cd "$work/callers" && sipp "$sip" -sf "$scenarios/queue_caller.xml" -s 4008 -i 127.0.0.1 \
    -p "$CALLER_SIP_PORT" -mp "$CALLER_MEDIA_PORT" -key rtp_sink "$CALLER_MEDIA_PORT" \
    -key caller 13900000001 -key codec_pt 8 -key codec_name PCMA \
    -set first_digit_ms "$first_digit_ms" -set who_hangs_up switch \
    -m "$CALLERS" -r "$RATE" -rp 1000 -l "$CALLERS" \
    -cid_str "queue-load-%u@%s" -nostdin -timeout 900s -timeout_error \
    -trace_err -error_file "$work/callers_errors.log" \
    -trace_stat -stf "$work/callers_stat.csv" -fd 1 \
    >"$work/callers.out" 2>"$work/callers.err")
callers_status=$?
set -e
sleep 2
cpu_after="$(cpu_ticks)"
threads_after="$(thread_ticks)"
finished="$(date +%s.%N)"
hwm_kib="$(awk '/^VmHWM:/ { print $2 }' "/proc/$switch_pid/status")"
for _ in $(seq 50); do kill -0 "$phones_pid" 2>/dev/null || break; sleep 0.1; done
kill "$sampler_pid" 2>/dev/null || true
bridged="$(awk -v n="$CALLERS" -v tck="$clk_tck" '
    $3 >= n && prev_all { secs += $1 - t; ticks += $2 - c }
    { t = $1; c = $2; prev_all = ($3 >= n) }
    END { if (secs > 0) printf "%d calls talking at once for %.1f s: switch CPU %.3f ms per call-second (%.3f ms per leg-second)", n, secs, ticks / tck * 1000 / (n * secs), ticks / tck * 1000 / (2 * n * secs);
          else printf "never all %d calls talking at once (need PHONES >= CALLERS and a long TALK_MS)", n }' "$work/samples")"
ok="$(stat_col "$work/callers_stat.csv" 'SuccessfulCall(C)')"
failed="$(stat_col "$work/callers_stat.csv" 'FailedCall(C)')"
phones_ok="$(stat_col "$work/phones_stat.csv" 'SuccessfulCall(C)')"
phones_failed="$(stat_col "$work/phones_stat.csv" 'FailedCall(C)')"

# The queue story from the records: a caller an agent answered has the agent in its summary.
"$bin" calls list --data "$work/data" --json --limit 100000 >"$work/records.json" 2>/dev/null || true
if command -v jq >/dev/null; then
    records="$(jq 'length' "$work/records.json")"
    answered="$(jq '[.[] | select(.agent != null)] | length' "$work/records.json")"
    waits="$(jq -r '[.[] | select(.agent != null) | .wait_ms // empty] |
        if length == 0 then "no waits recorded" else
        "average \((add / length / 1000 * 10 | round) / 10) s, longest \((max / 1000 * 10 | round) / 10) s" end' "$work/records.json")"
else
    records="$(grep -c '"sip_call_id"' "$work/records.json" || true)"
    answered="$(grep -c '"agent": *"a' "$work/records.json" || true)"
    waits="(install jq for the waits)"
fi
lost=$((CALLERS - answered))

awk -v callers="$CALLERS" -v phones="$PHONES" -v rate="$RATE" -v talk="$TALK_MS" -v ok="$ok" -v failed="$failed" \
    -v status="$callers_status" -v before="$cpu_before" -v after="$cpu_after" -v tck="$clk_tck" \
    -v hwm="$hwm_kib" -v t0="$started" -v t1="$finished" -v records="$records" -v answered="$answered" \
    -v lost="$lost" -v waits="$waits" -v registered="$registered" -v phones_ok="$phones_ok" \
    -v phones_failed="$phones_failed" -v bridged="$bridged" -v sipp_v="$(sipp -v 2>&1 | grep -o 'v[0-9.]*' | head -1)" '
BEGIN {
    cpu_s = (after - before) / tck
    printf "hotline queue load run: %d callers at %d calls/s to %d SIPp desk phones (%d registered), %.1f s talk each, SIPp %s\n", callers, rate, phones, registered, talk / 1000, sipp_v
    printf "- callers: %d successful, %d failed (SIPp exit %d); phones: %d calls taken, %d failed\n", ok, failed, status, phones_ok, phones_failed
    printf "- answered by an agent: %d of %d records; lost calls: %d\n", answered, records, lost
    printf "- queue wait: %s\n", waits
    printf "- switch CPU: %.2f s over %.1f s wall = %.2f ms per call (utime+stime, /proc/PID/stat)\n", cpu_s, t1 - t0, cpu_s * 1000 / callers
    printf "- switch peak RSS: %.1f MiB (VmHWM)\n", hwm / 1024
    printf "- bridged: %s\n", bridged
}'
# Where the whole run's CPU went, per thread name.
print_thread_cpu "$threads_before" "$threads_after" "$CALLERS"

if [ "$callers_status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$lost" -ne 0 ] || [ "$register_failed" -ne 0 ]; then
    echo "queues: failures; first caller errors:" >&2
    head -30 "$work/callers_errors.log" >&2 2>/dev/null || true
    exit 1
fi
