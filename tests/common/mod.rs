//! Shared harness for the integration tests that drive the built `hotline` binary with real
//! SIP peers (SIPp, baresip) over loopback. It owns: starting and stopping the switch, running
//! SIPp with bounded waits, per-test port blocks (`ports.rs`), copies of the shipped config for tests that
//! need other settings, and an RTP sink that listens to what the switch plays.
//! It must not touch `src/`: everything here goes through the binary's CLI contract.
#![allow(dead_code)]

pub mod heard;

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

// Extra `serve` arguments (--advertise, a custom --rtp-ports) and signals: serve_options.rs.
mod serve_options;
#[allow(unused_imports)] // most test files use none of it
pub use serve_options::*;

pub const SIPP_SHARE: &str = "/usr/share/sip-tester";

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn scenario(name: &str) -> PathBuf {
    repo_root().join("tests/scenarios").join(name)
}

// ---------------------------------------------------------------------------------------------
// Ports: per-test blocks, reserved across processes (ports.rs)

mod ports;
pub use ports::*;

// ---------------------------------------------------------------------------------------------
// Bounded child processes

/// Runs a command to completion or kills it at the deadline; returns its output either way,
/// and whether it had to be killed.
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> (Output, bool) {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + limit;
    let mut killed = false;
    let status = loop {
        match child.try_wait().expect("wait for child") {
            Some(status) => break status,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                killed = true;
                break child.wait().expect("wait for killed child");
            }
            None => thread::sleep(Duration::from_millis(20)),
        }
    };
    let output = Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    (output, killed)
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut buf);
        }
        buf
    })
}

fn send_sigterm(pid: u32) {
    // No libc in the dependencies: kill(1) is always there.
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
}

