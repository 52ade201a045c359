//! Private by default, checked on the real binary: the data folder is the switch user's alone
//! (0700) and so are the call records and recordings (0600) — made so whatever the umask, and
//! put right at start-up when an older version or an admin left them looser; `hotline check`
//! warns when a sample password of the shipped phones file is still in use while SIP listens
//! beyond loopback; and a password written as a number is never echoed in an error.

mod common;

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// `(path, mode)` of the data folder, the database files and every recording.
fn modes(data: &Path) -> Vec<(String, u32)> {
    let mut found = vec![(".".to_string(), mode(data))];
    for name in ["hotline.db", "hotline.db-wal", "hotline.db-shm"] {
        found.push((name.to_string(), mode(&data.join(name))));
    }
    let voicemail = data.join("voicemail");
    if voicemail.is_dir() {
        found.push(("voicemail".to_string(), mode(&voicemail)));
        for entry in std::fs::read_dir(&voicemail).expect("voicemail folder") {
            let path = entry.expect("entry").path();
            let name = path
                .strip_prefix(data)
                .expect("inside")
                .display()
                .to_string();
            found.push((name, mode(&path)));
        }
    }
    found
}

fn assert_private(data: &Path, what: &str) {
    for (name, found) in modes(data) {
        let want = if name == "." || name == "voicemail" {
            0o700
        } else {
            0o600
        };
        assert_eq!(
            found, want,
            "{what}: {name} in the data folder is {found:o}, not {want:o}"
        );
    }
}

/// A trunk INVITE on a raw socket: the switch answers it and records the call.
fn send_a_call(sip: std::net::SocketAddr) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket
        .set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    let port = socket.local_addr().expect("addr").port();
    let invite = format!(
        "INVITE sip:4008@{sip} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-privacy\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:13900000001@127.0.0.1>;tag=privacy\r\n\
         To: <sip:4008@{sip}>\r\n\
         Call-ID: privacy-1\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:caller@127.0.0.1:{port}>\r\n\
         Content-Length: 0\r\n\r\n"
    );
    socket.send_to(invite.as_bytes(), sip).expect("send");
    let mut buf = [0u8; 4096];
    let n = socket.recv(&mut buf).expect("an answer to the INVITE");
    assert!(buf[..n].starts_with(b"SIP/2.0 1"), "{:?}", &buf[..n]);
}

#[test]
fn a_data_folder_made_under_umask_000_is_0700_and_its_database_wal_and_shm_are_0600() {
    let ports = PortBlock::reserve();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("var/hotline");
    // umask 000 would give 0777 folders and 0666 files to code that leaves modes to it.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("umask 000; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_hotline"))
        .args(["serve", "--sip", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .arg("--config")
        .arg(repo_root())
        .arg("--data")
        .arg(&data)
        .args(["--rtp-ports", &ports.switch_rtp()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start hotline serve");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let ready = rx.recv_timeout(Duration::from_secs(30));
    let sip = ready.as_ref().ok().and_then(|line| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix("sip="))
            .and_then(|a| a.parse().ok())
    });
    let Some(sip) = sip else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("no ready line from hotline serve: {ready:?}");
    };
    send_a_call(sip);
    // The call is written by the records thread: wait (bounded) until the WAL holds it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::metadata(data.join("hotline.db-wal")).map_or(0, |m| m.len()) == 0
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let found = modes(&data);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        found,
        [
            (".".to_string(), 0o700),
            ("hotline.db".to_string(), 0o600),
            ("hotline.db-wal".to_string(), 0o600),
            ("hotline.db-shm".to_string(), 0o600),
        ],
        "modes in a fresh data folder made under umask 000"
    );
    // The folder above it is the admin's: created as needed, but private too.
    assert_eq!(mode(&dir.path().join("var")), 0o700);
}

/// A trunk caller (SIPp) who dials `MENU_NUMBER`, presses 1 for sales and speaks for 4 s after
/// the voicemail beep; sales exits to voicemail a second after the caller joins it.
const MENU_NUMBER: &str = "4018";

