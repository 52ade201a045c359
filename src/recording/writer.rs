//! One recording file being written: the canonical 44-byte header at creation, frames
//! placed by their index on the call's clock (a missing index is written as silence and
//! counted lost; the agent's paused span is silence, frames already placed included),
//! audio appended in batches, the header rewritten in place with the length on disk, and
//! at the end the file's SHA-256.
//!
//! Owns the file and its counters; when to flush is the service's (`service.rs`), when the
//! disk confirms it is `disk_sync.rs`'s.
//! The file on disk is always the header plus whole 4-byte frames, so a `kill -9` at any
//! moment leaves something `repair` makes playable.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::repair::sha256_with;
use super::{duration_ms, header, FRAME_BYTES, HEADER_LEN};
use crate::media::FRAME_SAMPLES;
use crate::store::file_modes::{create_private_dir_all, PRIVATE_FILE_MODE};

/// Bytes of one 20 ms stereo frame.
pub const TICK_BYTES: usize = FRAME_SAMPLES * FRAME_BYTES as usize;
/// The most audio one file takes (a RIFF header's sizes are 32-bit): later frames are
/// dropped and counted lost.
const MAX_DATA_BYTES: u64 = (u32::MAX as u64 - 36) / TICK_BYTES as u64 * TICK_BYTES as u64;

/// A recording's batch is written early once it holds this much (two seconds).
pub const BATCH_BYTES: usize = 100 * TICK_BYTES;
/// A batch's room: one frame past [`BATCH_BYTES`], so a batch never grows before it is written.
const BATCH_CAPACITY: usize = BATCH_BYTES + TICK_BYTES;
/// Emptied batches kept for the next recordings (8 MiB at most); more are freed.
const SPARE_BATCHES: usize = 128;
/// The block the digest reads the finished file in.
const DIGEST_BLOCK: usize = 64 * 1024;

/// Memory the recording service lends its files: each recording's batch, taken back when it
/// finishes, and the block its digest reads through. Once the service has run a while a new
/// recording allocates nothing and touches no fresh page — a fresh batch per file, grown
/// once mid-batch, and a fresh 64 KiB block per digest were a tenth of the service's CPU
/// under load, in page faults and copies.
#[derive(Default)]
pub struct WriteBuffers {
    batches: Vec<Vec<u8>>,
    digest: Vec<u8>,
}

impl WriteBuffers {
    fn batch(&mut self) -> Vec<u8> {
        self.batches
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(BATCH_CAPACITY))
    }

    fn give_back(&mut self, mut batch: Vec<u8>) {
        if self.batches.len() < SPARE_BATCHES {
            batch.clear();
            self.batches.push(batch);
        }
    }

    /// Emptied batches waiting for a recording.
    pub fn spare_batches(&self) -> usize {
        self.batches.len()
    }
}

/// How a finished recording ended up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedFile {
    pub duration_ms: u64,
    pub sha256: String,
    /// Frames written as silence because they never arrived (queue overflow).
    pub lost_frames: u64,
}

/// A recording being written.
pub struct RecordingFile {
    path: PathBuf,
    file: File,
    /// Audio bytes on disk after the header.
    data_bytes: u64,
    /// Audio bytes not yet written, in order after `data_bytes`.
    pending: Vec<u8>,
    /// The index of the next frame the file expects.
    next_index: u64,
    lost_frames: u64,
    /// The agent's pause in frames, `from..until` (`until` is `u64::MAX` while paused):
    /// those frames are silence.
    paused: Option<(u64, u64)>,
    /// The header on disk names `data_bytes` (nothing written since it was).
    header_current: bool,
}

