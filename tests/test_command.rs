//! The test command itself (`tests/run.sh`, which CI runs): CI judges a run by its closing line
//! `N passed, N failed` and its exit code, so both must say "failed" whenever a test failed, a
//! test binary crashed or did not build, or nothing ran at all. The closing line comes from
//! `tests/summarise.sh`, fed here with logs in the exact shape `cargo test --no-fail-fast`
//! prints them; `run.sh` is driven with a stand-in `cargo` that replays such a log, so no test
//! here runs the real suite.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const ALL_PASSED: &str = "\
   Compiling hotline v0.1.0 (/src/hotline)
    Finished `test` profile [unoptimized + debuginfo] target(s) in 8.02s
     Running unittests src/lib.rs (target/debug/deps/hotline-8348ca7a80742723)

running 3 tests
test sip::tests::parses_invite ... ok
test sip::tests::parses_bye ... ok
test switch::tests::answers ... ok

test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

     Running tests/sipp_calls.rs (target/debug/deps/sipp_calls-211bae8a2a843d08)

running 2 tests
test basic_call_is_answered ... ok
test busy_here_is_486 ... ok

test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 9.06s

   Doc-tests hotline

running 1 test
test src/lib.rs - (line 3) ... ok

test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.20s

";

const ONE_FAILED: &str = "\
     Running unittests src/lib.rs (target/debug/deps/hotline-8348ca7a80742723)

running 1 test
test switch::tests::answers ... ok

test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

     Running tests/agents.rs (target/debug/deps/agents-54177b3132fe8f14)

running 2 tests
test busy_phone_passes_the_call_on ... ok
test wrong_password_is_forbidden ... FAILED

failures:

---- wrong_password_is_forbidden stdout ----

thread 'wrong_password_is_forbidden' (16729) panicked at tests/agents.rs:1:44:
assertion `left == right` failed: planted
  left: 1
 right: 2

failures:
    wrong_password_is_forbidden

test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.27s

error: test failed, to rerun pass `--test agents`
   Doc-tests hotline

running 0 tests

test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

error: 1 target failed:
    `--test agents`
";

/// A test binary killed by a signal: cargo prints its `Running` line and the tests that
/// finished, then no `test result:` line at all. Another binary fails a test in the same run,
/// so the crash must add to the failures, not merely make a green run red.
fn crashed_binary(signal: &str) -> String {
    format!(
        "\
     Running unittests src/lib.rs (target/debug/deps/hotline-8348ca7a80742723)

running 2 tests
test sip::tests::parses_invite ... ok
test sip::tests::parses_bye ... ok

test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

     Running tests/sip_raw.rs (target/debug/deps/sip_raw-73660483e1969ded)

running 3 tests
test options_is_answered ... ok
error: test failed, to rerun pass `--test sip_raw`

Caused by:
  process didn't exit successfully: `/src/hotline/target/debug/deps/sip_raw-73660483e1969ded` ({signal})
     Running tests/sipp_calls.rs (target/debug/deps/sipp_calls-211bae8a2a843d08)

running 2 tests
test basic_call_is_answered ... ok
test busy_here_is_486 ... FAILED

failures:
    busy_here_is_486

test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 3.06s

error: test failed, to rerun pass `--test sipp_calls`
error: 2 targets failed:
    `--test sip_raw`
    `--test sipp_calls`
"
    )
}

/// The last test binary crashing: nothing follows its `Running` line but cargo's error.
const LAST_BINARY_CRASHED: &str = "\
     Running unittests src/lib.rs (target/debug/deps/hotline-8348ca7a80742723)

running 2 tests
test switch::tests::answers ... ok
test switch::tests::limits ... FAILED

failures:
    switch::tests::limits

test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

error: test failed, to rerun pass `--lib`

     Running tests/sip_raw.rs (target/debug/deps/sip_raw-73660483e1969ded)

running 1 test
error: test failed, to rerun pass `--test sip_raw`

Caused by:
  process didn't exit successfully: `/src/hotline/target/debug/deps/sip_raw-73660483e1969ded` (signal: 6, SIGABRT: process abort signal)
