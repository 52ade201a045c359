//! Automatic call distribution: the agents and the queues, as state and arithmetic.
//!
//! Owns each agent's state (logged out, ready, ringing, talking, wrap-up, not ready), who is
//! waiting in which queue and in what order (priority first, then arrival), which ready agent
//! a strategy picks next, and the expected wait a caller is told. It knows nothing of SIP or
//! media: the switch asks it questions and tells it what happened.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use crate::config::{Hardware, Phone, Strategy};
use crate::sip::{Algorithm, CallId, PhoneCredentials};

/// How many recent answers the expected wait is averaged over.
const RECENT_WAITS: usize = 20;
/// The expected wait per place in line before a queue has any history: the average speed of
/// answer the centre aims for (STANDARDS.md S4).
const DEFAULT_WAIT_PER_POSITION: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentState {
    LoggedOut,
    Ready,
    /// Reserved for one offered call.
    Ringing {
        caller: CallId,
    },
    Talking {
        caller: CallId,
    },
    WrapUp {
        until: Instant,
    },
    NotReady {
        reason: String,
    },
}

impl AgentState {
    pub fn name(&self) -> String {
        match self {
            AgentState::LoggedOut => "logged out".into(),
            AgentState::Ready => "ready".into(),
            AgentState::Ringing { .. } => "ringing".into(),
            AgentState::Talking { .. } => "talking".into(),
            AgentState::WrapUp { .. } => "wrap-up".into(),
            AgentState::NotReady { reason } => format!("not ready ({reason})"),
        }
    }
}

/// Who an agent is, from the desk-phone inventory.
#[derive(Debug, Clone)]
pub struct AgentSpec {
    pub id: String,
    pub name: String,
    pub extension: String,
    /// The SIP user of the agent's phone.
    pub user: String,
    pub skills: BTreeSet<String>,
    pub login_on_register: bool,
}

impl From<&Phone> for AgentSpec {
    fn from(phone: &Phone) -> AgentSpec {
        AgentSpec {
            id: phone.agent.id.clone(),
            name: phone.agent.name.clone(),
            extension: phone.extension.clone(),
            user: phone.user.clone(),
            skills: phone.skills.iter().cloned().collect(),
            login_on_register: phone.login_on_register,
        }
    }
}

/// What the registrar needs to know of each phone to check its digest answers.
pub fn phone_credentials(phones: &[Phone]) -> Vec<PhoneCredentials> {
    phones
        .iter()
        .map(|phone| PhoneCredentials {
            user: phone.user.clone(),
            password: phone.password.clone(),
            ha1_md5: phone.ha1_md5.clone(),
            ha1_sha256: phone.ha1_sha256.clone(),
        })
        .collect()
}

/// The registrar's digest algorithms, in the order the config offers them.
pub fn digest_algorithms(hardware: &Hardware) -> Vec<Algorithm> {
    hardware
        .digest_algorithms
        .iter()
        .map(|name| match name.as_str() {
            "SHA-256" => Algorithm::Sha256,
            _ => Algorithm::Md5,
        })
        .collect()
}

#[derive(Debug)]
pub struct Agent {
    pub spec: AgentSpec,
    pub state: AgentState,
    pub registered: bool,
    /// Since when the agent has been free (for longest-idle).
    pub idle_since: Instant,
    pub calls_taken: u32,
    /// The phone refused an offer: no offer before this (the queue's `retry_after_refusal`).
    pub resting_until: Option<Instant>,
    /// Offers refused since the agent last answered one.
    pub refusals_in_a_row: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Waiting {
    caller: CallId,
    priority: u32,
    entered: Instant,
    /// Arrival order among equal priorities.
    seq: u64,
    /// Put back at the front (lost their agent): before everyone not put back.
    front: bool,
}

#[derive(Debug, Default)]
struct QueueLine {
    waiting: Vec<Waiting>,
    recent_waits: VecDeque<Duration>,
    /// Round-robin: the agent id offered last.
    last_offered: Option<String>,
}

#[derive(Debug, Default)]
pub struct Acd {
    agents: BTreeMap<String, Agent>,
    lines: BTreeMap<String, QueueLine>,
    arrivals: u64,
}

impl Acd {
    pub fn new(agents: Vec<AgentSpec>, now: Instant) -> Acd {
        Acd {
            agents: agents
                .into_iter()
                .map(|spec| {
                    let agent = Agent {
                        spec,
                        state: AgentState::LoggedOut,
                        registered: false,
                        idle_since: now,
                        calls_taken: 0,
                        resting_until: None,
                        refusals_in_a_row: 0,
                    };
                    (agent.spec.id.clone(), agent)
                })
                .collect(),
            lines: BTreeMap::new(),
            arrivals: 0,
        }
    }

