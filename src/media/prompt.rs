//! The prompt cache: every `prompts/<lang>/NAME.{wav,flac,mp3,ogg}` decoded, mixed to mono,
//! resampled to 8 kHz and G.711-encoded once at start-up into 20 ms frames for both laws.
//!
//! Playing a prompt is then copying 160 bytes per tick; nothing here runs on the media path
//! except the lookups `frames`, `duration` and `find`.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rubato::{FftFixedInOut, Resampler};
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;
use thiserror::Error;

use super::{Codec, FRAME_SAMPLES, SAMPLE_RATE};

/// File extensions looked at in a language folder; anything else (notes, scripts) is skipped.
pub const PROMPT_EXTENSIONS: [&str; 4] = ["wav", "flac", "mp3", "ogg"];

#[derive(Debug, Error)]
pub enum PromptError {
    #[error("cannot read prompt folder {}: {source}", dir.display())]
    Folder { dir: PathBuf, source: io::Error },
    #[error("cannot open prompt file {}: {source}", file.display())]
    Open { file: PathBuf, source: io::Error },
    #[error("prompt file {} is not audio in a format we read (wav, flac, mp3, ogg): {reason}", file.display())]
    NotAudio { file: PathBuf, reason: String },
    #[error("prompt file {} has no audio track", file.display())]
    NoAudioTrack { file: PathBuf },
    #[error("prompt file {} cannot be decoded: {reason}", file.display())]
    Decode { file: PathBuf, reason: String },
    #[error("prompt file {} is empty: it holds no audio samples", file.display())]
    Empty { file: PathBuf },
    #[error("prompt file {} cannot be resampled from {rate} Hz to 8000 Hz: {reason}", file.display())]
    Resample {
        file: PathBuf,
        rate: u32,
        reason: String,
    },
    #[error("prompt {language}/{name} is given twice: {} and {}", first.display(), second.display())]
    Duplicate {
        language: String,
        name: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("prompt path {} is not valid UTF-8", path.display())]
    NotUtf8 { path: PathBuf },
}

/// A prompt in a `PromptLibrary`; only the library that issued it can resolve it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PromptId(u32);

struct Prompt {
    language: String,
    name: String,
    file: PathBuf,
    duration: Duration,
    pcmu: Vec<[u8; FRAME_SAMPLES]>,
    pcma: Vec<[u8; FRAME_SAMPLES]>,
}

/// Every prompt of every language, ready to play. Immutable once loaded, so calls share it as
/// `Arc<PromptLibrary>` without a lock.
#[derive(Default)]
pub struct PromptLibrary {
    prompts: Vec<Prompt>,
    by_name: HashMap<(String, String), PromptId>,
}

impl std::fmt::Debug for PromptLibrary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptLibrary")
            .field("prompts", &self.prompts.len())
            .finish()
    }
}

impl PromptLibrary {
    /// An empty library, to which generated audio can be added with `add_pcm`.
    pub fn new() -> PromptLibrary {
        PromptLibrary::default()
    }

    /// Loads `dir/<lang>/NAME.{wav,flac,mp3,ogg}`. Files directly in `dir`, hidden files and
    /// other extensions are skipped; the first file that cannot be used fails the whole load,
    /// because a switch that silently skips its greeting is worse than one that does not start.
    pub fn load(dir: &Path) -> Result<PromptLibrary, PromptError> {
        let mut library = PromptLibrary::new();
        for language_dir in sorted_entries(dir)? {
            if !language_dir.is_dir() {
                continue;
            }
            let language = utf8_file_name(&language_dir)?;
            if language.starts_with('.') {
                continue;
            }
            for file in sorted_entries(&language_dir)? {
                let Some(name) = prompt_name(&file)? else {
                    continue;
                };
                if let Some(&existing) = library.by_name.get(&(language.clone(), name.clone())) {
                    return Err(PromptError::Duplicate {
                        language,
                        name,
                        first: library.file(existing).to_path_buf(),
                        second: file,
                    });
                }
                let (mono, rate) = decode_mono(&file)?;
                let pcm = resample_to_8k(&mono, rate).map_err(|reason| PromptError::Resample {
                    file: file.clone(),
                    rate,
                    reason,
                })?;
                if pcm.is_empty() {
                    return Err(PromptError::Empty { file });
                }
                library.add_pcm(&language, &name, &file, &pcm);
            }
        }
        Ok(library)
    }