impl RecordingFile {
    /// Creates `path` (0600, its folders 0700) with an empty recording's header; its batch
    /// comes from `buffers`.
    pub fn create(path: &Path, buffers: &mut WriteBuffers) -> io::Result<RecordingFile> {
        if let Some(dir) = path.parent() {
            create_private_dir_all(dir)?;
        }
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(true);
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(PRIVATE_FILE_MODE);
        }
        let mut file = options.open(path)?;
        // A file that was there already keeps its mode through `open`: 0600 on the handle.
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(PRIVATE_FILE_MODE))?;
        }
        file.write_all(&header(0))?;
        Ok(RecordingFile {
            path: path.to_path_buf(),
            file,
            data_bytes: 0,
            pending: buffers.batch(),
            next_index: 0,
            lost_frames: 0,
            paused: None,
            header_current: true,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Frames placed so far (the next index expected).
    pub fn frames(&self) -> u64 {
        self.next_index
    }

    pub fn lost_frames(&self) -> u64 {
        self.lost_frames
    }

    /// Bytes waiting to be written.
    pub fn pending_bytes(&self) -> usize {
        self.pending.len()
    }

    /// Places frame `index` (interleaved left, right, as the file's bytes): indexes skipped
    /// since the last one are silence and counted lost; an index already placed is ignored.
    pub fn put(&mut self, index: u64, wav: &[u8; TICK_BYTES]) {
        if index < self.next_index {
            return;
        }
        self.fill_silence_to(index);
        if self.is_paused(index) {
            if self.room() {
                self.pending.extend_from_slice(&[0; TICK_BYTES]);
            }
        } else if self.room() {
            self.pending.extend_from_slice(wav);
        } else {
            self.lost_frames += 1;
        }
        self.next_index = index + 1;
    }

    fn is_paused(&self, index: u64) -> bool {
        self.paused
            .is_some_and(|(from, until)| (from..until).contains(&index))
    }

    /// The agent paused at frame `from`: it and every later frame are silence, including
    /// those already placed (zeroed in the batch, or rewritten on disk) until
    /// [`RecordingFile::resume_at`]. A pause while the last one's resume is still ahead of
    /// the frames placed joins it: the frames between stay silent.
    pub fn pause_from(&mut self, from: u64) -> io::Result<()> {
        let from = match self.paused {
            Some((start, until)) if until > self.next_index => start.min(from),
            _ => from,
        };
        self.paused = Some((from, u64::MAX));
        let placed = self.data_bytes + self.pending.len() as u64;
        let start = from.saturating_mul(TICK_BYTES as u64).min(placed);
        // Frames are whole on disk and in the batch: the span is whole frames too.
        let mut at = start;
        while at < self.data_bytes {
            self.file.write_all_at(&[0; TICK_BYTES], HEADER_LEN + at)?;
            at += TICK_BYTES as u64;
        }
        let in_batch = start.saturating_sub(self.data_bytes) as usize;
        self.pending[in_batch..].fill(0);
        Ok(())
    }

    /// The agent resumed at frame `until`: frames from there on are sound again (those
    /// already placed silent stay so).
    pub fn resume_at(&mut self, until: u64) {
        if let Some((from, end)) = &mut self.paused {
            *end = until.max(*from);
        }
    }

    /// Silence up to (not including) `index`, counted lost.
    pub fn fill_silence_to(&mut self, index: u64) {
        while self.next_index < index {
            if self.room() {
                self.pending.extend_from_slice(&[0; TICK_BYTES]);
            }
            self.lost_frames += 1;
            self.next_index += 1;
        }
    }

    fn room(&self) -> bool {
        self.data_bytes + self.pending.len() as u64 + (TICK_BYTES as u64) <= MAX_DATA_BYTES
    }

    /// Appends what is pending and rewrites the header with the length now on disk.
    pub fn flush(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            self.file
                .write_all_at(&self.pending, HEADER_LEN + self.data_bytes)?;
            self.data_bytes += self.pending.len() as u64;
            self.pending.clear();
            self.header_current = false;
        }
        if !self.header_current {
            self.file.write_all_at(&header(self.data_bytes as u32), 0)?;
            self.header_current = true;
        }
        Ok(())
    }

    /// The last frames (up to `frames`, silence for any that never came), the header, and
    /// the SHA-256 of the whole file (read back through the same handle); the batch goes
    /// back to `buffers`.
    pub fn finish(mut self, frames: u64, buffers: &mut WriteBuffers) -> io::Result<FinishedFile> {
        self.fill_silence_to(frames);
        let flushed = self.flush();
        buffers.give_back(std::mem::take(&mut self.pending));
        flushed?;
        let mut reader = &self.file;
        reader.seek(SeekFrom::Start(0))?;
        buffers.digest.resize(DIGEST_BLOCK, 0);
        Ok(FinishedFile {
            duration_ms: duration_ms(self.data_bytes),
            sha256: sha256_with(&mut reader, &mut buffers.digest)?,
            lost_frames: self.lost_frames,
        })
    }
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
