//! Media hot path through the whole engine (`MediaEngine`, what a media worker runs): one RTP
//! packet relayed from a caller's leg to the agent's leg (admission, parse, DTMF/RTCP
//! statistics, stream rewrite, queued for sending; same codec and PCMA→PCMU), one packet in on
//! a lone leg, and one 20 ms tick for 100 legs playing prompts (per-tick cost of a worker).
//! Target: under 1 µs per packet and per leg-tick, and no allocation at all once warm, which a
//! counting global allocator checks before the timings start.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use hotline::media::command::{LegOptions, MediaCommand};
use hotline::media::{
    Codec, ConversationEngine, LegRole, MediaEngine, MediaRecordKey, PlayId, PromptId,
    PromptLibrary, RtpSender,
};
use hotline::sip::CallId;

struct CountingAllocator;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

const CALLER: CallId = CallId(1);
const AGENT: CallId = CallId(2);
const TICK: Duration = Duration::from_millis(20);
const TICK_LEGS: u64 = 100;

fn phone(call: CallId) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 20_000 + call.0 as u16 * 2))
}

fn start(engine: &mut MediaEngine, now: Instant, call: CallId, codec: Codec) {
    engine.command(
        now,
        MediaCommand::Start {
            call,
            local_port: 10_000 + call.0 as u16 * 2,
            remote: phone(call),
            codec,
            payload_type: codec.payload_type(),
            telephone_event: Some(101),
            options: LegOptions {
                conversation: CALLER,
                record: MediaRecordKey {
                    call_id: format!("bench-{}", call.0),
                    role: LegRole::Caller,
                },
                media_timeout: Duration::from_secs(60),
                inband_dtmf: false,
                rtcp_mux: false,
                hold_back_dtmf: false,
                signalling_host: None,
            },
        },
    );
}

fn library() -> (Arc<PromptLibrary>, PromptId) {
    let mut library = PromptLibrary::new();
    let speech: Vec<i16> = (0..80_000)
        .map(|i| ((i as f32 * 0.05).sin() * 12_000.0) as i16)
        .collect();
    let greeting = library.add_pcm("zh", "welcome", Path::new("welcome.wav"), &speech);
    (Arc::new(library), greeting)
}

/// A PCMA caller leg bridged to an agent leg in `agent_codec`, and a caller packet.
fn bridge(agent_codec: Codec) -> (MediaEngine, Instant, Vec<u8>) {
    let (library, _) = library();
    let mut engine = MediaEngine::new(library);
    let now = Instant::now();
    start(&mut engine, now, CALLER, Codec::Pcma);
    start(&mut engine, now, AGENT, agent_codec);
    engine.command(
        now,
        MediaCommand::Bridge {
            a: CALLER,
            b: AGENT,
        },
    );
    let payload: Vec<u8> = (0..160).map(|i| (i * 7) as u8).collect();
    let mut packet = vec![0; 172];
    RtpSender::with_start(8, 0x1234_5678, 1, 160)
        .write(&payload, 160, &mut packet)
        .expect("172 bytes hold one 20 ms packet");
    while engine.poll_event().is_some() {}
    (engine, now, packet)
}

/// One packet from the caller's phone through the engine, and the worker draining what it
/// sends; the packet's sequence and timestamp move on as a real stream's do.
fn relay_one(engine: &mut MediaEngine, now: &mut Instant, packet: &mut [u8]) -> usize {
    let sequence = u16::from_be_bytes([packet[2], packet[3]]).wrapping_add(1);
    let timestamp = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
    packet[2..4].copy_from_slice(&sequence.to_be_bytes());
    packet[4..8].copy_from_slice(&timestamp.wrapping_add(160).to_be_bytes());
    *now += TICK;
    engine.on_datagram(*now, CALLER, false, phone(CALLER), black_box(packet));
    let mut sent = 0;
    while let Some(transmit) = engine.poll_transmit() {
        sent += black_box(transmit.bytes).len();
    }
    while engine.poll_event().is_some() {}
    sent
}

/// `TICK_LEGS` lone legs, each playing a looped prompt.
fn playing_legs() -> (MediaEngine, Instant) {
    let (library, greeting) = library();
    let mut engine = MediaEngine::new(library);
    let now = Instant::now();
    for i in 0..TICK_LEGS {
        let call = CallId(100 + i);
        start(&mut engine, now, call, Codec::Pcma);
        engine.command(
            now,
            MediaCommand::PlayLoop {
                call,
                prompt: greeting,
                play: PlayId(i),
            },
        );
    }
    (engine, now)
}

/// One worker tick over all its legs, and the worker draining the packets.
fn tick_all(engine: &mut MediaEngine, now: &mut Instant) -> usize {
    *now += TICK;
    engine.on_tick(*now);
    let mut sent = 0;
    while let Some(transmit) = engine.poll_transmit() {
        sent += black_box(transmit.bytes).len();
        let _ = transmit;
    }
    while engine.poll_event().is_some() {}
    sent
}

fn assert_no_allocation() {
    for agent_codec in [Codec::Pcma, Codec::Pcmu] {
        let (mut engine, mut now, mut packet) = bridge(agent_codec);
        // Warm up: the transmit slots and event queue reach their working size.
        for _ in 0..10 {
            relay_one(&mut engine, &mut now, &mut packet);
        }
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        let mut sent = 0;
        for _ in 0..10_000 {
            sent += relay_one(&mut engine, &mut now, &mut packet);
        }
        let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
        println!(
            "allocations: {allocations} in 10000 packets relayed PCMA to {}",
            agent_codec.name()
        );
        assert_eq!(allocations, 0, "the relay path allocates");
        assert_eq!(sent, 10_000 * 172, "every packet relayed");
    }
    let (mut engine, mut now) = playing_legs();
    for _ in 0..10 {
        tick_all(&mut engine, &mut now);
    }
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..1_000 {
        tick_all(&mut engine, &mut now);
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    println!("allocations: {allocations} in 1000 ticks of {TICK_LEGS} legs (with RTCP reports)");
    assert_eq!(allocations, 0, "the tick path allocates");
}

fn benches(c: &mut Criterion) {
    let (mut engine, mut now, mut packet) = bridge(Codec::Pcma);
    c.bench_function(
        "engine: relay caller to agent, same codec (PCMA to PCMA)",
        |b| b.iter(|| relay_one(&mut engine, &mut now, &mut packet)),
    );
    let (mut engine, mut now, mut packet) = bridge(Codec::Pcmu);
    c.bench_function(
        "engine: relay caller to agent, transcoded (PCMA to PCMU)",
        |b| b.iter(|| relay_one(&mut engine, &mut now, &mut packet)),
    );
    let (mut engine, mut now, mut packet) = bridge(Codec::Pcma);
    engine.command(now, MediaCommand::Unbridge { call: CALLER });
    c.bench_function(
        "engine: packet in on a lone leg (admit, parse, RTCP stats)",
        |b| b.iter(|| relay_one(&mut engine, &mut now, &mut packet)),
    );
    let (mut engine, mut now) = playing_legs();
    c.bench_function("engine: one tick of 100 legs playing prompts", |b| {
        b.iter(|| tick_all(&mut engine, &mut now))
    });
}

fn main() {
    assert_no_allocation();
    let mut criterion = Criterion::default().configure_from_args();
    benches(&mut criterion);
    criterion.final_summary();
}
