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
        let mut message = error
            .message()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if is_secret(file, &key, source, error.span()) {
            message = without_value(&message);
        }
        ConfigError {
            file: file.to_string(),
            line,
            key,
            message,
        }
    }
}

/// Whether an error may be about a credential: anything in the phones file, or a line that
/// sets a password or an HA1. Its value must not be echoed (a password written as a number,
/// `password = 1234`, is still the password).
fn is_secret(file: &str, key: &str, source: &str, span: Option<std::ops::Range<usize>>) -> bool {
    let line = span
        .map(|span| {
            let start = span.start.min(source.len());
            let from = source
                .get(..start)
                .and_then(|before| before.rfind('\n'))
                .map_or(0, |n| n + 1);
            let to = source
                .get(start..)
                .and_then(|after| after.find('\n'))
                .map_or(source.len(), |n| start + n);
            source.get(from..to).unwrap_or("")
        })
        .unwrap_or("");
    file.ends_with("phones.toml")
        || [key, line]
            .iter()
            .any(|text| text.contains("password") || text.contains("ha1"))
}

/// serde's "invalid type: integer `1234`, expected a string" without the value:
/// "invalid type: integer, expected a string". Other messages are returned unchanged.
fn without_value(message: &str) -> String {
    let Some((prefix, rest)) = ["invalid type: ", "invalid value: "]
        .iter()
        .find_map(|prefix| Some((*prefix, message.strip_prefix(prefix)?)))
    else {
        return message.to_string();
    };
    let (found, expected) = rest.rsplit_once(", expected").unwrap_or((rest, ""));
    let kind = found.split(['`', '"']).next().unwrap_or(found).trim_end();
    let expected = if expected.is_empty() {
        String::new()
    } else {
        format!(", expected{expected}")
    };
    format!("{prefix}{kind}{expected}")
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
    fn a_numeric_password_is_named_by_file_and_key_but_never_echoed() {
        for (source, key) in [
            (
                "[phone.1001]\npassword = 987654321\n",
                "phone.1001.password",
            ),
            ("[phone]\n1001 = { password = 987654321 }\n", "phone.1001"),
        ] {
            let error = toml::from_str::<Phones>(source).unwrap_err();
            let error = ConfigError::from_toml("hardware/phones.toml", source, &error);
            let text = error.to_string();
            assert!(!text.contains("987654321"), "{text}");
            assert!(text.starts_with("hardware/phones.toml:2: "), "{text}");
            assert!(text.contains(key), "{text}");
            assert!(
                text.ends_with("invalid type: integer, expected a string"),
                "{text}"
            );
        }
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Phones {
        phone: std::collections::BTreeMap<String, PhoneSecret>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct PhoneSecret {
        password: String,
    }

    #[test]
    fn values_are_kept_in_errors_about_other_keys() {
        let message = "invalid type: integer `4008`, expected a sequence";
        let source = "[hotline.service]\nnumbers = 4008\n";
        assert!(!is_secret(
            "dialplans/hotline.toml",
            "hotline.service.numbers",
            source,
            Some(27..31)
        ));
        assert_eq!(
            without_value(message),
            "invalid type: integer, expected a sequence"
        );
        assert_eq!(
            without_value("invalid type: string \"x, y\", expected a boolean"),
            "invalid type: string, expected a boolean"
        );
        assert_eq!(
            without_value("missing field `kind`"),
            "missing field `kind`"
        );
    }

    #[test]
    fn key_segments_quote_only_what_needs_it() {
        assert_eq!(key_segment("main_menu"), "main_menu");
        assert_eq!(key_segment("a b"), "\"a b\"");
    }
}
