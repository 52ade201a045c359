//! baresip as a desk phone or caller: its config from `tests/baresip/`, a microphone file, and
//! what it recorded.

use super::*;

/// A baresip file from `tests/baresip/` with its `{{KEY}}` placeholders filled in.
pub fn fill_baresip_template(template: &str, values: &[(&str, String)]) -> String {
    let path = repo_root().join("tests/baresip").join(template);
    let mut text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    for (key, value) in values {
        text = text.replace(&format!("{{{{{key}}}}}"), value);
    }
    assert!(
        !text.contains("{{"),
        "unfilled placeholder in {template}: {text}"
    );
    text
}

/// A microphone file for baresip's aufile: a sine tone of `hz` for `tone`, then silence up to
/// `length`, as 8 kHz mono 16-bit signed PCM. The silence keeps the call up: baresip hangs up
/// when its microphone file ends.
pub fn write_microphone(path: &Path, hz: f64, tone: Duration, length: Duration) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec).expect("create microphone wav");
    let total = (length.as_millis() * 8) as u32;
    let tone_samples = (tone.as_millis() * 8) as u32;
    for n in 0..total {
        let sample = if n < tone_samples {
            let t = n as f64 / 8000.0;
            (8000.0 * (2.0 * std::f64::consts::PI * hz * t).sin()) as i16
        } else {
            0
        };
        writer.write_sample(sample).expect("write sample");
    }
    writer.finalize().expect("finish microphone wav");
}

