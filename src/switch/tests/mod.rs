//! The switch driven end to end in virtual time: raw SIP in, SIP/media/record outputs out,
//! on the shipped dialplan and prompts. Media events are fed back by hand, as the media
//! engine would.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::config::{self, Config, QueueExit};
pub(super) use crate::media::Codec;
use crate::sip::{Binding, EndpointConfig};

mod agent_refusals;
mod agents;
mod answering;
mod consultation;
mod floods;
mod hold;
mod in_call_keys;
mod ivr;
mod media_faults;
mod queues;
mod recording;
mod refusals;
mod reoffers;
mod timer_walk;
mod transfer;
mod unstaffed;

const CALLER: &str = "127.0.0.1:5070";
const OFFER_PCMA: &str =
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
const OFFER_G729: &str =
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n";

fn shipped() -> (Config, Arc<PromptLibrary>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = config::load(dir).expect("shipped config loads");
    // Decoding and resampling every shipped prompt is most of a test's time: once per run.
    static PROMPTS: std::sync::OnceLock<Arc<PromptLibrary>> = std::sync::OnceLock::new();
    let prompts = PROMPTS.get_or_init(|| {
        let mut library = PromptLibrary::load(&dir.join("prompts")).expect("shipped prompts load");
        add_test_prompts(&mut library);
        Arc::new(library)
    });
    (config, Arc::clone(prompts))
}

struct Harness {
    switch: Switch,
    t0: Instant,
    now: Instant,
    prompts: Arc<PromptLibrary>,
    sent: Vec<String>,
    media: Vec<MediaCommand>,
    records: Vec<RecordCommand>,
    /// Every datagram's first line and every media command, in the order they were polled.
    order: Vec<String>,
}

impl Harness {
    /// Monday 2026-11-23, 10:00 in Shanghai: the office hotline is open.
    fn new(edit: impl FnOnce(&mut Config)) -> Harness {
        Harness::at("2026-11-23T02:00:00Z", edit)
    }

    fn at(wall: &str, edit: impl FnOnce(&mut Config)) -> Harness {
        let (mut config, prompts) = shipped();
        // Recording (on by default) has its own tests (`recording.rs`); the others see the
        // media commands of a call without it.
        for hotline in &mut config.dialplan.hotlines {
            hotline.record = false;
        }
        edit(&mut config);
        let t0 = Instant::now();
        let mut endpoint = Endpoint::new(EndpointConfig {
            trusted: config.hardware.trusted(),
            phones: acd::phone_credentials(&config.hardware.phones),
            ..EndpointConfig::new("127.0.0.1:5060".parse().unwrap())
        });
        // Every shipped phone registered (as if it had, before a restart), each on its own
        // loopback port 6100N.
        for phone in &config.hardware.phones {
            endpoint.restore_binding(Binding {
                user: phone.user.clone(),
                contact: format!("sip:{}@127.0.0.1:6{}", phone.user, phone.extension),
                address: format!("127.0.0.1:6{}", phone.extension).parse().unwrap(),
                transport: Transport::Udp,
                expires_at: t0 + Duration::from_secs(3600),
            });
        }
        let agents = config.hardware.phones.iter().map(AgentSpec::from).collect();
        let mut switch = Switch::new(
            endpoint,
            Arc::new(config.dialplan),
            Arc::clone(&prompts),
            SwitchSettings {
                media_ip: "127.0.0.1".parse().unwrap(),
                rtp_ports: (40000, 40019),
                voicemail_dir: std::env::temp_dir().join("hotline-switch-tests"),
            },
            agents,
            t0,
            wall.parse().unwrap(),
        );
        // Random ports, the same on every run.
        switch.rtp_ports = RtpPorts::seeded(40000, 40019, 1);
        Harness {
            switch,
            t0,
            now: t0,
            prompts,
            sent: vec![],
            media: vec![],
            records: vec![],
            order: vec![],
        }
    }

    fn collect(&mut self) {
        while let Some(output) = self.switch.poll_output() {
            match output {
                Output::Transmit(t) => {
                    let text = String::from_utf8(t.payload).unwrap();
                    self.order
                        .push(text.lines().next().unwrap_or_default().to_string());
                    self.sent.push(text);
                }
                Output::Media(m) => {
                    self.order.push(format!("{m:?}"));
                    self.media.push(m);
                }
                Output::Record(r) => self.records.push(r),
            }
        }
    }

