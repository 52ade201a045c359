#!/usr/bin/env bash
# The hotline's test command (README, CI): makes sure the real SIP peers the integration tests
# drive are installed, then runs every unit and integration test. Its last line is
# `N passed, N failed` for the whole run (tests/summarise.sh); it exits non-zero when a test
# failed, a test binary crashed or did not build, or no test ran at all.
#
#   bash tests/run.sh                       # everything, debug build (default, see below)
#   HOTLINE_TEST_PROFILE=release bash tests/run.sh
#   bash tests/run.sh sipp_calls            # a word naming tests/NAME.rs runs that test file
#   bash tests/run.sh sipp_calls busy       # ... and other words filter by test name
#   bash tests/run.sh agents -- --nocapture # after `--`: arguments for the test binaries
#   HOTLINE_TEST_DRY_RUN=1 bash tests/run.sh sipp_calls   # print the cargo command only
#
# Any other argument goes to `cargo test` as it is (`--lib`, `--test NAME`, `-p ...`).
#
# Debug is the default: the integration tests spend their time waiting on calls (rings,
# greetings, menus), not on the CPU. The dev profile still optimises the dependencies
# (Cargo.toml), so the prompts every switch decodes at start-up take milliseconds.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

profile=()
case "${HOTLINE_TEST_PROFILE:-debug}" in
    debug) ;;
    release) profile=(--release) ;;
    *) echo "tests/run.sh: HOTLINE_TEST_PROFILE must be debug or release" >&2; exit 2 ;;
esac

# `cargo test WORD` takes WORD as a test-name filter, so `run.sh sipp_calls` would run no test
# at all: a word that names a test file becomes `--test WORD`. Values of cargo's options that
# take one (`--test agents`, `-p hotline`) and everything after `--` are left alone.
cargo_args=()
takes_value=0
after_dashes=0
for arg in "$@"; do
    if [ "$after_dashes" -eq 0 ] && [ "$takes_value" -eq 0 ] && [[ "$arg" =~ ^[A-Za-z0-9_]+$ ]] &&
        [ -f "tests/$arg.rs" ]; then
        cargo_args+=(--test "$arg")
    else
        cargo_args+=("$arg")
    fi
    takes_value=0
    case "$arg" in
        --) after_dashes=1 ;;
        --test | --bench | --bin | --example | -p | --package | -F | --features | --exclude | \
            --target | --target-dir | --manifest-path | -j | --jobs | --profile | --color | \
            --message-format | --config | -Z)
            takes_value=1 ;;
    esac
done
cargo_command=(cargo test "${profile[@]}" --locked --no-fail-fast "${cargo_args[@]}")

if [ -n "${HOTLINE_TEST_DRY_RUN:-}" ]; then
    echo "${cargo_command[*]}"
    exit 0
fi

# Each tool, and a file from its package that the tests use, so a partial install is caught.
missing=()
have() { command -v "$1" >/dev/null 2>&1; }
{ have sipp && [ -e /usr/share/sip-tester/g711a.pcap ]; } || missing+=(sip-tester)
{ have baresip && [ -e /usr/lib/baresip/modules/sndfile.so ]; } || missing+=(baresip-core)
{ have kamailio && compgen -G "/usr/lib/*/kamailio/modules/rr.so" >/dev/null; } || missing+=(kamailio)
have sox || missing+=(sox)
have espeak-ng || missing+=(espeak-ng)
# The QA replay pages are tested in a real browser (tests/browser.rs): Debian's Chromium,
# driven by Playwright from npm.
[ -x /usr/bin/chromium ] || missing+=(chromium)
{ have node && have npm; } || missing+=(nodejs npm)

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

# Playwright (playwright-core only: it drives the system Chromium, downloads no browser),
# pinned by tests/browser/package-lock.json.
if [ -f tests/browser/package-lock.json ] && [ ! -d tests/browser/node_modules/playwright-core ]; then
    echo "tests/run.sh: installing tests/browser's npm packages" >&2
    (cd tests/browser && npm ci --no-audit --no-fund)
fi

log="$(mktemp -t hotline-tests-XXXXXX.log)"
trap 'rm -f "$log"' EXIT
set +e
"${cargo_command[@]}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole run, counting crashed and unbuilt test binaries as failed and
# failing a run in which no test ran.
summary=0
bash tests/summarise.sh "$status" <"$log" || summary=$?
if [ "$status" -ne 0 ]; then
    exit "$status"
fi
exit "$summary"
