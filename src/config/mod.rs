//! config: loads and validates everything `hotline serve` and `hotline check` read from a
//! config dir — `dialplans/*.toml` (hotlines, flows, queues, caller tiers, feature codes,
//! service standards), `hardware/*.toml` (trunk/PBX peers, agents' phones) and the list of
//! files under `prompts/` — into typed settings, collecting every problem as a
//! one-sentence [`ConfigError`].
//!
//! Must not touch: audio decoding (prompt durations arrive through [`PromptCatalog`], which
//! the integrator implements for `media::prompt::PromptLibrary`), sockets, or the wall
//! clock (business hours are asked about an instant passed in).

mod dialplan;
mod duration;
mod error;
mod hardware;
mod hours;
mod prompts;
mod sample_passwords;

use std::path::{Path, PathBuf};

pub use dialplan::{
    hold_whisper_prompt, HoldReason, HoldSettings, InCallKeys, OutsideTransfer, TransferSettings,
    HOLD_PROMPTS, TRANSFER_PROMPTS,
};
pub use dialplan::{
    Action, Collect, Dialplan, Entry, FeatureCode, FeatureCodes, Flow, Hotline, MediaSettings,
    Menu, PromptUse, Queue, QueueExit, Reach, Standards, Step, Strategy, Tier,
    ANNOUNCEMENT_PROMPTS, CALLBACK_PROMPTS, VOICEMAIL_PROMPTS,
};
pub use duration::{format_duration, format_seconds, parse_duration, RingCadence};
pub use error::ConfigError;
pub use hardware::{parse_network, AgentInfo, Hardware, Phone, PhoneKind, TrunkPeer, DIGEST_REALM};
pub use hours::{BusinessHours, WeeklyInterval};
pub use prompts::{check_prompts, prompt_summary, PromptCatalog, PromptFile, PROMPT_EXTENSIONS};
pub use sample_passwords::{sample_password_warnings, shipped_sample_passwords};

/// Everything in a config dir, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub dir: PathBuf,
    pub dialplan: Dialplan,
    pub hardware: Hardware,
    /// Every prompt file found, in language then name order.
    pub prompts: Vec<PromptFile>,
}

impl Config {
    /// The file of prompt `name` in `language`, if there is one.
    pub fn prompt_path(&self, language: &str, name: &str) -> Option<&Path> {
        self.prompts
            .iter()
            .find(|file| file.language == language && file.name == name)
            .map(|file| file.path.as_path())
    }
}

/// Loads and validates a config dir. Every problem found is returned, each one sentence.
/// Prompt durations (the greeting limit) are checked separately by [`check_prompts`].
pub fn load(dir: &Path) -> Result<Config, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let dialplan = dialplan::load_dialplans(dir, &mut errors);
    let hardware = hardware::load_hardware(dir, &mut errors);
    let prompts = prompts::list_prompt_files(dir, &mut errors);
    if let Some(dialplan) = &dialplan {
        prompts::check_prompt_files(dialplan, &prompts, &mut errors);
    }
    if let (Some(dialplan), Some(hardware)) = (&dialplan, &hardware) {
        check_queues_have_agents(dialplan, hardware, &mut errors);
        check_dialled_numbers_are_distinct(dialplan, hardware, &mut errors);
    }
    match (dialplan, hardware) {
        (Some(dialplan), Some(hardware)) if errors.is_empty() => Ok(Config {
            dir: dir.to_path_buf(),
            dialplan,
            hardware,
            prompts,
        }),
        _ => Err(errors),
    }
}

/// Only the device lists of `dir/hardware/` (desk phones and trunks), for commands that
/// need no dialplan or prompts.
pub fn load_hardware(dir: &Path) -> Result<Hardware, Vec<ConfigError>> {
    let mut errors = Vec::new();
    // None exactly when it found a problem.
    hardware::load_hardware(dir, &mut errors).ok_or(errors)
}

/// A queue no agent can answer would hold every caller until the exit.
fn check_queues_have_agents(
    dialplan: &Dialplan,
    hardware: &Hardware,
    errors: &mut Vec<ConfigError>,
) {
    for queue in dialplan.queues.values() {
        if hardware
            .phones
            .iter()
            .any(|phone| phone.has_skills(&queue.skills))
        {
            continue;
        }
        let key = format!("queue.{}.skills", error::key_segment(&queue.name));
        let message = if hardware.phones.is_empty() {
            "no agent can take its calls: hardware/phones.toml lists no phones".to_string()
        } else {
            let skills: Vec<String> = queue.skills.iter().map(|s| format!("\"{s}\"")).collect();
            format!(
                "no agent has skills {}; give them to a phone in hardware/phones.toml",
                skills.join(" and ")
            )
        };
        errors.push(ConfigError::new(queue.file.as_str(), key, message));
    }
}

