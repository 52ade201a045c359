//! Where a leg's outgoing sound comes from: silence, a playlist (a prompt once or looped,
//! carrying the switch's `PlayId`), another leg (relayed on arrival), or a mix of another
//! leg and a playlist (whisper, later barge), summed in PCM on the tick.
//!
//! Owns the source value and the playlist's position; what each source sends is decided
//! by the leg (`leg.rs`) on the tick and on the other leg's arrivals.

use super::prompt::{PromptId, PromptLibrary};
use super::{Codec, PlayId, FRAME_SAMPLES};
use crate::sip::CallId;

/// One play of a prompt: once, or over and over (music on hold) until replaced or stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Playlist {
    pub prompt: PromptId,
    pub play: PlayId,
    pub looping: bool,
    next_frame: usize,
}

/// One tick of a playlist: the frame to send (silence pads a prompt that ran short) and
/// whether the play ended with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaylistFrame<'a> {
    pub frame: &'a [u8; FRAME_SAMPLES],
    pub ended: bool,
}

impl Playlist {
    pub fn new(prompt: PromptId, play: PlayId, looping: bool) -> Playlist {
        Playlist {
            prompt,
            play,
            looping,
            next_frame: 0,
        }
    }

    /// The next frame in `codec`; a looped prompt starts again after its last frame and never
    /// ends by itself. `silence` is returned for a prompt with no frames (not in `prompts`).
    pub fn next<'a>(
        &mut self,
        prompts: &'a PromptLibrary,
        codec: Codec,
        silence: &'a [u8; FRAME_SAMPLES],
    ) -> PlaylistFrame<'a> {
        let frames = prompts.frames(self.prompt, codec);
        let frame = frames.get(self.next_frame).unwrap_or(silence);
        self.next_frame += 1;
        let mut ended = self.next_frame >= frames.len();
        if ended && self.looping {
            self.next_frame = 0;
            ended = frames.is_empty();
        }
        PlaylistFrame { frame, ended }
    }
}

/// A leg's outgoing sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Silence,
    Playlist(Playlist),
    /// What the other leg receives, relayed as it arrives.
    Leg(CallId),
    /// The other leg and a playlist, summed on the tick.
    Mix {
        leg: CallId,
        playlist: Playlist,
    },
}

impl Source {
    /// The play under way, if any.
    pub fn playlist(&self) -> Option<&Playlist> {
        match self {
            Source::Playlist(playlist) | Source::Mix { playlist, .. } => Some(playlist),
            Source::Silence | Source::Leg(_) => None,
        }
    }

    /// The leg whose packets this source relays as they arrive.
    pub fn relays(&self) -> Option<CallId> {
        match self {
            Source::Leg(leg) => Some(*leg),
            _ => None,
        }
    }

    /// The leg whose audio this source mixes in on the tick.
    pub fn mixes(&self) -> Option<CallId> {
        match self {
            Source::Mix { leg, .. } => Some(*leg),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn library() -> (PromptLibrary, PromptId) {
        let mut library = PromptLibrary::new();
        let beep = library.add_pcm("en", "beep", Path::new("beep.wav"), &[1000; 480]);
        (library, beep)
    }

    #[test]
    fn a_play_ends_with_its_last_frame() {
        let (library, beep) = library();
        let silence = [0xFF; FRAME_SAMPLES];
        let mut playlist = Playlist::new(beep, PlayId(4), false);
        let frames = library.frames(beep, Codec::Pcmu);
        let ended: Vec<bool> = (0..3)
            .map(|i| {
                let next = playlist.next(&library, Codec::Pcmu, &silence);
                assert_eq!(next.frame, &frames[i]);
                next.ended
            })
            .collect();
        assert_eq!(ended, vec![false, false, true]);
    }

    #[test]
    fn a_loop_starts_again_and_never_ends_by_itself() {
        let (library, beep) = library();
        let silence = [0xD5; FRAME_SAMPLES];
        let mut playlist = Playlist::new(beep, PlayId(1), true);
        let frames = library.frames(beep, Codec::Pcma);
        for i in 0..10 {
            let next = playlist.next(&library, Codec::Pcma, &silence);
            assert_eq!(next.frame, &frames[i % 3], "tick {i}");
            assert!(!next.ended, "tick {i}");
        }
    }

    #[test]
    fn a_prompt_the_library_does_not_hold_ends_at_once_even_looped() {
        let (_, beep) = library();
        let empty = PromptLibrary::new();
        let silence = [0xFF; FRAME_SAMPLES];
        for looping in [false, true] {
            let mut playlist = Playlist::new(beep, PlayId(2), looping);
            let next = playlist.next(&empty, Codec::Pcmu, &silence);
            assert_eq!((next.frame, next.ended), (&silence, true));
        }
    }

    #[test]
    fn sources_say_what_they_relay_mix_and_play() {
        let (_, beep) = library();
        let playlist = Playlist::new(beep, PlayId(9), false);
        assert_eq!(Source::Leg(CallId(2)).relays(), Some(CallId(2)));
        let mix = Source::Mix {
            leg: CallId(3),
            playlist,
        };
        assert_eq!(
            (mix.relays(), mix.mixes(), mix.playlist().map(|p| p.play)),
            (None, Some(CallId(3)), Some(PlayId(9)))
        );
        assert_eq!(Source::Silence.playlist(), None);
    }
}