#[test]
fn a_voicemail_is_0600_in_a_0700_folder_and_loosened_modes_are_put_right_at_restart() {
    let ports = PortBlock::reserve();
    let config = ConfigCopy::of_shipped();
    config.set_table(
        "hotline.menu_first",
        &[
            ("numbers", &format!("[\"{MENU_NUMBER}\"]")),
            ("language", "\"zh\""),
            ("flow", "\"main_menu\""),
        ],
    );
    config.set_table(
        "queue.sales",
        &[
            ("max_wait", "\"2s\""),
            ("exit_notice", "\"1s\""),
            ("exit", "{ voicemail = true }"),
        ],
    );
    let mut switch = Switch::start_with(ports, config);
    let caller = Sipp::new("queue_caller.xml", &switch)
        .service(MENU_NUMBER)
        .call_id_tag("privacy-voicemail")
        .key("caller", "13900000001")
        .key("codec_pt", 8)
        .key("codec_name", "PCMA")
        .key("rtp_sink", ports.rtp_sink())
        .file("caller_audio.pcap", tone_pcap(8, 700.0, 30))
        .set("first_digit_ms", 500)
        .set("who_hangs_up", "caller")
        .hold(Duration::from_secs(12))
        .timeout(Duration::from_secs(40));
    let call_id = caller.call_id(1);
    let run = caller.run();
    assert_sipp_ok("the caller", &run, &switch);
    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    let voicemail = events(&call)
        .into_iter()
        .find(|e| e["event"] == "voicemail")
        .unwrap_or_else(|| panic!("no voicemail was kept: {call:#}"));
    let file = std::path::PathBuf::from(voicemail["file"].as_str().expect("file"));
    let data = switch.data.path().to_path_buf();
    assert_eq!(file.parent(), Some(data.join("voicemail").as_path()));
    // The harness makes the data folder (0755 under the test's umask 022) before the switch
    // starts: start-up must have made it private, and what the switch wrote in it too.
    assert_eq!(mode(&file), 0o600, "the voicemail {}", file.display());
    assert_private(&data, "after a recorded call");

    // An older version (or a copy with cp -r) left everything readable to all.
    switch.terminate(Duration::from_secs(10));
    set_mode(&data, 0o755);
    set_mode(&data.join("voicemail"), 0o755);
    for name in ["hotline.db", "hotline.db-wal", "hotline.db-shm"] {
        if data.join(name).exists() {
            set_mode(&data.join(name), 0o644);
        }
    }
    set_mode(&file, 0o644);
    switch.restart(Duration::from_secs(10));
    assert_eq!(mode(&file), 0o600, "the voicemail after restart");
    assert_private(&data, "after a restart on loosened modes");
}

fn check(config: &Path, sip: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hotline"));
    cmd.args(["check", "--sip", sip])
        .arg("--config")
        .arg(config);
    let (out, killed) = run_bounded(&mut cmd, Duration::from_secs(20));
    assert!(!killed, "hotline check did not finish within 20 s");
    out
}

fn sample_warning(extension: &str, sip: &str) -> String {
    format!(
        "warning: hardware/phones.toml: phone.{extension}: the password is a sample shipped \
         with hotline, and SIP listens on {sip}, which is not loopback: anyone can register as \
         this phone; set a password of its own"
    )
}

#[test]
fn check_warns_of_each_sample_password_on_a_non_loopback_address_and_not_on_loopback() {
    let config = ConfigCopy::of_shipped();
    // Phone 1002 has a password of its own; 1001, 1003 and 1004 keep the samples.
    let path = config.path().join("hardware/phones.toml");
    let text = std::fs::read_to_string(&path).expect("phones.toml");
    assert_eq!(text.matches("password = \"sample-1002\"").count(), 1);
    std::fs::write(
        &path,
        text.replace("password = \"sample-1002\"", "password = \"k7#Vq-91xz\""),
    )
    .expect("write");

    let out = check(config.path(), "0.0.0.0:5060");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    let warnings: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(
        warnings,
        [
            sample_warning("1001", "0.0.0.0:5060"),
            sample_warning("1003", "0.0.0.0:5060"),
            sample_warning("1004", "0.0.0.0:5060"),
        ],
        "{stdout}"
    );
    assert!(stdout.ends_with("configuration OK\n"), "{stdout}");

    let out = check(config.path(), "192.0.2.10:5060");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("warning:")).count(),
        3,
        "{stdout}"
    );
    assert!(stdout.contains(&sample_warning("1001", "192.0.2.10:5060")));

    for loopback in ["127.0.0.1:5060", "[::1]:5060"] {
        let out = check(config.path(), loopback);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{out:?}");
        assert!(
            !stdout.contains("warning"),
            "a warning on loopback {loopback}:\n{stdout}"
        );
    }
}

#[test]
fn a_password_written_as_a_number_is_refused_by_file_and_key_without_its_digits() {
    let config = ConfigCopy::of_shipped();
    let path = config.path().join("hardware/phones.toml");
    let text = std::fs::read_to_string(&path).expect("phones.toml");
    std::fs::write(
        &path,
        text.replace("password = \"sample-1003\"", "password = 8675309123"),
    )
    .expect("write");
    let out = check(config.path(), "127.0.0.1:5060");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a numeric password was accepted");
    let line = stderr.trim_end();
    assert!(
        !stderr.contains("8675309123")
            && !String::from_utf8_lossy(&out.stdout).contains("8675309123"),
        "the password is echoed: {stderr}"
    );
    assert!(
        line.starts_with("hardware/phones.toml:") && line.contains(": phone.1003.password: "),
        "the error must name the file and the key: {stderr}"
    );
    assert!(
        line.ends_with("invalid type: integer, expected a string"),
        "{stderr}"
    );
}
