#!/usr/bin/env bash
# Plays an agent's desk phone with a headless baresip: registers as EXTENSION with its
# password (digest auth), answers every call the switch offers by itself, speaks a 600 Hz
# tone, and after SECONDS tells you what it heard (path, length and loudness of each call).
#
#   tests/baresip/agent.sh [SIP_ADDR] [EXTENSION] [PASSWORD] [SECONDS]
#   # defaults: 127.0.0.1:5060 1001 sample-1001 60 (phone 1001 of hardware/phones.toml, whose
#   # agent is ready as soon as it registers and has the sales skill)
#
# With CONTROL=PORT in the environment the phone's keys can be pressed from another terminal
# (hold, resume, transfer): `tests/baresip/keys.sh PORT hold` — see README "Hold and transfer".
#
# The switch must already be running (`cargo run --release -- serve`). Recordings are kept
# under a temp dir (`play FILE`, from sox). Needs baresip-core and sox (tests/run.sh installs
# both).
set -euo pipefail

addr="${1:-127.0.0.1:5060}"
extension="${2:-1001}"
password="${3:-sample-1001}"
seconds="${4:-60}"
case "$seconds" in
    ''|*[!0-9]*|0) echo "agent.sh: SECONDS must be a whole number above 0, not '$seconds'" >&2; exit 2 ;;
esac
for tool in baresip sox soxi; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "agent.sh: $tool is not installed (apt-get install baresip-core sox)" >&2
        exit 1
    }
done

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d -t hotline-agent-XXXXXX)"
mkdir -p "$work/config" "$work/recordings"

# Our own SIP port (the registration's Contact) and RTP range, away from the switch's
# (20000-29999) and from call.sh's (45000-49799).
sip_port=$((35000 + RANDOM % 5000))
rtp_lo=$((50000 + (RANDOM % 240) * 20))
rtp_hi=$((rtp_lo + 19))

# The agent's voice: a tone that outlasts the run (baresip hangs up when the file ends).
sox -n -r 8000 -c 1 -b 16 -e signed-integer "$work/microphone.wav" \
    synth $((seconds + 10)) sine 600 vol 0.25

sed -e "s|{{SIP_PORT}}|$sip_port|" \
    -e "s|{{RTP_LO}}|$rtp_lo|" \
    -e "s|{{RTP_HI}}|$rtp_hi|" \
    -e "s|{{MIC_WAV}}|$work/microphone.wav|" \
    -e "s|{{SND_PATH}}|$work/recordings|" \
    "$here/config.template" >"$work/config/config"
if [ -n "${CONTROL:-}" ]; then
    case "$CONTROL" in
        ''|*[!0-9]*) echo "agent.sh: CONTROL must be a TCP port number, not '$CONTROL'" >&2; exit 2 ;;
    esac
    printf 'module_app\t\tctrl_tcp.so\nctrl_tcp_listen\t\t127.0.0.1:%s\n' "$CONTROL" >>"$work/config/config"
fi
echo "<sip:$extension@$addr>;auth_pass=$password;answermode=auto;audio_codecs=pcma,pcmu;regint=3600" \
    >"$work/config/accounts"

(cd "$work" && exec baresip -f "$work/config" -t "$seconds") >"$work/baresip.log" 2>&1 &
phone=$!
trap 'kill "$phone" 2>/dev/null || true' INT TERM

registered=""
for _ in $(seq 100); do
    if grep -q "200 OK" "$work/baresip.log"; then registered=yes; break; fi
    kill -0 "$phone" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$registered" ]; then
    echo "agent.sh: $extension did not register with $addr; last lines of baresip's log:" >&2
    tail -n 15 "$work/baresip.log" >&2
    kill "$phone" 2>/dev/null || true
    exit 1
fi
echo "phone $extension registered with $addr; answering calls for $seconds s (baresip log: $work/baresip.log)"
if [ -n "${CONTROL:-}" ]; then
    echo "its keys: tests/baresip/keys.sh $CONTROL hold | resume | transfer NUMBER | hangup"
fi
wait "$phone" || true
wait "$phone" 2>/dev/null || true  # again, when a Ctrl-C ended the first wait

calls="$(grep -c "Call established" "$work/baresip.log" || true)"
echo "calls answered: $calls"
for heard in "$work"/recordings/dump-*-dec.wav; do
    [ -e "$heard" ] || break
    duration="$(soxi -D "$heard")"
    rms="$(sox "$heard" -n stat 2>&1 | awk -F: '/RMS +amplitude/ { gsub(/ /, "", $2); print $2 }')"
    echo "heard: $heard"
    echo "duration: $duration s, RMS amplitude: $rms (0 is silence, 1 is full scale)"
done
