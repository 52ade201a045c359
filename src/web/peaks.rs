//! The waveform's data, computed by the server from a recording: the audio cut into N
//! buckets of equal length, each bucket's lowest and highest sample per channel (left:
//! what the caller said, right: what the caller heard). The page draws these on a canvas,
//! so the browser never decodes the WAV to draw it.

use std::io::{self, Read};

use serde::Serialize;

use crate::recording::{BITS_PER_SAMPLE, CHANNELS, FRAME_BYTES, HEADER_LEN, SAMPLE_RATE};

/// Buckets when the page asks for none.
pub const DEFAULT_BUCKETS: usize = 1000;
/// The most buckets a request may ask for (bounds the work and the answer).
pub const MAX_BUCKETS: usize = 4000;

/// One channel's peaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelPeaks {
    pub name: &'static str,
    pub min: Vec<i16>,
    pub max: Vec<i16>,
}

/// The peaks of a recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Peaks {
    pub sample_rate: u32,
    /// Frames (samples per channel) in the recording.
    pub frames: u64,
    pub duration_ms: u64,
    /// Frames each bucket covers (the last may cover fewer).
    pub frames_per_bucket: u64,
    pub channels: Vec<ChannelPeaks>,
}

/// Checks a recording's 44-byte header is the project's format (PCM, 2 channels, 8 kHz,
/// 16-bit); the audio follows it.
pub fn check_header(header: &[u8]) -> Result<(), String> {
    if header.len() < HEADER_LEN as usize
        || &header[0..4] != b"RIFF"
        || &header[8..12] != b"WAVE"
        || &header[12..16] != b"fmt "
        || &header[36..40] != b"data"
    {
        return Err("not a canonical WAV file".into());
    }
    let u16_at = |i: usize| u16::from_le_bytes([header[i], header[i + 1]]);
    let u32_at =
        |i: usize| u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
    if u16_at(20) != 1
        || u16_at(22) != CHANNELS
        || u32_at(24) != SAMPLE_RATE
        || u16_at(34) != BITS_PER_SAMPLE
    {
        return Err("not 8 kHz 16-bit stereo PCM".into());
    }
    Ok(())
}

/// Peaks of a recording `file_len` bytes long read from `reader` (header first), in
/// `buckets` buckets (1 to [`MAX_BUCKETS`]; fewer when there are fewer frames). The audio
/// is taken to run to the end of the file, so a recording still being written (whose
/// header lags by up to a second) is drawn whole.
pub fn compute(reader: &mut impl Read, file_len: u64, buckets: usize) -> io::Result<Peaks> {
    let mut header = [0u8; HEADER_LEN as usize];
    reader.read_exact(&mut header)?;
    check_header(&header).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let frames = file_len.saturating_sub(HEADER_LEN) / FRAME_BYTES;
    let buckets = (buckets.clamp(1, MAX_BUCKETS) as u64).min(frames.max(1));
    let per_bucket = frames.div_ceil(buckets).max(1);
    let used = if frames == 0 {
        0
    } else {
        frames.div_ceil(per_bucket) as usize
    };
    let mut channels: Vec<ChannelPeaks> = crate::store::CHANNEL_MAP
        .iter()
        .map(|name| ChannelPeaks {
            name,
            min: vec![0; used],
            max: vec![0; used],
        })
        .collect();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut frame = 0u64;
    let mut carry: Vec<u8> = Vec::with_capacity(FRAME_BYTES as usize);
    'reading: while frame < frames {
        let read = reader.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        let mut bytes = &buffer[..read];
        if !carry.is_empty() {
            let need = FRAME_BYTES as usize - carry.len();
            let take = need.min(bytes.len());
            carry.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if carry.len() < FRAME_BYTES as usize {
                continue;
            }
            let whole = std::mem::take(&mut carry);
            add_frame(&mut channels, frame, per_bucket, &whole);
            frame += 1;
        }
        let mut chunks = bytes.chunks_exact(FRAME_BYTES as usize);
        for chunk in &mut chunks {
            if frame >= frames {
                break 'reading;
            }
            add_frame(&mut channels, frame, per_bucket, chunk);
            frame += 1;
        }
        carry.extend_from_slice(chunks.remainder());
    }
    Ok(Peaks {
        sample_rate: SAMPLE_RATE,
        frames,
        duration_ms: frames * 1000 / u64::from(SAMPLE_RATE),
        frames_per_bucket: per_bucket,
        channels,
    })
}

