//! The switch driven end to end in virtual time: raw SIP in, SIP/media/record outputs out,
//! on the shipped dialplan and prompts. Media events are fed back by hand, as the media
//! engine would.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::config::{self, Config, QueueExit};
use crate::sip::{Binding, EndpointConfig};

const CALLER: &str = "127.0.0.1:5070";
const OFFER_PCMA: &str =
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
const OFFER_G729: &str =
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n";

fn shipped() -> (Config, Arc<PromptLibrary>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = config::load(dir).expect("shipped config loads");
    let prompts = PromptLibrary::load(&dir.join("prompts")).expect("shipped prompts load");
    (config, Arc::new(prompts))
}

struct Harness {
    switch: Switch,
    t0: Instant,
    now: Instant,
    prompts: Arc<PromptLibrary>,
    sent: Vec<String>,
    media: Vec<MediaCommand>,
    records: Vec<RecordCommand>,
}

impl Harness {
    /// Monday 2026-11-23, 10:00 in Shanghai: the office hotline is open.
    fn new(edit: impl FnOnce(&mut Config)) -> Harness {
        Harness::at("2026-11-23T02:00:00Z", edit)
    }

    fn at(wall: &str, edit: impl FnOnce(&mut Config)) -> Harness {
        let (mut config, prompts) = shipped();
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
        let switch = Switch::new(
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
        Harness {
            switch,
            t0,
            now: t0,
            prompts,
            sent: vec![],
            media: vec![],
            records: vec![],
        }
    }

    fn collect(&mut self) {
        while let Some(output) = self.switch.poll_output() {
            match output {
                Output::Transmit(t) => self.sent.push(String::from_utf8(t.payload).unwrap()),
                Output::Media(m) => self.media.push(m),
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
        while let Some(due) = self.switch.poll_timeout() {
            if due > at {
                break;
            }
            self.now = due.max(self.now);
            self.switch.handle_timeout(self.now);
            self.collect();
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
        let Some(MediaCommand::Play { prompt, .. }) = self
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

#[test]
fn answers_after_the_first_ring_and_within_three_rings() {
    let mut h = Harness::new(|_| {});
    h.sip(&invite("4008", Some(OFFER_PCMA)));
    assert_eq!(h.responses(), vec![100, 180], "Trying and Ringing at once");
    assert_eq!(
        h.switch.poll_timeout().map(|t| t - h.t0),
        Some(Duration::from_secs(1))
    );
    h.advance(Duration::from_millis(999));
    assert_eq!(
        h.responses(),
        vec![100, 180],
        "not answered before ring 1 ends"
    );
    h.advance(Duration::from_millis(1));
    assert_eq!(h.responses(), vec![100, 180, 200]);
    assert!(h.last_response(200).contains("a=rtpmap:8 PCMA/8000"));
    let answered = h
        .events()
        .into_iter()
        .find(|e| matches!(e.kind, EventKind::Answered { .. }))
        .unwrap();
    assert_eq!(answered.offset_ms, 1000);
    assert_eq!(answered.kind, EventKind::Answered { rings: 1 });
}

#[test]
fn answers_on_the_second_north_american_ring_when_configured() {
    let mut h = Harness::new(|c| {
        c.dialplan.standards.ring_cadence = config::RingCadence {
            on: Duration::from_secs(2),
            off: Duration::from_secs(4),
        };
        c.dialplan.standards.answer_after_rings = 2;
    });
    h.sip(&invite("4008", Some(OFFER_PCMA)));
    h.advance(Duration::from_millis(7999));
    assert!(!h.responses().contains(&200));
    h.advance(Duration::from_millis(1));
    assert!(h.responses().contains(&200));
    assert!(h
        .events()
        .iter()
        .any(|e| e.kind == EventKind::Answered { rings: 2 } && e.offset_ms == 8000));
}

#[test]
fn greeting_starts_as_the_ack_arrives_then_menu_digits_route_in_english() {
    let mut h = Harness::new(|_| {});
    answered_call(&mut h, OFFER_PCMA);
    assert!(matches!(
        h.media[0],
        MediaCommand::Start {
            codec: Codec::Pcma,
            payload_type: 8,
            telephone_event: Some(101),
            ..
        }
    ));
    let MediaCommand::Play { prompt, .. } = h.media[1].clone() else {
        panic!("{:?}", h.media)
    };
    assert!(
        h.prompts.file(prompt).ends_with("zh/welcome.wav"),
        "the greeting plays first, at the ACK"
    );
    assert!(h.finish_prompt().ends_with("zh/welcome.wav"));
    assert!(h.finish_prompt().ends_with("zh/recording_notice.wav"));
    // The menu prompt plays; 9 barges in and switches to English.
    h.media_event(MediaEvent::Dtmf {
        digit: '9',
        duration_ms: 100,
    });
    assert!(h.media.contains(&MediaCommand::Stop { call: CallId(1) }));
    let MediaCommand::Play { prompt, .. } = h.media.last().cloned().unwrap() else {
        panic!()
    };
    assert!(h.prompts.file(prompt).ends_with("en/main_menu.wav"));
    h.media_event(MediaEvent::PromptFinished {
        prompt: h.prompt("zh", "main_menu"),
        interrupted: true,
    });
    h.media_event(MediaEvent::Dtmf {
        digit: '1',
        duration_ms: 100,
    });
    let kinds: Vec<EventKind> = h.events().into_iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&EventKind::Language {
        language: "en".into()
    }));
    assert!(kinds.contains(&EventKind::Route {
        target: "sales".into()
    }));
    // In line for sales: "connecting you" in English, and an agent's phone rings.
    assert!(kinds.iter().any(
        |k| matches!(k, EventKind::QueueEntered { queue, position: 1, .. } if queue == "sales")
    ));
    assert!(h.prompts.file(h.playing()).ends_with("en/connecting.wav"));
    assert!(h.invites_to_agents().len() == 1, "{:?}", h.sent.last());
}

#[test]
fn silence_at_the_menu_goes_to_the_operator_after_three_tries() {
    let mut h = Harness::new(|_| {});
    answered_call(&mut h, OFFER_PCMA);
    h.finish_prompt();
    h.finish_prompt();
    for _ in 0..3 {
        h.finish_prompt(); // the menu (or no-input + menu) prompt sequence
        while h
            .events()
            .iter()
            .filter(|e| matches!(e.kind, EventKind::PromptFinished { .. }))
            .count()
            < h.events()
                .iter()
                .filter(|e| matches!(e.kind, EventKind::PromptStarted { .. }))
                .count()
        {
            h.finish_prompt();
        }
        h.advance(Duration::from_secs(5));
    }
    let no_inputs = h
        .events()
        .iter()
        .filter(|e| matches!(e.kind, EventKind::MenuNoInput { .. }))
        .count();
    assert_eq!(no_inputs, 3);
    assert!(h.events().iter().any(|e| e.kind
        == EventKind::Route {
            target: "operator".into()
        }));
}

#[test]
fn sip_info_digit_chooses_a_branch() {
    let mut h = Harness::new(|_| {});
    let tag = answered_call(&mut h, OFFER_PCMA);
    h.finish_prompt();
    h.finish_prompt();
    h.sip(&in_dialog(
        "INFO",
        2,
        &tag,
        "Content-Type: application/dtmf-relay\r\n",
        "Signal=2\r\nDuration=160\r\n",
    ));
    let kinds: Vec<EventKind> = h.events().into_iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&EventKind::Dtmf {
        digit: '2',
        source: "sip-info".into()
    }));
    assert!(kinds.contains(&EventKind::Route {
        target: "support".into()
    }));
}

#[test]
fn caller_hangs_up_and_media_ends() {
    let mut h = Harness::new(|_| {});
    let tag = answered_call(&mut h, OFFER_PCMA);
    h.sip(&in_dialog("BYE", 2, &tag, "", ""));
    assert_eq!(*h.responses().last().unwrap(), 200);
    assert!(h.media.contains(&MediaCommand::End { call: CallId(1) }));
    assert_eq!(h.outcome(), Some("completed"));
    assert!(h.events().iter().any(|e| e.kind
        == EventKind::Hangup {
            by: Party::Caller,
            reason: "caller hung up".into()
        }));
    assert!(h.switch.is_idle());
}

#[test]
fn cancel_while_ringing_is_abandoned() {
    let mut h = Harness::new(|_| {});
    h.sip(&invite("4008", Some(OFFER_PCMA)));
    h.advance(Duration::from_millis(500));
    h.sip(
        &invite("4008", None)
            .replacen("INVITE sip", "CANCEL sip", 1)
            .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL"),
    );
    assert!(h.responses().ends_with(&[200, 487]));
    assert_eq!(h.outcome(), Some("abandoned"));
    h.advance(Duration::from_secs(2));
    assert!(
        !h.responses().contains(&200) || h.responses().iter().filter(|s| **s == 200).count() == 1
    );
    assert!(h.media.is_empty(), "no media for a call never answered");
}

#[test]
fn delayed_offer_gets_our_offer_and_media_starts_with_the_ack_answer() {
    let mut h = Harness::new(|_| {});
    h.sip(&invite("4008", None));
    h.advance(Duration::from_secs(1));
    let ok = h.last_response(200);
    assert!(ok.contains("m=audio 40000 RTP/AVP"), "{ok}");
    assert!(h.media.is_empty());
    let tag = to_tag(&ok);
    let answer = "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\n";
    h.sip(&in_dialog(
        "ACK",
        1,
        &tag,
        "Content-Type: application/sdp\r\n",
        answer,
    ));
    assert!(
        matches!(h.media[0], MediaCommand::Start { codec: Codec::Pcmu, remote, .. } if remote.port() == 7000)
    );
}

#[test]
fn no_common_codec_gets_488_at_once() {
    let mut h = Harness::new(|_| {});
    h.sip(&invite("4008", Some(OFFER_G729)));
    assert_eq!(h.responses(), vec![100, 488]);
    assert_eq!(h.outcome(), Some("rejected"));
}

#[test]
fn unknown_number_gets_404() {
    let mut h = Harness::new(|_| {});
    h.sip(&invite("5555", Some(OFFER_PCMA)));
    assert_eq!(h.responses(), vec![100, 404]);
}

#[test]
fn at_the_call_limit_the_caller_gets_503_with_retry_after_instead_of_ringing() {
    let mut h = Harness::new(|c| c.dialplan.standards.max_calls = Some(0));
    h.sip(&invite("4008", Some(OFFER_PCMA)));
    assert_eq!(h.responses(), vec![100, 503]);
    assert!(h.last_response(503).contains("Retry-After: 5"));
}

#[test]
fn out_of_rtp_ports_gets_503_at_once() {
    let mut h = Harness::new(|_| {});
    while h.switch.rtp_ports.allocate().is_some() {}
    h.sip(&invite("4008", Some(OFFER_PCMA)));
    assert_eq!(h.responses(), vec![100, 503]);
}

#[test]
fn shutdown_refuses_new_calls_and_ends_calls_in_progress_with_bye() {
    let mut h = Harness::new(|_| {});
    answered_call(&mut h, OFFER_PCMA);
    h.switch.shutdown(h.now);
    h.collect();
    assert!(h.sent.last().unwrap().starts_with("BYE "));
    assert!(!h.switch.is_idle(), "waits for the BYE's answer");
    let second = invite("4008", Some(OFFER_PCMA))
        .replace("switch-test-1", "switch-test-2")
        .replace("z9hG4bK-inv1", "z9hG4bK-inv2");
    h.sip(&second);
    assert_eq!(*h.responses().last().unwrap(), 503);
}

#[test]
fn no_ack_for_the_200_ends_the_call_at_timer_h_with_bye() {
    let mut h = Harness::new(|_| {});
    h.sip(&invite("4008", Some(OFFER_PCMA)));
    h.advance(Duration::from_secs(1));
    let answered_at = h.now;
    h.advance(Duration::from_millis(31_999));
    assert!(!h.sent.iter().any(|m| m.starts_with("BYE ")));
    h.advance_to(answered_at + Duration::from_secs(32));
    assert!(h.sent.last().unwrap().starts_with("BYE "));
    assert_eq!(h.outcome(), Some("failed"));
    let retransmits = h
        .sent
        .iter()
        .filter(|m| m.starts_with("SIP/2.0 200"))
        .count();
    assert_eq!(
        retransmits,
        1 + 10,
        "200 at 0, then 0.5, 1.5, 3.5, 7.5, 11.5 … 31.5 s"
    );
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
                }
                | MediaCommand::PlayLoop {
                    call: CallId(1),
                    prompt,
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
        answered_call(&mut h, OFFER_PCMA);
        h.finish_prompt();
        h.finish_prompt();
        h.media_event(MediaEvent::Dtmf {
            digit,
            duration_ms: 100,
        });
        h
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

#[test]
fn queued_caller_rings_the_longest_idle_sales_agent_and_is_bridged_after_the_whisper() {
    let mut h = Harness::queued_caller(|_| {}, '1');
    let invites = h.invites_to_agents();
    assert_eq!(invites.len(), 1);
    let invite = invites[0].clone();
    assert_eq!(
        phone_extension(&invite),
        "1001",
        "sales agents a1001 and a1004, equally idle: a1001"
    );
    assert!(
        invite.contains("From: \"1000\" <sip:1000@"),
        "the caller's number shows on the phone"
    );
    h.sip_from_phone("1001", &phone_response(&invite, 180, None));
    h.advance(Duration::from_secs(6));
    h.sip_from_phone("1001", &phone_response(&invite, 200, Some(PHONE_SDP_PCMU)));
    assert!(
        h.sent.last().unwrap().starts_with("ACK "),
        "the switch ACKs the agent's 200"
    );
    let kinds = h.kinds();
    assert!(kinds.iter().any(
        |k| matches!(k, EventKind::AgentAnswered { agent, rings: 2, .. } if agent == "a1001")
    ));
    assert!(kinds.iter().any(|k| matches!(k, EventKind::Whisper { .. })));
    let leg = h
        .media
        .iter()
        .find_map(|m| match m {
            MediaCommand::Start {
                call,
                codec: Codec::Pcmu,
                ..
            } if *call != CallId(1) => Some(*call),
            _ => None,
        })
        .expect("the agent leg's media starts");
    assert!(
        h.media
            .iter()
            .any(|m| matches!(m, MediaCommand::Play { call, .. } if *call == leg)),
        "whisper to the agent"
    );
    let whisper = h.prompt("en", "whisper_sales");
    h.switch.handle_media_event(
        h.now,
        leg,
        MediaEvent::PromptFinished {
            prompt: whisper,
            interrupted: false,
        },
    );
    h.collect();
    assert!(h.media.contains(&MediaCommand::Bridge {
        a: CallId(1),
        b: leg
    }));
    assert!(
        h.kinds().iter().any(|k| matches!(
            k,
            EventKind::Bridged {
                transcoding: true,
                ..
            }
        )),
        "PCMA caller, PCMU agent"
    );
}

#[test]
fn unanswered_agent_phone_is_cancelled_as_ring_three_ends_and_the_next_agent_rings() {
    let mut h = Harness::queued_caller(|_| {}, '1');
    let first = h.invites_to_agents()[0].clone();
    let offered_at = h.now;
    h.sip_from_phone("1001", &phone_response(&first, 180, None));
    h.advance(Duration::from_millis(10_999));
    assert!(
        !h.sent.iter().any(|m| m.starts_with("CANCEL ")),
        "still within three rings"
    );
    h.advance(Duration::from_millis(1));
    assert_eq!(h.now - offered_at, Duration::from_secs(11));
    assert!(
        h.sent.iter().any(|m| m.starts_with("CANCEL ")),
        "cancelled as ring 3 ends"
    );
    let invites = h.invites_to_agents();
    assert_eq!(invites.len(), 2);
    assert_eq!(
        phone_extension(&invites[1]),
        "1004",
        "the other sales agent rings next"
    );
    assert!(h.kinds().iter().any(|k| matches!(k, EventKind::OfferEnded { agent, rings: 3, outcome } if agent == "a1001" && outcome == "no_answer")));
    let states = h.switch.agent_states();
    assert!(
        states.contains(&("a1001".to_string(), "not ready (missed)".to_string())),
        "{states:?}"
    );
}

#[test]
fn busy_agent_passes_the_call_to_the_next_at_once() {
    let mut h = Harness::queued_caller(|_| {}, '1');
    let first = h.invites_to_agents()[0].clone();
    h.sip_from_phone("1001", &phone_response(&first, 486, None));
    let invites = h.invites_to_agents();
    assert_eq!(invites.len(), 2, "the next agent at once");
    assert_eq!(phone_extension(&invites[1]), "1004");
    assert!(h
        .kinds()
        .iter()
        .any(|k| matches!(k, EventKind::OfferEnded { outcome, .. } if outcome == "busy")));
}

#[test]
fn caller_hanging_up_while_the_phone_rings_cancels_it_and_is_abandoned() {
    let mut h = Harness::queued_caller(|_| {}, '1');
    let first = h.invites_to_agents()[0].clone();
    h.sip_from_phone("1001", &phone_response(&first, 180, None));
    let tag = to_tag(
        &h.sent
            .iter()
            .find(|m| m.starts_with("SIP/2.0 200"))
            .unwrap()
            .clone(),
    );
    h.sip(&in_dialog("BYE", 2, &tag, "", ""));
    assert!(h.sent.iter().any(|m| m.starts_with("CANCEL ")));
    assert_eq!(h.outcome(), Some("abandoned"));
    assert!(h
        .kinds()
        .iter()
        .any(|k| matches!(k, EventKind::OfferEnded { outcome, .. } if outcome == "caller_left")));
    assert!(h
        .switch
        .agent_states()
        .contains(&("a1001".to_string(), "ready".to_string())));
}

#[test]
fn agent_hanging_up_ends_the_caller_and_wraps_up_for_fifteen_seconds() {
    let mut h = Harness::queued_caller(
        |c| {
            for queue in c.dialplan.queues.values_mut() {
                queue.whisper = None;
            }
        },
        '1',
    );
    let invite = h.invites_to_agents()[0].clone();
    h.sip_from_phone("1001", &phone_response(&invite, 200, Some(PHONE_SDP_PCMU)));
    assert!(
        h.media
            .iter()
            .any(|m| matches!(m, MediaCommand::Bridge { .. })),
        "bridged at once without a whisper"
    );
    let call_id = invite
        .split("\r\n")
        .find(|l| l.starts_with("Call-ID:"))
        .unwrap()
        .to_string();
    let bye = format!(
        "BYE sip:hotline@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:61001;branch=z9hG4bK-agentbye\r\nMax-Forwards: 70\r\nFrom: <sip:1001@127.0.0.1:61001>;tag=phone\r\n{}\r\n{call_id}\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n",
        invite.split("\r\n").find(|l| l.starts_with("From:")).unwrap().replacen("From:", "To:", 1)
    );
    h.sip_from_phone("1001", &bye);
    assert!(
        h.sent.iter().any(|m| m.starts_with("BYE sip:1000@")),
        "the caller is hung up: {:?}",
        h.sent.last()
    );
    assert!(h.kinds().iter().any(|k| *k
        == EventKind::Hangup {
            by: Party::Agent,
            reason: "agent hung up".into()
        }));
    assert!(h
        .kinds()
        .iter()
        .any(|k| matches!(k, EventKind::WrapUp { seconds: 15, .. })));
    assert!(h
        .switch
        .agent_states()
        .contains(&("a1001".to_string(), "wrap-up".to_string())));
    h.advance(Duration::from_secs(15));
    assert!(h
        .switch
        .agent_states()
        .contains(&("a1001".to_string(), "ready".to_string())));
}

#[test]
fn waiting_caller_hears_the_wait_again_every_thirty_seconds_and_is_offered_a_callback_before_ten_minutes(
) {
    // Nobody can take sales calls.
    let mut h = Harness::queued_caller(
        |c| {
            for queue in c.dialplan.queues.values_mut() {
                queue.skills = vec!["nobody".into()];
            }
        },
        '1',
    );
    assert!(h.invites_to_agents().is_empty());
    let entered = h.now;
    h.advance(Duration::from_secs(30));
    assert_eq!(
        h.kinds()
            .iter()
            .filter(|k| matches!(k, EventKind::Announcement { .. }))
            .count(),
        1
    );
    h.advance_to(entered + Duration::from_secs(9 * 60 + 29));
    assert!(!h
        .kinds()
        .iter()
        .any(|k| matches!(k, EventKind::QueueExit { .. })));
    h.advance_to(entered + Duration::from_secs(9 * 60 + 30));
    assert!(h
        .kinds()
        .iter()
        .any(|k| matches!(k, EventKind::QueueExit { reason, .. } if reason == "callback_offer")));
    assert!(h.prompts.file(h.playing()).ends_with("callback_offer.wav"));
    h.media_event(MediaEvent::Dtmf {
        digit: '1',
        duration_ms: 100,
    });
    assert!(h.kinds().iter().any(|k| matches!(k, EventKind::CallbackRequested { number, queue, position: 1 } if number == "1000" && queue == "sales")));
    assert!(h
        .records
        .iter()
        .any(|r| matches!(r, RecordCommand::Callback(req) if req.number == "1000")));
}

#[test]
fn a_vip_caller_is_served_before_callers_who_came_earlier() {
    let mut h = Harness::new(|c| {
        for queue in c.dialplan.queues.values_mut() {
            queue.skills = vec!["nobody".into()];
        }
    });
    let now = h.now;
    let first = h.switch.acd.enqueue("sales", CallId(50), 0, now);
    let (vip, _) = h.switch.dialplan.priority_of("13800000001");
    let second = h.switch.acd.enqueue("sales", CallId(51), vip, now);
    assert_eq!((first, second), (1, 1));
    assert_eq!(h.switch.acd.waiting("sales"), vec![CallId(51), CallId(50)]);
}

#[test]
fn office_hotline_plays_the_closed_flow_on_a_sunday_and_the_greeting_on_a_monday() {
    let mut sunday = Harness::at("2026-11-22T02:00:00Z", |_| {});
    sunday.sip(&invite("4009", Some(OFFER_PCMA)));
    sunday.advance(Duration::from_secs(1));
    let tag = to_tag(&sunday.last_response(200));
    sunday.sip(&in_dialog("ACK", 1, &tag, "", ""));
    assert!(sunday
        .events()
        .iter()
        .any(|e| e.kind == EventKind::Hours { open: false }));
    assert!(sunday.finish_prompt().ends_with("zh/closed.wav"));
    assert!(sunday.finish_prompt().ends_with("zh/goodbye.wav"));
    assert!(sunday.sent.last().unwrap().starts_with("BYE "));

    let mut monday = Harness::new(|_| {});
    monday.sip(&invite("4009", Some(OFFER_PCMA)));
    monday.advance(Duration::from_secs(1));
    let tag = to_tag(&monday.last_response(200));
    monday.sip(&in_dialog("ACK", 1, &tag, "", ""));
    assert!(monday
        .events()
        .iter()
        .any(|e| e.kind == EventKind::Hours { open: true }));
    assert!(monday.finish_prompt().ends_with("zh/welcome.wav"));
}

#[test]
fn operator_queue_takes_a_voicemail_before_the_maximum_wait() {
    let mut h = Harness::queued_caller(
        |c| {
            let operator = c.dialplan.queues.get_mut("operator").unwrap();
            operator.skills = vec!["nobody".into()];
            operator.max_wait = Duration::from_secs(2);
            operator.exit_notice = Duration::from_secs(1);
        },
        '0',
    );
    h.advance(Duration::from_secs(1));
    assert!(h
        .kinds()
        .iter()
        .any(|k| matches!(k, EventKind::QueueExit { reason, .. } if reason == "voicemail")));
    assert!(h.finish_prompt().ends_with("voicemail_offer.wav"));
    assert!(h.finish_prompt().ends_with("beep.wav"));
    let path = h
        .media
        .iter()
        .find_map(|m| match m {
            MediaCommand::RecordCaller {
                call: CallId(1),
                path,
                max,
            } => {
                assert_eq!(*max, Duration::from_secs(120));
                Some(path.clone())
            }
            _ => None,
        })
        .expect("recording starts after the beep");
    h.advance(Duration::from_secs(5));
    h.media_event(MediaEvent::RecordingFinished { duration_ms: 5000 });
    assert!(h.kinds().iter().any(|k| matches!(k, EventKind::Voicemail { file, duration_ms: 5000 } if *file == path.display().to_string())));
    assert!(h.finish_prompt().ends_with("goodbye.wav"));
    assert!(h.sent.last().unwrap().starts_with("BYE "));
}

#[test]
fn a_full_queue_overflows_to_another_queue_whose_agents_take_the_call() {
    let mut h = Harness::queued_caller(
        |c| {
            let sales = c.dialplan.queues.get_mut("sales").unwrap();
            sales.skills = vec!["nobody".into()];
            sales.max_wait = Duration::from_secs(2);
            sales.exit_notice = Duration::from_secs(1);
            sales.exit = QueueExit::Overflow("support".into());
        },
        '1',
    );
    assert!(h.invites_to_agents().is_empty());
    h.advance(Duration::from_secs(1));
    let kinds = h.kinds();
    assert!(kinds
        .iter()
        .any(|k| matches!(k, EventKind::QueueExit { reason, .. } if reason == "overflow support")));
    assert!(kinds
        .iter()
        .any(|k| matches!(k, EventKind::QueueEntered { queue, .. } if queue == "support")));
    let invites = h.invites_to_agents();
    assert_eq!(invites.len(), 1);
    assert_eq!(
        phone_extension(&invites[0]),
        "1001",
        "support agents a1001 and a1002"
    );
}

#[test]
fn agent_phone_rings_at_most_three_north_american_rings() {
    let mut h = Harness::queued_caller(
        |c| {
            c.dialplan.standards.ring_cadence = config::RingCadence {
                on: Duration::from_secs(2),
                off: Duration::from_secs(4),
            };
        },
        '1',
    );
    // The caller's own answer came as ring 1 ended (2 s); the agent leg has its own budget.
    let offered_at = h.now;
    let invite = h.invites_to_agents()[0].clone();
    h.sip_from_phone("1001", &phone_response(&invite, 180, None));
    h.advance(Duration::from_millis(13_999));
    assert!(!h.sent.iter().any(|m| m.starts_with("CANCEL ")));
    h.advance(Duration::from_millis(1));
    assert_eq!(
        h.now - offered_at,
        Duration::from_secs(14),
        "ring 3 ends at 2 × 6 s + 2 s"
    );
    assert!(h.sent.iter().any(|m| m.starts_with("CANCEL ")));
}

#[test]
fn caller_hanging_up_a_connected_call_hangs_up_the_agent_who_wraps_up_once() {
    let mut h = Harness::queued_caller(
        |c| {
            for queue in c.dialplan.queues.values_mut() {
                queue.whisper = None;
            }
        },
        '1',
    );
    let invite = h.invites_to_agents()[0].clone();
    assert!(
        invite.contains("m=audio 40002 RTP/AVP 8 0 101"),
        "the PCMA caller's codec is offered first: {invite}"
    );
    h.sip_from_phone("1001", &phone_response(&invite, 200, Some(PHONE_SDP_PCMU)));
    let tag = to_tag(&h.last_response(200));
    h.sip(&in_dialog("BYE", 3, &tag, "", ""));
    assert!(
        h.sent.iter().any(|m| m.starts_with("BYE sip:agent@")),
        "the agent is hung up"
    );
    let wrap_ups = h
        .kinds()
        .iter()
        .filter(|k| matches!(k, EventKind::WrapUp { .. }))
        .count();
    assert_eq!(wrap_ups, 1);
    assert_eq!(h.outcome(), Some("completed"));
}

#[test]
fn the_agent_hears_the_queue_and_a_vip_callers_tier_before_being_connected() {
    let mut h = Harness::new(|_| {});
    h.sip(&invite("4008", Some(OFFER_PCMA)).replace("sip:1000@", "sip:13800000001@"));
    h.advance(Duration::from_secs(1));
    let tag = to_tag(&h.last_response(200));
    h.sip(&in_dialog("ACK", 1, &tag, "", ""));
    h.finish_prompt();
    h.finish_prompt();
    h.media_event(MediaEvent::Dtmf {
        digit: '1',
        duration_ms: 100,
    });
    assert!(h
        .kinds()
        .iter()
        .any(|k| matches!(k, EventKind::QueueEntered { priority: 10, .. })));
    let invite = h.invites_to_agents()[0].clone();
    h.sip_from_phone("1001", &phone_response(&invite, 200, Some(PHONE_SDP_PCMU)));
    let leg = h
        .media
        .iter()
        .find_map(|m| match m {
            MediaCommand::Start { call, .. } if *call != CallId(1) => Some(*call),
            _ => None,
        })
        .unwrap();
    let whispered = |h: &Harness| -> Vec<PromptId> {
        h.media
            .iter()
            .filter_map(|m| match m {
                MediaCommand::Play { call, prompt } if *call == leg => Some(*prompt),
                _ => None,
            })
            .collect()
    };
    assert_eq!(whispered(&h), vec![h.prompt("zh", "whisper_sales")]);
    h.switch.handle_media_event(
        h.now,
        leg,
        MediaEvent::PromptFinished {
            prompt: h.prompt("zh", "whisper_sales"),
            interrupted: false,
        },
    );
    h.collect();
    assert_eq!(
        whispered(&h),
        vec![
            h.prompt("zh", "whisper_sales"),
            h.prompt("zh", "whisper_tier_vip")
        ]
    );
    assert!(
        !h.media
            .iter()
            .any(|m| matches!(m, MediaCommand::Bridge { .. })),
        "not yet"
    );
    h.switch.handle_media_event(
        h.now,
        leg,
        MediaEvent::PromptFinished {
            prompt: h.prompt("zh", "whisper_tier_vip"),
            interrupted: false,
        },
    );
    h.collect();
    assert!(h.media.contains(&MediaCommand::Bridge {
        a: CallId(1),
        b: leg
    }));
}

#[test]
fn a_caller_who_hangs_up_after_leaving_a_message_keeps_the_voicemail() {
    let mut h = Harness::queued_caller(
        |c| {
            let operator = c.dialplan.queues.get_mut("operator").unwrap();
            operator.skills = vec!["nobody".into()];
            operator.max_wait = Duration::from_secs(2);
            operator.exit_notice = Duration::from_secs(1);
        },
        '0',
    );
    h.advance(Duration::from_secs(1));
    h.finish_prompt();
    h.finish_prompt();
    h.advance(Duration::from_millis(7_500));
    let tag = to_tag(&h.last_response(200));
    h.sip(&in_dialog("BYE", 5, &tag, "", ""));
    let voicemails: Vec<EventKind> = h
        .kinds()
        .into_iter()
        .filter(|k| matches!(k, EventKind::Voicemail { .. }))
        .collect();
    assert_eq!(voicemails.len(), 1, "{voicemails:?}");
    assert!(matches!(
        voicemails[0],
        EventKind::Voicemail {
            duration_ms: 7_500,
            ..
        }
    ));
    // The media engine's own report of the ended recording comes later and changes nothing.
    h.media_event(MediaEvent::RecordingFinished { duration_ms: 7_480 });
    assert_eq!(
        h.kinds()
            .iter()
            .filter(|k| matches!(k, EventKind::Voicemail { .. }))
            .count(),
        1
    );
    assert_eq!(h.outcome(), Some("completed"));
}
