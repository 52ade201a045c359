//! recording: the QA recordings on disk (issue 9) — one stereo WAV per customer journey
//! under `DATA/recordings/YYYY/MM/DD/CALL_ID.wav`, left what the caller said, right what
//! the caller heard, 8 kHz 16-bit PCM. Owns the file format (a canonical 44-byte header kept
//! valid as the file grows), the repair of files a stopped switch left unfinished, and
//! retention. The media engine only hands frames over; the store only keeps the rows.

pub mod disk_sync;
pub mod repair;
pub mod retention;
pub mod service;
pub mod writer;

use std::path::{Path, PathBuf};

/// Samples per second, per channel.
pub const SAMPLE_RATE: u32 = 8_000;
/// Left: what the caller said; right: what the caller heard (see `store::CHANNEL_MAP`).
pub const CHANNELS: u16 = 2;
pub const BITS_PER_SAMPLE: u16 = 16;
/// Bytes of one sample of both channels.
pub const FRAME_BYTES: u64 = (CHANNELS as u64) * (BITS_PER_SAMPLE as u64 / 8);
/// Bytes of audio per second.
pub const BYTES_PER_SECOND: u64 = SAMPLE_RATE as u64 * FRAME_BYTES;
/// The canonical header: RIFF, fmt (16 bytes of PCM format), data. Audio starts here.
pub const HEADER_LEN: u64 = 44;
/// The folder under the data dir.
pub const RECORDINGS_DIR: &str = "recordings";

/// The 44-byte header of a recording holding `data_bytes` of audio (a whole number of
/// frames): rewritten in place as the file grows, so the file is always playable.
pub fn header(data_bytes: u32) -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&data_bytes.saturating_add(36).to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes()); // PCM
    h[22..24].copy_from_slice(&CHANNELS.to_le_bytes());
    h[24..28].copy_from_slice(&SAMPLE_RATE.to_le_bytes());
    h[28..32].copy_from_slice(&(BYTES_PER_SECOND as u32).to_le_bytes());
    h[32..34].copy_from_slice(&(FRAME_BYTES as u16).to_le_bytes());
    h[34..36].copy_from_slice(&BITS_PER_SAMPLE.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_bytes.to_le_bytes());
    h
}

/// Milliseconds of audio in `data_bytes`.
pub fn duration_ms(data_bytes: u64) -> u64 {
    data_bytes / FRAME_BYTES * 1000 / u64::from(SAMPLE_RATE)
}

/// Where a call's recording goes, relative to the data dir (what the store keeps):
/// `recordings/YYYY/MM/DD/CALL_ID.wav` by the UTC day the call started.
pub fn relative_path(started_at: jiff::Timestamp, call_id: &str) -> String {
    let day = started_at.to_zoned(jiff::tz::TimeZone::UTC).date();
    let safe: String = call_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "{RECORDINGS_DIR}/{:04}/{:02}/{:02}/{safe}.wav",
        day.year(),
        day.month(),
        day.day()
    )
}

/// The absolute path of a stored relative one.
pub fn absolute_path(data_dir: &Path, relative: &str) -> PathBuf {
    data_dir.join(relative)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_the_canonical_stereo_8khz_16_bit_pcm_one() {
        let h = header(16_000);
        assert_eq!(&h[0..4], b"RIFF");
        assert_eq!(u32::from_le_bytes(h[4..8].try_into().unwrap()), 16_036);
        assert_eq!(&h[8..16], b"WAVEfmt ");
        assert_eq!(u16::from_le_bytes([h[22], h[23]]), 2);
        assert_eq!(u32::from_le_bytes(h[24..28].try_into().unwrap()), 8_000);
        assert_eq!(u32::from_le_bytes(h[28..32].try_into().unwrap()), 32_000);
        assert_eq!(u16::from_le_bytes([h[32], h[33]]), 4);
        assert_eq!(u16::from_le_bytes([h[34], h[35]]), 16);
        assert_eq!(&h[36..40], b"data");
        assert_eq!(u32::from_le_bytes(h[40..44].try_into().unwrap()), 16_000);
        assert_eq!(duration_ms(16_000), 500);
    }

    #[test]
    fn a_recording_lives_under_its_utc_day_with_a_file_safe_name() {
        let at: jiff::Timestamp = "2026-12-01T23:59:59Z".parse().unwrap();
        assert_eq!(relative_path(at, "c-42"), "recordings/2026/12/01/c-42.wav");
        assert_eq!(
            relative_path(at, "../x/y"),
            "recordings/2026/12/01/___x_y.wav"
        );
    }
}
