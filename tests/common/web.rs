//! Helpers for the QA pages' tests (tests/web.rs, tests/browser.rs): a plain HTTP/1.1
//! client on a TcpStream (every read bounded), `hotline users add` with the password on
//! stdin, signing in, and calls with a recording seeded into a switch's data dir through
//! the store (as the records thread and the recording service would write them).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use hotline::store::{NewCall, RecordingEnd, RecordingState, Store};
use hotline::switch::timeline::{EventKind, Party, TimelineEvent};

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request (Connection: close) and reads the whole answer, within 15 s.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Reply {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        text.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    text.push_str("\r\n");
    text.push_str(body.unwrap_or(""));
    stream.write_all(text.as_bytes()).expect("send request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read answer");
    parse(&raw)
}

fn parse(raw: &[u8]) -> Reply {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .expect("chunk size");
        if size == 0 {
            return out;
        }
        let start = line_end + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
}

pub fn get(addr: SocketAddr, path: &str, cookie: Option<&str>) -> Reply {
    match cookie {
        Some(c) => request(addr, "GET", path, &[("Cookie", c)], None),
        None => request(addr, "GET", path, &[], None),
    }
}

/// `hotline users add NAME --role ROLE [--agent AGENT] --data DATA` with the password piped
/// to stdin; panics unless it succeeds.
pub fn add_user(data: &Path, name: &str, role: &str, agent: Option<&str>, password: &str) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hotline"));
    cmd.args(["users", "add", name, "--role", role, "--data"])
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(agent) = agent {
        cmd.args(["--agent", agent]);
    }
    let mut child = cmd.spawn().expect("run hotline users add");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("write the password");
    let status = super::wait_with_deadline(&mut child, Duration::from_secs(30));
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(
        status.is_some_and(|s| s.success()),
        "hotline users add {name} failed or took over 30 s ({status:?}): {stderr}"
    );
}

/// Signs in and returns the Cookie header value of the session; panics unless the switch
/// answers 303 with a session cookie.
pub fn sign_in(addr: SocketAddr, name: &str, password: &str) -> String {
    let reply = try_sign_in(addr, name, password);
    assert_eq!(reply.status, 303, "sign-in of {name}: {}", reply.text());
    let set_cookie = reply
        .headers
        .iter()
        .find(|(k, v)| k.eq_ignore_ascii_case("set-cookie") && v.starts_with("hotline_session="))
        .map(|(_, v)| v.as_str())
        .expect("a session cookie");
    set_cookie
        .split(';')
        .next()
        .expect("cookie pair")
        .to_string()
}

/// Opens the sign-in form as a browser would (its token cookie and hidden field), then posts
/// the name and password with them.
pub fn try_sign_in(addr: SocketAddr, name: &str, password: &str) -> Reply {
    let (cookie, token) = sign_in_form(addr);
    let body = format!("csrf={token}&name={name}&password={password}&next=%2Fcalls");
    request(addr, "POST", "/signin", &[("Cookie", &cookie)], Some(&body))
}

/// As [`try_sign_in`], from a browser that also holds `cookie` (a `name=value` pair).
pub fn try_sign_in_holding(addr: SocketAddr, name: &str, password: &str, cookie: &str) -> Reply {
    let (form_cookie, token) = sign_in_form(addr);
    let body = format!("csrf={token}&name={name}&password={password}&next=%2Fcalls");
    let cookies = format!("{form_cookie}; {cookie}");
    request(
        addr,
        "POST",
        "/signin",
        &[("Cookie", &cookies)],
        Some(&body),
    )
}

/// As [`try_sign_in`], through a reverse proxy that says the client is `forwarded_for`
/// (the X-Forwarded-For value it sends).
pub fn try_sign_in_from(
    addr: SocketAddr,
    name: &str,
    password: &str,
    forwarded_for: &str,
) -> Reply {
    let (cookie, token) = sign_in_form(addr);
    let body = format!("csrf={token}&name={name}&password={password}&next=%2Fcalls");
    request(
        addr,
        "POST",
        "/signin",
        &[("Cookie", &cookie), ("X-Forwarded-For", forwarded_for)],
        Some(&body),
    )
}

/// The device cookie an answer sets (its whole Set-Cookie value), if any.
pub fn device_cookie_set(reply: &Reply) -> Option<String> {
    reply
        .headers
        .iter()
        .find(|(k, v)| k.eq_ignore_ascii_case("set-cookie") && v.starts_with("hotline_device="))
        .map(|(_, v)| v.clone())
}

