//! Prompt files under `prompts/<language>/<name>.<ext>` and the checks that every prompt a
//! hotline can play exists in every language it can play it in, and that greetings are
//! short enough (standard S2). Durations come through [`PromptCatalog`] so this module
//! never decodes audio.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::dialplan::{hold_whisper_prompt, Dialplan, PromptUse, HOLD_PROMPTS, TRANSFER_PROMPTS};
use super::duration::format_seconds;
use super::error::key_segment;
use super::error::ConfigError;
use super::{Config, Queue, QueueExit};

/// Audio formats the prompt decoder reads.
pub const PROMPT_EXTENSIONS: &[&str] = &["wav", "flac", "mp3", "ogg"];

/// One prompt file found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptFile {
    pub language: String,
    pub name: String,
    /// Full path (config dir joined).
    pub path: PathBuf,
}

/// How long a prompt plays, as the audio decoder measured it; `None` when the decoder
/// has no such prompt (missing or unreadable file).
pub trait PromptCatalog {
    fn duration(&self, language: &str, name: &str) -> Option<Duration>;
}

/// Lists `DIR/prompts/*/*.{wav,flac,mp3,ogg}`; other files (such as generate.sh) are not
/// prompts and are skipped.
pub(crate) fn list_prompt_files(dir: &Path, errors: &mut Vec<ConfigError>) -> Vec<PromptFile> {
    let root = dir.join("prompts");
    let Ok(languages) = std::fs::read_dir(&root) else {
        errors.push(ConfigError::new(
            "prompts",
            "",
            format!("cannot read the folder {}", root.display()),
        ));
        return Vec::new();
    };
    let mut files = Vec::new();
    let mut seen: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut language_dirs: Vec<(String, PathBuf)> = languages
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().is_dir())
        .filter_map(|entry| Some((entry.file_name().to_str()?.to_string(), entry.path())))
        .collect();
    language_dirs.sort();
    for (language, language_dir) in language_dirs {
        let Ok(entries) = std::fs::read_dir(&language_dir) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| entry.file_name().to_str().map(str::to_string))
            .collect();
        names.sort();
        for file_name in names {
            let Some((name, extension)) = file_name.rsplit_once('.') else {
                continue;
            };
            if !PROMPT_EXTENSIONS.contains(&extension.to_ascii_lowercase().as_str()) {
                continue;
            }
            let relative = format!("prompts/{language}/{file_name}");
            if let Some(first) = seen.get(&(language.clone(), name.to_string())) {
                errors.push(ConfigError::new(
                    relative,
                    "",
                    format!("prompt \"{name}\" ({language}) is also in {first}; keep one file per prompt"),
                ));
                continue;
            }
            seen.insert((language.clone(), name.to_string()), relative);
            files.push(PromptFile {
                language: language.clone(),
                name: name.to_string(),
                path: language_dir.join(&file_name),
            });
        }
    }
    files
}

/// Each prompt use with the languages it may be played in. A flow reachable from several
/// hotlines is checked in all their languages; a flow nobody reaches is not checked.
pub(crate) fn prompt_uses_by_language(dialplan: &Dialplan) -> Vec<(PromptUse, BTreeSet<String>)> {
    let mut flow_languages: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut queue_languages: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for hotline in &dialplan.hotlines {
        let reach = dialplan.reach(hotline);
        for flow in &reach.flows {
            if let Some((name, _)) = dialplan.flows.get_key_value(flow.as_str()) {
                flow_languages
                    .entry(name.as_str())
                    .or_default()
                    .extend(reach.languages.iter().cloned());
            }
        }
        for queue in &reach.queues {
            if let Some((name, _)) = dialplan.queues.get_key_value(queue.as_str()) {
                queue_languages
                    .entry(name.as_str())
                    .or_default()
                    .extend(reach.languages.iter().cloned());
            }
        }
    }
    // A caller in any queue may be transferred to a queue by its transfer number, and then
    // hears that queue's prompts in their own language.
    let transferred: BTreeSet<String> = queue_languages.values().flatten().cloned().collect();
    let mut targets: Vec<&str> = dialplan
        .transfer
        .numbers
        .values()
        .map(String::as_str)
        .collect();
    while let Some(target) = targets.pop() {
        let Some((name, queue)) = dialplan.queues.get_key_value(target) else {
            continue;
        };
        let languages = queue_languages.entry(name.as_str()).or_default();
        let before = languages.len();
        languages.extend(transferred.iter().cloned());
        // Its overflow queue is reached too, in the same languages.
        if let QueueExit::Overflow(next) = &queue.exit {
            if languages.len() > before || !queue_languages.contains_key(next.as_str()) {
                targets.push(next.as_str());
            }
        }
    }
    let mut uses = Vec::new();
    for (flow_name, languages) in flow_languages {
        if let Some(flow) = dialplan.flows.get(flow_name) {
            for prompt_use in flow.prompt_uses() {
                uses.push((prompt_use, languages.clone()));
            }
        }
    }
    for (queue_name, languages) in queue_languages {
        if let Some(queue) = dialplan.queues.get(queue_name) {
            for prompt_use in queue.prompt_uses() {
                uses.push((prompt_use, languages.clone()));
            }
            for prompt_use in hold_and_transfer_uses(dialplan, queue) {
                uses.push((prompt_use, languages.clone()));
            }
        }
    }
    uses
}

