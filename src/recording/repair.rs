//! Repairs the recordings a stopped switch left unfinished (a `kill -9`, a power cut): at
//! start-up, before any call, every recording whose row still says `recording` gets its
//! header rewritten to the audio actually on disk (whole frames; a half-written last frame
//! is cut), and its row marked `cut_short` with that length and the file's SHA-256. Nothing
//! already on disk is lost: the audio bytes are never rewritten, only the header and at most
//! the last three bytes of a torn frame.

use std::fs::OpenOptions;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{absolute_path, duration_ms, header, FRAME_BYTES, HEADER_LEN};
use crate::store::{RecordingEnd, RecordingState, Store, StoreError};

/// What one repaired file holds now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairedFile {
    /// Bytes of audio after the header.
    pub data_bytes: u64,
    pub duration_ms: u64,
    /// Hex SHA-256 of the whole repaired file.
    pub sha256: String,
    /// Bytes of a torn last frame that were cut off.
    pub torn_bytes: u64,
}

/// The largest audio a RIFF header can describe (its sizes are 32-bit), in whole frames.
const MAX_DATA_BYTES: u64 = (u32::MAX as u64 - 36) / FRAME_BYTES * FRAME_BYTES;

/// Makes the recording at `path` a valid WAV of the audio it holds: header rewritten in
/// place, a torn last frame cut, data synced. A file shorter than a header (the switch
/// stopped right after creating it) becomes an empty, valid recording.
pub fn repair_file(path: &Path) -> io::Result<RepairedFile> {
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    let (data_bytes, torn_bytes) = audio_extent(file.metadata()?.len());
    file.set_len(HEADER_LEN + data_bytes)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(&header(data_bytes as u32))?;
    file.sync_all()?;
    file.seek(SeekFrom::Start(0))?;
    Ok(RepairedFile {
        data_bytes,
        duration_ms: duration_ms(data_bytes),
        sha256: sha256_of(&mut file)?,
        torn_bytes,
    })
}

/// Of a file `len` bytes long: the audio a header can describe (whole frames, at most what
/// 32-bit RIFF sizes allow) and the bytes beyond it that are cut.
fn audio_extent(len: u64) -> (u64, u64) {
    let audio = len.saturating_sub(HEADER_LEN);
    let data_bytes = (audio / FRAME_BYTES * FRAME_BYTES).min(MAX_DATA_BYTES);
    (data_bytes, audio - data_bytes)
}

/// Hex SHA-256 of everything `reader` still holds.
pub fn sha256_of(reader: &mut impl Read) -> io::Result<String> {
    sha256_with(reader, &mut vec![0u8; 64 * 1024])
}

/// [`sha256_of`], reading through `buffer` (not empty).
pub fn sha256_with(reader: &mut impl Read, buffer: &mut [u8]) -> io::Result<String> {
    let mut hasher = Sha256::new();
    loop {
        let n = reader.read(buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect())
}

/// What start-up did with one unfinished recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repair {
    /// Repaired and marked `cut_short`.
    CutShort { call_id: String, file: RepairedFile },
    /// The row had no file (the switch stopped before the first write): marked `cut_short`
    /// with no audio.
    Missing { call_id: String },
    /// The file could not be repaired (permissions, disk): left as it was, row untouched, so
    /// the next start-up tries again.
    Failed { call_id: String, why: String },
}

/// Repairs every recording the store says is unfinished and marks each `cut_short`.
/// Returns what was done with each, for the start-up log.
pub fn repair_unfinished(store: &Store, data_dir: &Path) -> Result<Vec<Repair>, StoreError> {
    let mut done = Vec::new();
    for recording in store.unfinished_recordings()? {
        let path = absolute_path(data_dir, &recording.file);
        let call_id = recording.call_id;
        let repair = match repair_file(&path) {
            Ok(file) => {
                store.recording_finished(
                    &call_id,
                    &RecordingEnd {
                        state: RecordingState::CutShort,
                        duration_ms: file.duration_ms,
                        sha256: file.sha256.clone(),
                        lost_ms: recording.lost_ms,
                    },
                )?;
                Repair::CutShort { call_id, file }
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                store.recording_finished(
                    &call_id,
                    &RecordingEnd {
                        state: RecordingState::CutShort,
                        duration_ms: 0,
                        sha256: String::new(),
                        lost_ms: recording.lost_ms,
                    },
                )?;
                Repair::Missing { call_id }
            }
            Err(error) => Repair::Failed {
                call_id,
                why: format!("{}: {error}", path.display()),
            },
        };
        done.push(repair);
    }
    Ok(done)
}

#[cfg(test)]
#[path = "repair_tests.rs"]
mod tests;