    fn sip(&mut self, text: &str) {
        let source: SocketAddr = CALLER.parse().unwrap();
        self.switch
            .handle_sip(self.now, Transport::Udp, source, text.as_bytes());
        self.collect();
    }

    /// Advance virtual time to `at`, firing every timer due on the way.
    fn advance_to(&mut self, at: Instant) {
        let mut fired = 0;
        while let Some(due) = self.switch.poll_timeout() {
            if due > at {
                break;
            }
            // A due time that handling never clears would spin here forever: fail instead.
            fired += 1;
            assert!(fired < 100_000, "timers keep firing at {:?}", due - self.t0);
            self.now = due.max(self.now);
            self.switch.handle_timeout(self.now);
            self.collect();
            if let Some(next) = self.switch.poll_timeout() {
                // A due time handling leaves due makes a real driver loop without sleeping.
                assert!(
                    next > self.now,
                    "a timer due at {:?} is still due after handling at {:?}; calls: {:?}",
                    next - self.t0,
                    self.now - self.t0,
                    self.switch
                        .calls
                        .values()
                        .map(|c| (c.phase.clone(), c.timer.map(|t| t - self.t0)))
                        .collect::<Vec<_>>()
                );
            }
        }
        self.now = at;
    }

    fn advance(&mut self, by: Duration) {
        self.advance_to(self.now + by);
    }

    fn media_event(&mut self, event: MediaEvent) {
        self.switch.handle_media_event(self.now, CallId(1), event);
        self.collect();
    }

    /// Finish whatever prompt plays now, as the media engine would.
    fn finish_prompt(&mut self) -> String {
        let Some(MediaCommand::Play { prompt, play, .. }) = self
            .media
            .iter()
            .rev()
            .find(|m| matches!(m, MediaCommand::Play { .. }))
            .cloned()
        else {
            panic!("nothing playing: {:?}", self.media);
        };
        self.advance(self.prompts.duration(prompt));
        self.media_event(MediaEvent::PromptFinished {
            play,
            prompt,
            interrupted: false,
        });
        self.prompts.file(prompt).display().to_string()
    }

    fn responses(&self) -> Vec<u16> {
        self.sent
            .iter()
            .filter(|m| m.starts_with("SIP/2.0 "))
            .map(|m| m[8..11].parse().unwrap())
            .collect()
    }

    fn events(&self) -> Vec<TimelineEvent> {
        self.records
            .iter()
            .filter_map(|r| match r {
                RecordCommand::Event { event, .. } => Some(event.clone()),
                _ => None,
            })
            .collect()
    }

    fn outcome(&self) -> Option<&'static str> {
        self.records.iter().find_map(|r| match r {
            RecordCommand::Finish { outcome, .. } => Some(*outcome),
            _ => None,
        })
    }

    fn last_response(&self, status: u16) -> String {
        self.sent
            .iter()
            .rev()
            .find(|m| m.starts_with(&format!("SIP/2.0 {status}")))
            .cloned()
            .unwrap_or_else(|| panic!("no {status} in {:#?}", self.sent))
    }
}

