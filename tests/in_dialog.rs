//! In-dialog SIP against a real peer: SIPp callers hold and resume (re-INVITE and UPDATE,
//! `a=sendonly`, `a=inactive`, `c=0.0.0.0`), change codec, re-offer what the switch cannot
//! take (G.729, T.38), send a request out of CSeq order, and send the same INVITE twice. What
//! the switch answered is what SIPp received (its scenarios capture the SDP direction and
//! formats into their logs); what the caller heard is the RTP that arrived at the test's own
//! socket (`RtpSink`), timed against the moments the scenario logged.

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::heard::{PromptFrames, ReceivedRtp};
use common::*;

/// A prompt counts as heard from ten frames (200 ms) on.
const MIN_FRAMES: usize = 10;

/// Maps the sink's arrival instants onto the epoch seconds SIPp logs.
struct Clock {
    instant: Instant,
    epoch: f64,
}

impl Clock {
    fn now() -> Clock {
        let epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs_f64();
        Clock {
            instant: Instant::now(),
            epoch,
        }
    }

    fn epoch_of(&self, at: Instant) -> f64 {
        if at >= self.instant {
            self.epoch + (at - self.instant).as_secs_f64()
        } else {
            self.epoch - (self.instant - at).as_secs_f64()
        }
    }
}

/// The packets that arrived between two logged moments (epoch seconds).
fn arrived_between<'a>(
    heard: &'a RtpHeard,
    clock: &Clock,
    from: f64,
    to: f64,
) -> Vec<&'a ReceivedRtp> {
    heard
        .received
        .iter()
        .filter(|p| {
            let at = clock.epoch_of(p.at);
            at > from && at < to
        })
        .collect()
}

fn logged(run: &SippRun, word: &str) -> f64 {
    *run.logged_times(word)
        .first()
        .unwrap_or_else(|| panic!("the caller did not log {word}:\n{}", run.report()))
}

/// What the scenario logged for `name` (`name value` lines).
fn logged_value(run: &SippRun, name: &str) -> Vec<String> {
    run.log_lines(name)
        .iter()
        .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        .collect()
}

fn payload_types(packets: &[&ReceivedRtp]) -> Vec<u8> {
    let mut types: Vec<u8> = packets.iter().map(|p| p.payload_type).collect();
    types.sort_unstable();
    types.dedup();
    types
}

fn prompts_heard(prompts: &PromptFrames, packets: &[&ReceivedRtp]) -> Vec<String> {
    let owned: Vec<ReceivedRtp> = packets
        .iter()
        .map(|p| ReceivedRtp {
            payload_type: p.payload_type,
            seq: p.seq,
            timestamp: p.timestamp,
            ssrc: p.ssrc,
            payload: p.payload.clone(),
            at: p.at,
        })
        .collect();
    prompts.labels(&owned, MIN_FRAMES)
}

/// A caller holds with `hold_connection`/`hold_direction`, stays held 3 s and resumes: the
/// answer's direction is `expected`, no RTP reaches the caller while held, and the prompt
/// comes back after the resume.
fn hold_and_resume(
    scenario: &str,
    tag: &str,
    hold_connection: &str,
    hold_direction: &str,
    expected: &str,
) {
    let ports = PortBlock::reserve();
    let switch = Switch::start(ports);
    let prompts = PromptFrames::load(&switch.config_dir);
    let sink = RtpSink::listen(ports.rtp_sink());
    let clock = Clock::now();
    let sipp = Sipp::new(scenario, &switch)
        .call_id_tag(tag)
        .key("rtp_sink", ports.rtp_sink())
        .key("hold_connection", hold_connection)
        .key("hold_direction", hold_direction)
        .timeout(Duration::from_secs(30));
    let call_id = sipp.call_id(1);
    let run = sipp.run();
    let heard = sink.finish();
    assert_sipp_ok("the holding caller", &run, &switch);
    assert_eq!(
        logged_value(&run, "hold_answer"),
        vec![expected.to_string()],
        "the hold answer's direction"
    );
    assert_eq!(
        logged_value(&run, "resume_answer"),
        vec!["sendrecv".to_string()]
    );

    let (held, unholding, resumed) = (
        logged(&run, "held"),
        logged(&run, "unholding"),
        logged(&run, "resumed"),
    );
    let before = arrived_between(&heard, &clock, held - 1.2, held - 0.1);
    assert!(
        before.len() >= 40,
        "RTP flowed before the hold: {} packets",
        before.len()
    );
    let during = arrived_between(&heard, &clock, held + 0.1, unholding);
    assert_eq!(
        during.len(),
        0,
        "no RTP reaches a caller who holds ({:.1} s held)",
        unholding - held
    );
    let after = arrived_between(&heard, &clock, resumed + 0.1, resumed + 1.9);
    assert!(
        after.len() >= 80,
        "RTP resumed after the un-hold: {} packets",
        after.len()
    );
    assert_eq!(payload_types(&after), vec![0]);
    assert!(
        !prompts_heard(&prompts, &after).is_empty(),
        "the prompt is heard again after the un-hold"
    );
    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    let holds: Vec<String> = event_names(&call)
        .into_iter()
        .filter(|n| n == "hold" || n == "resume")
        .collect();
    assert_eq!(holds, ["hold", "resume"], "{call:#}");
    assert_eq!(event(&call, "hold")["by"], "caller", "{call:#}");
}