    /// Adds 8 kHz mono PCM as a prompt (replacing one of the same language and name); for
    /// audio made by the program itself, such as tones, and for tests.
    pub fn add_pcm(&mut self, language: &str, name: &str, file: &Path, pcm_8k: &[i16]) -> PromptId {
        let prompt = Prompt {
            language: language.to_string(),
            name: name.to_string(),
            file: file.to_path_buf(),
            duration: Duration::from_micros(
                pcm_8k.len() as u64 * 1_000_000 / u64::from(SAMPLE_RATE),
            ),
            pcmu: encode_frames(pcm_8k, Codec::Pcmu),
            pcma: encode_frames(pcm_8k, Codec::Pcma),
        };
        let key = (prompt.language.clone(), prompt.name.clone());
        if let Some(&id) = self.by_name.get(&key) {
            if let Some(slot) = self.prompts.get_mut(id.0 as usize) {
                *slot = prompt;
                return id;
            }
        }
        let id = PromptId(self.prompts.len() as u32);
        self.prompts.push(prompt);
        self.by_name.insert(key, id);
        id
    }

    pub fn find(&self, language: &str, name: &str) -> Option<PromptId> {
        self.by_name
            .get(&(language.to_string(), name.to_string()))
            .copied()
    }

    /// The audio's own length; the last frame's silence padding is not counted.
    pub fn duration(&self, id: PromptId) -> Duration {
        self.get(id).map_or(Duration::ZERO, |p| p.duration)
    }

    /// The prompt as ready-to-send 20 ms payloads; empty for an id from another library.
    pub fn frames(&self, id: PromptId, codec: Codec) -> &[[u8; FRAME_SAMPLES]] {
        match (self.get(id), codec) {
            (Some(p), Codec::Pcmu) => &p.pcmu,
            (Some(p), Codec::Pcma) => &p.pcma,
            (None, _) => &[],
        }
    }

    pub fn languages(&self) -> Vec<String> {
        let mut languages: Vec<String> = self.prompts.iter().map(|p| p.language.clone()).collect();
        languages.sort();
        languages.dedup();
        languages
    }

    pub fn names(&self, language: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .prompts
            .iter()
            .filter(|p| p.language == language)
            .map(|p| p.name.clone())
            .collect();
        names.sort();
        names
    }

    pub fn file(&self, id: PromptId) -> &Path {
        self.get(id).map_or(Path::new(""), |p| p.file.as_path())
    }

    /// The language and name a prompt was found under (for timelines and logs).
    pub fn label(&self, id: PromptId) -> Option<(&str, &str)> {
        self.get(id).map(|p| (p.language.as_str(), p.name.as_str()))
    }

