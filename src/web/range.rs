//! HTTP Range requests (RFC 9110 §14) on a file of known length, as the `<audio>` player
//! sends them to seek: one byte range, open (`bytes=N-`) or suffix (`bytes=-N`).
//! A range of another unit, or several ranges at once, is ignored (the whole file, 200);
//! a malformed or unsatisfiable byte range is refused (416 with `Content-Range: bytes */LEN`).

/// What to answer a request for a file of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAnswer {
    /// 200 with the whole file.
    Whole,
    /// 206 with bytes `start..=end` (inclusive, as Content-Range writes them).
    Part { start: u64, end: u64 },
    /// 416.
    Unsatisfiable,
}

/// Decides the answer from the Range header (None: no header).
pub fn answer(header: Option<&str>, len: u64) -> RangeAnswer {
    let Some(header) = header else {
        return RangeAnswer::Whole;
    };
    let header = header.trim();
    let Some((unit, specs)) = header.split_once('=') else {
        return RangeAnswer::Unsatisfiable;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return RangeAnswer::Whole;
    }
    if specs.contains(',') {
        // Several ranges would need multipart/byteranges; a server may send the whole.
        return RangeAnswer::Whole;
    }
    let Some((first, last)) = specs.trim().split_once('-') else {
        return RangeAnswer::Unsatisfiable;
    };
    let number = |text: &str| -> Option<u64> {
        let text = text.trim();
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse().ok()
    };
    match (first.trim().is_empty(), last.trim().is_empty()) {
        // bytes=-N: the last N bytes.
        (true, false) => match number(last) {
            Some(0) | None => RangeAnswer::Unsatisfiable,
            Some(_) if len == 0 => RangeAnswer::Unsatisfiable,
            Some(n) => RangeAnswer::Part {
                start: len.saturating_sub(n),
                end: len - 1,
            },
        },
        // bytes=N-: from N to the end.
        (false, true) => match number(first) {
            Some(start) if start < len => RangeAnswer::Part {
                start,
                end: len - 1,
            },
            _ => RangeAnswer::Unsatisfiable,
        },
        // bytes=N-M: clipped to the end.
        (false, false) => match (number(first), number(last)) {
            (Some(start), Some(end)) if start <= end && start < len => RangeAnswer::Part {
                start,
                end: end.min(len - 1),
            },
            _ => RangeAnswer::Unsatisfiable,
        },
        (true, true) => RangeAnswer::Unsatisfiable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RangeAnswer::*;

    #[test]
    fn no_range_header_gets_the_whole_file() {
        assert_eq!(answer(None, 1000), Whole);
    }

    #[test]
    fn a_closed_range_is_served_and_clipped_to_the_end() {
        assert_eq!(answer(Some("bytes=0-99"), 1000), Part { start: 0, end: 99 });
        assert_eq!(
            answer(Some("bytes=10-10"), 1000),
            Part { start: 10, end: 10 }
        );
        assert_eq!(
            answer(Some("bytes=900-5000"), 1000),
            Part {
                start: 900,
                end: 999
            }
        );
        assert_eq!(
            answer(Some(" Bytes = 1 - 2 "), 1000),
            Part { start: 1, end: 2 }
        );
    }

    #[test]
    fn an_open_range_runs_to_the_end() {
        assert_eq!(answer(Some("bytes=0-"), 1000), Part { start: 0, end: 999 });
        assert_eq!(
            answer(Some("bytes=999-"), 1000),
            Part {
                start: 999,
                end: 999
            }
        );
        assert_eq!(answer(Some("bytes=1000-"), 1000), Unsatisfiable);
    }

    #[test]
    fn a_suffix_range_is_the_last_bytes() {
        assert_eq!(
            answer(Some("bytes=-100"), 1000),
            Part {
                start: 900,
                end: 999
            }
        );
        assert_eq!(
            answer(Some("bytes=-5000"), 1000),
            Part { start: 0, end: 999 }
        );
        assert_eq!(answer(Some("bytes=-0"), 1000), Unsatisfiable);
        assert_eq!(answer(Some("bytes=-1"), 0), Unsatisfiable);
    }

    #[test]
    fn unsatisfiable_or_malformed_byte_ranges_get_416() {
        for bad in [
            "bytes=1000-1001",
            "bytes=5-4",
            "bytes=-",
            "bytes=a-b",
            "bytes=1-x",
            "bytes=+1-2",
            "bytes=18446744073709551616-",
            "bytes",
            "bytes=",
        ] {
            assert_eq!(answer(Some(bad), 1000), Unsatisfiable, "{bad}");
        }
        assert_eq!(answer(Some("bytes=0-"), 0), Unsatisfiable);
    }

    #[test]
    fn other_units_and_several_ranges_get_the_whole_file() {
        assert_eq!(answer(Some("items=0-5"), 1000), Whole);
        assert_eq!(answer(Some("bytes=0-1,5-6"), 1000), Whole);
    }
}
