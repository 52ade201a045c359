#!/usr/bin/env bash
# Measures, on the wire, how long after the caller's ACK the greeting's first RTP packet
# leaves the switch (issue 2: within 100 ms). A measurement for the note, not a test.
# Needs tshark (apt-get install tshark) and a release build (cargo build --release).
#
#   bash tests/load/greeting_latency.sh [CALLS]
set -euo pipefail
CALLS="${1:-10}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${CARGO_TARGET_DIR:-$repo/target}/release/hotline"
work="$(mktemp -d -t hotline-latency-XXXXXX)"
sip_port=26060 rtp_lo=33000 rtp_hi=33400
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

RUST_LOG=warn "$bin" serve --config "$repo" --sip "127.0.0.1:$sip_port" \
    --rtp-ports "$rtp_lo-$rtp_hi" --data "$work/data" --http 127.0.0.1:0 >"$work/out" 2>"$work/log" &
tshark -i lo -f "udp port $sip_port or udp portrange $rtp_lo-$rtp_hi" -w "$work/cap.pcap" \
    >/dev/null 2>&1 &
sleep 2
sipp "127.0.0.1:$sip_port" -sf "$repo/tests/scenarios/basic_call.xml" -s 4008 -i 127.0.0.1 \
    -mp 19500 -key rtp_sink 19500 -m "$CALLS" -r 2 -d 3000 -nostdin -timeout 60s \
    >/dev/null 2>&1
sleep 1
kill -INT %2 2>/dev/null || true
sleep 1

tshark -r "$work/cap.pcap" -Y 'sip.Method == "ACK"' -T fields -e frame.time_epoch \
    >"$work/acks.txt" 2>/dev/null
tshark -r "$work/cap.pcap" -d "udp.port==$rtp_lo-$rtp_hi,rtp" \
    -Y "rtp && udp.srcport>=$rtp_lo && udp.srcport<=$rtp_hi" \
    -T fields -e frame.time_epoch -e udp.srcport -e rtp.payload >"$work/rtp.txt" 2>/dev/null
python3 - "$work" <<'PY'
import sys
work = sys.argv[1]
acks = sorted(float(l.split('\t')[0]) for l in open(f"{work}/acks.txt"))
silence = {0xd5, 0x55, 0xd4, 0x54, 0xff, 0x7f, 0xfe, 0x7e}
streams = {}
for line in open(f"{work}/rtp.txt"):
    t, port, payload = line.rstrip('\n').split('\t')
    if set(bytes.fromhex(payload.replace(':', ''))) - silence:
        streams.setdefault(port, float(t))
firsts = sorted(streams.values())
delays = [1000 * (first - ack) for ack, first in zip(acks, firsts)]
print(f"greeting latency over {len(delays)} calls: ACK -> first greeting RTP packet "
      f"min {min(delays):.1f} ms, max {max(delays):.1f} ms")
PY
