#!/usr/bin/env bash
# The closing line of the hotline's test command: reads the log of a `cargo test` run on stdin
# and prints, as its last line, `N passed, N failed` for the whole run. Exits 0 only when at
# least one test ran and none failed.
#
#   cargo test --no-fail-fast ... 2>&1 | tee log; bash tests/summarise.sh "$cargo_status" < log
#
# cargo prints a `test result:` line per test binary, but not for a binary that crashed
# (abort, SIGSEGV: `Running ...` and then `error: test failed, to rerun pass ...`) nor for one
# that did not build (`error: could not compile ...`). Each of those counts as one failed test,
# so a run that lost a whole binary never reads as green. The optional argument is cargo's exit
# status: a non-zero status with no failure in the log still counts as one failed (cargo
# refused the arguments, say), so the closing line and the exit code always agree.
set -euo pipefail

cargo_status="${1:-0}"

awk -v cargo_status="$cargo_status" '
    # A binary that started (`Running ...`, `Doc-tests ...`) and never printed its result.
    function close_binary() {
        if (open) {
            crashed++
            passed += open_passed
            print "tests/summarise.sh: " open_name " stopped before its test result (crashed); counted as 1 failed"
        }
        open = 0
        open_passed = 0
    }
    /^ *Running / || /^ *Doc-tests / {
        close_binary()
        open = 1
        open_name = $0
        sub(/^ */, "", open_name)
        next
    }
    /^test result:/ {
        for (i = 2; i <= NF; i++) {
            if ($(i) ~ /^passed/) passed += $(i-1)
            if ($(i) ~ /^failed/) failed += $(i-1)
        }
        open = 0
        open_passed = 0
        next
    }
    # Only used when the binary crashes: the tests it finished before that.
    open && /^test .* \.\.\. ok$/ { open_passed++ }
    /^error: could not compile / {
        unbuilt++
        print "tests/summarise.sh: a test target did not build; counted as 1 failed"
    }
    END {
        close_binary()
        failed += crashed + unbuilt
        if (cargo_status != 0 && failed == 0) {
            failed = 1
            print "tests/summarise.sh: cargo test exited with status " cargo_status " without a failing test in its log; counted as 1 failed"
        }
        if (passed + failed == 0) {
            print "tests/summarise.sh: no test ran (a filter or test name that matches nothing?), so the run fails"
        }
        printf "%d passed, %d failed\n", passed, failed
        exit (failed == 0 && passed > 0) ? 0 : 1
    }
'
