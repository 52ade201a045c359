//! Recording what a leg's far end says (voicemail) into an 8 kHz mono 16-bit WAV file.
//!
//! The media path never touches the disk: it hands fixed-size PCM frames to a bounded channel
//! ([`Recorder`]) and a writer thread of the recording's own does the file work ([`WavSink`]).
//! A slow disk costs dropped frames (counted), never a late packet. The WAV header is brought
//! up to date after every second of audio, so a crash or power cut leaves a playable file that
//! lacks at most the last second.

use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::time::Duration;

use thiserror::Error;

use super::{FRAME_MS, SAMPLE_RATE};
use crate::store::file_modes;

/// `file` created (or emptied) for writing, readable by the switch's user only.
fn private_file(file: &Path) -> io::Result<File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(file_modes::PRIVATE_FILE_MODE);
    }
    let handle = options.open(file)?;
    file_modes::set_mode(file, file_modes::PRIVATE_FILE_MODE)?;
    Ok(handle)
}

/// Samples carried per frame to the writer: 60 ms, the longest packet time phones use, so one
/// packet is usually one frame; longer packets are split.
pub const RECORD_FRAME_SAMPLES: usize = 480;

/// Frames the writer may fall behind by before new ones are dropped: 2 s of 20 ms packets.
const WRITER_BACKLOG_FRAMES: usize = 100;

/// The WAV header is rewritten after each second of audio.
const FLUSH_EVERY_SAMPLES: u64 = SAMPLE_RATE as u64;

#[derive(Debug, Error)]
pub enum RecorderError {
    #[error("cannot create the folder {} for recording {}: {source}", dir.display(), file.display())]
    Folder {
        dir: PathBuf,
        file: PathBuf,
        source: io::Error,
    },
    #[error("cannot write recording {}: {source}", file.display())]
    Wav { file: PathBuf, source: hound::Error },
    #[error("cannot start the writer thread for recording {}: {source}", file.display())]
    Thread { file: PathBuf, source: io::Error },
}

/// How a recording ended, reported once by its writer thread after the file is closed.
#[derive(Debug)]
pub struct RecordingOutcome {
    pub file: PathBuf,
    /// Audio in the file.
    pub duration_ms: u64,
    /// Why the file ended early or is missing, if it did.
    pub error: Option<RecorderError>,
}

/// Up to `RECORD_FRAME_SAMPLES` samples of PCM, fixed size so the channel never allocates.
struct PcmFrame {
    len: u16,
    samples: [i16; RECORD_FRAME_SAMPLES],
}

impl PcmFrame {
    fn samples(&self) -> &[i16] {
        &self.samples[..usize::from(self.len)]
    }
}

/// The WAV file of one recording: what the writer thread drives, and tests drive directly.
pub struct WavSink {
    file: PathBuf,
    writer: hound::WavWriter<BufWriter<File>>,
    samples: u64,
    since_flush: u64,
}

impl WavSink {
    /// Creates `file` (and any missing folder above it) as an 8 kHz mono 16-bit WAV,
    /// replacing a file of that name. Recordings are personal data: the file is 0600 and a
    /// folder made for it 0700, whatever the umask.
    pub fn create(file: &Path) -> Result<WavSink, RecorderError> {
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            file_modes::create_private_dir_all(dir).map_err(|source| RecorderError::Folder {
                dir: dir.to_path_buf(),
                file: file.to_path_buf(),
                source,
            })?;
        }
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: SAMPLE_RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let wav_error = |source| RecorderError::Wav {
            file: file.to_path_buf(),
            source,
        };
        let handle = private_file(file).map_err(|e| wav_error(hound::Error::IoError(e)))?;
        let writer = hound::WavWriter::new(BufWriter::new(handle), spec).map_err(wav_error)?;
        Ok(WavSink {
            file: file.to_path_buf(),
            writer,
            samples: 0,
            since_flush: 0,
        })
    }

    /// Appends `pcm`; after each full second of audio the header is updated and the data
    /// flushed, so the file is valid up to there even if it is never finished.
    pub fn write(&mut self, pcm: &[i16]) -> Result<(), RecorderError> {
        for &sample in pcm {
            self.writer
                .write_sample(sample)
                .map_err(|e| self.error(e))?;
            self.samples += 1;
            self.since_flush += 1;
            if self.since_flush >= FLUSH_EVERY_SAMPLES {
                self.writer.flush().map_err(|e| self.error(e))?;
                self.since_flush = 0;
            }
        }
        Ok(())
    }

    /// Samples written so far.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Writes the final header and closes the file; returns the samples in it.
    pub fn finish(self) -> Result<u64, RecorderError> {
        let WavSink {
            file,
            writer,
            samples,
            ..
        } = self;
        writer
            .finalize()
            .map_err(|source| RecorderError::Wav { file, source })?;
        Ok(samples)
    }

    fn error(&self, source: hound::Error) -> RecorderError {
        RecorderError::Wav {
            file: self.file.clone(),
            source,
        }
    }
}

