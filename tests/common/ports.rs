//! UDP/TCP ports for the integration tests, taken so that tests running at the same time (in
//! one test binary, in the binaries cargo runs one after the other, and in other test runs on
//! the same machine) never share one.
//!
//! A test calls [`PortBlock::reserve`] and gets a block of [`PORT_BLOCK_SIZE`] ports that
//! nobody else is using: the block is aligned to a multiple of its size, its lock file in a
//! shared directory (`$TMPDIR/hotline-test-ports/`) is locked exclusively without waiting
//! (another holder: try the next block), and every port of it is bound once to see that no
//! unrelated process holds it. The lock is kept until the test process exits (the kernel
//! releases it then, even after a crash), so a block is never handed out twice while anything
//! this process started may still use it; `PortBlock` stays `Copy`. Blocks come from
//! 10000-32767, below the kernel's ephemeral range (32768+, where `bind(0)` and outgoing
//! sockets land), or from `HOTLINE_TEST_PORTS=LO-HI`.
//!
//! Inside a block each peer has its place (see the methods); the SIP ports that SIPp,
//! baresip and Kamailio listen on are handed out one by one by [`PortBlock::sip_port`].

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::net::{TcpListener, UdpSocket};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Ports in one block: 100 for RTP (the layout below) and 28 SIP ports.
pub const PORT_BLOCK_SIZE: u16 = 128;

/// The first SIP port of a block (offset); the rest of the block is SIP ports too.
const FIRST_SIP_OFFSET: u16 = 100;

const DEFAULT_PORTS: RangeInclusive<u16> = 10000..=32767;

/// A block of ports that belongs to one test. Reserve it with [`PortBlock::reserve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortBlock {
    pub base: u16,
}

impl PortBlock {
    /// A block of ports no other test (in this process or another) uses, held until the test
    /// process exits. Panics when every block of the range is taken.
    pub fn reserve() -> PortBlock {
        let pool = PortPool::shared();
        pool.reserve().unwrap_or_else(|| {
            panic!(
                "no block of {PORT_BLOCK_SIZE} free ports in {}-{} (locks in {}); \
                 widen HOTLINE_TEST_PORTS or stop what holds them",
                pool.ports.start(),
                pool.ports.end(),
                pool.lock_dir.display()
            )
        })
    }

    /// Every port of the block.
    pub fn ports(&self) -> RangeInclusive<u16> {
        self.base..=self.base + (PORT_BLOCK_SIZE - 1)
    }

    /// The switch's RTP range: 60 ports, enough for 20 calls with RTP and RTCP plus slack.
    pub fn switch_rtp(&self) -> String {
        format!("{}-{}", self.base, self.base + 59)
    }

    /// SIPp's own media port (`-mp`); SIPp also binds the one two above. Offsets 60-67 are
    /// the two `DeskPhone` slots, 76-79 the desk phones' REGISTER runs.
    pub fn sipp_media(&self) -> u16 {
        self.base + 70
    }

    /// Where the test listens for the switch's RTP.
    pub fn rtp_sink(&self) -> u16 {
        self.base + 80
    }

    /// baresip's RTP range (`rtp_ports`).
    pub fn baresip_rtp(&self) -> (u16, u16) {
        (self.base + 84, self.base + 99)
    }

    /// The block's SIP ports (UDP and TCP: SIPp binds both with `-t t1`).
    pub fn sip_ports(&self) -> std::ops::Range<u16> {
        self.base + FIRST_SIP_OFFSET..self.base + PORT_BLOCK_SIZE
    }

    /// A SIP port of this block for a peer to listen on (SIPp `-p`, baresip `sip_listen`,
    /// Kamailio `listen`): each call hands out the next one that is free for both UDP and TCP
    /// on 127.0.0.1 right now, so a peer of this test that still runs keeps its own.
    pub fn sip_port(&self) -> u16 {
        static NEXT: OnceLock<Mutex<HashMap<u16, u16>>> = OnceLock::new();
        let mut next = NEXT
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let cursor = next.entry(self.base).or_insert(0);
        let count = PORT_BLOCK_SIZE - FIRST_SIP_OFFSET;
        for _ in 0..count {
            let port = self.sip_ports().start + *cursor;
            *cursor = (*cursor + 1) % count;
            if udp_and_tcp_free(port) {
                return port;
            }
        }
        panic!(
            "all {count} SIP ports of the block at {} are in use",
            self.base
        );
    }
}

