//! The IVR interpreter: walks a caller through a hotline's flows (play, menu, collect,
//! language, queue, goto, hang up), one call at a time, in virtual time.
//!
//! It knows nothing of SIP or RTP. It is fed digits, "prompt finished" and timeouts, and
//! answers with [`IvrAction`]s: play a prompt, stop it, record an event, route, hang up.
//! Prompts are named; the switch resolves names in the caller's current language. Several
//! `Play`s in a row are a sequence: the switch plays them in turn and reports one
//! "prompt finished" when the last ends; `StopPrompt` drops the rest of the sequence.

use std::collections::VecDeque;
use std::time::Instant;

use crate::config::{Action, Collect, Dialplan, Menu, Step};
use crate::switch::timeline::EventKind;

/// Digits typed ahead (during the greeting, say) wait for the next menu; a bound keeps a
/// stuck keypad from growing the buffer.
const TYPEAHEAD_MAX: usize = 32;
/// A flow of nothing but `goto`s would otherwise spin forever.
const MAX_STEPS_WITHOUT_WAITING: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IvrAction {
    Play {
        prompt: String,
        language: String,
    },
    StopPrompt,
    Event(EventKind),
    /// The caller goes to a queue; the IVR is done with the call.
    Route {
        queue: String,
    },
    /// End the call (after any goodbye prompt has finished).
    Hangup {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Idle,
    /// A plain `play` step; digits are kept for the next menu.
    Playing,
    /// A menu: its prompt (or an invalid/no-input prompt) plays, or it waits for a digit.
    Menu {
        tries_used: u32,
        prompting: bool,
        deadline: Option<Instant>,
    },
    Collect {
        tries_used: u32,
        digits: String,
        prompting: bool,
        deadline: Option<Instant>,
    },
    /// A goodbye prompt plays; the call ends when it finishes.
    Finishing {
        reason: String,
    },
    Done,
}

#[derive(Debug)]
pub struct Ivr {
    language: String,
    flow: String,
    step: usize,
    state: State,
    typeahead: VecDeque<char>,
    out: VecDeque<IvrAction>,
}

impl Ivr {
    pub fn new(language: &str, flow: &str) -> Self {
        Ivr {
            language: language.to_string(),
            flow: flow.to_string(),
            step: 0,
            state: State::Idle,
            typeahead: VecDeque::new(),
            out: VecDeque::new(),
        }
    }

    pub fn language(&self) -> &str {
        &self.language
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    pub fn start(&mut self, plan: &Dialplan, now: Instant) {
        self.run(plan, now);
    }

    /// When the IVR next needs [`Ivr::on_timeout`].
    pub fn deadline(&self) -> Option<Instant> {
        match &self.state {
            State::Menu { deadline, .. } | State::Collect { deadline, .. } => *deadline,
            _ => None,
        }
    }

    pub fn poll_action(&mut self) -> Option<IvrAction> {
        self.out.pop_front()
    }

    pub fn on_digit(&mut self, plan: &Dialplan, now: Instant, digit: char) {
        match &self.state {
            State::Playing | State::Idle => {
                if self.typeahead.len() < TYPEAHEAD_MAX {
                    self.typeahead.push_back(digit);
                }
            }
            State::Menu { prompting, .. } => {
                if *prompting {
                    self.out.push_back(IvrAction::StopPrompt);
                }
                if let Some(menu) = self.current_menu(plan).cloned() {
                    self.menu_digit(plan, now, &menu, digit);
                }
            }
            State::Collect { prompting, .. } => {
                if *prompting {
                    self.out.push_back(IvrAction::StopPrompt);
                }
                if let Some(collect) = self.current_collect(plan).cloned() {
                    self.collect_digit(plan, now, &collect, digit);
                }
            }
            State::Finishing { .. } | State::Done => {}
        }
    }

    pub fn on_prompt_finished(&mut self, plan: &Dialplan, now: Instant) {
        match self.state.clone() {
            State::Playing => {
                self.step += 1;
                self.run(plan, now);
            }
            State::Menu {
                tries_used,
                prompting: true,
                ..
            } => {
                let Some(menu) = self.current_menu(plan).cloned() else {
                    return;
                };
                self.state = State::Menu {
                    tries_used,
                    prompting: false,
                    deadline: Some(now + menu.timeout),
                };
            }
            State::Collect {
                tries_used,
                digits,
                prompting: true,
                ..
            } => {
                let Some(collect) = self.current_collect(plan).cloned() else {
                    return;
                };
                self.state = State::Collect {
                    tries_used,
                    digits,
                    prompting: false,
                    deadline: Some(now + collect.timeout),
                };
            }
            State::Finishing { reason } => {
                self.state = State::Done;
                self.out.push_back(IvrAction::Hangup { reason });
            }
            _ => {}
        }
    }

    pub fn on_timeout(&mut self, plan: &Dialplan, now: Instant) {
        match self.deadline() {
            Some(deadline) if deadline <= now => {}
            _ => return,
        }
        match self.state.clone() {
            State::Menu { tries_used, .. } => {
                let Some(menu) = self.current_menu(plan).cloned() else {
                    return;
                };
                self.emit(EventKind::MenuNoInput {
                    menu: menu.name.clone(),
                });
                self.menu_retry(
                    plan,
                    now,
                    &menu,
                    tries_used + 1,
                    menu.no_input_prompt.clone(),
                );
            }
            State::Collect {
                tries_used, digits, ..
            } => {
                let Some(collect) = self.current_collect(plan).cloned() else {
                    return;
                };
                if digits.len() as u32 >= collect.min_digits && !digits.is_empty() {
                    self.collect_done(plan, now, &collect, digits);
                } else {
                    self.emit(EventKind::MenuNoInput {
                        menu: collect.name.clone(),
                    });
                    self.collect_retry(plan, now, &collect, tries_used + 1);
                }
            }
            _ => {}
        }
    }

    fn run(&mut self, plan: &Dialplan, now: Instant) {
        for _ in 0..MAX_STEPS_WITHOUT_WAITING {
            let Some(step) = plan
                .flows
                .get(&self.flow)
                .and_then(|flow| flow.steps.get(self.step))
                .cloned()
            else {
                self.finish("flow ended", None);
                return;
            };
            match step {
                Step::Play { prompt, .. } => {
                    self.play(&prompt);
                    self.state = State::Playing;
                    return;
                }
                Step::Menu(menu) => {
                    self.enter_menu(plan, now, &menu);
                    return;
                }
                Step::Collect(collect) => {
                    self.enter_collect(plan, now, &collect);
                    return;
                }
                Step::Language(language) => {
                    self.set_language(&language);
                    self.step += 1;
                }
                Step::Queue(queue) => {
                    self.route(&queue);
                    return;
                }
                Step::Goto(flow) => {
                    self.flow = flow;
                    self.step = 0;
                }
                Step::Hangup { prompt } => {
                    self.finish("flow hung up", prompt.as_deref());
                    return;
                }
            }
        }
        self.finish("flow loops without waiting", None);
    }

    fn enter_menu(&mut self, plan: &Dialplan, now: Instant, menu: &Menu) {
        self.state = State::Menu {
            tries_used: 0,
            prompting: true,
            deadline: None,
        };
        if let Some(digit) = self.typeahead.pop_front() {
            self.menu_digit(plan, now, menu, digit);
        } else {
            self.play(&menu.prompt);
        }
    }

    fn menu_digit(&mut self, plan: &Dialplan, now: Instant, menu: &Menu, digit: char) {
        let tries_used = match &self.state {
            State::Menu { tries_used, .. } => *tries_used,
            _ => 0,
        };
        match menu.choices.get(&digit) {
            Some(action) => {
                self.emit(EventKind::MenuChoice {
                    menu: menu.name.clone(),
                    digit,
                    action: action.to_string(),
                });
                self.typeahead.clear();
                self.perform(plan, now, action.clone());
            }
            None => {
                self.emit(EventKind::MenuInvalid {
                    menu: menu.name.clone(),
                    digit: Some(digit),
                });
                self.typeahead.clear();
                self.menu_retry(plan, now, menu, tries_used + 1, menu.invalid_prompt.clone());
            }
        }
    }

    fn menu_retry(
        &mut self,
        plan: &Dialplan,
        now: Instant,
        menu: &Menu,
        tries_used: u32,
        explanation: Option<String>,
    ) {
        if tries_used >= menu.tries {
            self.perform(plan, now, menu.on_failure.clone());
            return;
        }
        if let Some(prompt) = explanation {
            self.play(&prompt);
        }
        self.play(&menu.prompt);
        self.state = State::Menu {
            tries_used,
            prompting: true,
            deadline: None,
        };
    }

    fn enter_collect(&mut self, plan: &Dialplan, now: Instant, collect: &Collect) {
        self.state = State::Collect {
            tries_used: 0,
            digits: String::new(),
            prompting: true,
            deadline: None,
        };
        self.play(&collect.prompt);
        while let Some(digit) = self.typeahead.pop_front() {
            if !matches!(self.state, State::Collect { .. }) {
                break;
            }
            self.collect_digit(plan, now, collect, digit);
        }
    }

    fn collect_digit(&mut self, plan: &Dialplan, now: Instant, collect: &Collect, digit: char) {
        let State::Collect {
            tries_used,
            mut digits,
            ..
        } = self.state.clone()
        else {
            return;
        };
        if Some(digit) == collect.terminator {
            if digits.len() as u32 >= collect.min_digits && !digits.is_empty() {
                self.collect_done(plan, now, collect, digits);
            } else {
                self.emit(EventKind::MenuInvalid {
                    menu: collect.name.clone(),
                    digit: Some(digit),
                });
                self.collect_retry(plan, now, collect, tries_used + 1);
            }
            return;
        }
        digits.push(digit);
        if digits.len() as u32 >= collect.max_digits && collect.terminator.is_none() {
            self.collect_done(plan, now, collect, digits);
            return;
        }
        if digits.len() as u32 > collect.max_digits {
            self.emit(EventKind::MenuInvalid {
                menu: collect.name.clone(),
                digit: Some(digit),
            });
            self.collect_retry(plan, now, collect, tries_used + 1);
            return;
        }
        self.state = State::Collect {
            tries_used,
            digits,
            prompting: false,
            deadline: Some(now + collect.timeout),
        };
    }

    fn collect_done(&mut self, plan: &Dialplan, now: Instant, collect: &Collect, digits: String) {
        self.emit(EventKind::Collected {
            name: collect.name.clone(),
            digits,
        });
        self.perform(plan, now, collect.then.clone());
    }

    fn collect_retry(
        &mut self,
        _plan: &Dialplan,
        _now: Instant,
        collect: &Collect,
        tries_used: u32,
    ) {
        if tries_used >= collect.tries {
            self.finish("no valid input", Some("goodbye"));
            return;
        }
        if let Some(prompt) = &collect.invalid_prompt {
            self.play(prompt);
        }
        self.play(&collect.prompt);
        self.state = State::Collect {
            tries_used,
            digits: String::new(),
            prompting: true,
            deadline: None,
        };
    }

    fn perform(&mut self, plan: &Dialplan, now: Instant, action: Action) {
        match action {
            Action::Flow(flow) => {
                self.flow = flow;
                self.step = 0;
                self.run(plan, now);
            }
            Action::Queue(queue) => self.route(&queue),
            Action::Language { language, flow } => {
                self.set_language(&language);
                self.flow = flow;
                self.step = 0;
                self.run(plan, now);
            }
            Action::Repeat => {
                if let Some(menu) = self.current_menu(plan).cloned() {
                    self.enter_menu(plan, now, &menu);
                } else {
                    self.run(plan, now);
                }
            }
            Action::Hangup { prompt } => self.finish("caller chose to end", prompt.as_deref()),
        }
    }

    fn current_menu<'p>(&self, plan: &'p Dialplan) -> Option<&'p Menu> {
        match plan.flows.get(&self.flow)?.steps.get(self.step)? {
            Step::Menu(menu) => Some(menu),
            _ => None,
        }
    }

    fn current_collect<'p>(&self, plan: &'p Dialplan) -> Option<&'p Collect> {
        match plan.flows.get(&self.flow)?.steps.get(self.step)? {
            Step::Collect(collect) => Some(collect),
            _ => None,
        }
    }

    fn set_language(&mut self, language: &str) {
        self.language = language.to_string();
        self.emit(EventKind::Language {
            language: language.to_string(),
        });
    }

    fn route(&mut self, queue: &str) {
        self.state = State::Done;
        self.out.push_back(IvrAction::Route {
            queue: queue.to_string(),
        });
    }

    fn finish(&mut self, reason: &str, goodbye: Option<&str>) {
        match goodbye {
            Some(prompt) => {
                self.play(prompt);
                self.state = State::Finishing {
                    reason: reason.to_string(),
                };
            }
            None => {
                self.state = State::Done;
                self.out.push_back(IvrAction::Hangup {
                    reason: reason.to_string(),
                });
            }
        }
    }

    fn play(&mut self, prompt: &str) {
        self.out.push_back(IvrAction::Play {
            prompt: prompt.to_string(),
            language: self.language.clone(),
        });
    }

    fn emit(&mut self, event: EventKind) {
        self.out.push_back(IvrAction::Event(event));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Flow, Standards};
    use std::collections::BTreeMap;
    use std::time::Duration;

    fn plan() -> Dialplan {
        let menu = |language_flow: &str| Menu {
            name: "main".into(),
            prompt: "main_menu".into(),
            choices: BTreeMap::from([
                ('1', Action::Queue("sales".into())),
                ('3', Action::Flow("account".into())),
                (
                    '9',
                    Action::Language {
                        language: "en".into(),
                        flow: language_flow.into(),
                    },
                ),
                ('0', Action::Queue("operator".into())),
            ]),
            timeout: Duration::from_secs(5),
            tries: 3,
            invalid_prompt: Some("invalid".into()),
            no_input_prompt: Some("no_input".into()),
            on_failure: Action::Queue("operator".into()),
        };
        let mut flows = BTreeMap::new();
        flows.insert(
            "main".to_string(),
            Flow {
                file: "dialplans/test.toml".into(),
                name: "main".into(),
                steps: vec![
                    Step::Play {
                        prompt: "welcome".into(),
                        greeting: true,
                    },
                    Step::Menu(menu("menu")),
                ],
            },
        );
        flows.insert(
            "menu".to_string(),
            Flow {
                file: "dialplans/test.toml".into(),
                name: "menu".into(),
                steps: vec![Step::Menu(menu("menu"))],
            },
        );
        flows.insert(
            "account".to_string(),
            Flow {
                file: "dialplans/test.toml".into(),
                name: "account".into(),
                steps: vec![Step::Collect(Collect {
                    name: "account".into(),
                    prompt: "account_number".into(),
                    min_digits: 8,
                    max_digits: 8,
                    terminator: Some('#'),
                    timeout: Duration::from_secs(5),
                    tries: 2,
                    invalid_prompt: Some("invalid".into()),
                    then: Action::Queue("accounts".into()),
                    on_failure: Action::Hangup {
                        prompt: Some("goodbye".into()),
                    },
                })],
            },
        );
        Dialplan {
            standards: Standards::default(),
            hotlines: vec![],
            flows,
            ..Dialplan::default()
        }
    }

    fn drain(ivr: &mut Ivr) -> Vec<IvrAction> {
        std::iter::from_fn(|| ivr.poll_action()).collect()
    }

    fn play(prompt: &str, language: &str) -> IvrAction {
        IvrAction::Play {
            prompt: prompt.into(),
            language: language.into(),
        }
    }

    #[test]
    fn greeting_then_menu_prompt_then_timeout_armed() {
        let plan = plan();
        let t0 = Instant::now();
        let mut ivr = Ivr::new("zh", "main");
        ivr.start(&plan, t0);
        assert_eq!(drain(&mut ivr), vec![play("welcome", "zh")]);
        ivr.on_prompt_finished(&plan, t0 + Duration::from_secs(5));
        assert_eq!(drain(&mut ivr), vec![play("main_menu", "zh")]);
        assert_eq!(
            ivr.deadline(),
            None,
            "no timeout while the menu prompt plays"
        );
        ivr.on_prompt_finished(&plan, t0 + Duration::from_secs(9));
        assert_eq!(ivr.deadline(), Some(t0 + Duration::from_secs(14)));
    }

    #[test]
    fn nine_switches_to_english_and_one_routes_to_sales() {
        let plan = plan();
        let t0 = Instant::now();
        let mut ivr = Ivr::new("zh", "main");
        ivr.start(&plan, t0);
        ivr.on_prompt_finished(&plan, t0);
        drain(&mut ivr);
        ivr.on_digit(&plan, t0, '9');
        let actions = drain(&mut ivr);
        assert_eq!(
            actions[0],
            IvrAction::StopPrompt,
            "a digit barges into the menu prompt"
        );
        assert!(actions.contains(&IvrAction::Event(EventKind::Language {
            language: "en".into()
        })));
        assert_eq!(actions.last(), Some(&play("main_menu", "en")));
        ivr.on_digit(&plan, t0, '1');
        let actions = drain(&mut ivr);
        assert!(actions.contains(&IvrAction::Event(EventKind::MenuChoice {
            menu: "main".into(),
            digit: '1',
            action: "queue sales".into()
        })));
        assert_eq!(
            actions.last(),
            Some(&IvrAction::Route {
                queue: "sales".into()
            })
        );
        assert!(ivr.is_done());
    }

    #[test]
    fn digit_typed_during_the_greeting_answers_the_menu() {
        let plan = plan();
        let t0 = Instant::now();
        let mut ivr = Ivr::new("zh", "main");
        ivr.start(&plan, t0);
        drain(&mut ivr);
        ivr.on_digit(&plan, t0, '0');
        assert!(drain(&mut ivr).is_empty(), "the greeting is not cut short");
        ivr.on_prompt_finished(&plan, t0);
        let actions = drain(&mut ivr);
        assert_eq!(
            actions.last(),
            Some(&IvrAction::Route {
                queue: "operator".into()
            })
        );
    }

    #[test]
    fn three_silent_tries_go_to_the_operator() {
        let plan = plan();
        let mut now = Instant::now();
        let mut ivr = Ivr::new("zh", "menu");
        ivr.start(&plan, now);
        for attempt in 1..=3 {
            ivr.on_prompt_finished(&plan, now);
            drain(&mut ivr);
            let deadline = ivr.deadline().expect("waiting for a digit");
            assert_eq!(deadline, now + Duration::from_secs(5));
            now = deadline;
            ivr.on_timeout(&plan, now);
            let actions = drain(&mut ivr);
            assert!(actions.contains(&IvrAction::Event(EventKind::MenuNoInput {
                menu: "main".into()
            })));
            if attempt < 3 {
                assert_eq!(
                    actions[1..],
                    [play("no_input", "zh"), play("main_menu", "zh")]
                );
            } else {
                assert_eq!(
                    actions.last(),
                    Some(&IvrAction::Route {
                        queue: "operator".into()
                    })
                );
            }
        }
    }

    #[test]
    fn invalid_digit_explains_and_asks_again() {
        let plan = plan();
        let t0 = Instant::now();
        let mut ivr = Ivr::new("zh", "menu");
        ivr.start(&plan, t0);
        ivr.on_prompt_finished(&plan, t0);
        ivr.on_digit(&plan, t0, '7');
        let actions = drain(&mut ivr);
        assert!(actions.contains(&IvrAction::Event(EventKind::MenuInvalid {
            menu: "main".into(),
            digit: Some('7')
        })));
        assert_eq!(
            actions[actions.len() - 2..],
            [play("invalid", "zh"), play("main_menu", "zh")]
        );
    }

    #[test]
    fn account_number_is_collected_up_to_the_hash() {
        let plan = plan();
        let t0 = Instant::now();
        let mut ivr = Ivr::new("zh", "account");
        ivr.start(&plan, t0);
        assert_eq!(drain(&mut ivr), vec![play("account_number", "zh")]);
        for d in "12345678".chars() {
            ivr.on_digit(&plan, t0, d);
        }
        ivr.on_digit(&plan, t0, '#');
        let actions = drain(&mut ivr);
        assert!(actions.contains(&IvrAction::Event(EventKind::Collected {
            name: "account".into(),
            digits: "12345678".into()
        })));
        assert_eq!(
            actions.last(),
            Some(&IvrAction::Route {
                queue: "accounts".into()
            })
        );
    }

    #[test]
    fn short_account_number_is_refused_and_asked_again() {
        let plan = plan();
        let t0 = Instant::now();
        let mut ivr = Ivr::new("zh", "account");
        ivr.start(&plan, t0);
        drain(&mut ivr);
        for d in "123#".chars() {
            ivr.on_digit(&plan, t0, d);
        }
        let actions = drain(&mut ivr);
        assert_eq!(
            actions[actions.len() - 2..],
            [play("invalid", "zh"), play("account_number", "zh")]
        );
        for d in "1#".chars() {
            ivr.on_digit(&plan, t0, d);
        }
        let actions = drain(&mut ivr);
        assert_eq!(
            actions.last(),
            Some(&play("goodbye", "zh")),
            "two tries, then goodbye"
        );
        ivr.on_prompt_finished(&plan, t0);
        assert!(matches!(
            drain(&mut ivr).last(),
            Some(IvrAction::Hangup { .. })
        ));
    }
}
