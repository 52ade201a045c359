//! One event, one log line: the switch's log writer, and the escaping of control characters
//! it shares with `hotline calls list` / `calls show`.
//!
//! Text from the network (From headers, Call-IDs, user names, a parser's complaint quoting
//! the bytes it choked on) ends up in log fields. A CR, LF or ESC in it would let a stranger
//! start a line of their own — a fake `authentication failed ip=…` for fail2ban to act on —
//! or drive the terminal of whoever reads the log. So every field of every event is written
//! through [`ControlEscaper`]: CR → `\r`, LF → `\n`, ESC → `\x1b`, any other C0 control or
//! DEL → `\xNN`, a C1 control → `\u{NN}`. The only line break in the output is the one that
//! ends an event. Colours are used only when stderr is a terminal, so a log file holds no
//! escape sequences at all.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::io::IsTerminal;

use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{DefaultFields, Writer};
use tracing_subscriber::fmt::{FormatFields, MakeWriter};
use tracing_subscriber::EnvFilter;

/// `text` with every control character written as a visible escape (see the module doc);
/// borrowed when there is nothing to escape.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let _ = ControlEscaper { inner: &mut out }.write_str(text);
    Cow::Owned(out)
}

/// A [`fmt::Write`] that passes text on with its control characters escaped.
pub struct ControlEscaper<'a, W: fmt::Write + ?Sized> {
    pub inner: &'a mut W,
}

impl<W: fmt::Write + ?Sized> fmt::Write for ControlEscaper<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut rest = text;
        while let Some(at) = rest.find(char::is_control) {
            self.inner.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or('\0');
            match c {
                '\r' => self.inner.write_str("\\r")?,
                '\n' => self.inner.write_str("\\n")?,
                '\x1b' => self.inner.write_str("\\x1b")?,
                c if (c as u32) < 0x80 => write!(self.inner, "\\x{:02x}", c as u32)?,
                c => write!(self.inner, "\\u{{{:x}}}", c as u32)?,
            }
            rest = &rest[at + c.len_utf8()..];
        }
        self.inner.write_str(rest)
    }
}

/// The fields of an event or span as tracing-subscriber writes them (`message key=value …`),
/// with every control character escaped.
#[derive(Debug, Default, Clone, Copy)]
pub struct EscapedFields;

impl<'writer> FormatFields<'writer> for EscapedFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut escaper = ControlEscaper { inner: &mut writer };
        DefaultFields::new().format_fields(Writer::new(&mut escaper), fields)
    }
}

/// The switch's log: `RUST_LOG` (default `info`) to stderr, one line per event, coloured only
/// on a terminal.
pub fn install() {
    let stderr = std::io::stderr();
    let ansi = stderr.is_terminal();
    let _ = tracing::subscriber::set_global_default(subscriber(std::io::stderr, ansi));
}

/// The subscriber [`install`] sets up, writing to `writer`.
pub fn subscriber<W>(writer: W, ansi: bool) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .fmt_fields(EscapedFields)
        .with_ansi(ansi)
        .with_writer(writer)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn control_characters_are_written_as_visible_escapes() {
        assert_eq!(
            escape_controls("a\r\nb\x1b[2Jc\x07\x7f\u{85}é"),
            "a\\r\\nb\\x1b[2Jc\\x07\\x7f\\u{85}é"
        );
        assert!(matches!(escape_controls("plain 王芳"), Cow::Borrowed(_)));
    }

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Captured {
        type Writer = Captured;
        fn make_writer(&'w self) -> Captured {
            self.clone()
        }
    }

    #[test]
    fn an_event_with_line_breaks_and_escapes_in_every_kind_of_field_is_one_line() {
        let captured = Captured::default();
        let forged =
            "x\r\n2026-01-01T00:00:00Z  WARN hotline: authentication failed ip=6.6.6.6\x1b[2J";
        tracing::subscriber::with_default(subscriber(captured.clone(), false), || {
            let span = tracing::info_span!("call", from = %forged);
            let _entered = span.enter();
            tracing::warn!(
                display = %forged,
                debug = ?forged,
                text = forged,
                "refused {forged}"
            );
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.matches('\n').count(), 1, "{text}");
        assert!(text.ends_with('\n'), "{text}");
        assert!(!text.contains(['\r', '\x1b']), "{text:?}");
        // Display fields and the message keep their text, escaped.
        assert!(
            text.contains("display=x\\r\\n2026-01-01T00:00:00Z  WARN hotline: authentication failed ip=6.6.6.6\\x1b[2J"),
            "{text}"
        );
        assert!(text.contains("refused x\\r\\n2026"), "{text}");
        assert!(text.contains("call{from=x\\r\\n2026"), "{text}");
    }
}
