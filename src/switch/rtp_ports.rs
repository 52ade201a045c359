//! The RTP port range as numbers: which even ports are free for a new call's media, handed
//! out at random so a stranger cannot guess the next call's port and aim packets (digits
//! into a menu) at it. Binding is the driver's job; the core only hands out and takes back
//! numbers.

use std::collections::{BTreeSet, VecDeque};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// How many just-freed ports sit out before they are handed out again (while other ports
/// are free): stray packets of the old call may still arrive for a few seconds, and a port
/// that comes back at once would be the easiest one to guess.
const QUARANTINE: usize = 64;
/// Random draws tried before falling back to counting the eligible ports (a nearly full
/// range, where most draws would hit a port in use).
const DRAWS: usize = 16;

#[derive(Debug)]
pub struct RtpPorts {
    /// Widened, so an odd top port (65535) rounds up past the range instead of overflowing.
    low: u32,
    high: u32,
    in_use: BTreeSet<u16>,
    /// The most recently freed ports, oldest first; at most [`QUARANTINE`].
    recently_freed: VecDeque<u16>,
    rng: StdRng,
}

impl RtpPorts {
    /// Even ports in `low..=high` (RTP on even ports, the odd one above left for RTCP),
    /// drawn with an RNG seeded from the operating system.
    pub fn new(low: u16, high: u16) -> Self {
        RtpPorts::with_rng(low, high, StdRng::from_entropy())
    }

    /// The same with a fixed seed, so a test sees the same ports on every run.
    pub fn seeded(low: u16, high: u16, seed: u64) -> Self {
        RtpPorts::with_rng(low, high, StdRng::seed_from_u64(seed))
    }

    fn with_rng(low: u16, high: u16, rng: StdRng) -> Self {
        let low = u32::from(low) + u32::from(low % 2);
        RtpPorts {
            low,
            high: u32::from(high),
            in_use: BTreeSet::new(),
            recently_freed: VecDeque::new(),
            rng,
        }
    }

    pub fn capacity(&self) -> usize {
        if self.high < self.low {
            0
        } else {
            (self.high - self.low) as usize / 2 + 1
        }
    }

    /// The `index`th even port of the range.
    fn port_at(&self, index: usize) -> u16 {
        (self.low + 2 * index as u32) as u16
    }

    fn eligible(&self, port: u16) -> bool {
        !self.in_use.contains(&port) && !self.recently_freed.contains(&port)
    }

    /// A free port chosen at random among those not freed a moment ago; a just-freed one
    /// only when nothing else is free (the longest freed first). `None` when all are in use.
    pub fn allocate(&mut self) -> Option<u16> {
        let capacity = self.capacity();
        if self.in_use.len() >= capacity {
            return None;
        }
        let mut drawn = None;
        for _ in 0..DRAWS {
            let index = self.rng.gen_range(0..capacity);
            let port = self.port_at(index);
            if self.eligible(port) {
                drawn = Some(port);
                break;
            }
        }
        let port = drawn.or_else(|| {
            // Nearly full: choose uniformly among the eligible ports by counting them.
            let eligible = (0..capacity)
                .map(|i| self.port_at(i))
                .filter(|&p| self.eligible(p))
                .count();
            if eligible == 0 {
                return None;
            }
            let pick = self.rng.gen_range(0..eligible);
            (0..capacity)
                .map(|i| self.port_at(i))
                .filter(|&p| self.eligible(p))
                .nth(pick)
        });
        let port = match port {
            Some(port) => port,
            // Every free port was freed a moment ago: the one freed longest ago.
            None => {
                let at = self
                    .recently_freed
                    .iter()
                    .position(|p| !self.in_use.contains(p))?;
                self.recently_freed.remove(at)?
            }
        };
        self.in_use.insert(port);
        Some(port)
    }

    pub fn release(&mut self, port: u16) {
        if !self.in_use.remove(&port) {
            return;
        }
        self.recently_freed.push_back(port);
        if self.recently_freed.len() > QUARANTINE {
            self.recently_freed.pop_front();
        }
    }