error: 1 target failed:
    `--test sip_raw`
";

const BUILD_FAILED: &str = "\
   Compiling hotline v0.1.0 (/src/hotline)
error: this file contains an unclosed delimiter
 --> tests/agents.rs:1:10
  |
1 | fn main(
  |        -^
  |        |
  |        unclosed delimiter

error: could not compile `hotline` (test \"agents\") due to 1 previous error
error: this file contains an unclosed delimiter
 --> tests/sip_raw.rs:1:10
  |
1 | fn main(
  |        -^
  |        |
  |        unclosed delimiter

error: could not compile `hotline` (test \"sip_raw\") due to 1 previous error
";

/// `cargo test sipp_calls`: the word is a test-name filter that matches nothing.
const NOTHING_RAN: &str = "\
    Finished `test` profile [unoptimized + debuginfo] target(s) in 0.18s
     Running unittests src/lib.rs (target/debug/deps/hotline-8348ca7a80742723)

running 0 tests

test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 120 filtered out; finished in 0.00s

     Running tests/sipp_calls.rs (target/debug/deps/sipp_calls-211bae8a2a843d08)

running 0 tests

test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 12 filtered out; finished in 0.00s

";

/// `cargo test --test no_such_file`: cargo refuses before running anything.
const CARGO_REFUSED: &str = "\
error: no test target named `no_such_file` in default-run packages
help: available test targets:
    agents
    sipp_calls
";

/// Runs tests/summarise.sh on `log` with cargo's exit status; returns (stdout, exit code).
fn summarise(log: &str, cargo_status: i32) -> (String, i32) {
    let mut child = Command::new("bash")
        .arg(repo_root().join("tests/summarise.sh"))
        .arg(cargo_status.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run bash tests/summarise.sh");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(log.as_bytes())
        .expect("feed the log");
    let out = child.wait_with_output().expect("wait for summarise.sh");
    (stdout(&out), out.status.code().expect("exit code"))
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn closing_line(text: &str) -> &str {
    text.lines().last().unwrap_or("")
}

#[test]
fn a_run_where_every_test_passed_closes_with_the_total_and_exits_0() {
    let (out, code) = summarise(ALL_PASSED, 0);
    assert_eq!(closing_line(&out), "6 passed, 0 failed", "{out}");
    assert_eq!(code, 0, "{out}");
}

#[test]
fn a_failing_test_is_counted_and_the_run_exits_1() {
    let (out, code) = summarise(ONE_FAILED, 101);
    assert_eq!(closing_line(&out), "2 passed, 1 failed", "{out}");
    assert_eq!(code, 1, "{out}");
}

#[test]
fn a_test_binary_killed_by_sigsegv_counts_as_one_more_failed() {
    let log = crashed_binary("signal: 11, SIGSEGV: invalid memory reference");
    let (out, code) = summarise(&log, 101);
    // Passed: 2 unit tests, the sip_raw test that finished before the crash, 1 sipp_calls
    // test. Failed: the crashed sip_raw binary and 1 sipp_calls test.
    assert_eq!(closing_line(&out), "4 passed, 2 failed", "{out}");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("Running tests/sip_raw.rs"),
        "the crashed binary is named: {out}"
    );
}

#[test]
fn a_test_binary_that_aborts_counts_as_one_more_failed() {
    let log = crashed_binary("signal: 6, SIGABRT: process abort signal");
    let (out, code) = summarise(&log, 101);
    assert_eq!(closing_line(&out), "4 passed, 2 failed", "{out}");
    assert_eq!(code, 1, "{out}");
}

#[test]
fn the_last_test_binary_crashing_counts_as_one_more_failed() {
    let (out, code) = summarise(LAST_BINARY_CRASHED, 101);
    assert_eq!(closing_line(&out), "1 passed, 2 failed", "{out}");
    assert_eq!(code, 1, "{out}");
}

#[test]
fn each_test_target_that_does_not_build_counts_as_one_failed() {
    let (out, code) = summarise(BUILD_FAILED, 101);
    assert_eq!(closing_line(&out), "0 passed, 2 failed", "{out}");
    assert_eq!(code, 1, "{out}");
}

#[test]
fn a_run_in_which_no_test_ran_fails_with_a_reason() {
    let (out, code) = summarise(NOTHING_RAN, 0);
    assert_eq!(closing_line(&out), "0 passed, 0 failed", "{out}");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no test ran"), "{out}");
}

#[test]
fn cargo_failing_with_no_failed_test_in_its_log_counts_as_one_failed() {
    let (out, code) = summarise(CARGO_REFUSED, 101);
    assert_eq!(closing_line(&out), "0 passed, 1 failed", "{out}");
    assert_eq!(code, 1, "{out}");
}

/// `tests/run.sh ARGS` with `HOTLINE_TEST_DRY_RUN`: the cargo command it would run.
fn planned_cargo_command(args: &[&str]) -> String {
    let out = Command::new("bash")
        .arg(repo_root().join("tests/run.sh"))
        .args(args)
        .env("HOTLINE_TEST_DRY_RUN", "1")
        .env_remove("HOTLINE_TEST_PROFILE")
        .output()
        .expect("run bash tests/run.sh");
    assert!(out.status.success(), "dry run of {args:?} failed: {out:?}");
    stdout(&out).trim_end().to_string()
}

#[test]
fn a_word_naming_a_test_file_runs_that_file_and_other_words_stay_filters() {
    let base = "cargo test --locked --no-fail-fast";
    assert_eq!(
        planned_cargo_command(&["sipp_calls"]),
        format!("{base} --test sipp_calls")
    );
    assert_eq!(
        planned_cargo_command(&["agents", "busy_phone"]),
        format!("{base} --test agents busy_phone")
    );
    // Already a cargo option's value, or after `--` (the test binaries' own arguments).
    assert_eq!(
        planned_cargo_command(&["--test", "agents"]),
        format!("{base} --test agents")
    );
    assert_eq!(
        planned_cargo_command(&["--lib", "--", "--nocapture", "sipp_calls"]),
        format!("{base} --lib -- --nocapture sipp_calls")
    );
    assert_eq!(planned_cargo_command(&[]), base);
}

/// A stand-in `cargo` that prints `log` and exits with `status`, first on PATH.
fn fake_cargo(dir: &Path, log: &str, status: i32) -> String {
    std::fs::write(dir.join("cargo.log"), log).expect("write the canned log");
    let script = dir.join("cargo");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncat '{}'\nexit {status}\n",
            dir.join("cargo.log").display()
        ),
    )
    .expect("write the stand-in cargo");
    Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .expect("chmod");
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// `tests/run.sh` end to end with cargo replaced: (stdout, exit code).
fn run_sh_with(log: &str, cargo_status: i32) -> (String, i32) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = fake_cargo(dir.path(), log, cargo_status);
    let out = Command::new("bash")
        .arg(repo_root().join("tests/run.sh"))
        .env("PATH", path)
        .env_remove("HOTLINE_TEST_DRY_RUN")
        .env_remove("HOTLINE_TEST_PROFILE")
        .stdin(Stdio::null())
        .output()
        .expect("run bash tests/run.sh");
    (stdout(&out), out.status.code().expect("exit code"))
}

#[test]
fn run_sh_ends_with_the_closing_line_and_fails_when_a_binary_crashed() {
    let (out, code) = run_sh_with(
        &crashed_binary("signal: 11, SIGSEGV: invalid memory reference"),
        101,
    );
    assert_eq!(closing_line(&out), "4 passed, 2 failed", "{out}");
    assert_eq!(code, 101, "{out}");
}

#[test]
fn run_sh_fails_when_cargo_succeeds_but_no_test_ran() {
    let (out, code) = run_sh_with(NOTHING_RAN, 0);
    assert_eq!(closing_line(&out), "0 passed, 0 failed", "{out}");
    assert_eq!(code, 1, "{out}");
}

#[test]
fn run_sh_exits_0_when_every_test_passed() {
    let (out, code) = run_sh_with(ALL_PASSED, 0);
    assert_eq!(closing_line(&out), "6 passed, 0 failed", "{out}");
    assert_eq!(code, 0, "{out}");
}