    fn get(&self, id: PromptId) -> Option<&Prompt> {
        self.prompts.get(id.0 as usize)
    }
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, PromptError> {
    let folder_error = |source| PromptError::Folder {
        dir: dir.to_path_buf(),
        source,
    };
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(folder_error)? {
        entries.push(entry.map_err(folder_error)?.path());
    }
    entries.sort();
    Ok(entries)
}

fn utf8_file_name(path: &Path) -> Result<String, PromptError> {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
        .ok_or_else(|| PromptError::NotUtf8 {
            path: path.to_path_buf(),
        })
}

/// The prompt name for a file that looks like a prompt, `None` for anything to skip.
fn prompt_name(file: &Path) -> Result<Option<String>, PromptError> {
    if !file.is_file() {
        return Ok(None);
    }
    let Some(extension) = file.extension().and_then(|e| e.to_str()) else {
        return Ok(None);
    };
    if !PROMPT_EXTENSIONS
        .iter()
        .any(|known| known.eq_ignore_ascii_case(extension))
    {
        return Ok(None);
    }
    let name = file
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or_else(|| PromptError::NotUtf8 {
            path: file.to_path_buf(),
        })?;
    if name.is_empty() || name.starts_with('.') {
        return Ok(None);
    }
    Ok(Some(name.to_string()))
}

/// Decodes the file's first audio track to mono f32 (channels averaged) at its own rate.
fn decode_mono(file: &Path) -> Result<(Vec<f32>, u32), PromptError> {
    let source = File::open(file).map_err(|source| PromptError::Open {
        file: file.to_path_buf(),
        source,
    })?;
    let stream = MediaSourceStream::new(Box::new(source), Default::default());
    let mut hint = Hint::new();
    if let Some(extension) = file.extension().and_then(|e| e.to_str()) {
        hint.with_extension(extension);
    }
    // Gapless: the encoder delay and padding an MP3's LAME tag records are cut (24 ms on the
    // test fixture), so a prompt starts on its first sound and lasts as long as its audio.
    let options = FormatOptions {
        enable_gapless: true,
        ..FormatOptions::default()
    };
    let probed = symphonia::default::get_probe()
        .format(&hint, stream, &options, &MetadataOptions::default())
        .map_err(|e| PromptError::NotAudio {
            file: file.to_path_buf(),
            reason: e.to_string(),
        })?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| PromptError::NoAudioTrack {
            file: file.to_path_buf(),
        })?;
    let track_id = track.id;
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|e| PromptError::Decode {
            file: file.to_path_buf(),
            reason: e.to_string(),
        })?;
    let decode_error = |e: SymphoniaError| PromptError::Decode {
        file: file.to_path_buf(),
        reason: e.to_string(),
    };

    let mut mono = Vec::new();
    let mut rate = track.codec_params.sample_rate;
    let mut interleaved: Option<SampleBuffer<f32>> = None;
    loop {
        let packet = match format.next_packet() {
            Ok(packet) => packet,
            Err(SymphoniaError::IoError(e)) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            // A chained stream changing its parameters: the prompt is what came before.
            Err(SymphoniaError::ResetRequired) => break,
            Err(e) => return Err(decode_error(e)),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(decoded) => decoded,
            // A corrupt packet (common at the edges of MP3 files) costs 20-odd ms, not the prompt.
            Err(SymphoniaError::DecodeError(_)) => continue,
            Err(e) => return Err(decode_error(e)),
        };
        let spec = *decoded.spec();
        rate = Some(spec.rate);
        let channels = spec.channels.count().max(1);
        let needed = decoded.capacity() as u64;
        let buffer = match &mut interleaved {
            Some(buffer) if buffer.capacity() as u64 >= needed * channels as u64 => buffer,
            _ => interleaved.insert(SampleBuffer::new(needed, spec)),
        };
        buffer.copy_interleaved_ref(decoded);
        for frame in buffer.samples().chunks_exact(channels) {
            mono.push(frame.iter().sum::<f32>() / channels as f32);
        }
    }
    let rate = rate.filter(|&r| r > 0).ok_or_else(|| PromptError::Empty {
        file: file.to_path_buf(),
    })?;
    if mono.is_empty() {
        return Err(PromptError::Empty {
            file: file.to_path_buf(),
        });
    }
    Ok((mono, rate))
}

