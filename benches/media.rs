//! Media hot path: one RTP packet in (parse + decode 160 samples), one prompt frame out
//! (`on_tick` while a prompt plays), and one packet relayed from a caller's leg to an agent's
//! leg (parse, relay frame handed over, header rewritten; same codec and PCMA→PCMU).
//! Target: under 1 µs each, and no allocation at all, which a counting global allocator
//! checks before the timings start.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use criterion::Criterion;
use hotline::media::{Codec, MediaSession, PromptId, PromptLibrary, RelayFrame, RtpSender};

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

/// A session playing a 10 s greeting, and a typical incoming PCMA packet.
fn setup() -> (MediaSession, PromptId, Vec<u8>) {
    let mut library = PromptLibrary::new();
    let speech: Vec<i16> = (0..80_000)
        .map(|i| ((i as f32 * 0.05).sin() * 12_000.0) as i16)
        .collect();
    let greeting = library.add_pcm("zh", "welcome", Path::new("welcome.wav"), &speech);
    let mut session = MediaSession::new(Codec::Pcma, 8, Some(101), Arc::new(library));
    session.play(greeting, hotline::media::PlayId(1));

    let payload: Vec<u8> = (0..160).map(|i| (i * 7) as u8).collect();
    let mut packet = vec![0; 172];
    RtpSender::with_start(8, 0x1234_5678, 1, 160)
        .write(&payload, 160, &mut packet)
        .expect("172 bytes hold one 20 ms packet");
    (session, greeting, packet)
}

/// A bridged caller leg (PCMA) and agent leg in `agent_codec`.
fn bridge(agent_codec: Codec) -> (MediaSession, MediaSession) {
    let library = Arc::new(PromptLibrary::new());
    let mut caller = MediaSession::new(Codec::Pcma, 8, Some(101), Arc::clone(&library));
    let mut agent = MediaSession::new(agent_codec, agent_codec.payload_type(), Some(101), library);
    caller.set_bridged(true);
    agent.set_bridged(true);
    (caller, agent)
}

/// What the two media tasks do for one packet from the caller: the caller's task parses it
/// and hands a copy of the relay frame over (the channel send is this copy), the agent's
/// task rewrites it into its own stream. The packet's timestamp moves on 20 ms each time, as
/// a real stream's does.
fn relay_one(caller: &mut MediaSession, agent: &mut MediaSession, packet: &mut [u8]) {
    let timestamp = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
    packet[4..8].copy_from_slice(&timestamp.wrapping_add(160).to_be_bytes());
    caller.on_rtp(black_box(packet));
    let handed_over: Option<RelayFrame> = caller.last_relay_frame().cloned();
    if let Some(frame) = handed_over {
        black_box(agent.relay(&frame));
    }
}

fn packet_in(session: &mut MediaSession, packet: &[u8]) {
    session.on_rtp(black_box(packet));
    black_box(session.last_decoded());
}

fn frame_out(session: &mut MediaSession, greeting: PromptId) {
    black_box(session.on_tick());
    // Keep a prompt playing so every iteration measures the prompt path, not silence.
    if session.poll_event().is_some() {
        session.play(greeting, hotline::media::PlayId(1));
    }
}

fn assert_no_allocation() {
    let (mut session, greeting, packet) = setup();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..10_000 {
        packet_in(&mut session, &packet);
    }
    let packet_in_allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    // 10 000 ticks is 20 greetings played to the end and restarted.
    for _ in 0..10_000 {
        frame_out(&mut session, greeting);
    }
    let frame_out_allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    println!(
        "allocations: {packet_in_allocations} in 10000 packets in, \
         {frame_out_allocations} in 10000 frames out"
    );
    assert_eq!(packet_in_allocations, 0, "the packet-in path allocates");
    assert_eq!(frame_out_allocations, 0, "the frame-out path allocates");

    for agent_codec in [Codec::Pcma, Codec::Pcmu] {
        let (mut caller, mut agent) = bridge(agent_codec);
        let mut packet = packet.clone();
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        for _ in 0..10_000 {
            relay_one(&mut caller, &mut agent, &mut packet);
        }
        let relay_allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
        println!(
            "allocations: {relay_allocations} in 10000 packets relayed PCMA to {}",
            agent_codec.name()
        );
        assert_eq!(relay_allocations, 0, "the relay path allocates");
        assert_eq!(
            agent.stats().packets_relayed,
            10_000,
            "every packet relayed"
        );
    }
}

fn benches(c: &mut Criterion) {
    let (mut session, greeting, packet) = setup();
    c.bench_function("rtp packet in (parse + decode 160 samples)", |b| {
        b.iter(|| packet_in(&mut session, &packet))
    });
    c.bench_function("prompt frame out (on_tick while playing)", |b| {
        b.iter(|| frame_out(&mut session, greeting))
    });
    let (mut caller, mut agent) = bridge(Codec::Pcma);
    let mut relayed = packet.clone();
    c.bench_function("relay caller to agent, same codec (PCMA to PCMA)", |b| {
        b.iter(|| relay_one(&mut caller, &mut agent, &mut relayed))
    });
    let (mut caller, mut agent) = bridge(Codec::Pcmu);
    c.bench_function("relay caller to agent, transcoded (PCMA to PCMU)", |b| {
        b.iter(|| relay_one(&mut caller, &mut agent, &mut relayed))
    });
}

fn main() {
    assert_no_allocation();
    let mut criterion = Criterion::default().configure_from_args();
    benches(&mut criterion);
    criterion.final_summary();
}
