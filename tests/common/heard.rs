//! What the caller heard, by exact prompt frames. The switch decodes every prompt once into
//! 20 ms G.711 frames and sends those bytes unchanged, so a packet the caller received either
//! is a known prompt's frame N or is not a prompt at all. The tests load the same prompts dir
//! as the switch under test (through the `hotline` library, so the expected frames are the
//! switch's own) and read the caller's RTP as a list of prompts heard, in order.
//!
//! A prompt is "heard" as a run of packets that are its frames in order: frame i + d for a
//! packet d sequence numbers later (so a lost packet does not end the run). Frames made of one
//! repeated byte (silence, DC) identify nothing and never start a run, but may continue one.
//! A frame found in several prompts (the same beep in two languages) starts a run that keeps
//! every prompt consistent with all its frames; the run names them all.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use hotline::media::prompt::PromptLibrary;
use hotline::media::{Codec, FRAME_SAMPLES};

/// The most packets a run may skip (lost, or noise in between) and still continue: one second.
const MAX_GAP: u16 = 50;

/// One RTP packet as the caller received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedRtp {
    pub payload_type: u8,
    pub seq: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub payload: Vec<u8>,
    pub at: Instant,
}

impl ReceivedRtp {
    /// An RTP version 2 packet (RFC 3550 5.1: CSRCs, header extension and padding skipped);
    /// None for anything else.
    pub fn parse(packet: &[u8], at: Instant) -> Option<ReceivedRtp> {
        if packet.len() < 12 || packet[0] >> 6 != 2 {
            return None;
        }
        let mut start = 12 + 4 * usize::from(packet[0] & 0x0f);
        if packet[0] & 0x10 != 0 {
            let words = u16::from_be_bytes([*packet.get(start + 2)?, *packet.get(start + 3)?]);
            start += 4 + 4 * usize::from(words);
        }
        let mut end = packet.len();
        if packet[0] & 0x20 != 0 {
            end = end.checked_sub(usize::from(*packet.last()?))?;
        }
        Some(ReceivedRtp {
            payload_type: packet[1] & 0x7f,
            seq: u16::from_be_bytes([packet[2], packet[3]]),
            timestamp: u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]),
            ssrc: u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]),
            payload: packet.get(start..end)?.to_vec(),
            at,
        })
    }

    /// The payload as linear samples, for G.711 (payload types 0 and 8); empty otherwise.
    pub fn samples(&self) -> Vec<i16> {
        let decode: fn(u8) -> i16 = match self.payload_type {
            0 => super::ulaw_to_linear,
            8 => super::alaw_to_linear,
            _ => return Vec::new(),
        };
        self.payload.iter().map(|&b| decode(b)).collect()
    }
}

type Frame = [u8; FRAME_SAMPLES];

/// A prompt's frames in both laws, under a label such as "en/main_menu".
#[derive(Debug, Clone)]
pub struct KnownPrompt {
    pub label: String,
    pub pcmu: Vec<Frame>,
    pub pcma: Vec<Frame>,
}

impl KnownPrompt {
    fn frames(&self, payload_type: u8) -> &[Frame] {
        match payload_type {
            0 => &self.pcmu,
            8 => &self.pcma,
            _ => &[],
        }
    }
}

/// A prompt heard: the labels of every prompt whose frames these packets are (one, unless two
/// prompts are the same audio), which of its frames arrived, and where in the packet list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeardPrompt {
    pub labels: Vec<String>,
    /// The prompt's first and last frame heard (0-based).
    pub first_frame: usize,
    pub last_frame: usize,
    /// Packets that were this prompt's frames.
    pub frames: usize,
    pub payload_type: u8,
    /// Indices of the run's first and last packet in the received list.
    pub first_packet: usize,
    pub last_packet: usize,
}

impl HeardPrompt {
    /// "en/main_menu", or "en/beep or zh/beep" for audio shipped under two names.
    pub fn label(&self) -> String {
        self.labels.join(" or ")
    }
}

