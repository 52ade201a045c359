#!/usr/bin/env bash
# Bridged load (issue 7's numbers; a script, not a test): every caller talks to an agent, both
# sides speaking a steady 50 packets/s, all at once for most of the call. Runs queues.sh with
# as many phones as callers and prints its figures, including the switch's CPU per call-second
# of bridged audio over the stretch where every call was talking.
#
#   bash tests/load/bridged.sh                      # 100 calls, 30 s talk
#   CALLERS=50 TALK_MS=20000 bash tests/load/bridged.sh
#   HOTLINE_BIN=path/to/hotline bash tests/load/bridged.sh   # another build
#   RECORDING=off bash tests/load/bridged.sh       # no call recorded (what recording costs)
set -euo pipefail
CALLERS="${CALLERS:-100}"
TALK_MS="${TALK_MS:-30000}"
export CALLERS TALK_MS
export PHONES="${PHONES:-$CALLERS}"
export RATE="${RATE:-20}"
export STEADY_AUDIO_S="${STEADY_AUDIO_S:-$(( TALK_MS / 1000 + 10 ))}"
exec bash "$(dirname "${BASH_SOURCE[0]}")/queues.sh"
