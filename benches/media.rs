//! Media hot path: one RTP packet in (parse + decode 160 samples) and one prompt frame out
//! (`on_tick` while a prompt plays). Target: under 1 µs each, and no allocation at all, which
//! a counting global allocator checks before the timings start.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use criterion::Criterion;
use hotline::media::{Codec, MediaSession, PromptId, PromptLibrary, RtpSender};

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
    session.play(greeting);

    let payload: Vec<u8> = (0..160).map(|i| (i * 7) as u8).collect();
    let mut packet = vec![0; 172];
    RtpSender::with_start(8, 0x1234_5678, 1, 160)
        .write(&payload, 160, &mut packet)
        .expect("172 bytes hold one 20 ms packet");
    (session, greeting, packet)
}

fn packet_in(session: &mut MediaSession, packet: &[u8]) {
    session.on_rtp(black_box(packet));
    black_box(session.last_decoded());
}

fn frame_out(session: &mut MediaSession, greeting: PromptId) {
    black_box(session.on_tick());
    // Keep a prompt playing so every iteration measures the prompt path, not silence.
    if session.poll_event().is_some() {
        session.play(greeting);
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
}

fn benches(c: &mut Criterion) {
    let (mut session, greeting, packet) = setup();
    c.bench_function("rtp packet in (parse + decode 160 samples)", |b| {
        b.iter(|| packet_in(&mut session, &packet))
    });
    c.bench_function("prompt frame out (on_tick while playing)", |b| {
        b.iter(|| frame_out(&mut session, greeting))
    });
}

fn main() {
    assert_no_allocation();
    let mut criterion = Criterion::default().configure_from_args();
    benches(&mut criterion);
    criterion.final_summary();
}
