//! The `hotline` command: `serve`, `check`, `calls list`, `calls show`, `qa list|show|export`,
//! `users add|list|remove`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

use hotline::config::{self, Config, PromptCatalog};
use hotline::media::prompt::PromptLibrary;
use hotline::net::{self, records::RecordWriter, Listeners};
use hotline::sip::{Binding, Endpoint, EndpointConfig, Transport};
use hotline::store::{self, Store};
use hotline::switch::acd::{digest_algorithms, phone_credentials, AgentSpec};
use hotline::switch::{Switch, SwitchSettings};

#[derive(Parser)]
#[command(
    name = "hotline",
    version,
    about = "CTI telephony and IVR switch for a call centre"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Folder holding dialplans/, prompts/ and hardware/.
    #[arg(long, default_value = ".")]
    config: PathBuf,
    /// SIP address, UDP and TCP on the same port.
    #[arg(long, default_value = "0.0.0.0:5060")]
    sip: SocketAddr,
    /// RTP port range, LO-HI.
    #[arg(long, default_value = "20000-29999", value_parser = parse_port_range)]
    rtp_ports: (u16, u16),
    /// Folder for the SQLite database and the recordings.
    #[arg(long, default_value = "./data")]
    data: PathBuf,
    /// HTTP address for the CTI API and QA pages (used from the next releases on).
    #[arg(long, default_value = "127.0.0.1:8080")]
    http: SocketAddr,
    /// Address written in Via, Contact and SDP; defaults to the SIP address, or
    /// 127.0.0.1 when that is 0.0.0.0.
    #[arg(long)]
    advertise: Option<IpAddr>,
    /// Days a call's recording is kept after the call started; 0 keeps them forever.
    #[arg(long, default_value_t = 90)]
    retention_days: u32,
    #[command(flatten)]
    tcp: net::TcpLimits,
    /// Media worker threads, 1 to 64 (default: one per core less one, at least one).
    #[arg(long, value_parser = parse_media_workers)]
    media_workers: Option<usize>,
    /// Longest a relayed packet waits so the packets of many calls go out in one wake-up
    /// of their media worker: 0 (each at once), 1, 2, 4, 5, 10 or 20 ms.
    #[arg(long, value_name = "MS", default_value_t = 10, value_parser = parse_relay_batch)]
    relay_batch_ms: u64,
    /// Mark the QA pages' session cookie Secure (set when users reach `--http` over https,
    /// through a reverse proxy that terminates TLS).
    #[arg(long)]
    http_secure_cookies: bool,
    /// Minutes a QA pages session may stay unused before it must sign in again.
    #[arg(long, default_value_t = 720)]
    session_idle_minutes: u64,
    /// A reverse proxy in front of `--http` (repeat for several): for its requests the
    /// client is the address it appended to X-Forwarded-For, so failed sign-ins are limited
    /// per client instead of closing the proxy's one address for everyone.
    #[arg(long = "http-trusted-proxy", value_name = "IP")]
    http_trusted_proxies: Vec<IpAddr>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the switch.
    Serve(ServeArgs),
    /// Load and validate the configuration, print a summary.
    Check {
        #[arg(long, default_value = ".")]
        config: PathBuf,
        /// The SIP address `serve` will listen on: the shipped sample passwords are
        /// warned about unless it is loopback.
        #[arg(long, default_value = "0.0.0.0:5060")]
        sip: SocketAddr,
    },
    /// Call records.
    Calls {
        #[command(subcommand)]
        command: CallsCommand,
    },
    /// Quality review: flags, scores, exports.
    Qa {
        #[command(subcommand)]
        command: hotline::qa::cli::QaCommand,
    },
    /// Users of the QA replay pages.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Add a user, or set an existing user's password, role and agent (their sessions end).
    /// The password is asked for on a terminal, or read from the first line of stdin.
    Add {
        name: String,
        /// reviewer, supervisor or agent.
        #[arg(long)]
        role: String,
        /// For an agent: their agent id or name in the desk-phone list (default: the user's
        /// name); a name is stored as its id, which is what their calls carry.
        #[arg(long)]
        agent: Option<String>,
        #[arg(long, default_value = "./data")]
        data: PathBuf,
        /// Folder holding hardware/phones.toml, where agent names are looked up.
        #[arg(long, default_value = ".")]
        config: PathBuf,
    },
    /// Every user: name, role and (for an agent) the agent id their calls carry.
    List {
        #[arg(long, default_value = "./data")]
        data: PathBuf,
    },
    /// Remove a user (someone who left): their sessions end at once; their scores stay.
    Remove {
        name: String,
        #[arg(long, default_value = "./data")]
        data: PathBuf,
    },
}