fn duration_ms(samples: u64) -> u64 {
    samples * 1000 / u64::from(SAMPLE_RATE)
}

/// The media engine's end of a recording. Dropping it ends the recording: the writer thread
/// then finishes the file and reports the outcome.
pub struct Recorder {
    frames: SyncSender<PcmFrame>,
    remaining_samples: u64,
    remaining_ticks: u64,
    frames_dropped: u64,
}

impl Recorder {
    /// Starts recording into `file` for at most `max`, on a writer thread that creates the
    /// file (and its folder) and calls `on_finish` once the file is closed. Only starting the
    /// thread can fail here; file errors arrive in the outcome.
    pub fn start(
        file: PathBuf,
        max: Duration,
        on_finish: impl FnOnce(RecordingOutcome) + Send + 'static,
    ) -> Result<Recorder, RecorderError> {
        let (frames, received) = mpsc::sync_channel(WRITER_BACKLOG_FRAMES);
        let max_samples = max.as_millis() as u64 * u64::from(SAMPLE_RATE) / 1000;
        let thread_file = file.clone();
        std::thread::Builder::new()
            .name("recorder".into())
            .spawn(move || on_finish(write_until_closed(thread_file, received)))
            .map_err(|source| RecorderError::Thread { file, source })?;
        Ok(Recorder {
            frames,
            remaining_samples: max_samples,
            remaining_ticks: (max.as_millis() as u64).div_ceil(FRAME_MS),
            frames_dropped: 0,
        })
    }

    /// Hands `pcm` to the writer, cut at the maximum. Returns `false` once the recording is
    /// complete (maximum reached, or the writer gave up) and should be dropped. Never blocks:
    /// a frame the writer has no room for is dropped and counted.
    pub fn write(&mut self, pcm: &[i16]) -> bool {
        let take = pcm.len().min(self.remaining_samples as usize);
        for chunk in pcm[..take].chunks(RECORD_FRAME_SAMPLES) {
            let mut frame = PcmFrame {
                // A chunk is at most RECORD_FRAME_SAMPLES long.
                len: chunk.len() as u16,
                samples: [0; RECORD_FRAME_SAMPLES],
            };
            frame.samples[..chunk.len()].copy_from_slice(chunk);
            match self.frames.try_send(frame) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => self.frames_dropped += 1,
                Err(TrySendError::Disconnected(_)) => return false,
            }
        }
        self.remaining_samples -= take as u64;
        self.remaining_samples > 0
    }

    /// Counts one 20 ms tick; returns `false` once `max` has passed, so a far end that sends
    /// nothing (silence suppression, a dead phone) still ends the recording on time.
    pub fn on_tick(&mut self) -> bool {
        self.remaining_ticks = self.remaining_ticks.saturating_sub(1);
        self.remaining_ticks > 0
    }

    /// Frames lost because the writer had fallen `WRITER_BACKLOG_FRAMES` behind.
    pub fn frames_dropped(&self) -> u64 {
        self.frames_dropped
    }
}

