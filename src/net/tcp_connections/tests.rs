use std::time::{Duration, Instant};

use tokio::sync::oneshot::error::TryRecvError;

use super::*;

fn limits() -> TcpLimits {
    TcpLimits {
        read_timeout: Duration::from_secs(32),
        idle_timeout: Duration::from_secs(3605),
        max_connections: 6,
        max_per_address: 2,
        write_queue_bytes: 100,
    }
}

fn plenty() -> u64 {
    1_000_000
}

fn table() -> TcpConnections {
    TcpConnections::with_soft_limit(limits(), 10, plenty)
}

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

#[test]
fn connections_beyond_the_per_address_cap_are_refused_while_other_addresses_connect() {
    let mut t = table();
    assert!(t.admit(addr("192.0.2.1:1000"), false).is_ok());
    assert!(t.admit(addr("192.0.2.1:1001"), false).is_ok());
    assert_eq!(
        t.admit(addr("192.0.2.1:1002"), false).err(),
        Some(Refusal::PerAddressCap)
    );
    assert!(t.admit(addr("192.0.2.2:1000"), false).is_ok());
    // The IPv4-mapped form of the same address counts as the same address.
    assert_eq!(
        t.admit(addr("[::ffff:192.0.2.1]:1003"), false).err(),
        Some(Refusal::PerAddressCap)
    );
    assert_eq!(t.len(), 3);
}

#[test]
fn a_closed_connection_frees_its_place_under_the_per_address_cap() {
    let mut t = table();
    let first = t.admit(addr("192.0.2.1:1000"), false).unwrap();
    t.admit(addr("192.0.2.1:1001"), false).unwrap();
    t.closed(first.peer, first.id);
    assert!(t.admit(addr("192.0.2.1:1002"), false).is_ok());
    assert_eq!(t.len(), 2);
}

#[test]
fn the_total_cap_counts_accepted_and_opened_connections() {
    let mut t = table();
    for n in 0..3 {
        t.admit(addr(&format!("192.0.2.{n}:1000")), true).unwrap();
    }
    for n in 0..3 {
        assert!(matches!(
            t.send(addr(&format!("198.51.100.{n}:5060")), b"x".to_vec()),
            Sent::Connect(_)
        ));
    }
    assert_eq!(
        t.admit(addr("192.0.2.9:1000"), false).err(),
        Some(Refusal::TotalCap)
    );
    assert!(matches!(
        t.send(addr("198.51.100.9:5060"), b"x".to_vec()),
        Sent::Refused(Refusal::TotalCap)
    ));
}

#[test]
fn tcp_is_refused_once_it_holds_half_of_the_descriptors_left() {
    fn tight() -> u64 {
        16
    }
    // (16 - 10) / 2 = 3 connections.
    let mut t = TcpConnections::with_soft_limit(limits(), 10, tight);
    for n in 0..3 {
        t.admit(addr(&format!("192.0.2.{n}:1000")), true).unwrap();
    }
    assert_eq!(
        t.admit(addr("192.0.2.8:1000"), false).err(),
        Some(Refusal::DescriptorShare)
    );
}

#[test]
fn a_message_goes_out_on_the_connection_accepted_from_its_destination() {
    let mut t = table();
    let mut ends = t.admit(addr("192.0.2.1:40000"), false).unwrap();
    assert!(matches!(
        t.send(addr("192.0.2.1:40000"), b"INVITE".to_vec()),
        Sent::Queued
    ));
    assert_eq!(ends.outbound.try_recv().unwrap(), b"INVITE");
    assert_eq!(ends.queued.load(Ordering::Relaxed), 6);
    assert_eq!(t.len(), 1);
}

#[test]
fn a_destination_without_a_connection_gets_a_new_one_with_the_message_queued() {
    let mut t = table();
    let Sent::Connect(mut ends) = t.send(addr("192.0.2.1:5060"), b"INVITE".to_vec()) else {
        panic!("no connection opened");
    };
    assert_eq!(ends.peer, addr("192.0.2.1:5060"));
    assert_eq!(ends.direction, Direction::Opened);
    assert_eq!(ends.outbound.try_recv().unwrap(), b"INVITE");
    // The next message waits on the same connection.
    assert!(matches!(
        t.send(addr("192.0.2.1:5060"), b"CANCEL".to_vec()),
        Sent::Queued
    ));
    assert_eq!(ends.outbound.try_recv().unwrap(), b"CANCEL");
    // Opened connections do not count against the peer's per-address cap.
    t.admit(addr("192.0.2.1:1000"), false).unwrap();
    t.admit(addr("192.0.2.1:1001"), false).unwrap();
}

#[test]
fn a_full_write_queue_closes_the_connection() {
    let mut t = table();
    let mut ends = t.admit(addr("192.0.2.1:40000"), false).unwrap();
    assert!(matches!(
        t.send(addr("192.0.2.1:40000"), vec![b'a'; 60]),
        Sent::Queued
    ));
    assert_eq!(ends.closed_by_switch.try_recv(), Err(TryRecvError::Empty));
    assert!(matches!(
        t.send(addr("192.0.2.1:40000"), vec![b'b'; 41]),
        Sent::QueueFull
    ));
    assert_eq!(ends.closed_by_switch.try_recv(), Err(TryRecvError::Closed));
    assert_eq!(t.len(), 0);
    // What its task wrote no longer counts: 60 bytes written, 100 fit again.
    let mut again = t.admit(addr("192.0.2.1:40001"), false).unwrap();
    assert!(matches!(
        t.send(addr("192.0.2.1:40001"), vec![b'c'; 100]),
        Sent::Queued
    ));
    again.queued.fetch_sub(100, Ordering::Relaxed);
    assert!(matches!(
        t.send(addr("192.0.2.1:40001"), vec![b'd'; 100]),
        Sent::Queued
    ));
    assert_eq!(again.outbound.try_recv().unwrap().len(), 100);
}

