#!/usr/bin/env bash
# Places one test call to the hotline (4008) from a headless baresip and tells you what it
# heard: the path of the recording and its length and loudness.
#
#   tests/baresip/call.sh [SIP_ADDR] [SECONDS]     # defaults: 127.0.0.1:5060, 20 s
#
# The switch must already be running (`cargo run --release -- serve`) and must trust this
# machine (the shipped hardware/trunks.toml trusts loopback). baresip's microphone is
# silence; what it hears is written to a WAV under a temp dir that is kept for you to play
# (`play FILE`, from sox). Needs baresip-core and sox (tests/run.sh installs both).
set -euo pipefail

addr="${1:-127.0.0.1:5060}"
seconds="${2:-20}"
case "$seconds" in
    ''|*[!0-9]*|0) echo "call.sh: SECONDS must be a whole number above 0, not '$seconds'" >&2; exit 2 ;;
esac
for tool in baresip sox soxi; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "call.sh: $tool is not installed (apt-get install baresip-core sox)" >&2
        exit 1
    }
done

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d -t hotline-call-XXXXXX)"
mkdir -p "$work/config" "$work/recordings"

# A SIP port and an RTP range of our own, away from the switch's default RTP range
# (20000-29999) and from another call.sh running at the same time.
sip_port=$((40000 + RANDOM % 5000))
rtp_lo=$((45000 + (RANDOM % 240) * 20))
rtp_hi=$((rtp_lo + 19))

# baresip hangs up when its microphone file ends: make it outlast the call.
sox -n -r 8000 -c 1 -b 16 -e signed-integer "$work/microphone.wav" trim 0 $((seconds + 10))

sed -e "s|{{SIP_PORT}}|$sip_port|" \
    -e "s|{{RTP_LO}}|$rtp_lo|" \
    -e "s|{{RTP_HI}}|$rtp_hi|" \
    -e "s|{{MIC_WAV}}|$work/microphone.wav|" \
    -e "s|{{SND_PATH}}|$work/recordings|" \
    "$here/config.template" >"$work/config/config"
sed -e "s|{{USER}}|call-sh|" "$here/accounts.template" >"$work/config/accounts"

echo "calling sip:4008@$addr for $seconds s (baresip log: $work/baresip.log)"
status=0
(cd "$work" && timeout $((seconds + 15)) baresip -f "$work/config" \
    -e "/dial sip:4008@$addr" -t "$seconds") >"$work/baresip.log" 2>&1 || status=$?

if ! grep -q "Call established" "$work/baresip.log"; then
    echo "call.sh: the call was not established (baresip exit $status); last lines of its log:" >&2
    tail -n 15 "$work/baresip.log" >&2
    exit 1
fi

heard="$(ls "$work"/recordings/dump-*-dec.wav 2>/dev/null | head -n 1 || true)"
if [ -z "$heard" ]; then
    echo "call.sh: the call was established but baresip recorded nothing in $work/recordings" >&2
    exit 1
fi
duration="$(soxi -D "$heard")"
rms="$(sox "$heard" -n stat 2>&1 | awk -F: '/RMS +amplitude/ { gsub(/ /, "", $2); print $2 }')"
echo "heard: $heard"
echo "duration: $duration s, RMS amplitude: $rms (0 is silence, 1 is full scale)"
