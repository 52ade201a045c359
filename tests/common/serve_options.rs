//! `hotline serve` options beyond what every test needs (`--advertise`, a tiny `--rtp-ports`
//! range), and the signals an admin stops the service with: for the tests of refusals,
//! shutdown and the advertised address. Kept apart so mod.rs changes only where it passes
//! the extra arguments on.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Command, ExitStatus};
use std::time::Duration;

use super::{repo_root, wait_with_deadline, ConfigCopy, PortBlock, Switch};

/// What a test sets on `hotline serve` beyond `Switch::start`'s arguments.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// `--advertise IP`: the address the switch writes in Via, Contact and SDP.
    pub advertise: Option<IpAddr>,
    /// `--rtp-ports LO-HI` instead of the port block's range.
    pub rtp_ports: Option<(u16, u16)>,
    /// Any further `serve` arguments, as given (e.g. `--tcp-read-timeout 2s`).
    pub extra_args: Vec<String>,
}

impl ServeOptions {
    fn args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(ip) = self.advertise {
            args.extend(["--advertise".to_string(), ip.to_string()]);
        }
        if let Some((low, high)) = self.rtp_ports {
            args.extend(["--rtp-ports".to_string(), format!("{low}-{high}")]);
        }
        args.extend(self.extra_args.iter().cloned());
        args
    }
}

/// The signals `hotline serve` stops on (README: SIGINT/SIGTERM).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Term,
    Int,
    /// SIGKILL: the switch dies mid-whatever (crash-safety tests).
    Kill,
}

impl Signal {
    fn kill_flag(self) -> &'static str {
        match self {
            Signal::Term => "-TERM",
            Signal::Int => "-INT",
            Signal::Kill => "-KILL",
        }
    }
}

impl Switch {
    /// The switch, listening on 127.0.0.1, with these options, on the shipped config or a copy.
    pub fn start_with_options(
        ports: PortBlock,
        config: Option<ConfigCopy>,
        options: ServeOptions,
    ) -> Switch {
        let config_dir: PathBuf = config
            .as_ref()
            .map(|c| c.path().to_path_buf())
            .unwrap_or_else(repo_root);
        let mut switch = Switch::launch_with_args(ports, config_dir, config, options.args());
        // The ready line names the advertised address; SIPp must send to where the switch
        // listens, which is loopback 127.0.0.1 whatever is advertised.
        switch.sip = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), switch.sip.port());
        switch
    }

    /// Sends `signal` to the switch and returns at once (the test acts while it drains).
    pub fn send_signal(&self, signal: Signal) {
        let child = self
            .child
            .as_ref()
            .expect("the switch is not running: no process to signal");
        // No libc in the dependencies: kill(1) is always there.
        let status = Command::new("kill")
            .args([signal.kill_flag(), &child.id().to_string()])
            .status()
            .expect("run kill(1)");
        assert!(status.success(), "kill {} failed", signal.kill_flag());
    }

    /// Waits (bounded) for the switch to exit by itself; kills it at the limit and returns
    /// None then.
    pub fn wait_for_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let status = wait_with_deadline(child, limit);
        if status.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.child = None;
        status
    }
}
