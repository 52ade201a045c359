//! The harness's port reservation (tests/common/ports.rs): a test's block of ports is its
//! own, against the other tests of its process and against every other process that reserves
//! through the same lock directory, and holds no port something else already uses.
//!
//! The lock-holder "elsewhere" is a second open of the block's lock file: `flock` locks belong
//! to the open file description, so that holder excludes this process exactly as another
//! process would.

mod common;

use std::collections::HashSet;
use std::fs::File;
use std::net::UdpSocket;
use std::thread;

use common::*;

/// A pool of its own (private lock directory) over `blocks` consecutive blocks below the
/// shared range (7168-7935), so these tests depend on no other test's locks or bind checks.
fn private_pool(first_block: u16, blocks: u16) -> (PortPool, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("lock dir");
    let lo = first_block * PORT_BLOCK_SIZE;
    let hi = lo + blocks * PORT_BLOCK_SIZE - 1;
    (PortPool::new(dir.path(), lo..=hi), dir)
}

/// Holds a block's lock the way another test process would.
fn hold_elsewhere(pool: &PortPool, block: PortBlock) -> File {
    std::fs::create_dir_all(&pool.lock_dir).expect("lock dir");
    let file = File::create(pool.lock_path(block)).expect("create lock file");
    file.try_lock().expect("lock the block elsewhere");
    file
}

#[test]
fn reservations_made_at_once_in_one_process_never_share_a_port() {
    let workers: Vec<_> = (0..8).map(|_| thread::spawn(PortBlock::reserve)).collect();
    let blocks: Vec<PortBlock> = workers
        .into_iter()
        .map(|w| w.join().expect("reserve"))
        .collect();
    let mut seen = HashSet::new();
    for block in &blocks {
        assert_eq!(
            block.base % PORT_BLOCK_SIZE,
            0,
            "blocks are aligned: {block:?}"
        );
        for port in block.ports() {
            assert!(
                seen.insert(port),
                "port {port} was handed out twice: {blocks:?}"
            );
        }
    }
    assert_eq!(seen.len(), 8 * PORT_BLOCK_SIZE as usize);
}

#[test]
fn a_block_locked_elsewhere_is_skipped() {
    let (pool, _dir) = private_pool(56, 3);
    let blocks = pool.blocks();
    assert_eq!(blocks.len(), 3, "{blocks:?}");
    let _first = hold_elsewhere(&pool, blocks[0]);
    let _third = hold_elsewhere(&pool, blocks[2]);

    assert_eq!(pool.reserve(), Some(blocks[1]));
    // Now every block is held: the next reservation finds none rather than sharing one.
    assert_eq!(pool.reserve(), None);
}

#[test]
fn a_reserved_block_stays_locked_against_other_holders() {
    let (pool, _dir) = private_pool(59, 1);
    let block = pool.reserve().expect("the only block is free");
    let other = File::open(pool.lock_path(block)).expect("open lock file");
    assert!(
        other.try_lock().is_err(),
        "another holder could lock the block this process reserved"
    );
}

#[test]
fn a_block_with_a_port_already_bound_is_skipped() {
    let (pool, _dir) = private_pool(60, 2);
    let blocks = pool.blocks();
    // Something unrelated holds one port of the first block (its RTP sink port).
    let squatter = UdpSocket::bind(("127.0.0.1", blocks[0].rtp_sink())).expect("bind a port");
    assert_eq!(pool.reserve(), Some(blocks[1]));
    drop(squatter);
    // The first block was not left locked by the attempt: it is reservable now.
    assert_eq!(pool.reserve(), Some(blocks[0]));
}

#[test]
fn sip_ports_are_handed_out_once_each_and_skip_one_in_use() {
    let block = PortBlock::reserve();
    let first = block.sip_port();
    let second = block.sip_port();
    assert_ne!(first, second);
    for port in [first, second] {
        assert!(
            block.sip_ports().contains(&port),
            "{port} outside {block:?}"
        );
    }
    // A peer still listening on the next one: it is passed over.
    let next = second + 1;
    let busy = UdpSocket::bind(("127.0.0.1", next)).expect("bind the next SIP port");
    assert_eq!(block.sip_port(), next + 1);
    drop(busy);
}