fn wait_with_deadline(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() >= deadline => return None,
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(_) => return None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Config copies

/// A copy of the shipped `dialplans/`, `prompts/` and `hardware/` in a tempdir, for tests that
/// need other settings. The edits work on the TOML text so they do not depend on the exact
/// schema beyond the key names in the CLI contract.
pub struct ConfigCopy {
    pub dir: tempfile::TempDir,
}

impl ConfigCopy {
    pub fn of_shipped() -> ConfigCopy {
        let dir = tempfile::Builder::new()
            .prefix("hotline-config-")
            .tempdir()
            .expect("config tempdir");
        for sub in ["dialplans", "prompts", "hardware"] {
            copy_tree(&repo_root().join(sub), &dir.path().join(sub));
        }
        ConfigCopy { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Sets keys of the `[standards]` table (values are TOML literals, e.g. `"\"200ms on,
    /// 300ms off\""` or `"2"`). The table is edited where it is; when no dialplan has one, it
    /// is added to the dialplan that declares hotline 4008.
    pub fn set_standards(&self, settings: &[(&str, &str)]) {
        let files = toml_files(&self.path().join("dialplans"));
        let target = files
            .iter()
            .find(|f| read(f).lines().any(|l| l.trim() == "[standards]"))
            .or_else(|| files.iter().find(|f| read(f).contains("\"4008\"")))
            .or(files.first())
            .expect("the shipped config has a dialplan")
            .clone();
        let text = read(&target);
        let keys: Vec<&str> = settings.iter().map(|(k, _)| *k).collect();
        let mut out = String::new();
        let mut in_standards = false;
        let mut found = false;
        for line in text.lines() {
            let trimmed = line.trim();
            if trimmed.starts_with('[') {
                in_standards = trimmed == "[standards]";
                if in_standards {
                    found = true;
                    out.push_str(line);
                    out.push('\n');
                    for (k, v) in settings {
                        out.push_str(&format!("{k} = {v}\n"));
                    }
                    continue;
                }
            }
            let key = trimmed.split('=').next().unwrap_or("").trim();
            if in_standards && keys.contains(&key) {
                continue;
            }
            out.push_str(line);
            out.push('\n');
        }
        if !found {
            // A table must not be followed by the file's top-level keys, so put it first.
            let mut table = String::from("[standards]\n");
            for (k, v) in settings {
                table.push_str(&format!("{k} = {v}\n"));
            }
            let header_end = first_table_offset(&out);
            out.insert_str(header_end, &format!("{table}\n"));
        }
        std::fs::write(&target, out).expect("write dialplan");
    }

    /// Makes `only` (IPv4) the one trusted trunk address: every IPv4 address or network in
    /// `hardware/*.toml` becomes `only`, every IPv6 one the documentation address 2001:db8::1
    /// (so `::1` stops being trusted without duplicating `only` in a list).
    pub fn trust_only(&self, only: &str) {
        for file in toml_files(&self.path().join("hardware")) {
            let text = read(&file);
            let mut out = String::new();
            let mut rest = text.as_str();
            while let Some(start) = rest.find('"') {
                out.push_str(&rest[..=start]);
                rest = &rest[start + 1..];
                let Some(end) = rest.find('"') else { break };
                let literal = &rest[..end];
                if is_ipv6_or_cidr(literal) {
                    out.push_str("2001:db8::1");
                } else if is_ip_or_cidr(literal) {
                    out.push_str(only);
                } else {
                    out.push_str(literal);
                }
                out.push('"');
                rest = &rest[end + 1..];
            }
            out.push_str(rest);
            std::fs::write(&file, out).expect("write hardware file");
        }
    }
}

/// Where a new top-level table may go: after the leading top-level keys (before the first
/// `[table]`), or at the end when there is none.
fn first_table_offset(text: &str) -> usize {
    let mut offset = 0;
    for line in text.lines() {
        if line.trim_start().starts_with('[') {
            return offset;
        }
        offset += line.len() + 1;
    }
    text.len()
}

fn is_ipv6_or_cidr(s: &str) -> bool {
    let addr = s.split('/').next().unwrap_or("");
    addr.parse::<std::net::Ipv6Addr>().is_ok()
}

fn is_ip_or_cidr(s: &str) -> bool {
    let addr = s.split('/').next().unwrap_or("");
    addr.parse::<std::net::IpAddr>().is_ok()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create config dir");
    let Ok(entries) = std::fs::read_dir(from) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let dest = to.join(entry.file_name());
        if path.is_dir() {
            copy_tree(&path, &dest);
        } else {
            std::fs::copy(&path, &dest).unwrap_or_else(|e| panic!("copy {}: {e}", path.display()));
        }
    }
}

/// How long the shipped Mandarin greeting (recording notice + welcome) lasts, from the prompt
/// files; tests use it to send digits into the menu rather than into the greeting.
/// Falls back to 12 s (the 10 s greeting budget plus a short notice) when the files are not WAV.
pub fn greeting_duration(config_dir: &Path, language: &str) -> Duration {
    let notice = prompt_duration(config_dir, language, "recording_notice");
    let welcome = prompt_duration(config_dir, language, "welcome");
    match (notice, welcome) {
        (Some(notice), Some(welcome)) => notice + welcome,
        _ => Duration::from_secs(12),
    }
}

/// How long one prompt file lasts, when it is a WAV the test can read.
pub fn prompt_duration(config_dir: &Path, language: &str, name: &str) -> Option<Duration> {
    let path = config_dir
        .join("prompts")
        .join(language)
        .join(format!("{name}.wav"));
    let reader = hound::WavReader::open(path).ok()?;
    let rate = reader.spec().sample_rate.max(1) as u64;
    Some(Duration::from_millis(
        reader.duration() as u64 * 1000 / rate,
    ))
}

// ---------------------------------------------------------------------------------------------
// The switch

/// A running `hotline serve` on an ephemeral SIP port, its own data dir and RTP range.
/// Dropping it sends SIGTERM, waits a bounded time, then kills.
pub struct Switch {
    child: Option<Child>,
    pub sip: SocketAddr,
    pub data: tempfile::TempDir,
    pub config_dir: PathBuf,
    pub ports: PortBlock,
    log_path: PathBuf,
    stdout_rest: Arc<Mutex<String>>,
    _config: Option<ConfigCopy>,
    /// Extra `serve` arguments (serve_options.rs); an `--rtp-ports` here replaces the block's.
    serve_args: Vec<String>,
    /// The QA pages' address (`http=` in the ready line).
    pub http: Option<SocketAddr>,
}

impl Switch {
    /// The switch on the shipped config (the repo root).
    pub fn start(ports: PortBlock) -> Switch {
        Switch::launch(ports, repo_root(), None)
    }

    /// The switch on an edited copy of the config.
    pub fn start_with(ports: PortBlock, config: ConfigCopy) -> Switch {
        let dir = config.path().to_path_buf();
        Switch::launch(ports, dir, Some(config))
    }

    fn launch(ports: PortBlock, config_dir: PathBuf, config: Option<ConfigCopy>) -> Switch {
        Switch::launch_with_args(ports, config_dir, config, Vec::new())
    }

    fn launch_with_args(
        ports: PortBlock,
        config_dir: PathBuf,
        config: Option<ConfigCopy>,
        serve_args: Vec<String>,
    ) -> Switch {
        let data = tempfile::Builder::new()
            .prefix("hotline-data-")
            .tempdir()
            .expect("data tempdir");
        let log_path = data.path().join("switch.log");
        let mut switch = Switch {
            child: None,
            sip: "127.0.0.1:0".parse().expect("addr"),
            data,
            config_dir,
            ports,
            log_path,
            stdout_rest: Arc::new(Mutex::new(String::new())),
            _config: config,
            serve_args,
            http: None,
        };
        switch.serve("127.0.0.1:0");
        switch
    }

    /// Runs `hotline serve` on this switch's config, data dir and RTP range with `--sip sip`,
    /// and waits (bounded) for its ready line. The log is appended to, so a restarted switch
    /// keeps one log.
    fn serve(&mut self, sip: &str) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("open switch log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hotline"));
        cmd.arg("serve")
            .arg("--config")
            .arg(&self.config_dir)
            .args(["--sip", sip])
            .arg("--data")
            .arg(self.data.path())
            .args(["--http", "127.0.0.1:0"])
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        if !self.serve_args.iter().any(|a| a == "--rtp-ports") {
            cmd.arg("--rtp-ports").arg(self.ports.switch_rtp());
        }
        cmd.args(&self.serve_args);
        let mut child = cmd.spawn().expect("start hotline serve");
        let stdout = child.stdout.take().expect("stdout pipe");
        let (ready_tx, ready_rx) = mpsc::channel::<String>();
        let rest = self.stdout_rest.clone();
        // Keeps reading after the ready line so the switch never blocks on a full pipe.
        thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let mut sent = false;
            while let Some(Ok(line)) = lines.next() {
                if !sent && line.starts_with("hotline ready") {
                    let _ = ready_tx.send(line);
                    sent = true;
                } else if let Ok(mut rest) = rest.lock() {
                    rest.push_str(&line);
                    rest.push('\n');
                }
            }
        });
        self.child = Some(child);
        // Disconnected (stdout closed: the switch died) ends the wait early.
        let line = match ready_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => line,
            Err(_) => {
                let status = self
                    .child
                    .as_mut()
                    .and_then(|c| wait_with_deadline(c, Duration::from_secs(2)));
                panic!(
                    "hotline serve gave no ready line (exited: {status:?}; waited at most 30 s)\n\
                     stdout: {}\nlog:\n{}",
                    self.stdout_rest
                        .lock()
                        .map(|s| s.clone())
                        .unwrap_or_default(),
                    self.log_tail()
                );
            }
        };
        self.sip = ready_field(&line, "sip=")
            .unwrap_or_else(|| panic!("no sip= address in ready line {line:?}"));
        self.http = ready_field(&line, "http=");
    }

    /// Stops the switch with SIGTERM (bounded by `limit`, then killed) and starts it again on
    /// the same config, data dir, RTP range and SIP address, as an admin restarting the
    /// service would. Returns how the first run exited (None: it had to be killed).
    pub fn restart(&mut self, limit: Duration) -> Option<ExitStatus> {
        let status = self.terminate(limit);
        let sip = self.sip.to_string();
        self.serve(&sip);
        status
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// The last part of the switch's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hotline"));
        cmd.args(args);
        let (out, killed) = run_bounded(&mut cmd, Duration::from_secs(15));
        assert!(!killed, "hotline {args:?} took longer than 15 s");
        out
    }

    /// `hotline calls list --json`: newest first.
    pub fn calls(&self) -> Vec<Value> {
        let data = self
            .data
            .path()
            .to_str()
            .expect("utf-8 data dir")
            .to_string();
        let out = self.cli(&["calls", "list", "--data", &data, "--json"]);
        assert!(
            out.status.success(),
            "hotline calls list failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        match serde_json::from_slice::<Value>(&out.stdout) {
            Ok(Value::Array(calls)) => calls,
            other => panic!(
                "hotline calls list --json gave no JSON array ({other:?}): {}",
                String::from_utf8_lossy(&out.stdout)
            ),
        }
    }

    /// `hotline calls show ID --json`, or None when the switch has no such call.
    pub fn call(&self, id: &str) -> Option<Value> {
        let data = self
            .data
            .path()
            .to_str()
            .expect("utf-8 data dir")
            .to_string();
        let out = self.cli(&["calls", "show", id, "--data", &data, "--json"]);
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    /// Waits (bounded) until the call with this SIP Call-ID has ended in the records.
    pub fn ended_call(&self, sip_call_id: &str, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        let mut last = None;
        while Instant::now() < deadline {
            if let Some(call) = self.call(sip_call_id) {
                if !call["ended_at"].is_null() && !call["outcome"].is_null() {
                    return call;
                }
                last = Some(call);
            }
            thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "call {sip_call_id} did not end in the records within {limit:?}; last seen: {}\nlog:\n{}",
            last.map(|c| c.to_string()).unwrap_or_else(|| "nothing".into()),
            self.log_tail()
        );
    }

    /// Waits (bounded) until `count` calls have ended in the records.
    pub fn ended_calls(&self, count: usize, limit: Duration) -> Vec<Value> {
        let deadline = Instant::now() + limit;
        let mut calls = Vec::new();
        while Instant::now() < deadline {
            calls = self.calls();
            let ended = calls.iter().filter(|c| !c["outcome"].is_null()).count();
            if ended >= count {
                return calls;
            }
            thread::sleep(Duration::from_millis(250));
        }
        panic!(
            "expected {count} ended calls within {limit:?}, records: {}",
            Value::Array(calls)
        );
    }

    /// Sends SIGTERM and waits (bounded) for the exit status.
    pub fn terminate(&mut self, limit: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        send_sigterm(child.id());
        let status = wait_with_deadline(child, limit);
        if status.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.child = None;
        status
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            send_sigterm(child.id());
            if wait_with_deadline(child, Duration::from_secs(5)).is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if thread::panicking() {
            eprintln!(
                "--- hotline log ({}) ---\n{}",
                self.log_path.display(),
                self.log_tail()
            );
        }
    }
}

