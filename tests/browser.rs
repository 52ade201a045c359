//! The QA replay pages in a real browser (issue 9): headless Chromium (Debian's
//! /usr/bin/chromium) driven by Playwright (tests/browser/replay.mjs, npm package
//! playwright-core) against `hotline serve` with seeded calls and recordings. Installs the
//! npm package when tests/browser/node_modules is missing (npm ci); fails, never skips,
//! when Chromium, Node.js or npm cannot be had.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::web::{add_user, seed_call};
use common::{repo_root, run_bounded, PortBlock, Switch};

const CHROMIUM: &str = "/usr/bin/chromium";

/// Makes sure Chromium and tests/browser's npm packages are there; panics when they cannot be.
fn browser_tools(dir: &Path) {
    if !Path::new(CHROMIUM).exists() {
        let (out, killed) = run_bounded(
            Command::new("apt-get").args(["install", "-y", "--no-install-recommends", "chromium"]),
            Duration::from_secs(600),
        );
        assert!(
            !killed && out.status.success() && Path::new(CHROMIUM).exists(),
            "{CHROMIUM} is missing and `apt-get install -y chromium` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (node, _) = run_bounded(
        Command::new("node").arg("--version"),
        Duration::from_secs(10),
    );
    assert!(
        node.status.success(),
        "Node.js (`node`) is needed: apt-get install nodejs npm"
    );
    if !dir.join("node_modules/playwright-core").exists() {
        let (out, killed) = run_bounded(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(dir),
            Duration::from_secs(300),
        );
        assert!(
            !killed && out.status.success(),
            "npm ci in {} failed: {}{}",
            dir.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn in_chromium_a_reviewer_replays_a_call_from_its_markers_and_an_agent_sees_only_their_own() {
    let dir = repo_root().join("tests/browser");
    browser_tools(&dir);
    let switch = Switch::start(PortBlock::reserve());
    let http = switch.http.expect("http= in the ready line");
    let data = switch.data.path();
    add_user(data, "rita", "reviewer", None, "rita-password-1");
    add_user(data, "alice", "agent", Some("alice"), "alice-password-1");
    let day = Duration::from_secs(24 * 3600);
    seed_call(data, "call-alice-b", "alice", day);
    seed_call(data, "call-bob-b", "bob", day);
    let base = format!("http://{http}");
    let (out, killed) = run_bounded(
        Command::new("node").current_dir(&dir).args([
            "replay.mjs",
            &base,
            "rita",
            "rita-password-1",
            "alice",
            "alice-password-1",
            "alice",
            "call-alice-b",
            "call-bob-b",
        ]),
        Duration::from_secs(120),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !killed,
        "the browser run took over 120 s\n{stdout}\n{stderr}"
    );
    assert!(
        out.status.success(),
        "the browser run failed\n{stdout}\n{stderr}\nswitch log:\n{}",
        switch.log_tail()
    );
    // Every check ran (a script that stopped early would print fewer).
    assert_eq!(stdout.matches("ok: ").count(), 31, "{stdout}");
}