/// What a caller of `queue` and its agent may hear on hold and on a transfer (issue 8): the
/// reasons the queue's agents may give with their whispers and every hold prompt (under
/// `queue.NAME.hold_reasons`), and the transfer explanation, apologies and whispers (under
/// `queue.NAME`). A queue a transfer number leads to is checked, department included, in
/// every language a caller of any queue may speak (see `prompt_uses_by_language`).
fn hold_and_transfer_uses(dialplan: &Dialplan, queue: &Queue) -> Vec<PromptUse> {
    let key = format!("queue.{}", key_segment(&queue.name));
    let use_at = |key: String, prompt: &str| PromptUse {
        file: queue.file.clone(),
        key,
        prompt: prompt.to_string(),
        greeting: false,
    };
    let reasons_key = format!("{key}.hold_reasons");
    let mut out = Vec::new();
    for reason in dialplan.hold.reasons.values() {
        if queue.hold_reasons.is_empty() || queue.hold_reasons.contains(&reason.name) {
            out.push(use_at(reasons_key.clone(), &reason.prompt));
            out.push(use_at(
                reasons_key.clone(),
                &hold_whisper_prompt(&reason.name),
            ));
        }
    }
    for prompt in HOLD_PROMPTS {
        out.push(use_at(reasons_key.clone(), prompt));
    }
    for digit in 0..10 {
        out.push(use_at(reasons_key.clone(), &format!("digit_{digit}")));
    }
    for prompt in TRANSFER_PROMPTS {
        out.push(use_at(key.clone(), prompt));
    }
    out
}

fn missing_message(prompt: &str, language: &str) -> String {
    format!(
        "prompt \"{prompt}\" is missing for language \"{language}\" (no prompts/{language}/{prompt}.{{{}}})",
        PROMPT_EXTENSIONS.join(",")
    )
}

/// Load-time check against the files on disk.
pub(crate) fn check_prompt_files(
    dialplan: &Dialplan,
    files: &[PromptFile],
    errors: &mut Vec<ConfigError>,
) {
    let present: BTreeSet<(&str, &str)> = files
        .iter()
        .map(|file| (file.language.as_str(), file.name.as_str()))
        .collect();
    for (prompt_use, languages) in prompt_uses_by_language(dialplan) {
        for language in &languages {
            if !present.contains(&(language.as_str(), prompt_use.prompt.as_str())) {
                errors.push(ConfigError::new(
                    prompt_use.file.as_str(),
                    prompt_use.key.as_str(),
                    missing_message(&prompt_use.prompt, language),
                ));
            }
        }
    }
}

/// Checks every prompt a hotline can play against the decoded catalog: missing (or
/// undecodable) prompts, and greetings longer than `greeting_max` (standard S2).
pub fn check_prompts(config: &Config, catalog: &dyn PromptCatalog) -> Vec<ConfigError> {
    let greeting_max = config.dialplan.standards.greeting_max;
    let mut errors = Vec::new();
    for (prompt_use, languages) in prompt_uses_by_language(&config.dialplan) {
        for language in &languages {
            match catalog.duration(language, &prompt_use.prompt) {
                None => errors.push(ConfigError::new(
                    prompt_use.file.as_str(),
                    prompt_use.key.as_str(),
                    missing_message(&prompt_use.prompt, language),
                )),
                Some(length) if prompt_use.greeting && length > greeting_max => {
                    errors.push(ConfigError::new(
                        prompt_use.file.as_str(),
                        prompt_use.key.as_str(),
                        format!(
                            "greeting prompt \"{}\" ({language}, {}) lasts {}, longer than greeting_max {}",
                            prompt_use.prompt,
                            config
                                .prompt_path(language, &prompt_use.prompt)
                                .and_then(|path| path.strip_prefix(&config.dir).ok())
                                .map(|path| path.display().to_string())
                                .unwrap_or_else(|| format!("prompts/{language}/{}", prompt_use.prompt)),
                            format_seconds(length),
                            format_seconds(greeting_max)
                        ),
                    ))
                }
                Some(_) => {}
            }
        }
    }
    errors
}

/// Prompt names and durations per language, for `hotline check`.
pub fn prompt_summary(config: &Config, catalog: &dyn PromptCatalog) -> String {
    let mut out = String::from("prompts:\n");
    for file in &config.prompts {
        let length = catalog
            .duration(&file.language, &file.name)
            .map(format_seconds)
            .unwrap_or_else(|| "not decoded".to_string());
        out.push_str(&format!("  {}/{:<22} {length}\n", file.language, file.name));
    }
    out
}