fn ready_field(line: &str, key: &str) -> Option<SocketAddr> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key))
        .and_then(|a| a.parse().ok())
}

// ---------------------------------------------------------------------------------------------
// Call records

pub fn events(call: &Value) -> Vec<Value> {
    call["events"].as_array().cloned().unwrap_or_default()
}

pub fn event_names(call: &Value) -> Vec<String> {
    events(call)
        .iter()
        .map(|e| e["event"].as_str().unwrap_or("?").to_string())
        .collect()
}

/// The first event with this name, or a panic that shows the whole record.
pub fn event(call: &Value, name: &str) -> Value {
    find_event(call, name, |_| true)
        .unwrap_or_else(|| panic!("no {name} event in the record: {call:#}"))
}

pub fn find_event(call: &Value, name: &str, pred: impl Fn(&Value) -> bool) -> Option<Value> {
    events(call)
        .into_iter()
        .find(|e| e["event"] == name && pred(e))
}

/// Position of the first event with this name satisfying `pred` (to check order).
pub fn position(call: &Value, name: &str, pred: impl Fn(&Value) -> bool) -> Option<usize> {
    events(call)
        .iter()
        .position(|e| e["event"] == name && pred(e))
}

pub fn offset_ms(event: &Value) -> u64 {
    event["offset_ms"]
        .as_u64()
        .unwrap_or_else(|| panic!("event without offset_ms: {event}"))
}

// ---------------------------------------------------------------------------------------------
// SIPp

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// One SIPp run: a scenario from `tests/scenarios/`, against a target, with bounded time.
pub struct Sipp {
    scenario: PathBuf,
    target: SocketAddr,
    ports: PortBlock,
    service: String,
    transport: Transport,
    calls: u32,
    limit: Option<u32>,
    rate: Option<u32>,
    hold: Duration,
    timeout: Duration,
    keys: Vec<(String, String)>,
    sets: Vec<(String, String)>,
    call_id_tag: String,
    local_ip: String,
    local_port: Option<u16>,
    media_port: Option<u16>,
    credentials: Option<(String, String)>,
    files: Vec<(String, Vec<u8>)>,
}

/// What a SIPp run left behind.
pub struct SippRun {
    pub status: ExitStatus,
    pub killed: bool,
    pub stdout: String,
    pub stderr: String,
    pub errors: String,
    pub messages: String,
    pub stats: String,
    /// What the scenario wrote with `<log>` actions (`-trace_logs`).
    pub logs: String,
    pub dir: tempfile::TempDir,
}