/// Resamples mono audio to 8 kHz (returned as 16-bit PCM) with rubato's FFT resampler, whose
/// built-in low-pass keeps speech above 4 kHz from folding back as noise.
fn resample_to_8k(input: &[f32], rate: u32) -> Result<Vec<i16>, String> {
    if rate == SAMPLE_RATE {
        return Ok(input.iter().map(|&s| to_i16(s)).collect());
    }
    let mut resampler = FftFixedInOut::<f32>::new(rate as usize, SAMPLE_RATE as usize, 1024, 1)
        .map_err(|e| e.to_string())?;
    let chunk_in = resampler.input_frames_next();
    let chunk_out = resampler.output_frames_next();
    let delay = resampler.output_delay();
    let expected = ((input.len() as u64 * u64::from(SAMPLE_RATE) + u64::from(rate) / 2)
        / u64::from(rate)) as usize;

    let mut output = Vec::with_capacity(expected + delay + chunk_out);
    let mut chunk = vec![0.0f32; chunk_in];
    let mut resampled = vec![vec![0.0f32; chunk_out]];
    let mut position = 0;
    // Keep feeding (zeros past the end) until the resampler's delay has been flushed out too.
    while output.len() < expected + delay {
        let take = chunk_in.min(input.len().saturating_sub(position));
        chunk[..take].copy_from_slice(&input[position..position + take]);
        chunk[take..].fill(0.0);
        position += take;
        let (_, written) = resampler
            .process_into_buffer(&[chunk.as_slice()], &mut resampled, None)
            .map_err(|e| e.to_string())?;
        output.extend_from_slice(&resampled[0][..written]);
    }
    Ok(output
        .iter()
        .skip(delay)
        .take(expected)
        .map(|&s| to_i16(s))
        .collect())
}

fn to_i16(sample: f32) -> i16 {
    (sample * 32767.0).round().clamp(-32768.0, 32767.0) as i16
}