#[derive(Subcommand)]
enum CallsCommand {
    /// The most recent calls, newest first.
    List {
        #[arg(long, default_value = "./data")]
        data: PathBuf,
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// One call with its timeline (by call id or SIP Call-ID).
    Show {
        call_id: String,
        #[arg(long, default_value = "./data")]
        data: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// The callback requests callers left at a queue's callback offer, oldest first: the
    /// number to call, the queue and the place they kept.
    Callbacks {
        #[arg(long, default_value = "./data")]
        data: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

fn parse_port_range(s: &str) -> Result<(u16, u16), String> {
    let (lo, hi) = s
        .split_once('-')
        .ok_or_else(|| format!("\"{s}\" is not a port range like 20000-29999"))?;
    let lo: u16 = lo
        .trim()
        .parse()
        .map_err(|_| format!("\"{lo}\" is not a port number"))?;
    let hi: u16 = hi
        .trim()
        .parse()
        .map_err(|_| format!("\"{hi}\" is not a port number"))?;
    if lo > hi || hi - lo < 1 {
        return Err(format!(
            "port range {lo}-{hi} must hold at least one even/odd pair"
        ));
    }
    Ok((lo, hi))
}

fn parse_media_workers(s: &str) -> Result<usize, String> {
    let max = net::media_workers::MAX_MEDIA_WORKERS;
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "\"{s}\" is not a number of media workers from 1 to {max}"
        )),
    }
}

fn parse_relay_batch(s: &str) -> Result<u64, String> {
    let ms = s
        .trim()
        .parse::<u64>()
        .map_err(|_| format!("\"{s}\" is not a number of milliseconds"))?;
    net::media_workers::RelayBatch::from_ms(ms).map(|_| ms)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    hotline::log_line::install();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Check { config, sip } => check(&config, sip),
        Command::Calls { command } => calls(command),
        Command::Users { command } => users(command),
        Command::Qa { command } => hotline::qa::cli::run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{}", message.trim_end());
            ExitCode::FAILURE
        }
    }
}

struct Catalog<'a>(&'a PromptLibrary);

impl PromptCatalog for Catalog<'_> {
    fn duration(&self, language: &str, name: &str) -> Option<Duration> {
        self.0.find(language, name).map(|id| self.0.duration(id))
    }
}

/// Everything `serve` needs from the config folder, validated; one line per problem.
fn load_all(dir: &Path) -> Result<(Config, PromptLibrary), String> {
    let config = config::load(dir).map_err(|errors| join(&errors))?;
    let prompts = PromptLibrary::load(&dir.join("prompts")).map_err(|e| e.to_string())?;
    let problems = config::check_prompts(&config, &Catalog(&prompts));
    if !problems.is_empty() {
        return Err(join(&problems));
    }
    Ok((config, prompts))
}

fn join<E: std::fmt::Display>(errors: &[E]) -> String {
    errors.iter().map(|e| format!("{e}\n")).collect()
}

fn check(dir: &Path, sip: SocketAddr) -> Result<(), String> {
    let (config, prompts) = load_all(dir)?;
    print!("{}", config::summary(&config));
    println!("prompts:");
    for language in prompts.languages() {
        for name in prompts.names(&language) {
            if let Some(id) = prompts.find(&language, &name) {
                println!(
                    "  {language}/{name}  {:.1} s",
                    prompts.duration(id).as_secs_f64()
                );
            }
        }
    }
    // Warnings do not fail the check: the configuration is valid, only unsafe here.
    for warning in config::sample_password_warnings(&config.hardware, sip) {
        println!("{warning}");
    }
    println!("configuration OK");
    Ok(())
}