    pub fn agent(&self, id: &str) -> Option<&Agent> {
        self.agents.get(id)
    }

    pub fn agents(&self) -> impl Iterator<Item = &Agent> {
        self.agents.values()
    }

    pub fn agent_by_user(&self, user: &str) -> Option<&Agent> {
        self.agents.values().find(|a| a.spec.user == user)
    }

    pub fn set_state(&mut self, id: &str, state: AgentState, now: Instant) {
        if let Some(agent) = self.agents.get_mut(id) {
            let was_busy = matches!(
                agent.state,
                AgentState::Talking { .. } | AgentState::WrapUp { .. } | AgentState::Ringing { .. }
            );
            if state == AgentState::Ready && (was_busy || agent.state != AgentState::Ready) {
                // Idle time for longest-idle counts from when the agent became free.
                if !matches!(agent.state, AgentState::Ringing { .. }) {
                    agent.idle_since = now;
                }
            }
            if matches!(state, AgentState::Talking { .. }) {
                agent.calls_taken += 1;
                agent.refusals_in_a_row = 0;
            }
            if !matches!(state, AgentState::Ready | AgentState::Ringing { .. }) {
                // A state the agent chose (or a call) starts afresh.
                agent.refusals_in_a_row = 0;
                agent.resting_until = None;
            }
            agent.state = state;
        }
    }

    /// The phone's registration changed. Returns true when the agent became ready by it.
    pub fn set_registered(&mut self, user: &str, registered: bool, now: Instant) -> bool {
        let Some(agent) = self.agents.values_mut().find(|a| a.spec.user == user) else {
            return false;
        };
        agent.registered = registered;
        if registered && agent.spec.login_on_register && agent.state == AgentState::LoggedOut {
            agent.state = AgentState::Ready;
            agent.idle_since = now;
            return true;
        }
        false
    }

    /// Wrap-ups that end by `now` make their agents ready; returns who.
    pub fn end_wrap_ups(&mut self, now: Instant) -> Vec<String> {
        let mut ready = Vec::new();
        for agent in self.agents.values_mut() {
            if let AgentState::WrapUp { until } = agent.state {
                if until <= now {
                    agent.state = AgentState::Ready;
                    agent.idle_since = now;
                    ready.push(agent.spec.id.clone());
                }
            }
        }
        ready
    }

    pub fn next_wrap_up_end(&self) -> Option<Instant> {
        self.agents
            .values()
            .filter_map(|a| match a.state {
                AgentState::WrapUp { until } => Some(until),
                _ => None,
            })
            .min()
    }

    /// The agent's phone refused an offer at `now`: no offers until `now + rest`; after
    /// `pause_after` refusals in a row (0: never) the agent is set not ready. Returns whether
    /// the agent was paused.
    pub fn refused(&mut self, id: &str, now: Instant, rest: Duration, pause_after: u32) -> bool {
        let Some(agent) = self.agents.get_mut(id) else {
            return false;
        };
        agent.refusals_in_a_row += 1;
        let refusals = agent.refusals_in_a_row;
        if pause_after > 0 && refusals >= pause_after {
            self.set_state(
                id,
                AgentState::NotReady {
                    reason: format!("refused {refusals} offers"),
                },
                now,
            );
            return true;
        }
        agent.resting_until = Some(now + rest);
        false
    }

    /// Rests after a refusal that end by `now` are over; returns whether any ended.
    pub fn end_rests(&mut self, now: Instant) -> bool {
        let mut ended = false;
        for agent in self.agents.values_mut() {
            if agent.resting_until.is_some_and(|until| until <= now) {
                agent.resting_until = None;
                ended = true;
            }
        }
        ended
    }

    pub fn next_rest_end(&self) -> Option<Instant> {
        self.agents.values().filter_map(|a| a.resting_until).min()
    }

    /// Put a caller in line; returns their position (1 = next).
    pub fn enqueue(&mut self, queue: &str, caller: CallId, priority: u32, now: Instant) -> u32 {
        self.arrivals += 1;
        let line = self.lines.entry(queue.to_string()).or_default();
        line.waiting.push(Waiting {
            caller,
            priority,
            entered: now,
            seq: self.arrivals,
            front: false,
        });
        Acd::sort_line(line);
        self.position(queue, caller).unwrap_or(1)
    }

