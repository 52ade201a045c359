//! The floor under the media workers (issue 7): PAIRS pairs of loopback legs, each leg's far
//! end sending one 172-byte datagram every 20 ms, and one relay thread forwarding each
//! datagram to the other leg's far end. The relay's CPU per packet, from
//! CLOCK_THREAD_CPUTIME_ID over SECONDS after a 2 s warm-up, for four ways into the kernel:
//!
//! - `epoll`: level-triggered epoll, one `recvfrom` per readiness, one `sendto` per packet,
//!   then 2 ms of coalescing sleep after a wake-up that found datagrams (the worker's loop
//!   before its relay batch, `--relay-batch-ms`: here every far end sends at the same
//!   instant of the 20 ms, so the wake-ups a batch saves under real load are not seen);
//! - `connected`: as `epoll`, every leg `connect`ed to its far end, `recv` and `send`;
//! - `uring`: one single-shot RECVMSG per socket, re-armed on completion, a SENDMSG per
//!   packet, everything of one wake-up submitted with one `io_uring_enter`;
//! - `multishot`: multishot RECVMSG into a provided-buffer ring (no re-arming), SENDMSG as
//!   above, DEFER_TASKRUN.
//!
//!   relay_floor MODE [PAIRS] [SECONDS]      e.g. relay_floor epoll 100 8

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use io_uring::{cqueue, opcode, types, IoUring};

const PAYLOAD: usize = 172;
const COALESCE: Duration = Duration::from_millis(2);
const WAIT: Duration = Duration::from_millis(20);
/// Tags a send's completion; receives carry their leg's index.
const SEND_TAG: u64 = 1 << 32;

fn thread_cpu_ns() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes one timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// What a relay loop publishes after every wake-up.
#[derive(Default)]
struct Progress {
    relayed: AtomicU64,
    cpu_ns: AtomicU64,
}

impl Progress {
    fn publish(&self, relayed: u64) {
        self.relayed.store(relayed, Ordering::Relaxed);
        self.cpu_ns.store(thread_cpu_ns(), Ordering::Relaxed);
    }
}

/// The leg a datagram received on leg `i` goes out of.
fn partner(i: usize) -> usize {
    i ^ 1
}

fn bind() -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind on loopback");
    socket.set_nonblocking(true).expect("non-blocking");
    socket
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).cloned().unwrap_or_else(|| "epoll".into());
    let pairs: usize = args.get(2).map_or(100, |s| s.parse().expect("PAIRS"));
    let seconds: u64 = args.get(3).map_or(8, |s| s.parse().expect("SECONDS"));
    let legs: Vec<UdpSocket> = (0..pairs * 2).map(|_| bind()).collect();
    let far_ends: Vec<UdpSocket> = (0..pairs * 2).map(|_| bind()).collect();
    let far_addresses: Vec<SocketAddr> = far_ends.iter().map(|s| s.local_addr().unwrap()).collect();
    let leg_addresses: Vec<SocketAddr> = legs.iter().map(|s| s.local_addr().unwrap()).collect();
    let stop = Arc::new(AtomicBool::new(false));

    let far_stop = Arc::clone(&stop);
    let far = std::thread::spawn(move || {
        let packet = [0x80u8; PAYLOAD];
        let mut buffer = [0u8; 2048];
        let mut next = Instant::now();
        while !far_stop.load(Ordering::Relaxed) {
            for (socket, to) in far_ends.iter().zip(&leg_addresses) {
                let _ = socket.send_to(&packet, to);
            }
            for socket in &far_ends {
                while socket.recv(&mut buffer).is_ok() {}
            }
            next += WAIT;
            if let Some(pause) = next.checked_duration_since(Instant::now()) {
                std::thread::sleep(pause);
            }
        }
    });

    let progress = Arc::new(Progress::default());
    let (relay_stop, relay_progress) = (Arc::clone(&stop), Arc::clone(&progress));
    let relay_mode = mode.clone();
    let relay = std::thread::spawn(move || {
        let (stop, progress) = (&*relay_stop, &*relay_progress);
        match relay_mode.as_str() {
            "epoll" => relay_epoll(&legs, &far_addresses, stop, progress),
            "uring" => relay_uring(&legs, &far_addresses, stop, progress),
            "multishot" => relay_multishot(&legs, &far_addresses, stop, progress),
            "connected" => relay_connected(&legs, &far_addresses, stop, progress),
            other => panic!("MODE is epoll, connected, uring or multishot, not {other}"),
        }
    });

    std::thread::sleep(Duration::from_secs(2));
    let (n0, c0) = (
        progress.relayed.load(Ordering::Relaxed),
        progress.cpu_ns.load(Ordering::Relaxed),
    );
    std::thread::sleep(Duration::from_secs(seconds));
    let (n1, c1) = (
        progress.relayed.load(Ordering::Relaxed),
        progress.cpu_ns.load(Ordering::Relaxed),
    );
    stop.store(true, Ordering::Relaxed);
    relay.join().expect("relay thread");
    far.join().expect("far-end thread");
    let packets = n1 - n0;
    println!(
        "{mode}: {pairs} pairs, {packets} packets relayed in {seconds} s, relay thread {:.2} µs CPU per packet",
        (c1 - c0) as f64 / packets.max(1) as f64 / 1000.0
    );
}