#[test]
fn a_hold_reinvite_sendonly_is_answered_recvonly_and_no_rtp_flows_until_unhold() {
    hold_and_resume(
        "reinvite_hold.xml",
        "hold-sendonly",
        "127.0.0.1",
        "sendonly",
        "recvonly",
    );
}

#[test]
fn an_inactive_reinvite_is_answered_inactive_and_no_rtp_flows_until_unhold() {
    hold_and_resume(
        "reinvite_hold.xml",
        "hold-inactive",
        "127.0.0.1",
        "inactive",
        "inactive",
    );
}

#[test]
fn a_reinvite_to_0_0_0_0_is_hold_and_no_rtp_flows_until_unhold() {
    hold_and_resume(
        "reinvite_hold.xml",
        "hold-zero",
        "0.0.0.0",
        "sendrecv",
        "recvonly",
    );
}

#[test]
fn an_update_with_sendonly_sdp_is_hold_too() {
    hold_and_resume(
        "update_hold.xml",
        "hold-update",
        "127.0.0.1",
        "sendonly",
        "recvonly",
    );
}

#[test]
fn a_pcma_only_reoffer_is_answered_pcma_and_the_caller_then_receives_payload_type_8() {
    let ports = PortBlock::reserve();
    let switch = Switch::start(ports);
    let prompts = PromptFrames::load(&switch.config_dir);
    let sink = RtpSink::listen(ports.rtp_sink());
    let clock = Clock::now();
    let run = Sipp::new("reinvite_pcma.xml", &switch)
        .call_id_tag("reoffer-pcma")
        .key("rtp_sink", ports.rtp_sink())
        .timeout(Duration::from_secs(30))
        .run();
    let heard = sink.finish();
    assert_sipp_ok("the caller", &run, &switch);
    assert_eq!(logged_value(&run, "answer_formats"), vec!["8".to_string()]);
    let (changing, changed) = (logged(&run, "changing"), logged(&run, "changed"));
    let before = arrived_between(&heard, &clock, changing - 1.2, changing);
    assert!(before.len() >= 40, "{} packets before", before.len());
    assert_eq!(payload_types(&before), vec![0], "PCMU before the re-offer");
    let after = arrived_between(&heard, &clock, changed + 0.1, changed + 1.9);
    assert!(after.len() >= 80, "{} packets after", after.len());
    assert_eq!(payload_types(&after), vec![8], "PCMA after the re-offer");
    assert!(
        !prompts_heard(&prompts, &after).is_empty(),
        "the prompt goes on, in A-law"
    );
}

fn refused_reoffer(tag: &str, media: &str, attribute: &str) {
    let ports = PortBlock::reserve();
    let switch = Switch::start(ports);
    let sink = RtpSink::listen(ports.rtp_sink());
    let clock = Clock::now();
    let sipp = Sipp::new("reinvite_refused.xml", &switch)
        .call_id_tag(tag)
        .key("rtp_sink", ports.rtp_sink())
        .key(
            "reoffer_media",
            media.replace("SINK", &ports.rtp_sink().to_string()),
        )
        .key("reoffer_attribute", attribute)
        .timeout(Duration::from_secs(30));
    let call_id = sipp.call_id(1);
    let run = sipp.run();
    let heard = sink.finish();
    // SIPp fails unless the re-INVITE got 488 and the later BYE 200.
    assert_sipp_ok("the caller", &run, &switch);
    let refused = logged(&run, "refused");
    let after = arrived_between(&heard, &clock, refused + 0.1, refused + 1.9);
    assert!(
        after.len() >= 80,
        "the call goes on: {} packets after the 488",
        after.len()
    );
    assert_eq!(payload_types(&after), vec![0], "still PCMU");
    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    assert_eq!(call["outcome"], "completed", "{call:#}");
    assert_eq!(event(&call, "hangup")["by"], "caller", "{call:#}");
}

#[test]
fn a_g729_only_reoffer_gets_488_and_the_call_goes_on() {
    refused_reoffer(
        "reoffer-g729",
        "audio SINK RTP/AVP 18",
        "rtpmap:18 G729/8000",
    );
}

#[test]
fn a_t38_reoffer_gets_488_and_the_call_goes_on() {
    refused_reoffer("reoffer-t38", "image SINK udptl t38", "T38FaxVersion:0");
}

#[test]
fn a_merged_invite_gets_482_and_only_one_call_is_recorded() {
    let ports = PortBlock::reserve();
    let switch = Switch::start(ports);
    let sipp = Sipp::new("merged_invite.xml", &switch)
        .call_id_tag("merged")
        .timeout(Duration::from_secs(30));
    let call_id = sipp.call_id(1);
    let run = sipp.run();
    assert_sipp_ok("the caller whose INVITE came twice", &run, &switch);
    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    assert_eq!(call["outcome"], "completed", "{call:#}");
    let records: Vec<_> = switch
        .calls()
        .into_iter()
        .filter(|c| c["sip_call_id"] == call_id.as_str())
        .collect();
    assert_eq!(records.len(), 1, "one call record: {records:#?}");
}

#[test]
fn a_reinvite_with_a_lower_cseq_gets_500() {
    let ports = PortBlock::reserve();
    let switch = Switch::start(ports);
    let run = Sipp::new("reinvite_low_cseq.xml", &switch)
        .call_id_tag("low-cseq")
        .timeout(Duration::from_secs(30))
        .run();
    // SIPp fails unless the re-INVITE with CSeq 3 after CSeq 5 got 500 and the BYE 200.
    assert_sipp_ok("the caller", &run, &switch);
}
