//! Shared harness for the integration tests that drive the built `hotline` binary with real
//! SIP peers (SIPp, baresip) over loopback. It owns: starting and stopping the switch, running
//! SIPp with bounded waits, per-test port blocks, copies of the shipped config for tests that
//! need other settings, and an RTP sink that listens to what the switch plays.
//! It must not touch `src/`: everything here goes through the binary's CLI contract.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

pub const SIPP_SHARE: &str = "/usr/share/sip-tester";

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn scenario(name: &str) -> PathBuf {
    repo_root().join("tests/scenarios").join(name)
}

// ---------------------------------------------------------------------------------------------
// Ports

/// A block of 100 UDP ports that belongs to one test. Each test passes its own index, fixed in
/// its source, so tests running in parallel (and the test binaries cargo runs one after the
/// other) never share an RTP port. The blocks start at 12000, below the kernel's ephemeral
/// range (32768+) and away from the switch's default RTP range (20000-29999);
/// `HOTLINE_TEST_PORT_BASE` moves them when two test runs share a machine.
#[derive(Debug, Clone, Copy)]
pub struct PortBlock {
    pub base: u16,
}

impl PortBlock {
    pub fn for_test(index: u16) -> PortBlock {
        let start: u16 = std::env::var("HOTLINE_TEST_PORT_BASE")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(12000);
        assert!(index < 150, "test port index {index} is out of range");
        PortBlock {
            base: start + index * 100,
        }
    }

    /// The switch's RTP range: 60 ports, enough for 20 calls with RTP and RTCP plus slack.
    pub fn switch_rtp(&self) -> String {
        format!("{}-{}", self.base, self.base + 59)
    }

    /// SIPp's own media port (`-mp`); SIPp may also take the next few.
    pub fn sipp_media(&self) -> u16 {
        self.base + 70
    }

    /// Where the test listens for the switch's RTP.
    pub fn rtp_sink(&self) -> u16 {
        self.base + 80
    }

    /// baresip's RTP range (`rtp_ports`).
    pub fn baresip_rtp(&self) -> (u16, u16) {
        (self.base + 84, self.base + 99)
    }
}

/// A port that is free for both UDP and TCP right now on 127.0.0.1 (SIPp binds both with -t t1).
pub fn free_sip_port() -> u16 {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind an ephemeral UDP port");
        let port = udp.local_addr().expect("local addr").port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both UDP and TCP on 127.0.0.1");
}

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
        let data = tempfile::Builder::new()
            .prefix("hotline-data-")
            .tempdir()
            .expect("data tempdir");
        let log_path = data.path().join("switch.log");
        let log = std::fs::File::create(&log_path).expect("create switch log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hotline"));
        cmd.arg("serve")
            .arg("--config")
            .arg(&config_dir)
            .args(["--sip", "127.0.0.1:0"])
            .arg("--rtp-ports")
            .arg(ports.switch_rtp())
            .arg("--data")
            .arg(data.path())
            .args(["--http", "127.0.0.1:0"])
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        let mut child = cmd.spawn().expect("start hotline serve");
        let stdout = child.stdout.take().expect("stdout pipe");
        let (ready_tx, ready_rx) = mpsc::channel::<String>();
        let stdout_rest = Arc::new(Mutex::new(String::new()));
        let rest = stdout_rest.clone();
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
        // Disconnected (stdout closed: the switch died) ends the wait early.
        let ready = ready_rx.recv_timeout(Duration::from_secs(30));
        let mut switch = Switch {
            child: Some(child),
            sip: "127.0.0.1:0".parse().expect("addr"),
            data,
            config_dir,
            ports,
            log_path,
            stdout_rest,
            _config: config,
        };
        let line = match ready {
            Ok(line) => line,
            Err(_) => {
                let status = switch
                    .child
                    .as_mut()
                    .and_then(|c| wait_with_deadline(c, Duration::from_secs(2)));
                panic!(
                    "hotline serve gave no ready line (exited: {status:?}; waited at most 30 s)\n\
                     stdout: {}\nlog:\n{}",
                    switch
                        .stdout_rest
                        .lock()
                        .map(|s| s.clone())
                        .unwrap_or_default(),
                    switch.log_tail()
                );
            }
        };
        switch.sip = ready_field(&line, "sip=")
            .unwrap_or_else(|| panic!("no sip= address in ready line {line:?}"));
        switch
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

    fn cli(&self, args: &[&str]) -> Output {
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
    pub dir: tempfile::TempDir,
}

impl SippRun {
    pub fn success(&self) -> bool {
        self.status.success() && !self.killed
    }

    /// Everything needed to see why a run failed.
    pub fn report(&self) -> String {
        let tail = |s: &str, n: usize| {
            let lines: Vec<&str> = s.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        };
        format!(
            "sipp exit {:?} (killed: {})\n--- stderr ---\n{}\n--- errors ---\n{}\n--- messages (tail) ---\n{}",
            self.status.code(),
            self.killed,
            tail(&self.stderr, 20),
            tail(&self.errors, 60),
            tail(&self.messages, 120)
        )
    }

    /// `SuccessfulCall(C)` and `FailedCall(C)` from the last row of the statistics CSV.
    pub fn call_counts(&self) -> Option<(u64, u64)> {
        let mut lines = self.stats.lines().filter(|l| !l.trim().is_empty());
        let header: Vec<&str> = lines.next()?.split(';').collect();
        let last: Vec<&str> = lines.last()?.split(';').collect();
        let col = |name: &str| {
            let i = header.iter().position(|h| *h == name)?;
            last.get(i)?.trim().parse::<u64>().ok()
        };
        Some((col("SuccessfulCall(C)")?, col("FailedCall(C)")?))
    }
}

impl Sipp {
    pub fn new(scenario_file: &str, switch: &Switch) -> Sipp {
        Sipp {
            scenario: scenario(scenario_file),
            target: switch.sip,
            ports: switch.ports,
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
        }
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
    /// A `[keyword]` for the scenario's messages (`-key`).
    pub fn key(mut self, name: &str, value: impl ToString) -> Self {
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
        let dir = tempfile::Builder::new()
            .prefix("hotline-sipp-")
            .tempdir()
            .expect("sipp tempdir");
        let d = dir.path();
        let mut cmd = Command::new("sipp");
        cmd.current_dir(d)
            .arg(self.target.to_string())
            .arg("-sf")
            .arg(&self.scenario)
            .args(["-s", &self.service])
            .args(["-i", &self.local_ip])
            .args(["-p", &free_sip_port().to_string()])
            .args(["-mp", &self.ports.sipp_media().to_string()])
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
            .args(["-fd", "1"]);
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
            cmd.args(["-key", "rtp_sink", &self.ports.sipp_media().to_string()]);
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
                        let s = decode(b) as f64;
                        sum_sq += s * s;
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