/// Fails the test with everything needed to see why when a SIPp run (`what`: the caller, the
/// desk phone, ...) did not succeed.
pub fn assert_sipp_ok(what: &str, run: &SippRun, switch: &Switch) {
    assert!(
        run.success(),
        "{what} failed\n{}\n--- switch log ---\n{}",
        run.report(),
        switch.log_tail()
    );
}

impl SippRun {
    pub fn success(&self) -> bool {
        self.status.success() && !self.killed
    }

    /// SIPp could not bind its SIP port (it says so and exits before sending anything).
    pub fn lost_its_sip_port(&self) -> bool {
        !self.success()
            && self.stderr.contains("Unable to bind main socket")
            && self.stderr.contains("Address already in use")
    }

    /// Everything needed to see why a run failed.
    pub fn report(&self) -> String {
        let tail = |s: &str, n: usize| {
            let lines: Vec<&str> = s.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        };
        format!(
            "sipp exit {:?} (killed: {})\n--- stderr ---\n{}\n--- errors ---\n{}\n--- logs ---\n{}\n--- messages (tail) ---\n{}",
            self.status.code(),
            self.killed,
            tail(&self.stderr, 20),
            tail(&self.errors, 60),
            tail(&self.logs, 20),
            tail(&self.messages, 120)
        )
    }

    /// Lines the scenario logged that start with `word` (e.g. "invite"), in order.
    pub fn log_lines(&self, word: &str) -> Vec<String> {
        self.logs
            .lines()
            .filter(|l| l.split_whitespace().next() == Some(word))
            .map(str::to_string)
            .collect()
    }

    /// When the scenario logged `word`: the scenarios log `WORD [$s] [$us]` from a
    /// `gettimeofday` action, as seconds since the epoch.
    pub fn logged_times(&self, word: &str) -> Vec<f64> {
        self.log_lines(word)
            .iter()
            .filter_map(|l| {
                let mut fields = l.split_whitespace().skip(1);
                let secs: f64 = fields.next()?.parse().ok()?;
                let micros: f64 = fields.next()?.parse().ok()?;
                Some(secs + micros / 1e6)
            })
            .collect()
    }

    /// `SuccessfulCall(C)` and `FailedCall(C)` from the last row of the statistics CSV.
    pub fn call_counts(&self) -> Option<(u64, u64)> {
        let mut lines = self.stats.lines().filter(|l| !l.trim().is_empty());
        let header: Vec<&str> = lines.next()?.split(';').collect();
        let last: Vec<&str> = lines.next_back()?.split(';').collect();
        let col = |name: &str| {
            let i = header.iter().position(|h| *h == name)?;
            last.get(i)?.trim().parse::<u64>().ok()
        };
        Some((col("SuccessfulCall(C)")?, col("FailedCall(C)")?))
    }
}

impl Sipp {
    pub fn new(scenario_file: &str, switch: &Switch) -> Sipp {
        Sipp::towards(scenario_file, switch.sip, switch.ports)
    }

    /// A run aimed at something other than a switch (another SIPp standing in for it).
    pub fn towards(scenario_file: &str, target: SocketAddr, ports: PortBlock) -> Sipp {
        Sipp {
            scenario: scenario(scenario_file),
            target,
            ports,
            service: "4008".into(),
            transport: Transport::Udp,
            calls: 1,
            limit: None,
            rate: None,
            hold: Duration::from_secs(3),
            timeout: Duration::from_secs(30),
            keys: Vec::new(),
            sets: Vec::new(),
            call_id_tag: scenario_file.trim_end_matches(".xml").replace('_', "-"),
            local_ip: "127.0.0.1".into(),
            local_port: None,
            media_port: None,
            credentials: None,
            files: Vec::new(),
        }
    }

    /// SIPp's own SIP port (`-p`): a phone's call-taking SIPp must listen where its REGISTER's
    /// Contact points. Without it, the next SIP port of the test's block
    /// ([`PortBlock::sip_port`]).
    pub fn local_port(mut self, port: u16) -> Self {
        self.local_port = Some(port);
        self
    }
    /// SIPp's media port (`-mp`; it binds this one and the one two above), when several SIPp
    /// processes of one test run at once.
    pub fn media_port(mut self, port: u16) -> Self {
        self.media_port = Some(port);
        self
    }
    /// Digest credentials for `[authentication]` (`-au`, `-ap`).
    pub fn credentials(mut self, user: &str, password: &str) -> Self {
        self.credentials = Some((user.into(), password.into()));
        self
    }
    /// A file SIPp finds in its working directory (e.g. the pcap a scenario plays).
    pub fn file(mut self, name: &str, contents: Vec<u8>) -> Self {
        self.files.push((name.into(), contents));
        self
    }