fn write_until_closed(file: PathBuf, frames: Receiver<PcmFrame>) -> RecordingOutcome {
    let mut sink = match WavSink::create(&file) {
        Ok(sink) => sink,
        Err(error) => {
            return RecordingOutcome {
                file,
                duration_ms: 0,
                error: Some(error),
            }
        }
    };
    while let Ok(frame) = frames.recv() {
        if let Err(error) = sink.write(frame.samples()) {
            // Dropping the sink writes what hound can of the header; the media side sees the
            // channel closed and stops sending.
            return RecordingOutcome {
                file,
                duration_ms: duration_ms(sink.samples()),
                error: Some(error),
            };
        }
    }
    let samples = sink.samples();
    let error = sink.finish().err();
    RecordingOutcome {
        file,
        duration_ms: duration_ms(samples),
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn speech(samples: usize) -> Vec<i16> {
        (0..samples)
            .map(|i| ((i as f32 * 0.07).sin() * 9_000.0) as i16 + (i % 7) as i16)
            .collect()
    }

    fn read_wav(file: &Path) -> (hound::WavSpec, Vec<i16>) {
        let mut reader = hound::WavReader::open(file).unwrap();
        let samples = reader.samples::<i16>().map(Result::unwrap).collect();
        (reader.spec(), samples)
    }

    #[test]
    fn the_header_is_valid_after_each_second_without_finishing() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("voicemail/2024/call-7.wav");
        let input = speech(12_000);
        let mut sink = WavSink::create(&file).unwrap();
        for packet in input.chunks(160) {
            sink.write(packet).unwrap();
        }
        // The process "crashes" here: the writer is still open, never finalized.
        let (spec, samples) = read_wav(&file);
        assert_eq!(spec.sample_rate, 8000);
        assert_eq!(spec.channels, 1);
        assert_eq!(spec.bits_per_sample, 16);
        assert_eq!(samples, input[..8000], "the first full second is readable");
        assert_eq!(sink.finish().unwrap(), 12_000);
        assert_eq!(read_wav(&file).1, input);
    }

    #[test]
    fn a_recording_holds_the_samples_it_was_given_up_to_its_maximum() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("vm.wav");
        let (done_tx, done) = mpsc::channel();
        let mut recorder = Recorder::start(file.clone(), Duration::from_millis(1500), move |o| {
            done_tx.send(o).unwrap()
        })
        .unwrap();
        let input = speech(16_000);
        let mut accepted = 0;
        for packet in input.chunks(160) {
            accepted += 1;
            if !recorder.write(packet) {
                break;
            }
        }
        assert_eq!(accepted, 75, "1.5 s of 20 ms packets");
        assert_eq!(recorder.frames_dropped(), 0);
        drop(recorder);
        let outcome = done.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(outcome.error.is_none(), "{:?}", outcome.error);
        assert_eq!(outcome.duration_ms, 1500);
        assert_eq!(outcome.file, file);
        let (spec, samples) = read_wav(&file);
        assert_eq!(spec.sample_rate, 8000);
        assert_eq!(samples, input[..12_000]);
    }

    #[test]
    fn a_packet_longer_than_a_frame_is_split_not_cut() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("long.wav");
        let (done_tx, done) = mpsc::channel();
        let mut recorder = Recorder::start(file.clone(), Duration::from_secs(60), move |o| {
            done_tx.send(o).unwrap()
        })
        .unwrap();
        let input = speech(1500);
        assert!(recorder.write(&input));
        drop(recorder);
        assert_eq!(
            done.recv_timeout(Duration::from_secs(10))
                .unwrap()
                .duration_ms,
            187
        );
        assert_eq!(read_wav(&file).1, input);
    }

    #[test]
    fn a_silent_far_end_still_ends_at_the_maximum() {
        let dir = tempfile::tempdir().unwrap();
        let mut recorder =
            Recorder::start(dir.path().join("quiet.wav"), Duration::from_secs(1), |_| {}).unwrap();
        let ticks = std::iter::repeat_with(|| recorder.on_tick())
            .take_while(|&recording| recording)
            .count();
        assert_eq!(ticks + 1, 50, "ends on the 50th tick of 20 ms");
    }

    #[test]
    fn a_file_that_cannot_be_created_is_reported_not_panicked() {
        let dir = tempfile::tempdir().unwrap();
        // A folder where the file should be.
        let file = dir.path().join("taken");
        fs::create_dir(&file).unwrap();
        let (done_tx, done) = mpsc::channel();
        let mut recorder = Recorder::start(file.clone(), Duration::from_secs(5), move |o| {
            done_tx.send(o).unwrap()
        })
        .unwrap();
        let outcome = done.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(outcome.duration_ms, 0);
        let error = outcome
            .error
            .expect("the file cannot be created")
            .to_string();
        assert!(error.contains("taken"), "{error}");
        // The writer is gone: the media side learns it at the next frame.
        assert!(!recorder.write(&[0; 160]));
    }
}