/// Every prompt's frames, indexed by their bytes.
pub struct PromptFrames {
    prompts: Vec<KnownPrompt>,
    index: HashMap<(u8, Frame), Vec<(usize, usize)>>,
}

impl PromptFrames {
    pub fn new(prompts: Vec<KnownPrompt>) -> PromptFrames {
        let mut index: HashMap<(u8, Frame), Vec<(usize, usize)>> = HashMap::new();
        for (p, prompt) in prompts.iter().enumerate() {
            for payload_type in [0u8, 8] {
                for (i, frame) in prompt.frames(payload_type).iter().enumerate() {
                    if frame.iter().all(|&b| b == frame[0]) {
                        continue;
                    }
                    index
                        .entry((payload_type, *frame))
                        .or_default()
                        .push((p, i));
                }
            }
        }
        PromptFrames { prompts, index }
    }

    /// Every prompt of a library, labelled "language/name".
    pub fn of_library(library: &PromptLibrary) -> PromptFrames {
        let mut prompts = Vec::new();
        for language in library.languages() {
            for name in library.names(&language) {
                let id = library
                    .find(&language, &name)
                    .expect("a name the library listed");
                prompts.push(KnownPrompt {
                    label: format!("{language}/{name}"),
                    pcmu: library.frames(id, Codec::Pcmu).to_vec(),
                    pcma: library.frames(id, Codec::Pcma).to_vec(),
                });
            }
        }
        PromptFrames::new(prompts)
    }

    /// The prompts of the config dir a switch under test runs on (`<dir>/prompts`), decoded
    /// by the switch's own code.
    pub fn load(config_dir: &Path) -> PromptFrames {
        let library = PromptLibrary::load(&config_dir.join("prompts"))
            .unwrap_or_else(|e| panic!("load the prompts the switch plays: {e}"));
        PromptFrames::of_library(&library)
    }

    /// How many frames a prompt has (in either law: the same count).
    pub fn frame_count(&self, label: &str) -> usize {
        self.prompts
            .iter()
            .find(|p| p.label == label)
            .map(|p| p.pcma.len())
            .unwrap_or_else(|| panic!("no prompt {label}"))
    }

    /// The prompt's frames in a payload type's law (for building test streams).
    pub fn frames(&self, label: &str, payload_type: u8) -> &[Frame] {
        self.prompts
            .iter()
            .find(|p| p.label == label)
            .map(|p| p.frames(payload_type))
            .unwrap_or_else(|| panic!("no prompt {label}"))
    }

    /// Every run of prompt frames in the packets, in arrival order (however short).
    pub fn runs(&self, packets: &[ReceivedRtp]) -> Vec<HeardPrompt> {
        let mut runs = Vec::new();
        let mut current: Option<Run> = None;
        // Packets before this belong to an earlier run.
        let mut floor = 0;
        for (n, packet) in packets.iter().enumerate() {
            let Ok(frame) = Frame::try_from(packet.payload.as_slice()) else {
                continue;
            };
            if let Some(run) = current.as_mut() {
                if run.extend(&self.prompts, packet, &frame, n) {
                    continue;
                }
            }
            let Some(found) = self.index.get(&(packet.payload_type, frame)) else {
                // Not a prompt frame (silence, noise, an agent's voice): a run goes on past it.
                continue;
            };
            if let Some(run) = current.take() {
                let run = run.finish(&self.prompts, packets, floor);
                floor = run.last_packet + 1;
                runs.push(run);
            }
            current = Some(Run {
                positions: found.iter().map(|&(p, i)| (p, i, i)).collect(),
                payload_type: packet.payload_type,
                last_seq: packet.seq,
                frames: 1,
                first_packet: n,
                last_packet: n,
            });
        }
        if let Some(run) = current {
            runs.push(run.finish(&self.prompts, packets, floor));
        }
        runs
    }