fn serve(args: ServeArgs) -> Result<(), String> {
    let ServeArgs {
        config: dir,
        sip,
        rtp_ports,
        data,
        http,
        advertise,
        retention_days,
        tcp: tcp_limits,
        media_workers,
        relay_batch_ms,
        http_secure_cookies,
        session_idle_minutes,
        http_trusted_proxies,
    } = args;
    let (dir, data) = (dir.as_path(), data.as_path());
    let media_workers = media_workers.unwrap_or_else(net::media_workers::default_media_workers);
    let (config, prompts) = load_all(dir)?;
    match net::raise_fd_limit() {
        Ok((before, after)) => tracing::debug!(before, after, "RLIMIT_NOFILE soft limit raised"),
        Err(e) => tracing::warn!(error = %e, "cannot raise RLIMIT_NOFILE"),
    }
    for warning in config::sample_password_warnings(&config.hardware, sip) {
        let warning = warning.trim_start_matches("warning: ");
        tracing::warn!("{warning}");
    }
    let store = Store::open(data).map_err(|e| e.to_string())?;
    // Private by default: a data folder made or copied with looser modes is put right.
    match store::file_modes::make_private(data) {
        Ok(changed) => {
            for (path, old) in changed {
                tracing::info!(path = %path.display(), old_mode = format!("{old:o}"), "made private");
            }
        }
        Err(error) => tracing::warn!(
            data = %data.display(),
            %error,
            "cannot make the data folder private (0700, files 0600)"
        ),
    }
    let interrupted = store.mark_interrupted().map_err(|e| e.to_string())?;
    if interrupted > 0 {
        tracing::warn!(
            interrupted,
            "calls left unfinished by the last run are marked interrupted"
        );
    }
    repair_recordings(&store, data)?;
    if retention_days > 0 {
        start_retention(data.to_path_buf(), retention_days);
    }
    start_qa_review(data.to_path_buf());
    let (start, wall_start) = (Instant::now(), jiff::Timestamp::now());
    let saved_bindings = store.load_bindings(wall_start).map_err(|e| e.to_string())?;
    let media_ip = advertise.unwrap_or(if sip.ip().is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        sip.ip()
    });
    // One thread runs signalling and every call's media: the work per packet is a few
    // microseconds, and a single-threaded runtime spends less CPU per call than a
    // work-stealing one (measured with tests/load/run.sh). Records are written on a
    // thread of their own, so nothing here waits on the disk.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let records = RecordWriter::start(store);
    let prompts = Arc::new(prompts);
    // One thread writes every call's recording; the media workers' taps feed it.
    let (journeys, recordings) = hotline::recording::service::start(data, media_workers)
        .map_err(|e| format!("cannot start the recording service: {e}"))?;
    let result = runtime.block_on(async {
        let listeners = Listeners::bind(sip)
            .await
            .map_err(|e| format!("cannot listen for SIP on {sip}: {e}"))?;
        let bound = listeners.local_addr().map_err(|e| e.to_string())?;
        let mut endpoint = Endpoint::new(EndpointConfig {
            trusted: config.hardware.trusted(),
            phones: phone_credentials(&config.hardware.phones),
            digest_algorithms: digest_algorithms(&config.hardware),
            secret: rand::random(),
            auth_failures_allowed: config.hardware.registrar.failures_allowed,
            auth_failure_window: config.hardware.registrar.failure_window,
            auth_block: config.hardware.registrar.first_block,
            auth_longest_block: config.hardware.registrar.longest_block,
            auth_ignore: config.hardware.registrar.ignore.clone(),
            max_contacts: config.hardware.registrar.max_contacts,
            own_addresses: vec![bound],
            ..EndpointConfig::new(SocketAddr::new(media_ip, bound.port()))
        });
        for saved in &saved_bindings {
            if let Some(binding) = restore(saved, start, wall_start) {
                endpoint.restore_binding(binding);
            }
        }
        let agents = config.hardware.phones.iter().map(AgentSpec::from).collect();
        let trunks = config.hardware.trunks.clone();
        let mut switch = Switch::new(
            endpoint,
            Arc::new(config.dialplan),
            Arc::clone(&prompts),
            SwitchSettings {
                media_ip,
                rtp_ports,
                voicemail_dir: data.join("voicemail"),
            },
            agents,
            start,
            wall_start,
        );
        switch.set_trunks(trunks);
        let web_listener = tokio::net::TcpListener::bind(http)
            .await
            .map_err(|e| format!("cannot listen for HTTP on {http}: {e}"))?;
        let web_bound = web_listener.local_addr().map_err(|e| e.to_string())?;
        let web_settings = hotline::web::WebSettings {
            data_dir: data.to_path_buf(),
            secure_cookies: http_secure_cookies,
            sessions: hotline::web::auth::SessionLimits {
                idle: Duration::from_secs(session_idle_minutes.max(1) * 60),
                ..Default::default()
            },
            trusted_proxies: http_trusted_proxies,
            agents: hotline::web::agents::AgentNames::new(
                config
                    .hardware
                    .phones
                    .iter()
                    .map(|phone| (phone.agent.id.clone(), phone.agent.name.clone())),
            ),
        };
        tokio::spawn(async move {
            if let Err(error) = hotline::web::serve(web_listener, web_settings).await {
                tracing::error!(%error, "QA pages stopped");
            }
        });
        println!(
            "hotline ready sip={} http={web_bound}",
            SocketAddr::new(media_ip, bound.port())
        );
        tracing::info!(sip = %bound, media_ip = %media_ip, "hotline serving");
        // RTP binds where SIP listens (0.0.0.0 / :: when that is unspecified), never the
        // advertised address: behind 1:1 NAT that one is not an address of this host.
        let workers = net::media_workers::WorkerSettings {
            workers: media_workers,
            listen_ip: sip.ip(),
            relay_batch: net::media_workers::RelayBatch::from_ms(relay_batch_ms)?,
        };
        tracing::info!(media_workers = workers.workers, listen_ip = %workers.listen_ip, relay_batch_ms = relay_batch_ms, "media sockets bind the listen address");
        let media = net::MediaDriver::workers(workers, move |_| {
            hotline::media::engine::MediaEngine::new(Arc::clone(&prompts))
                .with_journeys(journeys.clone())
        });
        net::run(switch, listeners, media, records, tcp_limits).await;
        Ok::<(), String>(())
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    // The workers are gone: the service finishes every open recording, then ends.
    let deadline = Instant::now() + Duration::from_secs(3);
    while !recordings.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    result
}

fn calls(command: CallsCommand) -> Result<(), String> {
    match command {
        CallsCommand::List { data, json, limit } => {
            let store = open_existing(&data)?;
            let calls = store.list_calls(limit).map_err(|e| e.to_string())?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&calls).map_err(|e| e.to_string())?
                );
            } else {
                print!("{}", store::render_list(&calls));
            }
        }
        CallsCommand::Show {
            call_id,
            data,
            json,
        } => {
            let store = open_existing(&data)?;
            let call = store
                .call(&call_id)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no call \"{call_id}\" in {}", data.display()))?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&call).map_err(|e| e.to_string())?
                );
            } else {
                print!("{}", store::render_call(&call));
            }
        }
        CallsCommand::Callbacks { data, json } => {
            let store = open_existing(&data)?;
            let requests = store.callbacks().map_err(|e| e.to_string())?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&requests).map_err(|e| e.to_string())?
                );
            } else {
                print!("{}", store::render_callbacks(&requests));
            }
        }
    }
    Ok(())
}

