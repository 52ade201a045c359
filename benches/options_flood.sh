#!/usr/bin/env bash
# OPTIONS flood with a call in progress (issue 6, item 7): starts a release switch on the
# shipped config, floods it from the trunk address with new OPTIONS transactions at RATE per
# second (2,500/s keeps ~80,000 alive: each lives 32 s), and reports the switch's CPU per
# message and the RTP gap p99 of one call during the flood. A measurement, not a test.
#
#   bash benches/options_flood.sh [RATE] [FILL_S] [MEASURE_S]
#
# HOTLINE_BIN=path/to/hotline measures another build of the switch (e.g. an older commit)
# with this checkout's flood client (CONFIG_FROM=DIR: that release's dialplans, hardware and
# prompts). The machine's load is printed before and after: compare
# runs made back to back.
set -euo pipefail
RATE="${1:-2500}"
FILL="${2:-34}"
MEASURE="${3:-20}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$repo/target}"
(cd "$repo" && cargo build --release --quiet --example options_flood)
if [ -z "${HOTLINE_BIN:-}" ]; then
    (cd "$repo" && cargo build --release --quiet --bin hotline)
fi
bin="${HOTLINE_BIN:-$target/release/hotline}"
work="$(mktemp -d -t hotline-flood-XXXXXX)"
switch_pid=""
cleanup() {
    if [ -n "$switch_pid" ]; then kill "$switch_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

RUST_LOG=warn "$bin" serve --config "${CONFIG_FROM:-$repo}" --sip 127.0.0.1:0 --rtp-ports 34000-34100 \
    --http 127.0.0.1:0 --data "$work/data" >"$work/out" 2>"$work/log" &
switch_pid=$!
for _ in $(seq 1 300); do
    grep -q '^hotline ready' "$work/out" 2>/dev/null && break
    sleep 0.1
done
ready="$(grep '^hotline ready' "$work/out" || true)"
[ -n "$ready" ] || { echo "switch did not start:"; cat "$work/log"; exit 1; }
sip="$(echo "$ready" | tr ' ' '\n' | sed -n 's/^sip=//p' | head -1)"
echo "switch: $bin (pid $switch_pid, sip $sip)"
echo "load before: $(uptime)"
"$target/release/examples/options_flood" --switch "$sip" --pid "$switch_pid" \
    --rate "$RATE" --fill "$FILL" --measure "$MEASURE"
echo "load after:  $(uptime)"