    /// Ports handed out and not yet released.
    pub fn in_use(&self) -> usize {
        self.in_use.len()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn hands_out_every_even_port_once_until_the_range_is_used_up() {
        let mut ports = RtpPorts::seeded(20001, 20007, 1);
        assert_eq!(ports.capacity(), 3);
        let mut got: Vec<u16> = (0..3).map(|_| ports.allocate().unwrap()).collect();
        assert_eq!(ports.allocate(), None);
        got.sort();
        assert_eq!(got, vec![20002, 20004, 20006]);
        ports.release(20004);
        assert_eq!(ports.allocate(), Some(20004), "the only free port");
        assert_eq!(ports.allocate(), None);
    }

    #[test]
    fn the_next_port_cannot_be_told_from_the_last_one() {
        // Round robin gives last + 2 every time; random ports do so about once in a range.
        let mut ports = RtpPorts::seeded(10000, 19999, 7);
        let mut previous = ports.allocate().unwrap();
        let mut next_in_line = 0;
        let mut seen = HashSet::new();
        for _ in 0..1000 {
            let port = ports.allocate().unwrap();
            assert_eq!(port % 2, 0);
            assert!((10000..=19998).contains(&port), "{port}");
            assert!(seen.insert(port), "{port} handed out twice");
            if port == previous + 2 {
                next_in_line += 1;
            }
            previous = port;
        }
        assert!(next_in_line < 5, "{next_in_line} of 1000 were last + 2");
    }

    #[test]
    fn two_switches_started_alike_hand_out_different_ports() {
        let first: Vec<u16> = {
            let mut ports = RtpPorts::new(10000, 59999);
            (0..4).map(|_| ports.allocate().unwrap()).collect()
        };
        let second: Vec<u16> = {
            let mut ports = RtpPorts::new(10000, 59999);
            (0..4).map(|_| ports.allocate().unwrap()).collect()
        };
        assert_ne!(first, second, "ports must come from an unpredictable seed");
    }

    #[test]
    fn a_freed_port_is_not_handed_out_again_while_others_are_free() {
        let mut ports = RtpPorts::seeded(30000, 30000 + 2 * 99, 3);
        for _ in 0..2000 {
            let port = ports.allocate().unwrap();
            ports.release(port);
            let next = ports.allocate().unwrap();
            assert_ne!(next, port, "the port freed a moment ago came back");
            ports.release(next);
        }
    }

    #[test]
    fn the_last_sixty_four_freed_ports_all_sit_out() {
        let mut ports = RtpPorts::seeded(30000, 30000 + 2 * 199, 5);
        let held: Vec<u16> = (0..64).map(|_| ports.allocate().unwrap()).collect();
        for port in &held {
            ports.release(*port);
        }
        for _ in 0..136 {
            let port = ports.allocate().unwrap();
            assert!(!held.contains(&port), "{port} was freed a moment ago");
        }
        // Only the quarantined ports are left: they are handed out, oldest freed first.
        assert_eq!(ports.allocate(), Some(held[0]));
        assert_eq!(ports.allocate(), Some(held[1]));
    }

    #[test]
    fn a_port_in_use_is_never_handed_out_even_when_the_range_is_nearly_full() {
        let mut ports = RtpPorts::seeded(40000, 40000 + 2 * 999, 9);
        let mut in_use = HashSet::new();
        for _ in 0..1000 {
            assert!(in_use.insert(ports.allocate().unwrap()));
        }
        assert_eq!(ports.allocate(), None);
        // Free a few and take them again many times: never one in use.
        for round in 0..200u16 {
            let freed = 40000 + 2 * ((round * 37) % 1000);
            ports.release(freed);
            in_use.remove(&freed);
            let port = ports.allocate().unwrap();
            assert_eq!(port, freed, "the only free port");
            assert!(in_use.insert(port));
        }
        assert_eq!(ports.in_use(), 1000);
    }

    #[test]
    fn the_quarantine_stays_bounded() {
        let mut ports = RtpPorts::seeded(10000, 59999, 11);
        for _ in 0..10_000 {
            let port = ports.allocate().unwrap();
            ports.release(port);
        }
        assert_eq!(ports.recently_freed.len(), QUARANTINE);
        assert_eq!(ports.in_use(), 0);
    }

    #[test]
    fn releasing_a_port_twice_or_one_never_handed_out_changes_nothing() {
        let mut ports = RtpPorts::seeded(30000, 30010, 2);
        let port = ports.allocate().unwrap();
        ports.release(port);
        ports.release(port);
        ports.release(31000);
        assert_eq!(ports.recently_freed, VecDeque::from([port]));
    }

    #[test]
    fn a_range_of_one_port_hands_that_port_out_and_back() {
        let mut ports = RtpPorts::seeded(40000, 40000, 6);
        assert_eq!(ports.capacity(), 1);
        assert_eq!(ports.allocate(), Some(40000));
        assert_eq!(ports.allocate(), None);
        ports.release(40000);
        assert_eq!(
            ports.allocate(),
            Some(40000),
            "the only port, quarantined or not"
        );
    }

    #[test]
    fn range_at_the_top_of_the_port_space_does_not_overflow() {
        let mut ports = RtpPorts::seeded(65532, 65535, 4);
        let mut got = vec![ports.allocate().unwrap(), ports.allocate().unwrap()];
        got.sort();
        assert_eq!(got, vec![65532, 65534]);
        assert_eq!(ports.allocate(), None);
        let mut odd_top = RtpPorts::seeded(65535, 65535, 4);
        assert_eq!(odd_top.capacity(), 0);
        assert_eq!(odd_top.allocate(), None);
    }
}