fn invite(user: &str, sdp: Option<&str>) -> String {
    let body = sdp.unwrap_or("");
    let content_type = if sdp.is_some() {
        "Content-Type: application/sdp\r\n"
    } else {
        ""
    };
    format!(
        "INVITE sip:{user}@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP {CALLER};branch=z9hG4bK-inv1;rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:1000@127.0.0.1:5070>;tag=caller\r\n\
To: <sip:{user}@127.0.0.1:5060>\r\n\
Call-ID: switch-test-1\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:1000@{CALLER}>\r\n\
{content_type}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn in_dialog(method: &str, cseq: u32, to_tag: &str, extra: &str, body: &str) -> String {
    let cseq = if method == "ACK" { 1 } else { cseq };
    format!(
        "{method} sip:4008@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP {CALLER};branch=z9hG4bK-{method}-{cseq};rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:1000@127.0.0.1:5070>;tag=caller\r\n\
To: <sip:4008@127.0.0.1:5060>;tag={to_tag}\r\n\
Call-ID: switch-test-1\r\n\
CSeq: {cseq} {method}\r\n\
{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn to_tag(response: &str) -> String {
    let to = response
        .split("\r\n")
        .find(|l| l.starts_with("To:") || l.starts_with("t:"))
        .unwrap();
    to.split(";tag=").nth(1).unwrap().trim().to_string()
}

/// Place a call, let it ring and answer, ACK it. Returns the dialog's To tag.
fn answered_call(h: &mut Harness, sdp: &str) -> String {
    h.sip(&invite("4008", Some(sdp)));
    let answer_delay = h.switch.dialplan.standards.answer_delay();
    h.advance(answer_delay);
    let tag = to_tag(&h.last_response(200));
    h.sip(&in_dialog("ACK", 1, &tag, "", ""));
    tag
}

impl Harness {
    fn prompt(&self, language: &str, name: &str) -> PromptId {
        self.prompts.find(language, name).unwrap()
    }

    /// The prompt the caller hears now (the last one started).
    fn playing(&self) -> PromptId {
        self.media
            .iter()
            .rev()
            .find_map(|m| match m {
                MediaCommand::Play {
                    call: CallId(1),
                    prompt,
                    ..
                }
                | MediaCommand::PlayLoop {
                    call: CallId(1),
                    prompt,
                    ..
                } => Some(*prompt),
                _ => None,
            })
            .expect("something plays")
    }

    /// The INVITEs the switch sent to agents' phones, in order.
    fn invites_to_agents(&self) -> Vec<String> {
        self.sent
            .iter()
            .filter(|m| m.starts_with("INVITE "))
            .cloned()
            .collect()
    }

    /// A SIP message arriving from an agent's phone.
    fn sip_from_phone(&mut self, extension: &str, text: &str) {
        let source: SocketAddr = format!("127.0.0.1:6{extension}").parse().unwrap();
        self.switch
            .handle_sip(self.now, Transport::Udp, source, text.as_bytes());
        self.collect();
    }

    fn kinds(&self) -> Vec<EventKind> {
        self.events().into_iter().map(|e| e.kind).collect()
    }

    /// A caller on the shipped hotline who pressed `digit` at the main menu.
    fn queued_caller(edit: impl FnOnce(&mut Config), digit: char) -> Harness {
        let mut h = Harness::new(edit);
        h.caller_presses(digit);
        h
    }

    /// The first caller is answered, hears the greeting out and presses `digit` in the main
    /// menu.
    fn caller_presses(&mut self, digit: char) {
        answered_call(self, OFFER_PCMA);
        self.finish_prompt();
        self.finish_prompt();
        self.media_event(MediaEvent::Dtmf {
            digit,
            duration_ms: 100,
        });
    }
}

/// The phone's answer to the switch's INVITE: `status`, with our tag and an SDP for 2xx.
fn phone_response(invite: &str, status: u16, sdp: Option<&str>) -> String {
    let header = |name: &str| {
        invite
            .split("\r\n")
            .find(|l| l.starts_with(&format!("{name}:")))
            .unwrap()
            .to_string()
    };
    let reason = match status {
        180 => "Ringing",
        200 => "OK",
        486 => "Busy Here",
        487 => "Request Terminated",
        603 => "Decline",
        _ => "Whatever",
    };
    let body = sdp.unwrap_or("");
    let content_type = if sdp.is_some() {
        "Content-Type: application/sdp\r\n"
    } else {
        ""
    };
    let to = header("To");
    let to = if to.contains("tag=") {
        to
    } else {
        format!("{to};tag=phone")
    };
    format!(
        "SIP/2.0 {status} {reason}\r\n{}\r\n{}\r\n{to}\r\n{}\r\n{}\r\nContact: <sip:agent@127.0.0.1:61001>\r\n{content_type}Content-Length: {}\r\n\r\n{body}",
        header("Via"),
        header("From"),
        header("Call-ID"),
        header("CSeq"),
        body.len()
    )
}

fn phone_extension(invite: &str) -> String {
    invite
        .split_whitespace()
        .nth(1)
        .unwrap()
        .trim_start_matches("sip:")
        .split('@')
        .next()
        .unwrap()
        .to_string()
}

const PHONE_SDP_PCMU: &str =
    "v=0\r\no=- 3 3 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 7100 RTP/AVP 0\r\n";

/// The value of the first `name` header of a SIP message.
fn header_value(message: &str, name: &str) -> Option<String> {
    let head = message.split("\r\n\r\n").next()?;
    head.split("\r\n").find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

/// The same message as caller `n` would send it: its own Call-ID, branch and From tag, and
/// `number` as its caller number.
fn nth_call(text: &str, n: u32, number: &str) -> String {
    text.replace("switch-test-1", &format!("switch-test-{n}"))
        .replace(";tag=caller", &format!(";tag=caller{n}"))
        .replace("z9hG4bK-", &format!("z9hG4bK-c{n}-"))
        .replace("sip:1000@", &format!("sip:{number}@"))
}

/// The Call-ID of caller `n`'s dialog.
fn call_id_of(n: u32) -> String {
    format!("switch-test-{n}")
}

/// A quoted parameter of a header value (`nonce="…"`).
fn quoted_param(value: &str, name: &str) -> String {
    let start = value.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
    let end = value[start..].find('"').unwrap() + start;
    value[start..end].to_string()
}

fn md5_hex(text: &str) -> String {
    use md5::{Digest as _, Md5};
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Harness {
    /// The responses sent in the dialog with this Call-ID, by status.
    fn responses_to(&self, call_id: &str) -> Vec<u16> {
        self.sent
            .iter()
            .filter(|m| m.starts_with("SIP/2.0 "))
            .filter(|m| header_value(m, "Call-ID").as_deref() == Some(call_id))
            .map(|m| m[8..11].parse().unwrap())
            .collect()
    }

    /// The last response with `status` sent in the dialog with this Call-ID.
    fn response_to(&self, call_id: &str, status: u16) -> String {
        self.sent
            .iter()
            .rev()
            .filter(|m| header_value(m, "Call-ID").as_deref() == Some(call_id))
            .find(|m| m.starts_with(&format!("SIP/2.0 {status}")))
            .cloned()
            .unwrap_or_else(|| panic!("no {status} for {call_id} in {:#?}", self.sent))
    }

    /// Caller `n` (calling from `number`) rings the sales hotline, is answered and ACKs.
    /// Returns the switch's handle for the call, from the media it starts.
    fn answered_nth_call(&mut self, n: u32, number: &str) -> CallId {
        let mark = self.media.len();
        self.sip(&nth_call(&invite("4008", Some(OFFER_PCMA)), n, number));
        let answer_delay = self.switch.dialplan.standards.answer_delay();
        self.advance(answer_delay);
        let tag = to_tag(&self.response_to(&call_id_of(n), 200));
        self.sip(&nth_call(&in_dialog("ACK", 1, &tag, "", ""), n, number));
        self.media[mark..]
            .iter()
            .find_map(|m| match m {
                MediaCommand::Start { call, .. } => Some(*call),
                _ => None,
            })
            .expect("media starts with the answer")
    }

    /// The id of the last play started on `call` (what its `PromptFinished` must carry).
    fn last_play_on(&self, call: CallId) -> crate::media::PlayId {
        self.media
            .iter()
            .rev()
            .find_map(|m| match m {
                MediaCommand::Play { call: c, play, .. }
                | MediaCommand::PlayLoop { call: c, play, .. }
                    if *c == call =>
                {
                    Some(*play)
                }
                _ => None,
            })
            .expect("something plays")
    }

    /// The prompt `call` hears now (the last one started on it).
    fn playing_on(&self, call: CallId) -> PromptId {
        self.media
            .iter()
            .rev()
            .find_map(|m| match m {
                MediaCommand::Play {
                    call: c, prompt, ..
                }
                | MediaCommand::PlayLoop {
                    call: c, prompt, ..
                } if *c == call => Some(*prompt),
                _ => None,
            })
            .expect("something plays")
    }

    /// The prompt playing on `call` ends, with no time passing (what it says does not matter
    /// to the test).
    fn hear_out(&mut self, call: CallId) {
        let prompt = self.playing_on(call);
        let play = self.last_play_on(call);
        self.switch.handle_media_event(
            self.now,
            call,
            MediaEvent::PromptFinished {
                play,
                prompt,
                interrupted: false,
            },
        );
        self.collect();
    }

    /// Caller `n` on the shipped hotline hears the greeting out and presses 1 for sales.
    fn queue_nth_caller_for_sales(&mut self, n: u32, number: &str) -> CallId {
        let call = self.answered_nth_call(n, number);
        self.hear_out(call); // welcome
        self.hear_out(call); // recording notice
        self.switch.handle_media_event(
            self.now,
            call,
            MediaEvent::Dtmf {
                digit: '1',
                duration_ms: 100,
            },
        );
        self.collect();
        call
    }

    /// Desk phone `extension` dials a feature `code` the way a phone does: answers the 407
    /// with its digest, ACKs the 200, hears the confirmation out and answers the switch's
    /// BYE. Returns the name of the confirmation prompt it heard.
    fn dial_feature_code(&mut self, extension: &str, code: &str) -> String {
        let call_id = format!("feature-{extension}-{}", self.sent.len());
        let uri = format!("sip:{code}@127.0.0.1:5060");
        let phone = format!("127.0.0.1:6{extension}");
        let request = |method: &str, cseq: u32, to_tag: &str, extra: &str, body: &str| {
            let to_tag = if to_tag.is_empty() {
                String::new()
            } else {
                format!(";tag={to_tag}")
            };
            format!(
                "{method} {uri} SIP/2.0\r\n\
Via: SIP/2.0/UDP {phone};branch=z9hG4bK-{call_id}-{method}-{cseq};rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:{extension}@127.0.0.1>;tag=phone{extension}\r\n\
To: <{uri}>{to_tag}\r\n\
Call-ID: {call_id}\r\n\
CSeq: {cseq} {method}\r\n\
Contact: <sip:{extension}@{phone}>\r\n\
{extra}Content-Length: {}\r\n\r\n{body}",
                body.len()
            )
        };
        let sdp_header = "Content-Type: application/sdp\r\n";
        self.sip_from_phone(
            extension,
            &request("INVITE", 1, "", sdp_header, PHONE_SDP_PCMU),
        );
        let challenge = self.response_to(&call_id, 407);
        self.sip_from_phone(extension, &request("ACK", 1, &to_tag(&challenge), "", ""));
        let nonce = quoted_param(
            &header_value(&challenge, "Proxy-Authenticate").unwrap(),
            "nonce",
        );
        let ha1 = md5_hex(&format!("{extension}:hotline:sample-{extension}"));
        let ha2 = md5_hex(&format!("INVITE:{uri}"));
        let response = md5_hex(&format!("{ha1}:{nonce}:00000001:0a4f113b:auth:{ha2}"));
        let authorization = format!(
            "Proxy-Authorization: Digest username=\"{extension}\", realm=\"hotline\", \
             nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", algorithm=MD5, \
             qop=auth, nc=00000001, cnonce=\"0a4f113b\"\r\n{sdp_header}"
        );
        self.sip_from_phone(
            extension,
            &request("INVITE", 2, "", &authorization, PHONE_SDP_PCMU),
        );
        let tag = to_tag(&self.response_to(&call_id, 200));
        let mark = self.media.len();
        self.sip_from_phone(extension, &request("ACK", 2, &tag, "", ""));
        let (call, prompt) = self.media[mark..]
            .iter()
            .find_map(|m| match m {
                MediaCommand::Play { call, prompt, .. } => Some((*call, *prompt)),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no confirmation for {code}: {:?}", &self.media[mark..]));
        let mark = self.sent.len();
        self.hear_out(call);
        let bye = self.sent[mark..]
            .iter()
            .find(|m| m.starts_with("BYE "))
            .cloned()
            .expect("the switch hangs up after the confirmation");
        self.sip_from_phone(extension, &phone_response(&bye, 200, None));
        self.prompts.label(prompt).unwrap().1.to_string()
    }

    fn agent_state(&self, agent: &str) -> String {
        self.switch
            .agent_states()
            .into_iter()
            .find(|(id, _)| id == agent)
            .map(|(_, state)| state)
            .unwrap()
    }
}

/// Who an INVITE to an agent's phone is for: the caller number it shows.
fn offered_caller(invite: &str) -> String {
    header_value(invite, "From")
        .and_then(|from| from.split("sip:").nth(1).map(str::to_string))
        .and_then(|rest| rest.split('@').next().map(str::to_string))
        .unwrap()
}

/// Issue 8's prompts, for the library the switch tests use, where the shipped set does not
/// hold them (yet): one second of a quiet tone each, in every language.
const ISSUE_8_PROMPTS: &[&str] = &[
    "hold_colleague",
    "hold_system",
    "hold_overrun",
    "whisper_hold_reminder",
    "confirm_tone",
    "reconnect_apology",
    "whisper_reconnect",
];

fn add_test_prompts(library: &mut PromptLibrary) {
    let tone: Vec<i16> = (0..8000)
        .map(|i| if i % 16 < 8 { 500 } else { -500 })
        .collect();
    for language in library.languages() {
        for name in ISSUE_8_PROMPTS {
            if library.find(&language, name).is_none() {
                let file = Path::new("test")
                    .join(&language)
                    .join(format!("{name}.wav"));
                library.add_pcm(&language, name, &file, &tone);
            }
        }
    }
}