    /// The prompts heard, in order: runs of at least `min_frames` frames, with a prompt
    /// resumed after a stray frame of another taken as one hearing.
    pub fn heard(&self, packets: &[ReceivedRtp], min_frames: usize) -> Vec<HeardPrompt> {
        let mut heard: Vec<HeardPrompt> = Vec::new();
        for run in self.runs(packets) {
            if run.frames < min_frames {
                continue;
            }
            match heard.last_mut() {
                Some(last) if last.labels == run.labels && run.first_frame > last.last_frame => {
                    last.last_frame = run.last_frame;
                    last.frames += run.frames;
                    last.last_packet = run.last_packet;
                }
                _ => heard.push(run),
            }
        }
        heard
    }

    /// The labels of `heard`, in order.
    pub fn labels(&self, packets: &[ReceivedRtp], min_frames: usize) -> Vec<String> {
        self.heard(packets, min_frames)
            .iter()
            .map(HeardPrompt::label)
            .collect()
    }
}

/// A run being matched: every (prompt, current frame, first frame) consistent with it so far.
struct Run {
    positions: Vec<(usize, usize, usize)>,
    payload_type: u8,
    last_seq: u16,
    frames: usize,
    first_packet: usize,
    last_packet: usize,
}

impl Run {
    /// Whether the packet is the next frame (allowing for lost packets) of a prompt the run
    /// may be; keeps only the prompts it may still be.
    fn extend(
        &mut self,
        prompts: &[KnownPrompt],
        packet: &ReceivedRtp,
        frame: &Frame,
        n: usize,
    ) -> bool {
        let step = packet.seq.wrapping_sub(self.last_seq);
        if packet.payload_type != self.payload_type || step == 0 || step > MAX_GAP {
            return false;
        }
        let next: Vec<(usize, usize, usize)> = self
            .positions
            .iter()
            .map(|&(p, i, first)| (p, i + usize::from(step), first))
            .filter(|&(p, i, _)| prompts[p].frames(self.payload_type).get(i) == Some(frame))
            .collect();
        if next.is_empty() {
            return false;
        }
        self.positions = next;
        self.last_seq = packet.seq;
        self.frames += 1;
        self.last_packet = n;
        true
    }

    /// The run as heard. A run starts at a frame that identifies something, so the prompt's
    /// frames of one repeated byte just before it (its leading silence) are taken back in
    /// when the packets before the run, down to `floor`, are exactly those frames.
    fn finish(self, prompts: &[KnownPrompt], packets: &[ReceivedRtp], floor: usize) -> HeardPrompt {
        let mut labels: Vec<String> = self
            .positions
            .iter()
            .map(|&(p, _, _)| prompts[p].label.clone())
            .collect();
        labels.sort();
        labels.dedup();
        let (prompt, last_frame, mut first_frame) = self.positions[0];
        let frames = prompts[prompt].frames(self.payload_type);
        let (mut first_packet, mut count) = (self.first_packet, self.frames);
        while first_frame > 0 && first_packet > floor {
            let (before, at) = (&packets[first_packet - 1], &packets[first_packet]);
            if before.payload_type != self.payload_type
                || at.seq.wrapping_sub(before.seq) != 1
                || before.payload != frames[first_frame - 1]
            {
                break;
            }
            first_frame -= 1;
            first_packet -= 1;
            count += 1;
        }
        HeardPrompt {
            labels,
            first_frame,
            last_frame,
            frames: count,
            payload_type: self.payload_type,
            first_packet,
            last_packet: self.last_packet,
        }
    }
}

/// Indices of the packets that are a tone of `hz` (see `tone_share`): a far end's voice.
pub fn tone_packets(packets: &[ReceivedRtp], hz: f64) -> Vec<usize> {
    packets
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            let samples = p.samples();
            !samples.is_empty() && super::tone_share(&samples, hz) > 0.6
        })
        .map(|(n, _)| n)
        .collect()
}