    /// Where SIPp sends its requests when that is not the switch itself (a proxy in front
    /// of it); in-dialog requests still follow the route set.
    pub fn target(mut self, target: SocketAddr) -> Self {
        self.target = target;
        self
    }
    pub fn service(mut self, user: &str) -> Self {
        self.service = user.into();
        self
    }
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }
    pub fn calls(mut self, calls: u32) -> Self {
        self.calls = calls;
        self
    }
    /// At most this many calls at once (`-l`).
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }
    /// New calls per second (`-r`).
    pub fn rate(mut self, rate: u32) -> Self {
        self.rate = Some(rate);
        self
    }
    /// How long the caller stays before hanging up (`-d`, used by `<pause/>`).
    pub fn hold(mut self, hold: Duration) -> Self {
        self.hold = hold;
        self
    }
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
    /// A `[keyword]` for the scenario's messages (`-key`); a later value of the same name
    /// replaces the earlier one.
    pub fn key(mut self, name: &str, value: impl ToString) -> Self {
        self.keys.retain(|(k, _)| k != name);
        self.keys.push((name.into(), value.to_string()));
        self
    }
    /// A global variable the scenario declares (`-set`). SIPp refuses variables the scenario
    /// does not declare.
    pub fn set(mut self, name: &str, value: impl ToString) -> Self {
        self.sets.push((name.into(), value.to_string()));
        self
    }
    /// Prefix of the SIP Call-IDs: call N gets `TAG-N@127.0.0.1`.
    pub fn call_id_tag(mut self, tag: &str) -> Self {
        self.call_id_tag = tag.into();
        self
    }

    /// The SIP Call-ID SIPp gives its call number `n` (1-based).
    pub fn call_id(&self, n: u32) -> String {
        format!("{}-{n}@{}", self.call_id_tag, self.local_ip)
    }

    pub fn run(self) -> SippRun {
        // The harness's own pick of SIP port is free when handed out, but an unrelated
        // process may bind it before SIPp does: SIPp then exits at once, before sending
        // anything, and runs again on the block's next SIP port. A port the test chose (a
        // desk phone's, named in its registration) is kept.
        let mut attempt = 1;
        loop {
            let local_port = self.local_port.unwrap_or_else(|| self.ports.sip_port());
            let run = self.run_on(local_port);
            if self.local_port.is_some() || attempt == 3 || !run.lost_its_sip_port() {
                return run;
            }
            attempt += 1;
        }
    }

    fn run_on(&self, local_port: u16) -> SippRun {
        let dir = tempfile::Builder::new()
            .prefix("hotline-sipp-")
            .tempdir()
            .expect("sipp tempdir");
        let d = dir.path();
        for (name, contents) in &self.files {
            std::fs::write(d.join(name), contents)
                .unwrap_or_else(|e| panic!("write {name} for sipp: {e}"));
        }
        let media_port = self.media_port.unwrap_or(self.ports.sipp_media());
        let mut cmd = Command::new("sipp");
        cmd.current_dir(d)
            .arg(self.target.to_string())
            .arg("-sf")
            .arg(&self.scenario)
            .args(["-s", &self.service])
            .args(["-i", &self.local_ip])
            .args(["-p", &local_port.to_string()])
            .args(["-mp", &media_port.to_string()])
            .args(["-m", &self.calls.to_string()])
            .args(["-d", &self.hold.as_millis().to_string()])
            .args(["-cid_str", &format!("{}-%u@%s", self.call_id_tag)])
            .args(["-timeout", &format!("{}s", self.timeout.as_secs().max(1))])
            .arg("-timeout_error")
            .arg("-nostdin")
            .arg("-trace_err")
            .arg("-error_file")
            .arg(d.join("errors.log"))
            .arg("-trace_msg")
            .arg("-message_file")
            .arg(d.join("messages.log"))
            .arg("-trace_stat")
            .arg("-stf")
            .arg(d.join("stat.csv"))
            .arg("-trace_logs")
            .arg("-log_file")
            .arg(d.join("logs.log"))
            .args(["-fd", "1"]);
        if let Some((user, password)) = &self.credentials {
            cmd.args(["-au", user, "-ap", password]);
        }
        if self.transport == Transport::Tcp {
            cmd.args(["-t", "t1"]);
        }
        if let Some(limit) = self.limit {
            cmd.args(["-l", &limit.to_string()]);
        }
        if let Some(rate) = self.rate {
            cmd.args(["-r", &rate.to_string(), "-rp", "1000"]);
        }
        let has_sink = self.keys.iter().any(|(k, _)| k == "rtp_sink");
        if !has_sink {
            cmd.args(["-key", "rtp_sink", &media_port.to_string()]);
        }
        for (k, v) in &self.keys {
            cmd.args(["-key", k, v]);
        }
        for (k, v) in &self.sets {
            cmd.args(["-set", k, v]);
        }
        let (out, killed) = run_bounded(&mut cmd, self.timeout + Duration::from_secs(10));
        let read = |name: &str| std::fs::read_to_string(d.join(name)).unwrap_or_default();
        SippRun {
            status: out.status,
            killed,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            errors: read("errors.log"),
            messages: read("messages.log"),
            stats: read("stat.csv"),
            logs: read("logs.log"),
            dir,
        }
    }

    /// Starts the run on a thread, for tests that act on the switch while the call is up.
    pub fn spawn(self) -> thread::JoinHandle<SippRun> {
        thread::spawn(move || self.run())
    }
}

// ---------------------------------------------------------------------------------------------
// RTP sink

/// What arrived at the RTP sink.
#[derive(Debug, Default, Clone)]
pub struct RtpHeard {
    pub packets: usize,
    pub payload_types: Vec<u8>,
    pub ssrcs: Vec<u32>,
    /// Decoded G.711 samples (PCMU/PCMA packets only).
    pub samples: usize,
    /// Root mean square of the decoded samples.
    pub rms: f64,
    pub first_at: Option<Instant>,
    pub last_at: Option<Instant>,
    /// The decoded G.711 samples in arrival order (at most ten minutes of them).
    pub audio: Vec<i16>,
    /// Every RTP packet as it arrived (at most ten minutes of them), to match prompt frames.
    pub received: Vec<heard::ReceivedRtp>,
}

impl RtpHeard {
    /// How many 20 ms frames of what arrived are a tone of `hz`: loud enough to be more than
    /// line noise, and with most of their energy at that frequency (Goertzel). Telling the
    /// tones apart says whose voice crossed the bridge (the queue's prompts and music are not
    /// a pure tone).
    pub fn tone_frames(&self, hz: f64) -> usize {
        self.audio
            .chunks_exact(160)
            .filter(|frame| tone_share(frame, hz) > 0.6)
            .count()
    }
}

