#!/usr/bin/env bash
# The hotline's test command (README, CI): makes sure the real SIP peers the integration tests
# drive are installed, then runs every unit and integration test. Exits non-zero on failure.
#
#   bash tests/run.sh                    # debug build (default, see below)
#   HOTLINE_TEST_PROFILE=release bash tests/run.sh
#   bash tests/run.sh sipp_calls         # extra arguments go to `cargo test`
#
# Debug is the default: the integration tests spend their time waiting on calls (rings,
# greetings, menus), not on the CPU, and a debug build of the dependencies is much cheaper
# than a release build on a fresh machine.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Each tool, and a file from its package that the tests use, so a partial install is caught.
missing=()
have() { command -v "$1" >/dev/null 2>&1; }
{ have sipp && [ -e /usr/share/sip-tester/g711a.pcap ]; } || missing+=(sip-tester)
{ have baresip && [ -e /usr/lib/baresip/modules/sndfile.so ]; } || missing+=(baresip-core)
{ have kamailio && compgen -G "/usr/lib/*/kamailio/modules/rr.so" >/dev/null; } || missing+=(kamailio)
have sox || missing+=(sox)
have espeak-ng || missing+=(espeak-ng)

if [ "${#missing[@]}" -gt 0 ]; then
    echo "tests/run.sh: installing ${missing[*]}" >&2
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        have sudo || { echo "tests/run.sh: need root or sudo to install ${missing[*]}" >&2; exit 1; }
        sudo=(sudo)
    fi
    "${sudo[@]}" apt-get update
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi

have cargo || { echo "tests/run.sh: cargo is not installed (https://rustup.rs)" >&2; exit 1; }

profile=()
case "${HOTLINE_TEST_PROFILE:-debug}" in
    debug) ;;
    release) profile=(--release) ;;
    *) echo "tests/run.sh: HOTLINE_TEST_PROFILE must be debug or release" >&2; exit 2 ;;
esac

log="$(mktemp -t hotline-tests-XXXXXX.log)"
trap 'rm -f "$log"' EXIT
set +e
cargo test "${profile[@]}" --locked --no-fail-fast "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole run: cargo prints a summary per test binary, and the
# last of those (the doc-tests) counts none.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed/) p += $(i-1); if ($(i) ~ /^failed/) f += $(i-1) } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
