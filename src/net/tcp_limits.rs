//! The limits SIP over TCP lives under, and the process's file-descriptor budget.
//!
//! Owns: the settings (read and idle timeouts, connection caps, write-queue bound: the
//! `hotline serve --tcp-…` options), raising `RLIMIT_NOFILE` to its hard
//! limit at start-up, and the share of descriptors TCP may take — at most half of what is
//! left after start-up, so RTP sockets, the database and the log always find one.
//! Must not: decide anything about SIP messages (the framer in `sip::framing` does).

use std::time::Duration;

use crate::config::parse_duration;

/// How long an outgoing connection may take to establish (Kamailio's tcp_connect_timeout).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one write may block before the connection is given up (Kamailio's
/// tcp_send_timeout).
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// After a refusal: how long the connection is read (and discarded) after our FIN, so the
/// refusal is not lost to a reset.
pub const LINGER: Duration = Duration::from_secs(1);

/// What one TCP peer may hold of the switch: `hotline serve --tcp-…` options.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::Args)]
pub struct TcpLimits {
    /// A SIP message on TCP must arrive whole within this time of its first byte, and a
    /// connection accepted from a peer must bring its first message within it (64*T1, the
    /// longest a transaction waits).
    #[arg(long = "tcp-read-timeout", default_value = "32s", value_parser = positive_duration)]
    pub read_timeout: Duration,
    /// A TCP connection on which nothing arrives (not even a CRLF keep-alive) for this long
    /// is closed. The default outlives the longest registration (3600 s) by 5 s, as
    /// Kamailio registrars set tcp_connection_lifetime, so a phone's flow lasts until it
    /// registers again even without keep-alives.
    #[arg(long = "tcp-idle-timeout", default_value = "3605s", value_parser = positive_duration)]
    pub idle_timeout: Duration,
    /// TCP connections open at once, accepted and opened by the switch (Kamailio's
    /// tcp_max_connections). TCP also never takes more than half of the file descriptors.
    #[arg(long = "tcp-max-connections", default_value_t = 2048, value_parser = positive_count)]
    pub max_connections: usize,
    /// TCP connections accepted from one IP address (an office of desk phones behind one
    /// NAT address still fits).
    #[arg(long = "tcp-max-per-address", default_value_t = 64, value_parser = positive_count)]
    pub max_per_address: usize,
    /// Bytes waiting to be sent on one TCP connection; a peer that lets more pile up (it
    /// does not read) is disconnected. The default holds four of the largest messages.
    #[arg(long = "tcp-write-queue", default_value_t = 262_144, value_parser = positive_count)]
    pub write_queue_bytes: usize,
}

impl Default for TcpLimits {
    fn default() -> Self {
        TcpLimits {
            read_timeout: Duration::from_secs(32),
            idle_timeout: Duration::from_secs(3605),
            max_connections: 2048,
            max_per_address: 64,
            write_queue_bytes: 256 * 1024,
        }
    }
}

fn positive_duration(text: &str) -> Result<Duration, String> {
    let value = parse_duration(text)?;
    if value.is_zero() {
        return Err("must be longer than 0".into());
    }
    Ok(value)
}

fn positive_count(text: &str) -> Result<usize, String> {
    text.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{text:?} is not a whole number above 0"))
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns (before, after).
pub fn raise_fd_limit() -> std::io::Result<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed by pointer.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let before = limit.rlim_cur;
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok((before, limit.rlim_cur))
    }
}

/// The soft `RLIMIT_NOFILE` now (an admin may change it with prlimit while we run).
pub fn fd_soft_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: as above.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 1024;
    }
    limit.rlim_cur
}

/// Descriptors open in this process (`/proc/self/fd`); 0 where that cannot be read.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|dir| dir.count())
        .unwrap_or(0)
}

/// How many TCP connections the descriptor budget allows: half of what the soft limit
/// leaves after the `base` descriptors open at start-up. The other half stays for media.
pub fn tcp_share(soft_limit: u64, base: usize) -> usize {
    let soft = usize::try_from(soft_limit).unwrap_or(usize::MAX);
    soft.saturating_sub(base) / 2
}

#[cfg(test)]
mod tests {
    use super::*;

    use clap::Parser;

    #[derive(Parser)]
    struct Serve {
        #[command(flatten)]
        tcp: TcpLimits,
    }

    fn parse(args: &[&str]) -> Result<TcpLimits, String> {
        Serve::try_parse_from(std::iter::once("serve").chain(args.iter().copied()))
            .map(|s| s.tcp)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_kamailio_like_and_the_options_override_them() {
        let none = parse(&[]).unwrap();
        assert_eq!(none, TcpLimits::default());
        assert_eq!(none.read_timeout, Duration::from_secs(32));
        assert_eq!(none.idle_timeout, Duration::from_secs(3605));
        assert_eq!(none.max_connections, 2048);
        assert_eq!(none.max_per_address, 64);
        assert_eq!(none.write_queue_bytes, 262_144);
        let set = parse(&[
            "--tcp-read-timeout",
            "1500ms",
            "--tcp-idle-timeout",
            "2m",
            "--tcp-max-connections",
            "10",
            "--tcp-max-per-address",
            "3",
            "--tcp-write-queue",
            "4096",
        ])
        .unwrap();
        assert_eq!(
            set,
            TcpLimits {
                read_timeout: Duration::from_millis(1500),
                idle_timeout: Duration::from_secs(120),
                max_connections: 10,
                max_per_address: 3,
                write_queue_bytes: 4096,
            }
        );
    }

    #[test]
    fn unreadable_settings_are_refused_with_their_option() {
        for args in [
            ["--tcp-read-timeout", "32"],
            ["--tcp-idle-timeout", "0s"],
            ["--tcp-max-per-address", "0"],
            ["--tcp-write-queue", "lots"],
        ] {
            let error = parse(&args).unwrap_err();
            assert!(error.contains(args[0]), "{error}");
        }
    }

    #[test]
    fn tcp_takes_at_most_half_of_the_descriptors_left_after_start_up() {
        assert_eq!(tcp_share(1024, 24), 500);
        assert_eq!(tcp_share(20, 24), 0);
        assert_eq!(tcp_share(1_048_576, 30), 524_273);
    }
}