/// A desk phone dials hotlines, feature codes and extensions alike: each number must mean
/// one thing.
fn check_dialled_numbers_are_distinct(
    dialplan: &Dialplan,
    hardware: &Hardware,
    errors: &mut Vec<ConfigError>,
) {
    for (feature, code) in dialplan.feature_codes.all() {
        if let Some(hotline) = dialplan.hotline_for(code) {
            errors.push(ConfigError::new(
                hotline.file.as_str(),
                format!("hotline.{}.numbers", error::key_segment(&hotline.name)),
                format!(
                    "number \"{code}\" is also the {} feature code",
                    feature.config_name()
                ),
            ));
        }
        if let Some(phone) = hardware.phone_by_extension(code) {
            errors.push(ConfigError::new(
                phone.file.as_str(),
                format!("phone.{}", error::key_segment(&phone.extension)),
                format!(
                    "extension \"{code}\" is also the {} feature code",
                    feature.config_name()
                ),
            ));
        }
    }
    for number in dialplan.transfer.numbers.keys() {
        if let Some(phone) = hardware.phone_by_extension(number) {
            errors.push(ConfigError::new(
                phone.file.as_str(),
                format!("phone.{}", error::key_segment(&phone.extension)),
                format!("extension \"{number}\" is also a transfer number in [transfer] numbers"),
            ));
        }
    }
    if let Some(outside) = &dialplan.transfer.outside {
        for phone in &hardware.phones {
            if phone.extension.starts_with(&outside.prefix) {
                errors.push(ConfigError::new(
                    phone.file.as_str(),
                    format!("phone.{}", error::key_segment(&phone.extension)),
                    format!(
                        "extension \"{}\" starts with the outside transfer prefix \"{}\", so a transfer to it would go out through the trunk",
                        phone.extension, outside.prefix
                    ),
                ));
            }
        }
    }
    for phone in &hardware.phones {
        if let Some(hotline) = dialplan.hotline_for(&phone.extension) {
            errors.push(ConfigError::new(
                phone.file.as_str(),
                format!("phone.{}", error::key_segment(&phone.extension)),
                format!(
                    "extension \"{}\" is also a number of hotline \"{}\" in {}",
                    phone.extension, hotline.name, hotline.file
                ),
            ));
        }
    }
}

/// What `hotline check` prints: standards, hotline numbers, flows, queues, peers, prompts.
pub fn summary(config: &Config) -> String {
    let mut out = String::new();
    let dialplan = &config.dialplan;
    out.push_str(&format!(
        "config: {}\nstandards: {}\nmedia: {}\n",
        config.dir.display(),
        dialplan::describe_standards(&dialplan.standards),
        dialplan::describe_media(&dialplan.media)
    ));
    out.push_str("hotlines:\n");
    for hotline in &dialplan.hotlines {
        let languages: Vec<String> = dialplan.reach(hotline).languages.into_iter().collect();
        out.push_str(&format!(
            "  {} ({}): numbers {}; language {} (prompts played in {}); {}\n",
            hotline.name,
            hotline.file,
            hotline.numbers.join(", "),
            hotline.language,
            languages.join(", "),
            dialplan::describe_entry(&hotline.entry)
        ));
    }
    out.push_str("flows:\n");
    for flow in dialplan.flows.values() {
        let steps: Vec<String> = flow.steps.iter().map(describe_step).collect();
        out.push_str(&format!("  {}: {}\n", flow.name, steps.join(" → ")));
    }
    out.push_str("queues:\n");
    for queue in dialplan.queues.values() {
        out.push_str(&format!("  {}: {}\n", queue.name, describe_queue(queue)));
    }
    if !dialplan.tiers.is_empty() {
        out.push_str("caller tiers:\n");
        for tier in dialplan.tiers.values() {
            out.push_str(&format!(
                "  {}: priority {}, numbers {}\n",
                tier.name,
                tier.priority,
                tier.numbers.join(", ")
            ));
        }
    }
    let codes: Vec<String> = dialplan
        .feature_codes
        .all()
        .iter()
        .map(|(feature, code)| format!("{code} {}", feature.config_name().replace('_', " ")))
        .collect();
    out.push_str(&format!("feature codes: {}\n", codes.join(", ")));
    out.push_str(&format!(
        "hold: {}\ntransfer: {}\n",
        dialplan::describe_hold(&dialplan.hold),
        dialplan::describe_transfer(&dialplan.transfer, &dialplan.in_call_keys)
    ));
    out.push_str("phones:\n");
    if config.hardware.phones.is_empty() {
        out.push_str("  none\n");
    }
    for phone in &config.hardware.phones {
        out.push_str(&format!("  {}\n", describe_phone(phone)));
    }
    out.push_str("trunk peers:\n");
    for peer in &config.hardware.trunks {
        let networks: Vec<String> = peer
            .networks
            .iter()
            .map(|(ip, prefix)| format!("{ip}/{prefix}"))
            .collect();
        let inband = if peer.inband_dtmf {
            "; in-band DTMF detected"
        } else {
            ""
        };
        out.push_str(&format!(
            "  {}: {}{inband}\n",
            peer.name,
            networks.join(", ")
        ));
    }
    let mut languages: Vec<&str> = config.prompts.iter().map(|p| p.language.as_str()).collect();
    languages.dedup();
    out.push_str("prompt files:\n");
    for language in languages {
        let count = config
            .prompts
            .iter()
            .filter(|p| p.language == language)
            .count();
        out.push_str(&format!("  {language}: {count} prompts\n"));
    }
    out
}