#[test]
fn sipp_that_cannot_bind_its_sip_port_is_told_apart_for_a_rerun() {
    // The harness reruns SIPp on its next SIP port when SIPp says it could not bind the
    // one it was given: that recognition depends on SIPp's own wording, checked here.
    let ports = PortBlock::reserve();
    let port = ports.sip_port();
    let squatter = UdpSocket::bind(("127.0.0.1", port)).expect("bind the SIP port");
    let run = Sipp::towards(
        "basic_call.xml",
        "127.0.0.1:9".parse().expect("addr"),
        ports,
    )
    .local_port(port)
    .timeout(std::time::Duration::from_secs(5))
    .run();
    drop(squatter);
    assert!(run.lost_its_sip_port(), "{}", run.report());
    assert_eq!(run.status.code(), Some(254), "{}", run.report());

    // SIPp on a free port of the block runs (here: to its timeout against a closed port) and
    // is not mistaken for one that lost its port.
    let free = Sipp::towards(
        "basic_call.xml",
        "127.0.0.1:9".parse().expect("addr"),
        ports,
    )
    .timeout(std::time::Duration::from_secs(1))
    .run();
    assert!(!free.lost_its_sip_port(), "{}", free.report());
}

/// baresip with `tests/baresip/config.template` listening on `sip_port`, console in `dir`.
fn baresip_on(sip_port: u16, ports: PortBlock, dir: &std::path::Path) -> std::process::Child {
    let (rtp_lo, rtp_hi) = ports.baresip_rtp();
    let config_dir = dir.join("config");
    std::fs::create_dir_all(&config_dir).expect("config dir");
    let config = fill_baresip_template(
        "config.template",
        &[
            ("SIP_PORT", sip_port.to_string()),
            ("RTP_LO", rtp_lo.to_string()),
            ("RTP_HI", rtp_hi.to_string()),
            ("MIC_WAV", "/dev/null".to_string()),
            ("SND_PATH", dir.display().to_string()),
        ],
    );
    std::fs::write(config_dir.join("config"), config).expect("write config");
    std::fs::write(
        config_dir.join("accounts"),
        "<sip:1001@127.0.0.1:9>;regint=0\n",
    )
    .expect("accounts");
    let console = File::create(dir.join("console.log")).expect("console");
    std::process::Command::new("baresip")
        .arg("-f")
        .arg(&config_dir)
        .args(["-t", "5"])
        .stdin(std::process::Stdio::null())
        .stdout(console.try_clone().expect("console handle"))
        .stderr(console)
        .spawn()
        .expect("start baresip")
}

#[test]
fn baresip_that_cannot_bind_its_sip_port_is_told_apart_for_a_restart() {
    // Baresip::start starts baresip again on the next SIP port when it quits for want of
    // its own: that recognition depends on baresip's wording, checked here.
    let ports = PortBlock::reserve();
    let dir = tempfile::tempdir().expect("tempdir");
    let port = ports.sip_port();
    let squatter = UdpSocket::bind(("127.0.0.1", port)).expect("bind the SIP port");
    let mut lost = baresip_on(port, ports, dir.path());
    let console = dir.path().join("console.log");
    assert!(
        baresip_lost_its_sip_port(&mut lost, &console),
        "{}",
        std::fs::read_to_string(&console).unwrap_or_default()
    );
    drop(squatter);

    let free = ports.sip_port();
    let mut ready = baresip_on(free, ports, dir.path());
    let lost_it = baresip_lost_its_sip_port(&mut ready, &console);
    let _ = ready.kill();
    let _ = ready.wait();
    let said = std::fs::read_to_string(&console).unwrap_or_default();
    assert!(!lost_it, "{said}");
    assert!(said.contains("baresip is ready."), "{said}");
}