/// Where blocks are reserved: a range of ports and the directory of their lock files.
pub struct PortPool {
    pub lock_dir: PathBuf,
    pub ports: RangeInclusive<u16>,
}

impl PortPool {
    /// The pool every test uses: `$TMPDIR/hotline-test-ports/`, ports from
    /// `HOTLINE_TEST_PORTS=LO-HI` or 10000-32767.
    pub fn shared() -> PortPool {
        let ports = match std::env::var("HOTLINE_TEST_PORTS") {
            Ok(range) => parse_range(&range).unwrap_or_else(|| {
                panic!("HOTLINE_TEST_PORTS={range:?} is not a port range LO-HI")
            }),
            Err(_) => DEFAULT_PORTS,
        };
        PortPool::new(std::env::temp_dir().join("hotline-test-ports"), ports)
    }

    pub fn new(lock_dir: impl Into<PathBuf>, ports: RangeInclusive<u16>) -> PortPool {
        PortPool {
            lock_dir: lock_dir.into(),
            ports,
        }
    }

    /// The blocks that lie wholly inside the range. They are aligned to multiples of the
    /// block size, so runs with different ranges still agree on which lock guards a port.
    pub fn blocks(&self) -> Vec<PortBlock> {
        let size = PORT_BLOCK_SIZE as u32;
        let first = (*self.ports.start() as u32).div_ceil(size);
        let end = (*self.ports.end() as u32 + 1) / size;
        (first..end)
            .map(|n| PortBlock {
                base: (n * size) as u16,
            })
            .collect()
    }

    pub fn lock_path(&self, block: PortBlock) -> PathBuf {
        self.lock_dir
            .join(format!("ports-{}-{}.lock", block.base, block.ports().end()))
    }

    /// Reserves a block: its lock taken (never waiting for another holder) and every port
    /// bindable. The lock lives as long as this process. None when no block qualifies.
    pub fn reserve(&self) -> Option<PortBlock> {
        create_shared_dir(&self.lock_dir);
        let blocks = self.blocks();
        if blocks.is_empty() {
            return None;
        }
        // Test processes that start together begin their search at different blocks, so
        // they rarely contend for the same lock.
        let start = std::process::id() as usize % blocks.len();
        for i in 0..blocks.len() {
            let block = blocks[(start + i) % blocks.len()];
            let Some(lock) = open_lock(&self.lock_path(block)) else {
                continue;
            };
            if lock.try_lock().is_err() {
                continue;
            }
            if !block.ports().all(udp_free) || !block.sip_ports().all(udp_and_tcp_free) {
                continue; // dropping `lock` releases it
            }
            held_locks()
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(lock);
            return Some(block);
        }
        None
    }
}

/// The lock files of the blocks this process reserved: never closed, so the locks last until
/// the process exits.
fn held_locks() -> &'static Mutex<Vec<File>> {
    static HELD: OnceLock<Mutex<Vec<File>>> = OnceLock::new();
    HELD.get_or_init(Default::default)
}

fn parse_range(text: &str) -> Option<RangeInclusive<u16>> {
    let (lo, hi) = text.trim().split_once('-')?;
    let (lo, hi): (u16, u16) = (lo.trim().parse().ok()?, hi.trim().parse().ok()?);
    (lo <= hi).then_some(lo..=hi)
}

/// The lock directory is shared by every user's test runs, like /tmp itself.
fn create_shared_dir(dir: &Path) {
    if dir.is_dir() {
        return;
    }
    if std::fs::create_dir_all(dir).is_ok() {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1777));
    }
}

/// A lock file another user created may be read-only for us; `flock` works on it either way.
fn open_lock(path: &Path) -> Option<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .or_else(|_| File::open(path))
        .ok()
}

fn udp_free(port: u16) -> bool {
    UdpSocket::bind(("127.0.0.1", port)).is_ok()
}

fn udp_and_tcp_free(port: u16) -> bool {
    udp_free(port) && TcpListener::bind(("127.0.0.1", port)).is_ok()
}
