#!/usr/bin/env bash
# Crash safety under load (issue 9's numbers; a script, not a test): SIPp places CALLS calls
# at RATE calls/s (as tests/load/run.sh does), the switch is killed with SIGKILL KILL_AFTER
# seconds in, then started again on the same data. Prints how many recordings each state
# holds after the restart and checks every recording on disk: it must open as a WAV (Python's
# wave module), and a cut-short one must hold exactly the length its record says.
#
#   bash tests/load/kill_mid_load.sh
#   CALLS=300 RATE=30 HOLD_MS=8000 KILL_AFTER=12 bash tests/load/kill_mid_load.sh
set -euo pipefail

CALLS="${CALLS:-300}"
RATE="${RATE:-30}"
HOLD_MS="${HOLD_MS:-8000}"
KILL_AFTER="${KILL_AFTER:-12}"
RTP_PORTS="${RTP_PORTS:-20000-23999}"
SIPP_MEDIA_PORT="${SIPP_MEDIA_PORT:-19000}"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
source "$repo/tests/load/switch.sh"
hotline_binary kill

work="$(mktemp -d -t hotline-kill-XXXXXX)"
switch_pid=""
sipp_pid=""
cleanup() {
    [ -n "$sipp_pid" ] && kill -KILL "$sipp_pid" 2>/dev/null || true
    [ -n "$switch_pid" ] && kill -KILL "$switch_pid" 2>/dev/null || true
    if [ -z "${KEEP:-}" ]; then rm -rf "$work"; else echo "kill: kept $work" >&2; fi
}
trap cleanup EXIT

config="$work/config"
mkdir -p "$config"
cp -r dialplans prompts hardware "$config/"
sed -i -e 's/^max_calls = .*/max_calls = 2000/' \
    -e 's/^new_calls_per_source = .*/new_calls_per_source = 1000/' "$config/dialplans/hotline.toml"

start_switch() { # -> sets switch_pid and sip
    RUST_LOG="${RUST_LOG:-warn}" "$bin" serve --config "$config" --sip "${1:-127.0.0.1:0}" \
        --rtp-ports "$RTP_PORTS" --data "$work/data" --http 127.0.0.1:0 \
        >"$work/switch.out" 2>>"$work/switch.log" &
    switch_pid=$!
    wait_ready kill
}

start_switch
sipp "$sip" -sf "$repo/tests/scenarios/basic_call.xml" -s 4008 -i 127.0.0.1 \
    -mp "$SIPP_MEDIA_PORT" -key rtp_sink "$SIPP_MEDIA_PORT" \
    -m "$CALLS" -r "$RATE" -rp 1000 -l "$CALLS" -d "$HOLD_MS" \
    -cid_str "kill-%u@%s" -nostdin -timeout "$(( CALLS / RATE + HOLD_MS / 1000 + 30 ))s" \
    >"$work/sipp.out" 2>"$work/sipp.err" &
sipp_pid=$!
sleep "$KILL_AFTER"
kill -KILL "$switch_pid"
wait "$switch_pid" 2>/dev/null || true
killed_at="$(date +%s.%N)"
kill -KILL "$sipp_pid" 2>/dev/null || true
wait "$sipp_pid" 2>/dev/null || true
sipp_pid=""
echo "kill: switch killed with SIGKILL ${KILL_AFTER} s into ${CALLS} calls at ${RATE}/s" >&2

start_switch
restarted_at="$(date +%s.%N)"
kill -TERM "$switch_pid"
wait "$switch_pid" 2>/dev/null || true
switch_pid=""

db="$work/data/hotline.db"
python3 - "$db" "$work/data" "$killed_at" "$restarted_at" <<'PY'
import sqlite3, sys, wave, os
db, data, killed, restarted = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
c = sqlite3.connect(db)
rows = c.execute("SELECT call_id, file, state, duration_ms FROM recordings").fetchall()
calls = c.execute("SELECT count(*) FROM calls").fetchone()[0]
interrupted = c.execute("SELECT count(*) FROM calls WHERE outcome = 'interrupted'").fetchone()[0]
states = {}
bad = []
for call_id, file, state, duration_ms in rows:
    states[state] = states.get(state, 0) + 1
    path = os.path.join(data, file)
    if state == 'deleted':
        continue
    try:
        with wave.open(path) as w:
            ms = w.getnframes() * 1000 // w.getframerate()
            if w.getnchannels() != 2 or w.getframerate() != 8000 or w.getsampwidth() != 2:
                bad.append(f"{file}: not 2ch/8kHz/16-bit")
            elif duration_ms is not None and abs(ms - duration_ms) > 20:
                bad.append(f"{file}: {ms} ms on disk, {duration_ms} ms in its record")
            elif os.path.getsize(path) != 44 + w.getnframes() * 4:
                bad.append(f"{file}: header and file size disagree")
    except Exception as e:
        bad.append(f"{file}: {e}")
print(f"- calls recorded before the kill: {calls} ({interrupted} marked interrupted)")
print(f"- recordings after the restart: {len(rows)}: " + ", ".join(f"{n} {s}" for s, n in sorted(states.items())))
print(f"- recordings that do not play or disagree with their record: {len(bad)}")
print(f"- from the kill to the restarted switch's ready line (repairs included): {restarted - killed:.2f} s")
for b in bad[:20]:
    print("  ", b)
still = states.get('recording', 0)
sys.exit(1 if bad or still else 0)
PY