    /// Put a caller back in line at the front (they lost their agent): ahead of every
    /// caller, whatever their priority, behind only those put back earlier. Returns their
    /// position.
    pub fn enqueue_front(
        &mut self,
        queue: &str,
        caller: CallId,
        priority: u32,
        now: Instant,
    ) -> u32 {
        self.arrivals += 1;
        let line = self.lines.entry(queue.to_string()).or_default();
        line.waiting.retain(|w| w.caller != caller);
        line.waiting.push(Waiting {
            caller,
            priority,
            entered: now,
            seq: self.arrivals,
            front: true,
        });
        Acd::sort_line(line);
        self.position(queue, caller).unwrap_or(1)
    }

    fn sort_line(line: &mut QueueLine) {
        line.waiting.sort_by(|a, b| {
            b.front
                .cmp(&a.front)
                .then(b.priority.cmp(&a.priority))
                .then(a.seq.cmp(&b.seq))
        });
    }

    pub fn position(&self, queue: &str, caller: CallId) -> Option<u32> {
        let line = self.lines.get(queue)?;
        line.waiting
            .iter()
            .position(|w| w.caller == caller)
            .map(|i| i as u32 + 1)
    }

    pub fn remove(&mut self, queue: &str, caller: CallId) {
        if let Some(line) = self.lines.get_mut(queue) {
            line.waiting.retain(|w| w.caller != caller);
        }
    }

    /// Callers in line, first to be served first.
    pub fn waiting(&self, queue: &str) -> Vec<CallId> {
        self.lines
            .get(queue)
            .map(|line| line.waiting.iter().map(|w| w.caller).collect())
            .unwrap_or_default()
    }

