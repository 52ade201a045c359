//! STUB
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
#[derive(Debug, Clone)]
pub struct ConfigError {
    pub file: PathBuf,
    pub key: String,
    pub message: String,
}
impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{}", self.message)
    }
}
#[derive(Debug, Clone)]
pub struct Config {
    pub dir: PathBuf,
    pub dialplan: Dialplan,
    pub hardware: Hardware,
}
pub fn load(_dir: &Path) -> Result<Config, Vec<ConfigError>> {
    todo!()
}
#[derive(Debug, Clone)]
pub struct Standards {
    pub answer_within_rings: u32,
    pub ring_cadence: RingCadence,
    pub answer_after_rings: u32,
    pub greeting_max: Duration,
    pub max_calls: Option<u32>,
}
#[derive(Debug, Clone, Copy)]
pub struct RingCadence {
    pub on: Duration,
    pub off: Duration,
}
impl RingCadence {
    pub fn period(&self) -> Duration {
        self.on + self.off
    }
}
#[derive(Debug, Clone)]
pub struct Dialplan {
    pub standards: Standards,
    pub hotlines: Vec<Hotline>,
    pub flows: BTreeMap<String, Flow>,
}
impl Dialplan {
    pub fn hotline_for(&self, _u: &str) -> Option<&Hotline> {
        todo!()
    }
}
#[derive(Debug, Clone)]
pub struct Hotline {
    pub name: String,
    pub numbers: Vec<String>,
    pub language: String,
    pub entry: Entry,
}
#[derive(Debug, Clone)]
pub struct BusinessHours;
impl BusinessHours {
    pub fn is_open(&self, _at: jiff::Timestamp) -> bool {
        todo!()
    }
}
#[derive(Debug, Clone)]
pub enum Entry {
    Flow(String),
    Hours {
        hours: BusinessHours,
        open: String,
        closed: String,
    },
}
#[derive(Debug, Clone)]
pub struct Flow {
    pub name: String,
    pub steps: Vec<Step>,
}
#[derive(Debug, Clone)]
pub enum Step {
    Play { prompt: String, greeting: bool },
    Menu(Menu),
    Collect(Collect),
    Language(String),
    Queue(String),
    Goto(String),
    Hangup { prompt: Option<String> },
}
#[derive(Debug, Clone)]
pub struct Menu {
    pub name: String,
    pub prompt: String,
    pub choices: BTreeMap<char, Action>,
    pub timeout: Duration,
    pub tries: u32,
    pub invalid_prompt: Option<String>,
    pub no_input_prompt: Option<String>,
    pub on_failure: Action,
}
#[derive(Debug, Clone)]
pub struct Collect {
    pub name: String,
    pub prompt: String,
    pub min_digits: u32,
    pub max_digits: u32,
    pub terminator: Option<char>,
    pub timeout: Duration,
    pub tries: u32,
    pub invalid_prompt: Option<String>,
    pub then: Action,
}
#[derive(Debug, Clone)]
pub enum Action {
    Flow(String),
    Queue(String),
    Language { language: String, flow: String },
    Repeat,
    Hangup { prompt: Option<String> },
}
#[derive(Debug, Clone)]
pub struct TrunkPeer;
#[derive(Debug, Clone)]
pub struct Hardware {
    pub trunks: Vec<TrunkPeer>,
}
impl Hardware {
    pub fn trusted(&self) -> Vec<(IpAddr, u8)> {
        todo!()
    }
}
pub fn parse_duration(_s: &str) -> Result<Duration, String> {
    todo!()
}
pub fn summary(_c: &Config) -> String {
    todo!()
}
pub trait PromptCatalog {
    fn duration(&self, language: &str, name: &str) -> Option<Duration>;
}
pub fn check_prompts(_c: &Config, _cat: &dyn PromptCatalog) -> Vec<ConfigError> {
    todo!()
}