/// The sign-in form's token cookie (as a Cookie header value) and the token in its form.
pub fn sign_in_form(addr: SocketAddr) -> (String, String) {
    let form = request(addr, "GET", "/signin", &[], None);
    assert_eq!(form.status, 200, "the sign-in form: {}", form.text());
    let cookie = form
        .header("set-cookie")
        .expect("the sign-in form sets its token cookie")
        .split(';')
        .next()
        .expect("cookie pair")
        .to_string();
    (cookie, csrf_of(&form.text()))
}

/// Whether an answer gives the browser a session.
pub fn sets_a_session(reply: &Reply) -> bool {
    reply
        .headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("set-cookie") && v.starts_with("hotline_session="))
}

/// The CSRF token in a page's forms.
pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a form with a CSRF token") + marker.len();
    html[start..start + 64].to_string()
}

/// A seeded call: what it is and its recording's bytes.
pub struct SeededCall {
    pub id: String,
    /// The whole WAV file as written.
    pub wav: Vec<u8>,
    /// Where the recording starts on the call's timeline.
    pub recording_offset_ms: u64,
    /// The hold's offset on the call's timeline.
    pub hold_at_ms: u64,
}

/// Writes a finished call answered by `agent` that started `ago` before now, with a
/// timeline (ring, answer, queue, agent, hold with a reason, hangup) and a 28 s stereo
/// recording starting at the answer (2 s): left a ramp, right its negation, so every byte
/// range has its own content.
pub fn seed_call(data: &Path, id: &str, agent: &str, ago: Duration) -> SeededCall {
    seed_call_in_queue(data, id, agent, ago, "general")
}

/// [`seed_call`], the caller queued in `queue`.
pub fn seed_call_in_queue(
    data: &Path,
    id: &str,
    agent: &str,
    ago: Duration,
    queue: &str,
) -> SeededCall {
    let store = Store::open(data).expect("open the store");
    let started_at = jiff::Timestamp::now() - jiff::SignedDuration::try_from(ago).expect("ago");
    store
        .begin_call(&NewCall {
            id: id.into(),
            sip_call_id: format!("{id}@seed"),
            from: "sip:13800138000@caller.example".into(),
            to: "sip:support@hotline.example".into(),
            hotline: Some("support".into()),
            started_at,
        })
        .expect("begin call");
    let hold_at_ms = 14_000;
    let events = vec![
        (0, EventKind::Ringing),
        (2_000, EventKind::Answered { rings: 1 }),
        (
            3_000,
            EventKind::QueueEntered {
                queue: queue.into(),
                position: 1,
                expected_wait_s: Some(10),
                priority: 0,
            },
        ),
        (
            8_000,
            EventKind::AgentAnswered {
                agent: agent.into(),
                rings: 1,
                wait_ms: 5_000,
            },
        ),
        (
            8_500,
            EventKind::Bridged {
                agent: agent.into(),
                transcoding: false,
            },
        ),
        (hold_at_ms, EventKind::Hold { by: Party::Agent }),
        (
            20_000,
            EventKind::HoldEnded {
                reason: "checking".into(),
                duration_ms: 6_000,
                check_backs: 0,
            },
        ),
        (
            30_000,
            EventKind::Hangup {
                by: Party::Caller,
                reason: "bye".into(),
            },
        ),
    ];
    for (offset_ms, kind) in events {
        store
            .append_event(id, &TimelineEvent { offset_ms, kind })
            .expect("append event");
    }
    let frames = 28 * 8000usize;
    let mut wav = hotline::recording::header((frames * 4) as u32).to_vec();
    for i in 0..frames {
        let left = ((i * 7) % 20_000) as i16 - 10_000;
        wav.extend_from_slice(&left.to_le_bytes());
        wav.extend_from_slice(&(-left).to_le_bytes());
    }
    let relative = hotline::recording::relative_path(started_at, id);
    let path = data.join(&relative);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("recordings dir");
    std::fs::write(&path, &wav).expect("write the recording");
    let recording_offset_ms = 2_000;
    store
        .recording_started(id, &relative, started_at, recording_offset_ms)
        .expect("recording started");
    store
        .recording_finished(
            id,
            &RecordingEnd {
                state: RecordingState::Complete,
                duration_ms: 28_000,
                sha256: "0".repeat(64),
                lost_ms: 0,
            },
        )
        .expect("recording finished");
    // Ended last, as one whole call, as the running switch's QA review should first see it
    // (see tests/qa_cli.rs's seed_recorded_call).
    store
        .finish_call(
            id,
            started_at + jiff::SignedDuration::from_secs(30),
            "completed",
        )
        .expect("finish call");
    SeededCall {
        id: id.into(),
        wav,
        recording_offset_ms,
        hold_at_ms,
    }
}