fn relay_epoll(legs: &[UdpSocket], far: &[SocketAddr], stop: &AtomicBool, progress: &Progress) {
    epoll_loop(legs, stop, progress, |i, buffer| {
        let Ok((len, _from)) = legs[i].recv_from(buffer) else {
            return false;
        };
        let j = partner(i);
        let _ = legs[j].send_to(&buffer[..len], far[j]);
        true
    });
}

/// As `relay_epoll`, with every leg `connect`ed to its far end: `recv` and `send` without
/// addresses, and the kernel keeps the route of each socket instead of looking it up per
/// datagram (it also drops datagrams from any other source before they reach the relay).
fn relay_connected(legs: &[UdpSocket], far: &[SocketAddr], stop: &AtomicBool, progress: &Progress) {
    for (socket, to) in legs.iter().zip(far) {
        socket.connect(to).expect("connect a leg to its far end");
    }
    epoll_loop(legs, stop, progress, |i, buffer| {
        let Ok(len) = legs[i].recv(buffer) else {
            return false;
        };
        let _ = legs[partner(i)].send(&buffer[..len]);
        true
    });
}

/// The workers' loop: level-triggered epoll over `legs`, `forward` called once per ready
/// leg (true when it relayed a datagram), 2 ms of coalescing sleep after a wake-up that
/// found any.
fn epoll_loop(
    legs: &[UdpSocket],
    stop: &AtomicBool,
    progress: &Progress,
    mut forward: impl FnMut(usize, &mut [u8]) -> bool,
) {
    // SAFETY: plain system calls on descriptors this function owns or borrows.
    let epoll = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    assert!(epoll >= 0, "epoll_create1");
    for (i, socket) in legs.iter().enumerate() {
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: i as u64,
        };
        // SAFETY: as above.
        unsafe { libc::epoll_ctl(epoll, libc::EPOLL_CTL_ADD, socket.as_raw_fd(), &mut event) };
    }
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    let mut buffer = [0u8; 2048];
    let mut relayed = 0u64;
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: the kernel writes at most 256 events into `events`.
        let n =
            unsafe { libc::epoll_wait(epoll, events.as_mut_ptr(), 256, WAIT.as_millis() as i32) };
        for event in &events[..n.max(0) as usize] {
            if forward(event.u64 as usize, &mut buffer) {
                relayed += 1;
            }
        }
        if n > 0 {
            std::thread::sleep(COALESCE);
        }
        progress.publish(relayed);
    }
    // SAFETY: closes the descriptor made above.
    unsafe { libc::close(epoll) };
}

fn sockaddr(address: &SocketAddr) -> libc::sockaddr_in {
    let SocketAddr::V4(v4) = address else {
        unreachable!("loopback IPv4 only")
    };
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: v4.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(v4.ip().octets()),
        },
        sin_zero: [0; 8],
    }
}

/// One datagram in flight to the kernel: its bytes, address and message header stay put
/// (boxed) until the send's completion comes back.
struct Outgoing {
    bytes: [u8; 2048],
    iov: libc::iovec,
    msg: libc::msghdr,
    to: libc::sockaddr_in,
}

/// The send slots of a ring: a slot is free again when its completion comes back.
struct Sends {
    slots: Vec<Box<Outgoing>>,
    free: Vec<usize>,
}

impl Sends {
    fn new(count: usize) -> Sends {
        Sends {
            // SAFETY: all-zero is a valid `Outgoing` (plain C structs and bytes).
            slots: (0..count)
                .map(|_| Box::new(unsafe { std::mem::zeroed() }))
                .collect(),
            free: (0..count).collect(),
        }
    }