fn users(command: UsersCommand) -> Result<(), String> {
    let (name, role, agent, data, config_dir) = match command {
        UsersCommand::Add {
            name,
            role,
            agent,
            data,
            config,
        } => (name, role, agent, data, config),
        UsersCommand::List { data } => {
            let store = Store::open(&data).map_err(|e| e.to_string())?;
            let users = store.users().map_err(|e| e.to_string())?;
            if users.is_empty() {
                println!("no users (add one with: hotline users add NAME --role ROLE)");
            }
            for user in users {
                match &user.agent {
                    Some(agent) => println!("{}\t{}\tagent {agent}", user.name, user.role),
                    None => println!("{}\t{}", user.name, user.role),
                }
            }
            return Ok(());
        }
        UsersCommand::Remove { name, data } => {
            let store = Store::open(&data).map_err(|e| e.to_string())?;
            if !store.remove_user(&name).map_err(|e| e.to_string())? {
                return Err(format!("there is no user {name:?}"));
            }
            println!("user {name} removed; their sessions have ended");
            return Ok(());
        }
    };
    use hotline::web::auth::{hash_password, Role};
    let role = Role::parse(&role)
        .ok_or_else(|| format!("\"{role}\" is not a role: reviewer, supervisor or agent"))?;
    let valid_name =
        |n: &str| !n.is_empty() && n.chars().count() <= 64 && !n.chars().any(|c| c.is_control());
    if !valid_name(&name) {
        return Err("a user name is 1 to 64 characters, none of them control characters".into());
    }
    let agent = match role {
        Role::Agent => Some(agent.unwrap_or_else(|| name.clone())),
        _ if agent.is_some() => return Err("--agent is for users of role agent".into()),
        _ => None,
    };
    let password = read_password()?;
    if password.chars().count() < 8 {
        return Err("a password is at least 8 characters".into());
    }
    let store = Store::open(&data).map_err(|e| e.to_string())?;
    let agent = agent.map(|given| agent_of_user(&config_dir, &store, given));
    let user = store::StoredUser {
        name: name.clone(),
        password_hash: hash_password(&password)?,
        role: role.as_str().to_string(),
        agent,
    };
    let new = store
        .save_user(&user, jiff::Timestamp::now())
        .map_err(|e| e.to_string())?;
    println!(
        "user {name} {} ({})",
        if new { "added" } else { "updated" },
        role.as_str()
    );
    Ok(())
}