fn describe_queue(queue: &Queue) -> String {
    let skills = if queue.skills.is_empty() {
        "any agent".to_string()
    } else {
        format!("skills {}", queue.skills.join(", "))
    };
    format!(
        "plays {}; {skills}; {}; wrap-up {}; max wait {}, then {} ({} before, or after {} with nobody taking calls); announce every {}; music {}{}",
        queue.prompt,
        queue.strategy,
        format_duration(queue.wrap_up),
        format_duration(queue.max_wait),
        queue.exit,
        format_duration(queue.exit_notice),
        format_duration(queue.unstaffed_wait),
        format_duration(queue.announce_every),
        queue.moh,
        queue
            .whisper
            .as_ref()
            .map(|whisper| format!("; whisper {whisper}"))
            .unwrap_or_default(),
    ) + &describe_queue_hold_and_department(queue)
}

fn describe_queue_hold_and_department(queue: &Queue) -> String {
    let mut out = String::new();
    if !queue.hold_reasons.is_empty() {
        out.push_str(&format!("; hold reasons {}", queue.hold_reasons.join(", ")));
    }
    if let Some(reason) = &queue.default_hold_reason {
        out.push_str(&format!("; default hold reason {reason}"));
    }
    if let Some(department) = &queue.department {
        out.push_str(&format!("; department {department}"));
    }
    out
}

fn describe_phone(phone: &Phone) -> String {
    let model = if phone.model.is_empty() {
        String::new()
    } else {
        format!(" {}", phone.model)
    };
    let skills = if phone.skills.is_empty() {
        "no skills".to_string()
    } else {
        format!("skills {}", phone.skills.join(", "))
    };
    format!(
        "{}: user {}, {}{model}, agent {} ({}), {skills}{}",
        phone.extension,
        phone.user,
        phone.kind,
        phone.agent.id,
        phone.agent.name,
        if phone.login_on_register {
            ", logged in on register"
        } else {
            ""
        }
    )
}

fn describe_step(step: &Step) -> String {
    match step {
        Step::Play {
            prompt,
            greeting: true,
        } => format!("play {prompt} (greeting)"),
        Step::Play { prompt, .. } => format!("play {prompt}"),
        Step::Menu(menu) => {
            let choices: Vec<String> = menu
                .choices
                .iter()
                .map(|(digit, action)| format!("{digit}: {action}"))
                .collect();
            format!("menu {} [{}]", menu.name, choices.join("; "))
        }
        Step::Collect(collect) => format!(
            "collect {} ({}-{} digits) then {}",
            collect.name, collect.min_digits, collect.max_digits, collect.then
        ),
        Step::Language(language) => format!("language {language}"),
        Step::Queue(queue) => format!("queue {queue}"),
        Step::Goto(flow) => format!("goto {flow}"),
        Step::Hangup { prompt: None } => "hangup".to_string(),
        Step::Hangup {
            prompt: Some(prompt),
        } => format!("hangup after {prompt}"),
    }
}

#[cfg(test)]
mod tests;