fn add_frame(channels: &mut [ChannelPeaks], frame: u64, per_bucket: u64, bytes: &[u8]) {
    let bucket = (frame / per_bucket) as usize;
    let first_of_bucket = frame.is_multiple_of(per_bucket);
    for (c, channel) in channels.iter_mut().enumerate() {
        let sample = i16::from_le_bytes([bytes[2 * c], bytes[2 * c + 1]]);
        if first_of_bucket {
            channel.min[bucket] = sample;
            channel.max[bucket] = sample;
        } else {
            channel.min[bucket] = channel.min[bucket].min(sample);
            channel.max[bucket] = channel.max[bucket].max(sample);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(frames: &[(i16, i16)]) -> Vec<u8> {
        let mut bytes = crate::recording::header((frames.len() * 4) as u32).to_vec();
        for (l, r) in frames {
            bytes.extend_from_slice(&l.to_le_bytes());
            bytes.extend_from_slice(&r.to_le_bytes());
        }
        bytes
    }

    /// Hands out at most `n` bytes per read, to cross frame boundaries.
    struct Trickle<'a>(&'a [u8], usize);
    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.1.min(out.len()).min(self.0.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn each_bucket_holds_its_frames_lowest_and_highest_sample_per_channel() {
        let frames = [(1, -1), (5, -7), (-3, 2), (0, 0), (100, -100), (-200, 300)];
        let bytes = wav(&frames);
        for trickle in [3, 5, 64 * 1024] {
            let peaks = compute(&mut Trickle(&bytes, trickle), bytes.len() as u64, 3).unwrap();
            assert_eq!(peaks.frames, 6);
            assert_eq!(peaks.frames_per_bucket, 2);
            assert_eq!(peaks.channels[0].name, "caller_said");
            assert_eq!(peaks.channels[0].min, vec![1, -3, -200]);
            assert_eq!(peaks.channels[0].max, vec![5, 0, 100]);
            assert_eq!(peaks.channels[1].name, "caller_heard");
            assert_eq!(peaks.channels[1].min, vec![-7, 0, -100]);
            assert_eq!(peaks.channels[1].max, vec![-1, 2, 300]);
        }
    }

    #[test]
    fn an_uneven_last_bucket_and_a_torn_last_frame() {
        let mut bytes = wav(&[(1, 1), (2, 2), (3, 3), (4, 4), (5, 5)]);
        bytes.extend_from_slice(&[9, 9]); // half a frame: not audio
        let peaks = compute(&mut bytes.as_slice(), bytes.len() as u64, 2).unwrap();
        assert_eq!(peaks.frames, 5);
        assert_eq!(peaks.frames_per_bucket, 3);
        assert_eq!(peaks.channels[0].max, vec![3, 5]);
        assert_eq!(peaks.channels[0].min, vec![1, 4]);
    }

    #[test]
    fn more_buckets_than_frames_gives_one_bucket_per_frame_and_duration_is_exact() {
        let bytes = wav(&[(7, -7); 8000]);
        let peaks = compute(&mut bytes.as_slice(), bytes.len() as u64, 4000).unwrap();
        assert_eq!(peaks.duration_ms, 1000);
        assert_eq!(peaks.channels[0].max.len(), 4000);
        let short = wav(&[(1, 1), (2, 2)]);
        let peaks = compute(&mut short.as_slice(), short.len() as u64, 10).unwrap();
        assert_eq!(peaks.channels[1].max, vec![1, 2]);
        let empty = wav(&[]);
        let peaks = compute(&mut empty.as_slice(), empty.len() as u64, 10).unwrap();
        assert_eq!(peaks.frames, 0);
        assert!(peaks.channels[0].max.is_empty());
    }

    #[test]
    fn a_file_that_is_not_the_recording_format_is_refused() {
        let mut bytes = wav(&[(1, 1)]);
        bytes[22] = 1; // mono
        assert!(compute(&mut bytes.as_slice(), bytes.len() as u64, 10).is_err());
        let text = b"hello, this is not a wav file at all, no it is not".to_vec();
        assert!(compute(&mut text.as_slice(), text.len() as u64, 10).is_err());
    }
}