/// The agent id a user of role agent is given for `given` (an id or a name): a name in the
/// desk-phone list becomes its id. An agent the list does not have and no recorded call
/// carries is kept, with a warning: that user sees no calls until one does.
fn agent_of_user(config_dir: &Path, store: &Store, given: String) -> String {
    let phones = config_dir.join("hardware").join("phones.toml");
    let names = match config::load_hardware(config_dir) {
        Ok(hardware) => hotline::web::agents::AgentNames::new(
            hardware
                .phones
                .iter()
                .map(|phone| (phone.agent.id.clone(), phone.agent.name.clone())),
        ),
        Err(errors) => {
            let first = errors.first().map(|e| e.to_string()).unwrap_or_default();
            eprintln!(
                "warning: cannot read the desk-phone list in {}: {first}",
                config_dir.display()
            );
            hotline::web::agents::AgentNames::default()
        }
    };
    let id = names.resolve(&given).to_string();
    if id != given {
        println!("agent {given} is {id} in {}", phones.display());
        return id;
    }
    let listed = names.ids().any(|known| known == id);
    let on_a_call = store
        .count_calls_filtered(&store::CallFilter {
            agent: Some(id.clone()),
            ..Default::default()
        })
        .is_ok_and(|calls| calls > 0);
    if !listed && !on_a_call {
        let known: Vec<String> = names.ids().map(|known| names.label(known)).collect();
        let known = if known.is_empty() {
            String::new()
        } else {
            format!(" (agents there: {})", known.join(", "))
        };
        eprintln!(
            "warning: agent {id:?} is not in {} and no recorded call carries it: this user \
             sees no calls until one does{known}",
            phones.display(),
        );
    }
    id
}

/// The password from the terminal (asked twice, not echoed) or the first line of stdin.
fn read_password() -> Result<String, String> {
    use std::io::{BufRead, IsTerminal, Write};
    let stdin = std::io::stdin();
    let read_line = || -> Result<String, String> {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the password: {e}"))?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    };
    if !stdin.is_terminal() {
        return read_line();
    }
    let ask = |prompt: &str| -> Result<String, String> {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
        let echo = EchoOff::new();
        let line = read_line();
        drop(echo);
        eprintln!();
        line
    };
    let first = ask("Password: ")?;
    let again = ask("Password again: ")?;
    if first != again {
        return Err("the passwords differ".into());
    }
    Ok(first)
}

/// Turns the terminal's echo off until dropped.
struct EchoOff(Option<libc::termios>);

impl EchoOff {
    fn new() -> EchoOff {
        // SAFETY: tcgetattr/tcsetattr on stdin with a zeroed termios the call fills in.
        unsafe {
            let mut old: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut old) != 0 {
                return EchoOff(None);
            }
            let mut quiet = old;
            quiet.c_lflag &= !libc::ECHO;
            if libc::tcsetattr(0, libc::TCSANOW, &quiet) != 0 {
                return EchoOff(None);
            }
            EchoOff(Some(old))
        }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Some(old) = self.0 {
            // SAFETY: restores the settings tcgetattr returned.
            unsafe {
                libc::tcsetattr(0, libc::TCSANOW, &old);
            }
        }
    }
}

fn open_existing(data: &Path) -> Result<Store, String> {
    if !data.join("hotline.db").exists() {
        return Err(format!(
            "no call records in {} (run `hotline serve --data {}` first)",
            data.display(),
            data.display()
        ));
    }
    Store::open(data).map_err(|e| e.to_string())
}