/// The share of a frame's energy at `hz` (0..1); 0 for a frame quieter than -40 dBFS.
pub fn tone_share(frame: &[i16], hz: f64) -> f64 {
    let n = frame.len() as f64;
    let energy: f64 = frame.iter().map(|&s| (s as f64) * (s as f64)).sum();
    if energy / n < 330.0 * 330.0 {
        return 0.0;
    }
    let coeff = 2.0 * (2.0 * std::f64::consts::PI * hz / 8000.0).cos();
    let (mut s1, mut s2) = (0f64, 0f64);
    for &x in frame {
        let s0 = x as f64 + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    // A pure tone's Goertzel power is (n/2)^2 A^2 / ... against energy n A^2 / 2: scale so a
    // pure tone on a bin comes out near 1.
    (2.0 * power / (n * energy)).min(1.0)
}

/// A UDP socket on the test's `rtp_sink` port that the scenarios name in their SDP; it counts
/// and decodes what the switch sends until stopped.
pub struct RtpSink {
    stop: Arc<AtomicBool>,
    worker: Option<thread::JoinHandle<RtpHeard>>,
}

impl RtpSink {
    pub fn listen(port: u16) -> RtpSink {
        let socket = UdpSocket::bind(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("bind the RTP sink on 127.0.0.1:{port}: {e}"));
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("read timeout");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let worker = thread::spawn(move || {
            let mut heard = RtpHeard::default();
            let mut sum_sq = 0f64;
            let mut buf = [0u8; 2048];
            while !stopping.load(Ordering::Relaxed) {
                let Ok(n) = socket.recv(&mut buf) else {
                    continue;
                };
                let packet = &buf[..n];
                if n < 12 || packet[0] >> 6 != 2 {
                    continue;
                }
                let now = Instant::now();
                if heard.received.len() < 50 * 600 {
                    heard
                        .received
                        .extend(heard::ReceivedRtp::parse(packet, now));
                }
                heard.first_at.get_or_insert(now);
                heard.last_at = Some(now);
                heard.packets += 1;
                let pt = packet[1] & 0x7f;
                if !heard.payload_types.contains(&pt) {
                    heard.payload_types.push(pt);
                }
                let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
                if !heard.ssrcs.contains(&ssrc) {
                    heard.ssrcs.push(ssrc);
                }
                let csrc_len = 4 * (packet[0] & 0x0f) as usize;
                let payload = packet.get(12 + csrc_len..).unwrap_or(&[]);
                let decode: Option<fn(u8) -> i16> = match pt {
                    0 => Some(ulaw_to_linear),
                    8 => Some(alaw_to_linear),
                    _ => None,
                };
                if let Some(decode) = decode {
                    for &b in payload {
                        let sample = decode(b);
                        let s = sample as f64;
                        sum_sq += s * s;
                        if heard.audio.len() < 8000 * 600 {
                            heard.audio.push(sample);
                        }
                    }
                    heard.samples += payload.len();
                }
            }
            if heard.samples > 0 {
                heard.rms = (sum_sq / heard.samples as f64).sqrt();
            }
            heard
        });
        RtpSink {
            stop,
            worker: Some(worker),
        }
    }

    pub fn finish(mut self) -> RtpHeard {
        self.stop.store(true, Ordering::Relaxed);
        self.worker
            .take()
            .and_then(|w| w.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for RtpSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// ITU-T G.711 µ-law expansion.
pub fn ulaw_to_linear(byte: u8) -> i16 {
    let u = !byte;
    let sign = u & 0x80;
    let exponent = (u >> 4) & 0x07;
    let mantissa = u & 0x0f;
    let magnitude = ((((mantissa as i32) << 3) + 0x84) << exponent) - 0x84;
    if sign != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// ITU-T G.711 A-law expansion.
pub fn alaw_to_linear(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let sign = a & 0x80;
    let exponent = (a >> 4) & 0x07;
    let mantissa = (a & 0x0f) as i32;
    let magnitude = if exponent == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (exponent - 1)
    };
    if sign != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

/// ITU-T G.711 µ-law compression (the inverse of `ulaw_to_linear`, to the code point).
pub fn linear_to_ulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    let mut s = sample as i32;
    let sign = if s < 0 { 0x80 } else { 0 };
    if s < 0 {
        s = -s;
    }
    s = s.min(CLIP) + BIAS;
    let mut exponent = 7;
    let mut mask = 0x4000;
    while exponent > 0 && s & mask == 0 {
        exponent -= 1;
        mask >>= 1;
    }
    let mantissa = (s >> (exponent + 3)) & 0x0f;
    !((sign | (exponent << 4) | mantissa) as u8)
}

/// ITU-T G.711 A-law compression (the inverse of `alaw_to_linear`, to the code point).
pub fn linear_to_alaw(sample: i16) -> u8 {
    let mut s = sample as i32;
    let sign = if s >= 0 { 0x80 } else { 0 };
    if s < 0 {
        s = -s - 1;
    }
    let s = s.min(32767);
    let code = if s < 256 {
        s >> 4
    } else {
        let mut exponent = 1;
        while exponent < 7 && s >= (256 << exponent) {
            exponent += 1;
        }
        (exponent << 4) | ((s >> (exponent + 3)) & 0x0f)
    };
    ((code | sign) as u8) ^ 0x55
}

// ---------------------------------------------------------------------------------------------
// Audio the SIPp scenarios speak

/// A pcap of `seconds` of RTP carrying a sine tone of `hz` (amplitude 8000), 20 ms per packet,
/// in G.711 payload type `payload_type` (0 PCMU, 8 PCMA): what a scenario plays with
/// `play_pcap_audio` so the far end can tell this speaker by its tone. SIPp rewrites the
/// addresses and ports; it keeps the RTP header and the packets' timing.
pub fn tone_pcap(payload_type: u8, hz: f64, seconds: u32) -> Vec<u8> {
    let encode: fn(i16) -> u8 = match payload_type {
        0 => linear_to_ulaw,
        8 => linear_to_alaw,
        other => panic!("tone_pcap speaks G.711 only, not payload type {other}"),
    };
    let ssrc = 0x5ee0_0000 | (hz as u32 & 0xffff);
    let packets = (0..seconds * 50).map(|packet| {
        let mut rtp = Vec::with_capacity(172);
        rtp.push(0x80);
        rtp.push(payload_type);
        rtp.extend_from_slice(&(packet as u16).to_be_bytes());
        rtp.extend_from_slice(&(packet * 160).to_be_bytes());
        rtp.extend_from_slice(&ssrc.to_be_bytes());
        for i in 0..160u32 {
            let t = (packet * 160 + i) as f64 / 8000.0;
            let sample = (8000.0 * (2.0 * std::f64::consts::PI * hz * t).sin()) as i16;
            rtp.push(encode(sample));
        }
        (packet as u64 * 20_000, rtp)
    });
    pcap_of(packets)
}

/// A pcap of RFC 4733 telephone-events (payload type 101) pressing `keys` one after the
/// other, `gap_ms` apart: per key five updates 20 ms apart (the first with the marker bit),
/// then three end packets, on one stream whose sequence numbers and timestamps only go
/// forward — as a phone sends them (the sip-tester pcaps, one per digit, all reuse one
/// stream with older sequence numbers, which a receiver rightly drops).
pub fn keys_pcap(keys: &str, gap_ms: u64) -> Vec<u8> {
    let mut packets = Vec::new();
    let mut seq: u16 = 1000;
    for (n, key) in keys.chars().enumerate() {
        let event: u8 = match key {
            '0'..='9' => key as u8 - b'0',
            '*' => 10,
            '#' => 11,
            other => panic!("keys_pcap presses 0-9, * and #, not {other:?}"),
        };
        let start_us = n as u64 * gap_ms * 1000;
        let timestamp = (start_us / 125) as u32;
        for i in 0..8u64 {
            let end = i >= 5;
            let duration = (160 * (i.min(4) + 1)) as u16;
            let mut rtp = vec![0x80, if i == 0 { 0x80 | 101 } else { 101 }];
            rtp.extend_from_slice(&seq.to_be_bytes());
            rtp.extend_from_slice(&timestamp.to_be_bytes());
            rtp.extend_from_slice(&0x6b65_7973u32.to_be_bytes());
            rtp.push(event);
            rtp.push(if end { 0x80 | 10 } else { 10 });
            rtp.extend_from_slice(&duration.to_be_bytes());
            seq = seq.wrapping_add(1);
            packets.push((start_us + i.min(5) * 20_000, rtp));
        }
    }
    pcap_of(packets.into_iter())
}

/// RTP payloads at microsecond offsets, as a pcap SIPp's `play_pcap_audio` replays (it
/// rewrites the addresses and ports and keeps the RTP header and the timing).
fn pcap_of(packets: impl Iterator<Item = (u64, Vec<u8>)>) -> Vec<u8> {
    let mut out = Vec::new();
    // pcap global header: magic, version 2.4, no zone, no accuracy, snaplen, Ethernet.
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (micros, rtp) in packets {
        let mut udp = Vec::with_capacity(rtp.len() + 8);
        udp.extend_from_slice(&4000u16.to_be_bytes());
        udp.extend_from_slice(&4000u16.to_be_bytes());
        udp.extend_from_slice(&((rtp.len() + 8) as u16).to_be_bytes());
        udp.extend_from_slice(&0u16.to_be_bytes());
        udp.extend_from_slice(&rtp);
        let mut ip = vec![0x45, 0];
        ip.extend_from_slice(&((udp.len() + 20) as u16).to_be_bytes());
        ip.extend_from_slice(&[0, 0, 0, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1]);
        ip.extend_from_slice(&udp);
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x08, 0x00]);
        frame.extend_from_slice(&ip);
        out.extend_from_slice(&((micros / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((micros % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&frame);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Agents' desk phones (issue 3)

/// One device for `hardware/phones.toml` in a config copy.
#[derive(Debug, Clone)]
pub struct PhoneEntry {
    pub extension: String,
    pub password: String,
    pub skills: Vec<String>,
    pub login_on_register: bool,
}

impl PhoneEntry {
    /// A desk phone whose agent (id `a` + extension) has every shipped queue's skill and is
    /// ready as soon as it registers.
    pub fn desk_phone(extension: &str, password: &str) -> PhoneEntry {
        PhoneEntry {
            extension: extension.into(),
            password: password.into(),
            skills: ["sales", "support", "accounts", "operator"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            login_on_register: true,
        }
    }

    pub fn login_on_register(mut self, yes: bool) -> Self {
        self.login_on_register = yes;
        self
    }

    pub fn agent_id(&self) -> String {
        format!("a{}", self.extension)
    }
}

impl ConfigCopy {
    /// Replaces `hardware/phones.toml` with these phones (the format in the issue-3 brief).
    pub fn set_phones(&self, phones: &[PhoneEntry]) {
        let mut text = String::from("# Written by the integration test.\n");
        for phone in phones {
            let skills: Vec<String> = phone.skills.iter().map(|s| format!("{s:?}")).collect();
            text.push_str(&format!(
                "\n[phone.{ext}]\nuser = \"{ext}\"\npassword = {password:?}\nkind = \"desk_phone\"\n\
                 model = \"SIPp\"\nagent = {{ id = \"{agent}\", name = \"Agent {ext}\" }}\n\
                 skills = [{skills}]\nlogin_on_register = {login}\n",
                ext = phone.extension,
                password = phone.password,
                agent = phone.agent_id(),
                skills = skills.join(", "),
                login = phone.login_on_register,
            ));
        }
        std::fs::write(self.path().join("hardware/phones.toml"), text).expect("write phones.toml");
    }

    /// Sets keys of a dialplan table such as `queue.sales` (values are TOML literals). The
    /// table is edited in the file that has it; when none does, it is added at the end of the
    /// dialplan that declares hotline 4008.
    pub fn set_table(&self, table: &str, settings: &[(&str, &str)]) {
        let header = format!("[{table}]");
        let files = toml_files(&self.path().join("dialplans"));
        let target = files
            .iter()
            .find(|f| read(f).lines().any(|l| l.trim() == header))
            .or_else(|| files.iter().find(|f| read(f).contains("\"4008\"")))
            .or(files.first())
            .expect("the shipped config has a dialplan")
            .clone();
        let text = read(&target);
        let keys: Vec<&str> = settings.iter().map(|(k, _)| *k).collect();
        let mut out = String::new();
        let mut inside = false;
        let mut found = false;
        for line in text.lines() {
            let trimmed = line.trim();
            if trimmed.starts_with('[') {
                inside = trimmed == header;
                if inside {
                    found = true;
                    out.push_str(line);
                    out.push('\n');
                    for (k, v) in settings {
                        out.push_str(&format!("{k} = {v}\n"));
                    }
                    continue;
                }
            }
            let key = trimmed.split('=').next().unwrap_or("").trim();
            if inside && keys.contains(&key) {
                continue;
            }
            out.push_str(line);
            out.push('\n');
        }
        if !found {
            out.push_str(&format!("\n{header}\n"));
            for (k, v) in settings {
                out.push_str(&format!("{k} = {v}\n"));
            }
        }
        std::fs::write(&target, out).expect("write dialplan");
    }

    /// The settings the agent tests share: a fast ring cadence ("200ms on, 300ms off": the
    /// switch answers callers at 200 ms, and ring 3 of an agent's phone ends at 1.2 s), the
    /// sales queue on longest-idle with a 1 s wrap-up, and these phones.
    pub fn for_agents(phones: &[PhoneEntry]) -> ConfigCopy {
        let config = ConfigCopy::of_shipped();
        config.set_standards(&[
            ("ring_cadence", "\"200ms on, 300ms off\""),
            ("answer_after_rings", "1"),
        ]);
        config.set_table(
            "queue.sales",
            &[("strategy", "\"longest_idle\""), ("wrap_up", "\"1s\"")],
        );
        config.set_phones(phones);
        config
    }
}

/// When the first digit may go into the main menu: after the greeting and a second more.
pub fn first_digit_ms(switch: &Switch) -> u128 {
    (greeting_duration(&switch.config_dir, "zh") + Duration::from_secs(1)).as_millis()
}

/// Polls (bounded) until something listens on this UDP port of 127.0.0.1.
pub fn wait_for_udp_listener(port: u16, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if UdpSocket::bind(("127.0.0.1", port)).is_err() {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    false
}

/// An agent's desk phone played by SIPp: a call-taking SIPp (one of the `agent_*.xml`
/// scenarios) on its own SIP port, registered to the switch by a second, short SIPp run whose
/// Contact names that port. `slot` (0 or 1) picks its media ports in the test's port block.
pub struct DeskPhone {
    pub entry: PhoneEntry,
    pub sip_port: u16,
    /// Where the switch's RTP for this phone arrives (the phone's SDP names it).
    pub rtp_sink: u16,
    /// SIPp's own media port for the call-taking run.
    pub media_port: u16,
    /// The tone this phone speaks (so the caller's side can tell it apart).
    pub tone_hz: f64,
    pub ports: PortBlock,
}

impl DeskPhone {
    pub fn new(entry: PhoneEntry, ports: PortBlock, slot: u16) -> DeskPhone {
        assert!(
            slot < 2,
            "a test's port block has room for two SIPp desk phones"
        );
        DeskPhone {
            entry,
            sip_port: ports.sip_port(),
            rtp_sink: ports.base + 61 + 4 * slot,
            media_port: ports.base + 60 + 4 * slot,
            tone_hz: if slot == 0 { 1100.0 } else { 1500.0 },
            ports,
        }
    }

    /// Starts the call-taking SIPp (`scenario`, with `-set` variables) for one call and waits
    /// until it listens. The phone speaks its tone in PCMA.
    pub fn take_call(
        &self,
        switch: SocketAddr,
        scenario: &str,
        sets: &[(&str, String)],
        timeout: Duration,
    ) -> thread::JoinHandle<SippRun> {
        let mut sipp = Sipp::towards(scenario, switch, self.ports)
            .service(&self.entry.extension)
            .local_port(self.sip_port)
            .media_port(self.media_port)
            .key("rtp_sink", self.rtp_sink)
            .call_id_tag(&format!("phone-{}", self.entry.extension))
            .file("agent_audio.pcap", tone_pcap(8, self.tone_hz, 60))
            .timeout(timeout);
        for (name, value) in sets {
            sipp = sipp.set(name, value);
        }
        let handle = sipp.spawn();
        assert!(
            wait_for_udp_listener(self.sip_port, Duration::from_secs(10)),
            "the desk phone's SIPp did not listen on {} within 10 s",
            self.sip_port
        );
        handle
    }

    /// REGISTERs the phone (digest auth with its password), binding its call-taking port.
    pub fn register(&self, registrar: SocketAddr) -> SippRun {
        self.register_with(registrar, &self.entry.password.clone())
    }

    pub fn register_with(&self, registrar: SocketAddr, password: &str) -> SippRun {
        Sipp::towards("phone_register.xml", registrar, self.ports)
            .service(&self.entry.extension)
            .media_port(self.ports.base + 76)
            .key("user", &self.entry.extension)
            .key("contact_port", self.sip_port)
            .key("expires", 3600)
            .credentials(&self.entry.extension, password)
            .call_id_tag(&format!("register-{}", self.entry.extension))
            .timeout(Duration::from_secs(10))
            .run()
    }
}

// ---------------------------------------------------------------------------------------------
// baresip

mod baresip;
// Not every test binary drives baresip.
#[allow(unused_imports)]
pub use baresip::*;
pub mod rtp_peer;
pub mod web;