fn encode_frames(pcm: &[i16], codec: Codec) -> Vec<[u8; FRAME_SAMPLES]> {
    pcm.chunks(FRAME_SAMPLES)
        .map(|chunk| {
            // The short last chunk leaves the rest of the frame as encoded silence.
            let mut frame = [codec.silence(); FRAME_SAMPLES];
            codec.encode_into(chunk, &mut frame);
            frame
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_wav(path: &Path, rate: u32, channels: u16, seconds: f64, hz: f64) {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut writer = hound::WavWriter::create(path, spec).unwrap();
        let frames = (f64::from(rate) * seconds) as usize;
        for i in 0..frames {
            let t = i as f64 / f64::from(rate);
            let s = ((t * hz * std::f64::consts::TAU).sin() * 16000.0) as i16;
            for _ in 0..channels {
                writer.write_sample(s).unwrap();
            }
        }
        writer.finalize().unwrap();
    }

    fn library_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("zh")).unwrap();
        std::fs::create_dir(dir.path().join("en")).unwrap();
        dir
    }

    #[test]
    fn a_16_khz_stereo_wav_becomes_8_khz_frames_of_the_right_length() {
        let dir = library_dir();
        write_wav(&dir.path().join("zh/welcome.wav"), 16_000, 2, 2.51, 440.0);
        write_wav(&dir.path().join("en/welcome.wav"), 8_000, 1, 0.3, 440.0);
        std::fs::write(dir.path().join("zh/notes.txt"), "not a prompt").unwrap();
        std::fs::write(dir.path().join("README"), "top-level files are skipped").unwrap();

        let library = PromptLibrary::load(dir.path()).unwrap();
        assert_eq!(library.languages(), vec!["en", "zh"]);
        assert_eq!(library.names("zh"), vec!["welcome"]);
        let id = library.find("zh", "welcome").unwrap();
        let duration = library.duration(id).as_secs_f64();
        assert!((duration - 2.51).abs() <= 0.020, "duration {duration}");
        // 2.51 s = 125.5 frames: the half frame is padded with silence.
        assert_eq!(library.frames(id, Codec::Pcmu).len(), 126);
        assert_eq!(library.frames(id, Codec::Pcma).len(), 126);
        let last = library.frames(id, Codec::Pcma)[125];
        assert!(last[FRAME_SAMPLES - 10..]
            .iter()
            .all(|&b| b == Codec::Pcma.silence()));
        assert_eq!(library.file(id), dir.path().join("zh/welcome.wav"));
        assert_eq!(library.label(id), Some(("zh", "welcome")));
        assert!(library.find("zh", "goodbye").is_none());

        let en = library.find("en", "welcome").unwrap();
        assert_eq!(library.frames(en, Codec::Pcmu).len(), 15);
        assert_eq!(library.duration(en), Duration::from_millis(300));
    }

    #[test]
    fn the_resampled_tone_keeps_its_pitch_and_level() {
        let dir = library_dir();
        write_wav(&dir.path().join("en/tone.wav"), 44_100, 1, 1.0, 1000.0);
        let library = PromptLibrary::load(dir.path()).unwrap();
        let id = library.find("en", "tone").unwrap();
        let pcm: Vec<i16> = library
            .frames(id, Codec::Pcmu)
            .iter()
            .flatten()
            .map(|&b| crate::media::g711::ulaw_decode(b))
            .collect();
        // 1 kHz at 8 kHz is 8 samples per cycle: count rising zero crossings in the middle.
        let middle = &pcm[2000..6000];
        let crossings = middle.windows(2).filter(|w| w[0] < 0 && w[1] >= 0).count();
        assert!((495..=505).contains(&crossings), "{crossings} crossings");
        let peak = middle.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!((14_500..=17_500).contains(&peak), "peak {peak}");
    }

    /// A library of one committed fixture (`tests/fixtures/prompts/make.sh` made them: a
    /// 1 kHz tone at half scale in FLAC, MP3 and Ogg Vorbis at three rates and three lengths),
    /// loaded alone so that a format the build cannot read fails only its own test.
    fn library_of_fixture(file: &str) -> PromptLibrary {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/prompts/en")
            .join(file);
        let dir = library_dir();
        std::fs::copy(&fixture, dir.path().join("en").join(file)).unwrap();
        PromptLibrary::load(dir.path()).unwrap_or_else(|e| panic!("{file} did not load: {e}"))
    }

    /// The prompt's audio as the caller gets it: its PCMU frames decoded back to 8 kHz PCM.
    fn heard(library: &PromptLibrary, name: &str) -> Vec<i16> {
        let id = library
            .find("en", name)
            .unwrap_or_else(|| panic!("no prompt en/{name}: {:?}", library.names("en")));
        library
            .frames(id, Codec::Pcmu)
            .iter()
            .flatten()
            .map(|&b| crate::media::g711::ulaw_decode(b))
            .collect()
    }

    /// The share of the window's energy at `hz` (Goertzel on an 8 kHz window whose length is a
    /// whole number of the tone's cycles): 1.0 for a pure tone at `hz`, near 0 for any other.
    fn share_of_energy_at(window: &[i16], hz: f64) -> f64 {
        let n = window.len() as f64;
        let coefficient = 2.0 * (std::f64::consts::TAU * hz / f64::from(SAMPLE_RATE)).cos();
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &x in window {
            let s0 = f64::from(x) + coefficient * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        let power = s1 * s1 + s2 * s2 - coefficient * s1 * s2;
        let energy: f64 = window.iter().map(|&x| f64::from(x).powi(2)).sum();
        2.0 * power / (n * energy)
    }

    /// Checks one fixture: its length to within half a 20 ms frame, and 400 ms from its middle
    /// carrying the 1 kHz tone at half scale (16 384) — so a wrong rate, a lost decoder or
    /// channels added instead of mixed each fail here. Half a frame, because an MP3 decoded
    /// without its LAME tag's trimming is 24 ms too long (encoder delay and padding), while
    /// the Ogg Vorbis fixture decodes 8 ms (128 samples at 16 kHz) long even when trimmed.
    fn assert_tone_prompt(library: &PromptLibrary, name: &str, seconds: f64) {
        let id = library.find("en", name).unwrap();
        let duration = library.duration(id).as_secs_f64();
        assert!(
            (duration - seconds).abs() <= 0.010,
            "en/{name} lasts {duration} s, the file holds {seconds} s"
        );
        let pcm = heard(library, name);
        let frames = library.frames(id, Codec::Pcmu).len();
        assert_eq!(frames, pcm.len() / FRAME_SAMPLES);
        assert_eq!(
            frames,
            library.frames(id, Codec::Pcma).len(),
            "en/{name}: PCMA and PCMU differ in length"
        );
        let middle = pcm.len() / 2;
        let window = &pcm[middle - 1600..middle + 1600];
        let share = share_of_energy_at(window, 1000.0);
        assert!(
            share >= 0.95,
            "en/{name}: only {share:.3} of the energy is at 1 kHz"
        );
        // 1 kHz at 8 kHz: 400 cycles in 400 ms, each with one rising zero crossing.
        let crossings = window.windows(2).filter(|w| w[0] < 0 && w[1] >= 0).count();
        assert!(
            (399..=401).contains(&crossings),
            "en/{name}: {crossings} crossings in 400 ms"
        );
        let rms = (window.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / window.len() as f64)
            .sqrt();
        let amplitude = rms * std::f64::consts::SQRT_2;
        assert!(
            (15_000.0..=17_800.0).contains(&amplitude),
            "en/{name}: the tone's amplitude is {amplitude:.0}, the file's is 16 384"
        );
    }

    #[test]
    fn a_flac_prompt_at_44_1_khz_plays_its_tone_at_8_khz_for_its_length() {
        let library = library_of_fixture("tone_44k1_mono.flac");
        assert_tone_prompt(&library, "tone_44k1_mono", 1.0);
    }

    #[test]
    fn an_mp3_prompt_at_48_khz_stereo_plays_its_tone_at_8_khz_for_its_length() {
        let library = library_of_fixture("tone_48k_stereo.mp3");
        assert_tone_prompt(&library, "tone_48k_stereo", 1.2);
    }

    #[test]
    fn an_ogg_vorbis_prompt_at_16_khz_plays_its_tone_at_8_khz_for_its_length() {
        let library = library_of_fixture("tone_16k_mono.ogg");
        assert_tone_prompt(&library, "tone_16k_mono", 0.8);
    }

    #[test]
    fn a_text_file_named_wav_is_refused_with_its_name() {
        let dir = library_dir();
        let file = dir.path().join("zh/menu.wav");
        std::fs::write(&file, "this is not audio at all, just some words").unwrap();
        let error = PromptLibrary::load(dir.path()).unwrap_err();
        assert!(matches!(error, PromptError::NotAudio { .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.contains("menu.wav"), "{message}");
        assert!(message.contains("not audio"), "{message}");
    }

    #[test]
    fn a_wav_without_samples_is_refused_as_empty() {
        let dir = library_dir();
        write_wav(&dir.path().join("en/silent.wav"), 8000, 1, 0.0, 440.0);
        let error = PromptLibrary::load(dir.path()).unwrap_err();
        assert!(matches!(error, PromptError::Empty { .. }), "{error:?}");
        assert!(error.to_string().contains("silent.wav"));
    }

    #[test]
    fn the_same_prompt_in_two_formats_is_refused() {
        let dir = library_dir();
        write_wav(&dir.path().join("en/menu.wav"), 8000, 1, 0.1, 440.0);
        write_wav(&dir.path().join("en/menu.WAV"), 8000, 1, 0.1, 440.0);
        let error = PromptLibrary::load(dir.path()).unwrap_err();
        assert!(matches!(error, PromptError::Duplicate { .. }), "{error:?}");
    }

    #[test]
    fn a_missing_folder_is_named_in_the_error() {
        let error = PromptLibrary::load(Path::new("/nonexistent/prompts")).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/prompts"));
    }

    #[test]
    fn unknown_ids_resolve_to_nothing_instead_of_panicking() {
        let library = PromptLibrary::new();
        let mut other = PromptLibrary::new();
        let id = other.add_pcm("en", "beep", Path::new("beep"), &[0; 400]);
        assert!(library.frames(id, Codec::Pcmu).is_empty());
        assert_eq!(library.duration(id), Duration::ZERO);
        assert_eq!(library.file(id), Path::new(""));
        assert_eq!(other.frames(id, Codec::Pcmu).len(), 3);
    }

    #[test]
    fn the_library_can_be_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<PromptLibrary>();
    }
}