/// A registration saved by an earlier run, back in the endpoint's terms.
fn restore(
    saved: &store::StoredBinding,
    now: Instant,
    wall_now: jiff::Timestamp,
) -> Option<Binding> {
    let left = Duration::try_from(saved.expires_at.duration_since(wall_now)).ok()?;
    Some(Binding {
        user: saved.user.clone(),
        contact: saved.contact.clone(),
        address: saved.address.parse().ok()?,
        transport: if saved.transport == "tcp" {
            Transport::Tcp
        } else {
            Transport::Udp
        },
        expires_at: now + left,
    })
}

/// Before any call: every recording a stopped switch left unfinished is made playable and
/// marked cut short (see `recording::repair`).
fn repair_recordings(store: &Store, data: &Path) -> Result<(), String> {
    use hotline::recording::repair::{repair_unfinished, Repair};
    for repair in repair_unfinished(store, data).map_err(|e| e.to_string())? {
        match repair {
            Repair::CutShort { call_id, file } => tracing::warn!(
                call = %call_id,
                duration_ms = file.duration_ms,
                torn_bytes = file.torn_bytes,
                "recording left unfinished by the last run repaired and marked cut short"
            ),
            Repair::Missing { call_id } => tracing::warn!(
                call = %call_id,
                "recording left unfinished by the last run has no file; marked cut short"
            ),
            Repair::Failed { call_id, why } => tracing::error!(
                call = %call_id,
                %why,
                "recording left unfinished by the last run cannot be repaired; tried again at the next start"
            ),
        }
    }
    Ok(())
}

/// Computes the QA flags of every call soon after it ends (a few calls at a time, at the
/// lowest CPU priority, on a thread of its own with its own database connection), so a
/// reviewer opening even an hour-long call finds its flags ready instead of waiting for the
/// voice detector.
fn start_qa_review(data: PathBuf) {
    /// Calls reviewed per pass; a pass that found none waits `IDLE` for calls to end.
    const PER_PASS: usize = 16;
    const IDLE: Duration = Duration::from_secs(2);
    /// Calls that ended longer ago than this when the switch starts are left to be flagged
    /// when viewed (those that ended while it was down, or before this version).
    const LOOK_BACK: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);
    let spawned = std::thread::Builder::new()
        .name("qa-review".into())
        .spawn(move || {
            // SAFETY: plain system calls on this thread's own id.
            let niced = unsafe {
                libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 19)
            };
            if niced != 0 {
                tracing::debug!(error = %std::io::Error::last_os_error(), "QA review thread keeps its priority");
            }
            let store = loop {
                match Store::open(&data) {
                    Ok(store) => break store,
                    Err(error) => {
                        tracing::error!(%error, "QA review cannot open the store; retrying in a minute");
                        std::thread::sleep(Duration::from_secs(60));
                    }
                }
            };
            let mut cursor = hotline::qa::ReviewCursor::since(jiff::Timestamp::now() - LOOK_BACK);
            loop {
                let now = jiff::Timestamp::now();
                let pause = match hotline::qa::review_ended_calls(&store, &data, &mut cursor, now, PER_PASS) {
                    Ok(n) if n == PER_PASS => Duration::from_millis(10),
                    Ok(_) => IDLE,
                    Err(error) => {
                        tracing::warn!(%error, "QA review of finished calls failed");
                        IDLE * 15
                    }
                };
                std::thread::sleep(pause);
            }
        });
    if let Err(error) = spawned {
        tracing::error!(%error, "cannot start the QA review thread; flags are computed when viewed");
    }
}

/// Deletes recordings older than `days` now and every hour after, on a thread of its own
/// with its own database connection (never on the signalling or media path).
fn start_retention(data: PathBuf, days: u32) {
    let spawned = std::thread::Builder::new()
        .name("retention".into())
        .spawn(move || loop {
            match Store::open(&data).and_then(|store| {
                hotline::recording::retention::sweep(&store, &data, jiff::Timestamp::now(), days)
            }) {
                Ok(sweep) => {
                    if !sweep.deleted.is_empty() {
                        tracing::info!(
                            deleted = sweep.deleted.len(),
                            days,
                            "expired recordings deleted"
                        );
                    }
                    for failed in sweep.failed {
                        tracing::warn!(%failed, "expired recording cannot be deleted");
                    }
                }
                Err(error) => tracing::error!(%error, "retention sweep failed"),
            }
            std::thread::sleep(Duration::from_secs(3600));
        });
    if let Err(error) = spawned {
        tracing::error!(%error, "cannot start the retention thread; recordings are kept");
    }
}