    /// Queues `payload` to `to` out of `socket`; false when every slot is in flight.
    fn queue(
        &mut self,
        ring: &mut IoUring,
        socket: &UdpSocket,
        to: &SocketAddr,
        payload: &[u8],
    ) -> bool {
        let Some(k) = self.free.pop() else {
            return false;
        };
        let slot = &mut *self.slots[k];
        slot.bytes[..payload.len()].copy_from_slice(payload);
        slot.to = sockaddr(to);
        slot.iov = libc::iovec {
            iov_base: slot.bytes.as_mut_ptr().cast(),
            iov_len: payload.len(),
        };
        // SAFETY: all-zero is a valid msghdr; the fields it needs are set below.
        slot.msg = unsafe { std::mem::zeroed() };
        slot.msg.msg_name = (&mut slot.to as *mut libc::sockaddr_in).cast();
        slot.msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as u32;
        slot.msg.msg_iov = &mut slot.iov;
        slot.msg.msg_iovlen = 1;
        let sqe = opcode::SendMsg::new(types::Fd(socket.as_raw_fd()), &slot.msg)
            .build()
            .user_data(SEND_TAG | k as u64);
        // SAFETY: the slot outlives the operation (freed only on its completion).
        unsafe { ring.submission().push(&sqe).expect("submission queue room") };
        true
    }

    fn completed(&mut self, tag: u64) {
        self.free.push((tag & 0xFFFF_FFFF) as usize);
    }
}

/// Submits what is queued and waits at most `WAIT` for one completion.
fn submit_and_wait(ring: &mut IoUring) {
    let timeout = types::Timespec::from(WAIT);
    let args = types::SubmitArgs::new().timespec(&timeout);
    match ring.submitter().submit_with_args(1, &args) {
        Ok(_) => {}
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::ETIME | libc::EINTR | libc::EBUSY)
            ) => {}
        Err(e) => panic!("io_uring_enter: {e}"),
    }
}

/// One datagram's landing place for a single-shot receive.
struct Incoming {
    bytes: [u8; 2048],
    iov: libc::iovec,
    msg: libc::msghdr,
    from: libc::sockaddr_in,
}

fn relay_uring(legs: &[UdpSocket], far: &[SocketAddr], stop: &AtomicBool, progress: &Progress) {
    let mut ring = IoUring::builder()
        .setup_single_issuer()
        .setup_coop_taskrun()
        .build(4096)
        .expect("io_uring");
    // SAFETY: all-zero is a valid `Incoming`.
    let mut incoming: Vec<Box<Incoming>> = (0..legs.len())
        .map(|_| Box::new(unsafe { std::mem::zeroed() }))
        .collect();
    let mut sends = Sends::new(1024);
    let arm = |ring: &mut IoUring, slot: &mut Incoming, i: usize| {
        slot.iov = libc::iovec {
            iov_base: slot.bytes.as_mut_ptr().cast(),
            iov_len: slot.bytes.len(),
        };
        // SAFETY: as in `Sends::queue`.
        slot.msg = unsafe { std::mem::zeroed() };
        slot.msg.msg_name = (&mut slot.from as *mut libc::sockaddr_in).cast();
        slot.msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as u32;
        slot.msg.msg_iov = &mut slot.iov;
        slot.msg.msg_iovlen = 1;
        let sqe = opcode::RecvMsg::new(types::Fd(legs[i].as_raw_fd()), &mut slot.msg)
            .build()
            .user_data(i as u64);
        // SAFETY: the slot lives until the loop ends; it is re-armed only after completing.
        unsafe { ring.submission().push(&sqe).expect("submission queue room") };
    };
    for (i, slot) in incoming.iter_mut().enumerate() {
        arm(&mut ring, slot, i);
    }
    let mut relayed = 0u64;
    let mut completions: Vec<(u64, i32)> = Vec::with_capacity(4096);
    while !stop.load(Ordering::Relaxed) {
        submit_and_wait(&mut ring);
        completions.clear();
        completions.extend(ring.completion().map(|c| (c.user_data(), c.result())));
        let mut received = false;
        for &(tag, result) in &completions {
            if tag & SEND_TAG != 0 {
                sends.completed(tag);
                continue;
            }
            let i = tag as usize;
            received = true;
            if result > 0 {
                let j = partner(i);
                let payload = &incoming[i].bytes[..result as usize];
                if sends.queue(&mut ring, &legs[j], &far[j], payload) {
                    relayed += 1;
                }
            }
            arm(&mut ring, &mut incoming[i], i);
        }
        if received {
            ring.submit().expect("io_uring_enter");
            std::thread::sleep(COALESCE);
        }
        progress.publish(relayed);
    }
}

