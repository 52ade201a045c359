//! STUB
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    Pcmu,
    Pcma,
}
pub mod prompt {
    use super::*;
    pub struct PromptLibrary;
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct PromptId(u32);
    #[derive(Debug)]
    pub struct PromptError;
    impl std::fmt::Display for PromptError {
        fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "x")
        }
    }
    impl PromptLibrary {
        pub fn load(_dir: &Path) -> Result<PromptLibrary, PromptError> {
            todo!()
        }
        pub fn find(&self, _l: &str, _n: &str) -> Option<PromptId> {
            todo!()
        }
        pub fn duration(&self, _id: PromptId) -> Duration {
            todo!()
        }
        pub fn frames(&self, _id: PromptId, _c: Codec) -> &[[u8; 160]] {
            todo!()
        }
        pub fn languages(&self) -> Vec<String> {
            todo!()
        }
        pub fn names(&self, _l: &str) -> Vec<String> {
            todo!()
        }
        pub fn file(&self, _id: PromptId) -> &Path {
            todo!()
        }
    }
}
pub mod session {
    use super::prompt::*;
    use super::*;
    pub struct MediaSession;
    #[derive(Debug)]
    pub enum MediaEvent {
        Dtmf { digit: char, duration_ms: u32 },
        PromptFinished { prompt: PromptId, interrupted: bool },
    }
    impl MediaSession {
        pub fn new(_c: Codec, _pt: u8, _te: Option<u8>, _p: Arc<PromptLibrary>) -> Self {
            todo!()
        }
        pub fn play(&mut self, _p: PromptId) {
            todo!()
        }
        pub fn stop(&mut self) {
            todo!()
        }
        pub fn on_tick(&mut self) -> &[u8] {
            todo!()
        }
        pub fn on_rtp(&mut self, _p: &[u8]) {
            todo!()
        }
        pub fn poll_event(&mut self) -> Option<MediaEvent> {
            todo!()
        }
    }
}