/// The `dump-*-dec.wav` files (what baresip heard) in its `snd_path`.
pub fn decoded_recordings(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    name.starts_with("dump-") && name.ends_with("-dec.wav")
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// The 20 ms frames of an 8 kHz mono 16-bit WAV (baresip's `dump-*-dec.wav`, a recording)
/// where `hz` is most of the sound, by number.
pub fn wav_tone_frames(path: &Path, hz: f64) -> Vec<usize> {
    let mut reader = hound::WavReader::open(path)
        .unwrap_or_else(|e| panic!("read the WAV {}: {e}", path.display()));
    let spec = reader.spec();
    assert_eq!(
        (spec.sample_rate, spec.channels),
        (8000, 1),
        "{} is not 8 kHz mono",
        path.display()
    );
    let samples: Vec<i16> = reader
        .samples::<i16>()
        .map(|s| s.expect("16-bit samples"))
        .collect();
    samples
        .chunks_exact(160)
        .enumerate()
        .filter(|(_, frame)| tone_share(frame, hz) > 0.6)
        .map(|(n, _)| n)
        .collect()
}

/// Root mean square and length of a 16-bit WAV.
pub fn loudness(path: &Path) -> (f64, Duration) {
    let mut reader = hound::WavReader::open(path)
        .unwrap_or_else(|e| panic!("read baresip's recording {}: {e}", path.display()));
    let rate = reader.spec().sample_rate.max(1);
    let channels = reader.spec().channels.max(1) as u32;
    let mut sum_sq = 0f64;
    let mut count = 0u64;
    for sample in reader.samples::<i16>() {
        let s = sample.expect("sample") as f64;
        sum_sq += s * s;
        count += 1;
    }
    let rms = if count == 0 {
        0.0
    } else {
        (sum_sq / count as f64).sqrt()
    };
    let frames = count / channels as u64;
    (rms, Duration::from_millis(frames * 1000 / rate as u64))
}

/// baresip's account line for an agent's desk phone: registers as `extension` to the switch's
/// SIP port with its password (digest), answers offered calls by itself
/// (`answermode=auto`), PCMA only.
pub fn baresip_agent_account(extension: &str, password: &str, switch_port: u16) -> String {
    format!(
        "<sip:{extension}@127.0.0.1:{switch_port}>;auth_pass={password};answermode=auto;\
         audio_codecs=pcma;regint=3600"
    )
}

/// A headless baresip running in the background (its console in a file), killed on drop.
pub struct Baresip {
    child: Option<Child>,
    pub console_path: PathBuf,
    pub recordings: PathBuf,
    pub sip_port: u16,
    pub dir: tempfile::TempDir,
}

impl Baresip {
    /// Starts baresip with `tests/baresip/config.template` (its SIP port, RTP range from the
    /// port block, a microphone playing a tone of `mic_hz`) and this one `accounts` line.
    pub fn start(ports: PortBlock, account: &str, mic_hz: f64, run_for: Duration) -> Baresip {
        Baresip::start_with_lines(ports, account, mic_hz, run_for, "")
    }

    /// `start` with the `ctrl_tcp` module listening on 127.0.0.1:`control_port`, so the test
    /// can press the phone's hold, resume and transfer keys (`BaresipControl`).
    pub fn start_controlled(
        ports: PortBlock,
        account: &str,
        mic_hz: f64,
        run_for: Duration,
        control_port: u16,
    ) -> Baresip {
        let lines =
            format!("module_app\t\tctrl_tcp.so\nctrl_tcp_listen\t\t127.0.0.1:{control_port}\n");
        Baresip::start_with_lines(ports, account, mic_hz, run_for, &lines)
    }

    fn start_with_lines(
        ports: PortBlock,
        account: &str,
        mic_hz: f64,
        run_for: Duration,
        extra_config: &str,
    ) -> Baresip {
        let dir = tempfile::Builder::new()
            .prefix("hotline-baresip-")
            .tempdir()
            .expect("baresip tempdir");
        let config_dir = dir.path().join("config");
        let recordings = dir.path().join("recordings");
        std::fs::create_dir_all(&config_dir).expect("config dir");
        std::fs::create_dir_all(&recordings).expect("recordings dir");
        let microphone = dir.path().join("microphone.wav");
        write_microphone(
            &microphone,
            mic_hz,
            run_for,
            run_for + Duration::from_secs(10),
        );
        let (rtp_lo, rtp_hi) = ports.baresip_rtp();
        let console_path = dir.path().join("console.log");
        // The SIP port is free when handed out, but an unrelated process may bind it first:
        // baresip then quits at once ("init failed (Address already in use)") and starts
        // again on the block's next SIP port.
        let mut attempt = 1;
        loop {
            let sip_port = ports.sip_port();
            let config = fill_baresip_template(
                "config.template",
                &[
                    ("SIP_PORT", sip_port.to_string()),
                    ("RTP_LO", rtp_lo.to_string()),
                    ("RTP_HI", rtp_hi.to_string()),
                    ("MIC_WAV", microphone.display().to_string()),
                    ("SND_PATH", recordings.display().to_string()),
                ],
            );
            std::fs::write(config_dir.join("config"), format!("{config}{extra_config}"))
                .expect("write config");
            std::fs::write(config_dir.join("accounts"), format!("{account}\n")).expect("accounts");
            let console = std::fs::File::create(&console_path).expect("console log");
            let mut child = Command::new("baresip")
                .current_dir(dir.path())
                .arg("-f")
                .arg(&config_dir)
                .arg("-t")
                .arg(run_for.as_secs().max(1).to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::from(console.try_clone().expect("console handle")))
                .stderr(Stdio::from(console))
                .spawn()
                .expect("start baresip (apt-get install baresip-core)");
            if attempt == 3 || !baresip_lost_its_sip_port(&mut child, &console_path) {
                return Baresip {
                    child: Some(child),
                    console_path,
                    recordings,
                    sip_port,
                    dir,
                };
            }
            attempt += 1;
        }
    }

    pub fn console(&self) -> String {
        std::fs::read_to_string(&self.console_path).unwrap_or_default()
    }

    /// Waits (bounded) until the console shows `text`.
    pub fn wait_for(&self, text: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.console().contains(text) {
                return true;
            }
            thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Waits (bounded) for baresip to quit by itself (`-t`), else kills it.
    pub fn finish(&mut self, limit: Duration) -> bool {
        let Some(child) = self.child.as_mut() else {
            return true;
        };
        let exited = wait_with_deadline(child, limit).is_some();
        if !exited {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.child = None;
        exited
    }
}

/// Waits (bounded) until baresip is ready or has quit; true when it quit because its SIP port
/// was taken.
pub fn baresip_lost_its_sip_port(child: &mut Child, console_path: &Path) -> bool {
    let console = || std::fs::read_to_string(console_path).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if console().contains("baresip is ready.") {
            return false;
        }
        if let Ok(Some(_)) = child.try_wait() {
            return console().contains("Address already in use");
        }
        thread::sleep(Duration::from_millis(20));
    }
    false
}

impl Drop for Baresip {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// baresip's remote control (`ctrl_tcp`): netstring-framed JSON commands, the same commands
/// as its menu (`hold`, `resume`, `transfer sip:...`, `hangup`).
pub struct BaresipControl {
    stream: std::net::TcpStream,
    token: u32,
}

impl BaresipControl {
    /// Connects (bounded: baresip may still be starting).
    pub fn connect(port: u16, limit: Duration) -> BaresipControl {
        let deadline = Instant::now() + limit;
        loop {
            match std::net::TcpStream::connect(("127.0.0.1", port)) {
                Ok(stream) => {
                    stream
                        .set_read_timeout(Some(Duration::from_secs(5)))
                        .expect("read timeout");
                    return BaresipControl { stream, token: 0 };
                }
                Err(e) if Instant::now() >= deadline => {
                    panic!("baresip's ctrl_tcp on 127.0.0.1:{port} did not accept: {e}")
                }
                Err(_) => thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// Sends `command` with `params` and returns baresip's response (its JSON text).
    pub fn command(&mut self, command: &str, params: &str) -> String {
        use std::io::{Read, Write};
        self.token += 1;
        let json = serde_json::json!({
            "command": command,
            "params": params,
            "token": self.token.to_string(),
        })
        .to_string();
        let frame = format!("{}:{json},", json.len());
        self.stream
            .write_all(frame.as_bytes())
            .expect("send to ctrl_tcp");
        let mut reply = Vec::new();
        let mut buf = [0u8; 4096];
        // One netstring back: "LEN:{...},"; baresip may also send events, which are skipped.
        loop {
            let n = match self.stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            reply.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&reply).to_string();
            if text.contains("\"response\"") && text.trim_end().ends_with(',') {
                break;
            }
        }
        String::from_utf8_lossy(&reply).to_string()
    }
}
