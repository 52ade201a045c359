//! One configuration problem, said in one sentence that names the file, the key and what
//! is wrong, so an admin can fix it without reading code.

use std::fmt::Write as _;

/// A problem found while loading a config dir. `file` is relative to the config dir
/// ("dialplans/hotline.toml"); `key` is the TOML key path ("flow.main.steps[2].menu");
/// `line` is known for TOML syntax and shape errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", self.location())]
pub struct ConfigError {
    pub file: String,
    pub line: Option<usize>,
    pub key: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(
        file: impl Into<String>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ConfigError {
            file: file.into(),
            line: None,
            key: key.into(),
            message: message.into(),
        }
    }

    fn location(&self) -> String {
        let mut out = self.file.clone();
        if let Some(line) = self.line {
            let _ = write!(out, ":{line}");
        }
        if !self.key.is_empty() {
            let _ = write!(out, ": {}", self.key);
        }
        out
    }

    /// A TOML syntax or shape error (unknown key, wrong type, missing key) from `toml`,
    /// with the line and, as far as it can be told from the text, the key path.
    pub(crate) fn from_toml(file: &str, source: &str, error: &toml::de::Error) -> ConfigError {
        let (line, key) = match error.span() {
            Some(span) => (
                Some(line_number(source, span.start)),
                key_path_at(source, span),
            ),
            None => (None, String::new()),
        };
        // toml's messages may span lines; an admin gets one sentence.
        let message = error
            .message()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        ConfigError {
            file: file.to_string(),
            line,
            key,
            message,
        }
    }
}

/// Joins a key path the way TOML writes it: bare keys as they are, others quoted.
pub(crate) fn key_segment(name: &str) -> String {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        name.to_string()
    } else {
        format!("{name:?}")
    }
}

fn line_number(source: &str, offset: usize) -> usize {
    let end = offset.min(source.len());
    source
        .as_bytes()
        .get(..end)
        .map(|before| before.iter().filter(|&&b| b == b'\n').count() + 1)
        .unwrap_or(1)
}

/// Best effort key path for an error span: the enclosing `[table]` or `[[array]]` header
/// (with the array index) plus the key on the error's line. toml 0.8 does not expose the
/// path it knows, and a line number alone makes an admin count brackets.
fn key_path_at(source: &str, span: std::ops::Range<usize>) -> String {
    let start = span.start.min(source.len());
    let line_start = source
        .get(..start)
        .and_then(|before| before.rfind('\n'))
        .map(|n| n + 1)
        .unwrap_or(0);
    let line_end = source
        .get(start..)
        .and_then(|rest| rest.find('\n'))
        .map(|n| start + n)
        .unwrap_or(source.len());
    // Headers up to and including the error's own line: a missing key is reported at
    // the header of the table that lacks it.
    let mut header = String::new();
    let mut array_counts: Vec<(String, usize)> = Vec::new();
    for line in source.get(..line_end).unwrap_or("").lines() {
        let trimmed = line.trim();
        if let Some(name) = trimmed
            .strip_prefix("[[")
            .and_then(|rest| rest.split("]]").next())
        {
            let name = name.trim().to_string();
            let index = match array_counts.iter_mut().find(|(n, _)| *n == name) {
                Some((_, count)) => {
                    *count += 1;
                    *count - 1
                }
                None => {
                    array_counts.push((name.clone(), 1));
                    0
                }
            };
            header = format!("{name}[{index}]");
        } else if let Some(name) = trimmed
            .strip_prefix('[')
            .and_then(|rest| rest.split(']').next())
        {
            header = name.trim().to_string();
        }
    }
    // The key this line assigns, when the line is a plain `key = value` of the table; lines
    // inside a multi-line array or inline table add nothing (toml's message names the field).
    let line = source.get(line_start..line_end).unwrap_or("");
    let key_on_line = line
        .split_once('=')
        .map(|(left, _)| left.trim())
        .filter(|left| {
            !left.is_empty()
                && left
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '"' | ' '))
        });
    match (header.is_empty(), key_on_line) {
        (true, Some(key)) => key.to_string(),
        (false, Some(key)) => format!("{header}.{key}"),
        (_, None) => header,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_one_sentence_with_file_key_and_problem() {
        let error = ConfigError::new(
            "dialplans/hotline.toml",
            "flow.main.steps[2].menu.choices.\"1\"",
            "unknown flow \"salse\"",
        );
        assert_eq!(
            error.to_string(),
            "dialplans/hotline.toml: flow.main.steps[2].menu.choices.\"1\": unknown flow \"salse\""
        );
    }

    #[test]
    fn key_segments_quote_only_what_needs_it() {
        assert_eq!(key_segment("main_menu"), "main_menu");
        assert_eq!(key_segment("a b"), "\"a b\"");
    }
}