    pub fn queues_with_callers(&self) -> Vec<String> {
        self.lines
            .iter()
            .filter(|(_, line)| !line.waiting.is_empty())
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// An answered call's wait, for the expected-wait announcements.
    pub fn record_wait(&mut self, queue: &str, wait: Duration) {
        let line = self.lines.entry(queue.to_string()).or_default();
        line.recent_waits.push_back(wait);
        while line.recent_waits.len() > RECENT_WAITS {
            line.recent_waits.pop_front();
        }
    }

    /// Whether anyone can answer a call that needs `skills`: a registered agent with them
    /// who is taking calls (ready, ringing, talking or in wrap-up) — not logged out, not on a
    /// break. With nobody, no wait can honestly be promised.
    pub fn answering(&self, skills: &[String]) -> bool {
        self.answering_besides(skills, None)
    }

    /// [`Acd::answering`] without counting agent `besides` (the agent who is transferring
    /// the caller away, say): is anyone else taking the queue's calls?
    pub fn answering_besides(&self, skills: &[String], besides: Option<&str>) -> bool {
        self.agents.values().any(|a| {
            Some(a.spec.id.as_str()) != besides
                && a.registered
                && matches!(
                    a.state,
                    AgentState::Ready
                        | AgentState::Ringing { .. }
                        | AgentState::Talking { .. }
                        | AgentState::WrapUp { .. }
                )
                && skills.iter().all(|s| a.spec.skills.contains(s))
        })
    }

    /// What a caller at `position` is told: the queue's recent average wait per place in
    /// line times the places ahead and their own, or S4's 30 s per place before any history.
    pub fn expected_wait(&self, queue: &str, position: u32) -> Duration {
        let per_position = self
            .lines
            .get(queue)
            .filter(|line| !line.recent_waits.is_empty())
            .map(|line| {
                let total: Duration = line.recent_waits.iter().sum();
                total / line.recent_waits.len() as u32
            })
            .unwrap_or(DEFAULT_WAIT_PER_POSITION);
        per_position * position.max(1)
    }

    /// Which ready, registered agents with the skills to offer the call to next, by the
    /// queue's strategy (all of them for ring-all), leaving out `tried`.
    pub fn pick(
        &mut self,
        queue: &str,
        skills: &[String],
        strategy: Strategy,
        tried: &BTreeSet<String>,
    ) -> Vec<String> {
        let mut eligible: Vec<&Agent> = self
            .agents
            .values()
            .filter(|a| a.state == AgentState::Ready && a.registered)
            .filter(|a| a.resting_until.is_none())
            .filter(|a| skills.iter().all(|s| a.spec.skills.contains(s)))
            .filter(|a| !tried.contains(&a.spec.id))
            .collect();
        if eligible.is_empty() {
            return Vec::new();
        }
        let chosen: Vec<String> = match strategy {
            Strategy::RingAll => eligible.iter().map(|a| a.spec.id.clone()).collect(),
            Strategy::LongestIdle => {
                eligible.sort_by(|a, b| {
                    a.idle_since
                        .cmp(&b.idle_since)
                        .then(a.spec.id.cmp(&b.spec.id))
                });
                vec![eligible[0].spec.id.clone()]
            }
            Strategy::FewestCalls => {
                eligible.sort_by(|a, b| {
                    a.calls_taken
                        .cmp(&b.calls_taken)
                        .then(a.idle_since.cmp(&b.idle_since))
                        .then(a.spec.id.cmp(&b.spec.id))
                });
                vec![eligible[0].spec.id.clone()]
            }
            Strategy::RoundRobin => {
                let last = self.lines.get(queue).and_then(|l| l.last_offered.clone());
                let next = eligible
                    .iter()
                    .find(|a| last.as_ref().is_none_or(|last| a.spec.id > *last))
                    .or(eligible.first())
                    .map(|a| a.spec.id.clone());
                next.into_iter().collect()
            }
        };
        if let Some(first) = chosen.first() {
            self.lines
                .entry(queue.to_string())
                .or_default()
                .last_offered = Some(first.clone());
        }
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(id: &str, skills: &[&str]) -> AgentSpec {
        AgentSpec {
            id: id.into(),
            name: id.into(),
            extension: id.trim_start_matches('a').into(),
            user: id.trim_start_matches('a').into(),
            skills: skills.iter().map(|s| s.to_string()).collect(),
            login_on_register: true,
        }
    }

    fn ready_acd(now: Instant, agents: &[(&str, &[&str])]) -> Acd {
        let mut acd = Acd::new(
            agents.iter().map(|(id, skills)| spec(id, skills)).collect(),
            now,
        );
        for (id, _) in agents {
            let user = id.trim_start_matches('a').to_string();
            assert!(acd.set_registered(&user, true, now));
        }
        acd
    }

    #[test]
    fn longest_idle_agent_is_chosen() {
        let t0 = Instant::now();
        let mut acd = ready_acd(t0, &[("a1", &["sales"]), ("a2", &["sales"])]);
        acd.set_state("a1", AgentState::Talking { caller: CallId(9) }, t0);
        acd.set_state("a1", AgentState::Ready, t0 + Duration::from_secs(60));
        let skills = vec!["sales".to_string()];
        assert_eq!(
            acd.pick("sales", &skills, Strategy::LongestIdle, &BTreeSet::new()),
            vec!["a2"]
        );
    }

    #[test]
    fn skills_and_registration_and_state_limit_who_is_offered() {
        let t0 = Instant::now();
        let mut acd = ready_acd(
            t0,
            &[("a1", &["support"]), ("a2", &["sales"]), ("a3", &["sales"])],
        );
        acd.set_registered("3", false, t0);
        let skills = vec!["sales".to_string()];
        assert_eq!(
            acd.pick("sales", &skills, Strategy::RingAll, &BTreeSet::new()),
            vec!["a2"]
        );
        acd.set_state(
            "a2",
            AgentState::NotReady {
                reason: "missed".into(),
            },
            t0,
        );
        assert!(acd
            .pick("sales", &skills, Strategy::RingAll, &BTreeSet::new())
            .is_empty());
    }

    #[test]
    fn round_robin_takes_turns_and_ring_all_takes_everyone() {
        let t0 = Instant::now();
        let mut acd = ready_acd(t0, &[("a1", &[]), ("a2", &[]), ("a3", &[])]);
        let none = BTreeSet::new();
        let picks: Vec<Vec<String>> = (0..4)
            .map(|_| acd.pick("q", &[], Strategy::RoundRobin, &none))
            .collect();
        assert_eq!(picks, vec![vec!["a1"], vec!["a2"], vec!["a3"], vec!["a1"]]);
        assert_eq!(acd.pick("q", &[], Strategy::RingAll, &none).len(), 3);
    }

    #[test]
    fn fewest_calls_prefers_the_agent_who_took_fewer() {
        let t0 = Instant::now();
        let mut acd = ready_acd(t0, &[("a1", &[]), ("a2", &[])]);
        acd.set_state("a2", AgentState::Talking { caller: CallId(1) }, t0);
        acd.set_state("a2", AgentState::Ready, t0);
        acd.set_state("a1", AgentState::Talking { caller: CallId(2) }, t0);
        acd.set_state("a1", AgentState::Ready, t0);
        acd.set_state("a1", AgentState::Talking { caller: CallId(3) }, t0);
        acd.set_state("a1", AgentState::Ready, t0);
        assert_eq!(
            acd.pick("q", &[], Strategy::FewestCalls, &BTreeSet::new()),
            vec!["a2"]
        );
    }

    #[test]
    fn tried_agents_are_skipped() {
        let t0 = Instant::now();
        let mut acd = ready_acd(t0, &[("a1", &[]), ("a2", &[])]);
        let tried = BTreeSet::from(["a1".to_string()]);
        assert_eq!(
            acd.pick("q", &[], Strategy::LongestIdle, &tried),
            vec!["a2"]
        );
    }

    #[test]
    fn vip_callers_go_first_and_equal_priorities_keep_arrival_order() {
        let t0 = Instant::now();
        let mut acd = Acd::new(vec![], t0);
        assert_eq!(acd.enqueue("q", CallId(1), 0, t0), 1);
        assert_eq!(acd.enqueue("q", CallId(2), 0, t0), 2);
        assert_eq!(
            acd.enqueue("q", CallId(3), 10, t0),
            1,
            "the VIP goes to the front"
        );
        assert_eq!(acd.waiting("q"), vec![CallId(3), CallId(1), CallId(2)]);
        acd.remove("q", CallId(3));
        assert_eq!(acd.position("q", CallId(2)), Some(2));
    }

    #[test]
    fn only_registered_agents_with_the_skills_who_are_taking_calls_answer_a_queue() {
        let t0 = Instant::now();
        let sales = vec!["sales".to_string()];
        let mut acd = ready_acd(t0, &[("a1", &["sales"]), ("a2", &["support"])]);
        assert!(acd.answering(&sales));
        assert!(acd.answering(&[]), "a queue without skills takes anyone");
        for (state, answers) in [
            (AgentState::Ringing { caller: CallId(1) }, true),
            (AgentState::Talking { caller: CallId(1) }, true),
            (AgentState::WrapUp { until: t0 }, true),
            (
                AgentState::NotReady {
                    reason: "lunch".into(),
                },
                false,
            ),
            (AgentState::LoggedOut, false),
        ] {
            acd.set_state("a1", state.clone(), t0);
            assert_eq!(acd.answering(&sales), answers, "{state:?}");
        }
        acd.set_state("a1", AgentState::Ready, t0);
        acd.set_registered("1", false, t0);
        assert!(!acd.answering(&sales), "no phone registered");
        assert!(acd.answering(&[]), "a2 still takes calls");
        acd.set_registered("2", false, t0);
        assert!(!acd.answering(&[]));
    }

    #[test]
    fn a_queue_only_the_agent_left_out_takes_calls_for_has_nobody_else_answering() {
        let t0 = Instant::now();
        let sales = vec!["sales".to_string()];
        let acd = ready_acd(t0, &[("a1", &["sales"]), ("a2", &["support"])]);
        assert!(acd.answering_besides(&sales, None));
        assert!(acd.answering_besides(&sales, Some("a2")));
        assert!(!acd.answering_besides(&sales, Some("a1")));
        assert!(acd.answering_besides(&[], Some("a1")), "a2 takes anything");
    }

    #[test]
    fn expected_wait_comes_from_recent_answers() {
        let t0 = Instant::now();
        let mut acd = Acd::new(vec![], t0);
        assert_eq!(
            acd.expected_wait("q", 2),
            Duration::from_secs(60),
            "30 s per place before history"
        );
        acd.record_wait("q", Duration::from_secs(20));
        acd.record_wait("q", Duration::from_secs(40));
        assert_eq!(acd.expected_wait("q", 3), Duration::from_secs(90));
    }

    #[test]
    fn wrap_up_ends_on_time_and_makes_the_agent_ready() {
        let t0 = Instant::now();
        let mut acd = ready_acd(t0, &[("a1", &[])]);
        let until = t0 + Duration::from_secs(15);
        acd.set_state("a1", AgentState::WrapUp { until }, t0);
        assert_eq!(acd.next_wrap_up_end(), Some(until));
        assert!(acd
            .end_wrap_ups(until - Duration::from_millis(1))
            .is_empty());
        assert_eq!(acd.end_wrap_ups(until), vec!["a1"]);
        assert_eq!(acd.agent("a1").unwrap().state, AgentState::Ready);
    }

    #[test]
    fn registering_logs_in_only_agents_who_log_in_on_register() {
        let t0 = Instant::now();
        let mut manual = spec("a5", &[]);
        manual.login_on_register = false;
        let mut acd = Acd::new(vec![manual], t0);
        assert!(!acd.set_registered("5", true, t0));
        assert_eq!(acd.agent("a5").unwrap().state, AgentState::LoggedOut);
    }
}
