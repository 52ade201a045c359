//! The RTP port range as numbers: which even ports are free for a new call's media.
//! Binding is the driver's job; the core only hands out and takes back numbers.

use std::collections::BTreeSet;

#[derive(Debug)]
pub struct RtpPorts {
    low: u16,
    high: u16,
    /// Round-robin cursor, so a port freed a moment ago (stray packets still arriving) is
    /// the last to be reused.
    next: u16,
    in_use: BTreeSet<u16>,
}

impl RtpPorts {
    /// Even ports in `low..=high` (RTP on even ports, the odd one above left for RTCP).
    pub fn new(low: u16, high: u16) -> Self {
        let low = low + (low % 2);
        RtpPorts {
            low,
            high,
            next: low,
            in_use: BTreeSet::new(),
        }
    }

    pub fn capacity(&self) -> usize {
        if self.high < self.low {
            0
        } else {
            (self.high - self.low) as usize / 2 + 1
        }
    }

    pub fn allocate(&mut self) -> Option<u16> {
        if self.in_use.len() >= self.capacity() {
            return None;
        }
        loop {
            let port = self.next;
            self.next = if port.checked_add(2).is_none_or(|n| n > self.high) {
                self.low
            } else {
                port + 2
            };
            if self.in_use.insert(port) {
                return Some(port);
            }
        }
    }

    pub fn release(&mut self, port: u16) {
        self.in_use.remove(&port);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_out_even_ports_round_robin_until_the_range_is_used_up() {
        let mut ports = RtpPorts::new(20001, 20007);
        assert_eq!(ports.capacity(), 3);
        assert_eq!(ports.allocate(), Some(20002));
        assert_eq!(ports.allocate(), Some(20004));
        assert_eq!(ports.allocate(), Some(20006));
        assert_eq!(ports.allocate(), None);
        ports.release(20002);
        assert_eq!(ports.allocate(), Some(20002));
    }

    #[test]
    fn a_freed_port_is_reused_last() {
        let mut ports = RtpPorts::new(30000, 30010);
        let first = ports.allocate().unwrap();
        ports.release(first);
        assert_ne!(ports.allocate(), Some(first));
    }

    #[test]
    fn range_at_the_top_of_the_port_space_does_not_overflow() {
        let mut ports = RtpPorts::new(65532, 65535);
        assert_eq!(ports.allocate(), Some(65532));
        assert_eq!(ports.allocate(), Some(65534));
        assert_eq!(ports.allocate(), None);
    }
}