fn relay_multishot(legs: &[UdpSocket], far: &[SocketAddr], stop: &AtomicBool, progress: &Progress) {
    const BUFFERS: usize = 1024;
    const BUFFER: usize = 2048;
    const GROUP: u16 = 7;
    let mut ring = IoUring::builder()
        .setup_single_issuer()
        .setup_coop_taskrun()
        .setup_defer_taskrun()
        .build(4096)
        .expect("io_uring");
    // The provided-buffer ring: BUFFERS entries of {addr u64, len u32, bid u16, resv u16}; the
    // tail is the u16 at byte 14 (the first entry's resv). Page-aligned, as the kernel asks.
    // SAFETY: an anonymous private mapping, never unmapped while the ring lives.
    let entries = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            BUFFERS * 16,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_ANONYMOUS | libc::MAP_PRIVATE,
            -1,
            0,
        )
    } as *mut u8;
    assert!(entries as isize != -1, "mmap");
    let mut buffers = vec![0u8; BUFFERS * BUFFER];
    let base = buffers.as_mut_ptr() as u64;
    let provide = |position: u16, bid: usize| {
        // SAFETY: the entry lies inside the mapping; the kernel reads it only once the tail
        // moves past it.
        unsafe {
            let entry = entries.add((position as usize % BUFFERS) * 16);
            (entry as *mut u64).write(base + (bid * BUFFER) as u64);
            (entry.add(8) as *mut u32).write(BUFFER as u32);
            (entry.add(12) as *mut u16).write(bid as u16);
        }
    };
    // SAFETY: the tail is a naturally aligned u16 inside the mapping.
    let tail_at = unsafe { &*(entries.add(14) as *const AtomicU16) };
    for bid in 0..BUFFERS {
        provide(bid as u16, bid);
    }
    let mut tail = BUFFERS as u16;
    tail_at.store(tail, Ordering::Release);
    // SAFETY: the mapping outlives the ring.
    unsafe {
        ring.submitter()
            .register_buf_ring_with_flags(entries as u64, BUFFERS as u16, GROUP, 0)
    }
    .expect("register the buffer ring");
    // SAFETY: all-zero is a valid msghdr; multishot reads only the lengths.
    let mut header: libc::msghdr = unsafe { std::mem::zeroed() };
    header.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as u32;
    let arm = |ring: &mut IoUring, i: usize| {
        let sqe = opcode::RecvMsgMulti::new(types::Fd(legs[i].as_raw_fd()), &header, GROUP)
            .build()
            .user_data(i as u64);
        // SAFETY: `header` lives until the loop ends.
        unsafe { ring.submission().push(&sqe).expect("submission queue room") };
    };
    for i in 0..legs.len() {
        arm(&mut ring, i);
    }
    let mut sends = Sends::new(2048);
    let mut relayed = 0u64;
    let mut completions: Vec<(u64, i32, u32)> = Vec::with_capacity(4096);
    while !stop.load(Ordering::Relaxed) {
        submit_and_wait(&mut ring);
        completions.clear();
        completions.extend(
            ring.completion()
                .map(|c| (c.user_data(), c.result(), c.flags())),
        );
        let mut received = false;
        for &(tag, result, flags) in &completions {
            if tag & SEND_TAG != 0 {
                sends.completed(tag);
                continue;
            }
            let i = tag as usize;
            if let Some(bid) = cqueue::buffer_select(flags) {
                received = true;
                let bid = bid as usize;
                let filled = &buffers[bid * BUFFER..bid * BUFFER + result.max(0) as usize];
                if let Ok(message) = types::RecvMsgOut::parse(filled, &header) {
                    let j = partner(i);
                    if sends.queue(&mut ring, &legs[j], &far[j], message.payload_data()) {
                        relayed += 1;
                    }
                }
                provide(tail, bid);
                tail = tail.wrapping_add(1);
            }
            if !cqueue::more(flags) {
                arm(&mut ring, i);
            }
        }
        tail_at.store(tail, Ordering::Release);
        if received {
            ring.submit().expect("io_uring_enter");
            std::thread::sleep(COALESCE);
        }
        progress.publish(relayed);
    }
}