#[test]
fn a_stale_close_report_leaves_the_newer_connection_alone() {
    let mut t = table();
    let old = t.admit(addr("192.0.2.1:40000"), false).unwrap();
    let new = t.admit(addr("192.0.2.1:40000"), false).unwrap();
    assert_eq!(t.len(), 1);
    t.closed(old.peer, old.id);
    assert_eq!(t.len(), 1);
    t.closed(new.peer, new.id);
    assert_eq!(t.len(), 0);
    // Both places under the per-address cap are free again.
    t.admit(addr("192.0.2.1:1"), false).unwrap();
    t.admit(addr("192.0.2.1:2"), false).unwrap();
}

#[test]
fn the_queue_bound_counts_what_waits_plus_the_new_message() {
    let mut t = table();
    let _first = t.admit(addr("192.0.2.1:40000"), false).unwrap();
    assert!(matches!(
        t.send(addr("192.0.2.1:40000"), vec![b'a'; 1]),
        Sent::Queued
    ));
    // 1 waiting + 100 new is over the bound of 100.
    assert!(matches!(
        t.send(addr("192.0.2.1:40000"), vec![b'b'; 100]),
        Sent::QueueFull
    ));
    // A message larger than the bound alone does not fit an empty queue either.
    let _second = t.admit(addr("192.0.2.1:40001"), false).unwrap();
    assert!(matches!(
        t.send(addr("192.0.2.1:40001"), vec![b'c'; 101]),
        Sent::QueueFull
    ));
}

#[test]
fn a_full_table_closes_its_oldest_unvetted_connection_to_admit_a_newcomer() {
    let mut t = table();
    // A stranger holds every place with idle connections from three addresses.
    let mut held: Vec<ConnectionEnds> = (0..6)
        .map(|n| {
            t.admit(addr(&format!("203.0.113.{}:{}", n / 2, 1000 + n)), false)
                .unwrap()
        })
        .collect();
    // The trunk still gets in: the stranger's oldest connection makes room.
    assert!(t.admit(addr("192.0.2.1:5060"), true).is_ok());
    assert_eq!(
        held[0].closed_by_switch.try_recv(),
        Err(TryRecvError::Closed)
    );
    assert_eq!(
        held[1].closed_by_switch.try_recv(),
        Err(TryRecvError::Empty)
    );
    // So does a phone that has yet to register (its connection is new, not vetted).
    let phone = addr("198.51.100.7:40000");
    assert!(t.admit(phone, false).is_ok());
    assert_eq!(
        held[1].closed_by_switch.try_recv(),
        Err(TryRecvError::Closed)
    );
    assert_eq!((t.len(), t.evicted, t.refused), (6, 2, 0));
    // Once its REGISTER is authenticated, the phone's connection is kept; the stranger's
    // next connections only ever close the stranger's own.
    t.vet(phone);
    for n in 0..4 {
        t.admit(addr(&format!("203.0.113.{}:{}", 10 + n, 2000)), false)
            .unwrap();
    }
    assert!(t.by_peer.contains_key(&phone));
    assert!(t.by_peer.contains_key(&addr("192.0.2.1:5060")));
    assert_eq!((t.len(), t.evicted), (6, 6));
}

#[test]
fn vetted_connections_are_never_closed_to_make_room() {
    let mut t = table();
    for n in 0..3 {
        t.admit(addr(&format!("192.0.2.{n}:5060")), true).unwrap();
    }
    for n in 0..2 {
        assert!(matches!(
            t.send(addr(&format!("198.51.100.{n}:5060")), b"x".to_vec()),
            Sent::Connect(_)
        ));
    }
    let phone = addr("203.0.113.1:40000");
    let mut ends = t.admit(phone, false).unwrap();
    t.vet(phone);
    assert_eq!(
        t.admit(addr("203.0.113.9:1000"), false).err(),
        Some(Refusal::TotalCap)
    );
    assert_eq!(ends.closed_by_switch.try_recv(), Err(TryRecvError::Empty));
    assert_eq!((t.len(), t.evicted, t.refused), (6, 0, 1));
    // Vetting a peer without a connection changes nothing.
    t.vet(addr("203.0.113.200:1"));
    assert_eq!(t.len(), 6);
}

#[test]
fn a_full_table_is_reported_at_most_once_every_ten_seconds() {
    let mut t = table();
    let mut pressure = TcpPressure::default();
    let start = Instant::now();
    for n in 0..6 {
        t.admit(addr(&format!("203.0.113.{}:{}", n / 2, 1000 + n)), false)
            .unwrap();
    }
    assert!(!pressure.report(start, &t), "nothing turned away yet");
    t.admit(addr("203.0.113.9:1"), false).unwrap();
    assert!(
        pressure.report(start, &t),
        "a connection closed to make room"
    );
    t.admit(addr("203.0.113.9:2"), false).unwrap();
    assert!(!pressure.report(start + Duration::from_secs(9), &t));
    assert!(pressure.report(start + Duration::from_secs(10), &t));
    assert!(
        !pressure.report(start + Duration::from_secs(30), &t),
        "nothing new since"
    );
    // A refusal counts as much as an eviction.
    assert_eq!(
        t.admit(addr("203.0.113.9:3"), false).err(),
        Some(Refusal::PerAddressCap)
    );
    assert!(pressure.report(start + Duration::from_secs(30), &t));
    assert!(
        !pressure.report(start + Duration::from_secs(45), &t),
        "that refusal was reported already"
    );
}
