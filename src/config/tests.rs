//! Whole-directory tests: the shipped config and one case per validation error.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::*;

fn shipped_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

const TRUNKS: &str = "[trunk.local]\naddress = \"127.0.0.1\"\n";
const PROMPTS: &[&str] = &[
    "zh/welcome",
    "zh/main_menu",
    "zh/invalid",
    "zh/connecting",
    "zh/goodbye",
    "en/welcome",
    "en/main_menu",
    "en/invalid",
    "en/connecting",
];
/// What every queue needs in both languages with the default settings: music, the
/// announcements and the callback exit.
const QUEUE_PROMPTS: &[&str] = &[
    "moh",
    "queue_position",
    "queue_expected_wait",
    "minutes",
    "queue_first",
    "less_than_a_minute",
    "digit_0",
    "digit_1",
    "digit_2",
    "digit_3",
    "digit_4",
    "digit_5",
    "digit_6",
    "digit_7",
    "digit_8",
    "digit_9",
    "callback_offer",
    "callback_confirmed",
    // Hold and transfer (issue 8), with the three shipped hold reasons.
    "hold",
    "hold_colleague",
    "hold_system",
    "whisper_hold_lookup",
    "whisper_hold_colleague",
    "whisper_hold_system",
    "thanks_patience",
    "hold_checkback",
    "hold_return",
    "hold_overrun",
    "confirm_tone",
    "whisper_hold_reminder",
    "transfer",
    "transfer_to",
    "transfer_colleague",
    "transfer_no_repeat",
    "ringback",
    "transfer_recall",
    "transfer_requeue",
    "reconnect_apology",
    "whisper_transferred",
    "whisper_verified",
    "whisper_recall",
    "whisper_reconnect",
];
/// One agent who can take any queue in these tests, one with a skill.
const PHONES: &str = r#"
[phone.1001]
password = "secret-1001"
kind = "desk_phone"
model = "Yealink T54W"
agent = { id = "a1001", name = "王芳" }
skills = ["sales", "support"]
login_on_register = true

[phone.1002]
ha1_md5 = "0123456789ABCDEF0123456789abcdef"
kind = "headset"
agent = { id = "a1002", name = "李強" }
"#;

/// A config dir with `dialplan` as dialplans/hotline.toml, a loopback trunk, two phones
/// and empty prompt files (load only looks at names).
fn write_dir(dialplan: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("dialplans")).unwrap();
    std::fs::create_dir_all(root.join("hardware")).unwrap();
    std::fs::write(root.join("dialplans/hotline.toml"), dialplan).unwrap();
    std::fs::write(root.join("hardware/trunks.toml"), TRUNKS).unwrap();
    std::fs::write(root.join("hardware/phones.toml"), PHONES).unwrap();
    let queue_prompts = ["zh", "en"]
        .iter()
        .flat_map(|language| QUEUE_PROMPTS.iter().map(move |p| format!("{language}/{p}")));
    for prompt in PROMPTS.iter().map(|p| p.to_string()).chain(queue_prompts) {
        write_prompt(root, &prompt);
    }
    dir
}

fn write_prompt(root: &Path, language_and_name: &str) {
    let path = root.join(format!("prompts/{language_and_name}.wav"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, b"").unwrap();
}

fn errors_in(dir: &tempfile::TempDir) -> Vec<String> {
    match load(dir.path()) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

/// The errors for the GOOD dialplan with `phones` as hardware/phones.toml.
fn phone_errors(phones: &str) -> Vec<String> {
    let dir = write_dir(GOOD);
    std::fs::write(dir.path().join("hardware/phones.toml"), phones).unwrap();
    errors_in(&dir)
}

fn errors_for(dialplan: &str) -> Vec<String> {
    errors_in(&write_dir(dialplan))
}

fn assert_single_error(dialplan: &str, expected: &str) {
    let errors = errors_for(dialplan);
    assert_eq!(
        errors,
        vec![expected.to_string()],
        "for dialplan:\n{dialplan}"
    );
}

const GOOD: &str = r#"
[hotline.service]
numbers = ["4008"]
flow = "main"

[flow.main]
steps = [
    { play = "welcome", greeting = true },
    { goto = "menu" },
    { menu = { prompt = "main_menu", invalid_prompt = "invalid", choices = { "1" = { queue = "sales" }, "9" = { language = "en", flow = "menu" } } } },
]

[flow.menu]
steps = [{ menu = { name = "again", prompt = "main_menu", choices = { "1" = { queue = "sales" }, "*" = { repeat = true } } } }]

[queue.sales]
"#;

#[test]
fn shipped_config_loads_without_errors() {
    let config = match load(shipped_dir()) {
        Ok(config) => config,
        Err(errors) => panic!(
            "shipped config has errors:\n{}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        ),
    };
    let dialplan = &config.dialplan;
    assert_eq!(dialplan.standards, Standards::default());
    let service = dialplan.hotline_for("4008").unwrap();
    assert_eq!(service.language, "zh");
    assert!(matches!(&service.entry, Entry::Flow(flow) if flow == "main"));
    // A hotline without business hours starts in its flow at any hour, and says nothing of hours.
    assert_eq!(
        service
            .entry
            .flow_at("2025-03-11T12:00:00Z".parse().unwrap()),
        ("main", None)
    );
    assert_eq!(dialplan.hotline_for("hotline").unwrap().name, service.name);
    assert!(dialplan.hotline_for("4010").is_none());
    assert!(matches!(
        dialplan.hotline_for("4009").unwrap().entry,
        Entry::Hours { .. }
    ));
    let reach = dialplan.reach(service);
    assert_eq!(
        reach
            .languages
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["en", "zh"]
    );
    for queue in ["sales", "support", "accounts", "operator"] {
        assert!(reach.queues.contains(queue), "{queue} reachable");
    }
    assert_eq!(
        config.hardware.trusted(),
        vec![
            ("127.0.0.0".parse().unwrap(), 8),
            ("::1".parse().unwrap(), 128)
        ]
    );
    assert!(config.prompt_path("zh", "welcome").is_some());
    assert!(config.prompt_path("en", "digit_9").is_some());
}

#[test]
fn shipped_main_menu_matches_the_issue() {
    let config = load(shipped_dir()).unwrap();
    let Some(Step::Menu(menu)) = config.dialplan.flows["main_menu"].steps.first().cloned() else {
        panic!("main_menu starts with a menu");
    };
    assert_eq!(menu.timeout, Duration::from_secs(5));
    assert_eq!(menu.tries, 3);
    assert_eq!(menu.on_failure, Action::Queue("operator".into()));
    let expected: BTreeMap<char, Action> = [
        ('0', Action::Queue("operator".into())),
        ('1', Action::Queue("sales".into())),
        ('2', Action::Queue("support".into())),
        ('3', Action::Flow("account".into())),
        (
            '9',
            Action::Language {
                language: "en".into(),
                flow: "main_menu".into(),
            },
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(menu.choices, expected);
    let Some(Step::Collect(collect)) = config.dialplan.flows["account"].steps.first().cloned()
    else {
        panic!("account starts with a collect");
    };
    assert_eq!((collect.min_digits, collect.max_digits), (8, 8));
    assert_eq!(collect.terminator, Some('#'));
    assert_eq!(collect.then, Action::Flow("account_thanks".into()));
}

#[test]
fn shipped_office_hotline_is_open_in_shanghai_office_hours() {
    let config = load(shipped_dir()).unwrap();
    let office = config.dialplan.hotline_for("4009").unwrap();
    // Tuesday 2025-03-11 10:00 in Shanghai, then 20:00, then a National Day holiday noon.
    assert_eq!(
        office
            .entry
            .flow_at("2025-03-11T02:00:00Z".parse().unwrap()),
        ("office_open", Some(true))
    );
    assert_eq!(
        office
            .entry
            .flow_at("2025-03-11T12:00:00Z".parse().unwrap()),
        ("office_closed", Some(false))
    );
    assert_eq!(
        office
            .entry
            .flow_at("2025-10-01T04:00:00Z".parse().unwrap()),
        ("office_closed", Some(false))
    );
}

#[test]
fn shipped_summary_names_numbers_flows_and_peers() {
    let config = load(shipped_dir()).unwrap();
    let text = summary(&config);
    for needle in [
        "numbers 4008, hotline",
        "numbers 4009",
        "Asia/Shanghai",
        "main_menu: menu main [0: queue operator; 1: queue sales",
        "local-pbx: 127.0.0.0/8, ::1/128",
        "answer within 3 rings, ring cadence \"1s on, 4s off\"",
        "zh: ",
    ] {
        assert!(text.contains(needle), "summary lacks {needle:?}:\n{text}");
    }
}

#[test]
fn shipped_greeting_is_within_ten_seconds_by_the_catalog() {
    struct WavLengths(std::collections::BTreeMap<(String, String), Duration>);
    impl PromptCatalog for WavLengths {
        fn duration(&self, language: &str, name: &str) -> Option<Duration> {
            self.0
                .get(&(language.to_string(), name.to_string()))
                .copied()
        }
    }
    // Reads the RIFF header by hand: config must not depend on the audio decoder.
    fn wav_length(path: &Path) -> Duration {
        let bytes = std::fs::read(path).unwrap();
        let byte_rate = u32::from_le_bytes(bytes[28..32].try_into().unwrap());
        let data_len = (bytes.len() - 44) as u64;
        Duration::from_millis(data_len * 1000 / u64::from(byte_rate))
    }
    let config = load(shipped_dir()).unwrap();
    let catalog = WavLengths(
        config
            .prompts
            .iter()
            .map(|p| ((p.language.clone(), p.name.clone()), wav_length(&p.path)))
            .collect(),
    );
    assert_eq!(check_prompts(&config, &catalog), Vec::new());
    let welcome = catalog.duration("zh", "welcome").unwrap();
    assert!(
        welcome < Duration::from_secs(6),
        "zh welcome lasts {welcome:?}"
    );
}

#[test]
fn a_good_dialplan_loads() {
    assert_eq!(errors_for(GOOD), Vec::<String>::new());
}

#[test]
fn unknown_flow_in_a_menu_choice() {
    assert_single_error(
        &GOOD.replace(
            "\"1\" = { queue = \"sales\" }, \"9\"",
            "\"1\" = { flow = \"salse\" }, \"9\"",
        ),
        "dialplans/hotline.toml: flow.main.steps[2].menu.choices.\"1\".flow: unknown flow \"salse\"",
    );
}

#[test]
fn unknown_queue() {
    assert_eq!(
        errors_for(&GOOD.replace("[queue.sales]", "[queue.sale]")),
        vec![
            "dialplans/hotline.toml: flow.main.steps[2].menu.choices.\"1\".queue: unknown queue \"sales\" (declare it as [queue.sales])",
            "dialplans/hotline.toml: flow.menu.steps[0].menu.choices.\"1\".queue: unknown queue \"sales\" (declare it as [queue.sales])",
        ]
    );
}

#[test]
fn unknown_flow_as_hotline_entry_and_goto() {
    let errors = errors_for(
        &GOOD
            .replace("flow = \"main\"", "flow = \"mian\"")
            .replace("goto = \"menu\"", "goto = \"mneu\""),
    );
    assert_eq!(
        errors,
        vec![
            "dialplans/hotline.toml: flow.main.steps[1].goto: unknown flow \"mneu\"",
            "dialplans/hotline.toml: hotline.service.flow: unknown flow \"mian\"",
        ]
    );
}

#[test]
fn prompt_missing_for_a_language_the_caller_can_switch_to() {
    // "no_input" exists in neither language; the hotline can switch to English via 9.
    let errors = errors_for(&GOOD.replace(
        "invalid_prompt = \"invalid\"",
        "invalid_prompt = \"invalid\", no_input_prompt = \"no_input\"",
    ));
    assert_eq!(
        errors,
        vec![
            "dialplans/hotline.toml: flow.main.steps[2].menu.no_input_prompt: prompt \"no_input\" is missing for language \"en\" (no prompts/en/no_input.{wav,flac,mp3,ogg})",
            "dialplans/hotline.toml: flow.main.steps[2].menu.no_input_prompt: prompt \"no_input\" is missing for language \"zh\" (no prompts/zh/no_input.{wav,flac,mp3,ogg})",
        ]
    );
}

#[test]
fn prompt_missing_only_in_a_language_never_switched_to_is_fine() {
    // "goodbye" exists only in zh; without the English choice nothing needs it in en.
    let dialplan = GOOD.replace(
        ", \"9\" = { language = \"en\", flow = \"menu\" }",
        ", \"9\" = { hangup = true, prompt = \"goodbye\" }",
    );
    assert_eq!(errors_for(&dialplan), Vec::<String>::new());
    let with_english = GOOD.replace(
        "\"*\" = { repeat = true }",
        "\"*\" = { repeat = true }, \"#\" = { hangup = true, prompt = \"goodbye\" }",
    );
    assert_eq!(
        errors_for(&with_english),
        vec!["dialplans/hotline.toml: flow.menu.steps[0].menu.choices.\"#\".prompt: prompt \"goodbye\" is missing for language \"en\" (no prompts/en/goodbye.{wav,flac,mp3,ogg})"]
    );
}

#[test]
fn a_flow_nobody_reaches_is_fine() {
    let dialplan = format!("{GOOD}\n[flow.spare]\nsteps = [{{ play = \"not_recorded_yet\" }}]\n");
    assert_eq!(errors_for(&dialplan), Vec::<String>::new());
}

#[test]
fn digits_must_be_keypad_keys() {
    let errors = errors_for(&GOOD.replace(
        "\"*\" = { repeat = true }",
        "\"12\" = { repeat = true }, \"a\" = { repeat = true }",
    ));
    assert_eq!(
        errors,
        vec![
            "dialplans/hotline.toml: flow.menu.steps[0].menu.choices.\"12\": \"12\" is not a keypad key (0-9, * or #)",
            "dialplans/hotline.toml: flow.menu.steps[0].menu.choices.\"a\": \"a\" is not a keypad key (0-9, * or #)",
        ]
    );
}

const COLLECT: &str = r#"
[hotline.service]
numbers = ["4008"]
flow = "main"

[flow.main]
steps = [{ collect = { name = "account", prompt = "welcome", min_digits = 8, max_digits = 8, then = { queue = "sales" } } }]

[queue.sales]
"#;

#[test]
fn collect_min_more_than_max() {
    assert_eq!(errors_for(COLLECT), Vec::<String>::new());
    assert_single_error(
        &COLLECT.replace("min_digits = 8", "min_digits = 9"),
        "dialplans/hotline.toml: flow.main.steps[0].collect.min_digits: 9 is more than max_digits 8",
    );
}

#[test]
fn collect_terminator_must_be_hash_or_star() {
    assert_single_error(
        &COLLECT.replace("max_digits = 8,", "max_digits = 8, terminator = \"5\","),
        "dialplans/hotline.toml: flow.main.steps[0].collect.terminator: \"5\" cannot end input; use \"#\", \"*\" or \"\" for none",
    );
}

#[test]
fn repeat_outside_a_menu_choice_is_refused() {
    assert_single_error(
        &COLLECT.replace("then = { queue = \"sales\" }", "then = { repeat = true }"),
        "dialplans/hotline.toml: flow.main.steps[0].collect.then.repeat: repeat only makes sense as a menu choice; here it would loop for ever",
    );
}

#[test]
fn answer_after_rings_must_be_below_answer_within_rings() {
    assert_single_error(
        &format!("[standards]\nanswer_within_rings = 3\nanswer_after_rings = 3\n{GOOD}"),
        "dialplans/hotline.toml: standards.answer_after_rings: 3 must be less than answer_within_rings 3, or calls would ring past the standard",
    );
}

#[test]
fn standards_are_read_with_both_cadences() {
    let dir = write_dir(&format!(
        "[standards]\nring_cadence = \"2s on, 4s off\"\nanswer_after_rings = 0\ngreeting_max = \"8s\"\nmax_calls = 50\n{GOOD}"
    ));
    let standards = load(dir.path()).unwrap().dialplan.standards;
    assert_eq!(standards.ring_cadence.period(), Duration::from_secs(6));
    assert_eq!(standards.answer_after_rings, 0);
    assert_eq!(standards.answer_delay(), Duration::ZERO);
    assert_eq!(standards.answer_deadline(), Duration::from_secs(14));
    assert_eq!(standards.greeting_max, Duration::from_secs(8));
    assert_eq!(standards.max_calls, Some(50));
    assert_eq!(Standards::default().answer_delay(), Duration::from_secs(1));
    assert_eq!(
        Standards::default().answer_deadline(),
        Duration::from_secs(11)
    );
}

#[test]
fn bad_durations_and_cadence_in_standards() {
    let errors = errors_for(&format!(
        "[standards]\nring_cadence = \"1s on 4s off\"\ngreeting_max = \"10\"\n{GOOD}"
    ));
    assert_eq!(
        errors,
        vec![
            "dialplans/hotline.toml: standards.ring_cadence: ring cadence \"1s on 4s off\" is not written like \"1s on, 4s off\"",
            "dialplans/hotline.toml: standards.greeting_max: duration \"10\" has no unit; write it like \"10s\" or \"10ms\"",
        ]
    );
}

#[test]
fn bad_menu_timeout() {
    assert_single_error(
        &GOOD.replace("name = \"again\",", "name = \"again\", timeout = \"5 sec\","),
        "dialplans/hotline.toml: flow.menu.steps[0].menu.timeout: duration \"5 sec\" has unknown unit \"sec\"; use ms, s, m or h",
    );
}

const HOURS: &str = r#"
[hotline.office]
numbers = ["4009"]

[hotline.office.hours]
time_zone = "Asia/Shanghai"
open = ["Mon-Fri 09:00-18:00"]
open_flow = "main"
closed_flow = "closed"

[flow.main]
steps = [{ play = "welcome" }]

[flow.closed]
steps = [{ hangup = true, prompt = "goodbye" }]
"#;

#[test]
fn business_hours_entry_loads() {
    let dir = write_dir(HOURS);
    let config = load(dir.path()).unwrap();
    let office = config.dialplan.hotline_for("4009").unwrap();
    assert_eq!(office.language, "zh");
    let Entry::Hours {
        hours,
        open,
        closed,
    } = &office.entry
    else {
        panic!("hours entry");
    };
    assert_eq!((open.as_str(), closed.as_str()), ("main", "closed"));
    // Saturday noon in Shanghai.
    assert!(!hours.is_open("2025-03-15T04:00:00Z".parse().unwrap()));
    assert!(hours.is_open("2025-03-14T04:00:00Z".parse().unwrap()));
}

#[test]
fn bad_time_zone_and_interval() {
    let errors = errors_for(
        &HOURS
            .replace("Asia/Shanghai", "Asia/Beijing")
            .replace("Mon-Fri 09:00-18:00", "Mon-Fri 9am-6pm"),
    );
    assert_eq!(
        errors,
        vec![
            "dialplans/hotline.toml: hotline.office.hours.time_zone: \"Asia/Beijing\" is not a known IANA time zone (write it like \"Asia/Shanghai\")",
            "dialplans/hotline.toml: hotline.office.hours.open[0]: \"Mon-Fri 9am-6pm\": \"9am\" is not a time of day written like \"09:00\"",
        ]
    );
}

#[test]
fn a_number_used_twice_is_refused() {
    let dialplan =
        format!("{GOOD}\n[hotline.sales]\nnumbers = [\"4010\", \"4008\"]\nflow = \"menu\"\n");
    assert_single_error(
        &dialplan,
        "dialplans/hotline.toml: hotline.service.numbers[0]: number \"4008\" is already used by hotline \"sales\" in dialplans/hotline.toml",
    );
}

#[test]
fn a_number_used_twice_across_files_names_both_files() {
    let dir = write_dir(GOOD);
    std::fs::write(
        dir.path().join("dialplans/zz_second.toml"),
        "[hotline.second]\nnumbers = [\"4008\"]\nflow = \"main\"\n",
    )
    .unwrap();
    let errors: Vec<String> = load(dir.path())
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errors,
        vec!["dialplans/zz_second.toml: hotline.second.numbers[0]: number \"4008\" is already used by hotline \"service\" in dialplans/hotline.toml"]
    );
}

#[test]
fn standards_set_twice_is_refused() {
    let dir = write_dir(&format!("[standards]\nanswer_within_rings = 3\n{GOOD}"));
    std::fs::write(
        dir.path().join("dialplans/other.toml"),
        "[standards]\nanswer_within_rings = 4\n",
    )
    .unwrap();
    let errors: Vec<String> = load(dir.path())
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errors,
        vec!["dialplans/other.toml: standards: standards are already set in dialplans/hotline.toml; set them in one file only"]
    );
}

#[test]
fn unknown_key_names_file_line_and_key() {
    let errors =
        errors_for(&GOOD.replace("[queue.sales]", "[queue.sales]\nprompts = \"connecting\""));
    assert_eq!(errors.len(), 1, "{errors:?}");
    let line = GOOD.lines().position(|l| l == "[queue.sales]").unwrap() + 2;
    assert!(
        errors[0].starts_with(&format!(
            "dialplans/hotline.toml:{line}: queue.sales.prompts: unknown field `prompts`"
        )),
        "{}",
        errors[0]
    );
}

#[test]
fn toml_syntax_error_names_file_and_line() {
    let errors = errors_for("[hotline.service]\nnumbers = [\"4008\"\nflow = \"main\"\n");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("dialplans/hotline.toml:3"),
        "{}",
        errors[0]
    );
    assert!(!errors[0].contains('\n'), "one line: {}", errors[0]);
}

#[test]
fn a_step_does_one_thing() {
    assert_single_error(
        &GOOD.replace("{ goto = \"menu\" }", "{ goto = \"menu\", queue = \"sales\" }"),
        "dialplans/hotline.toml: flow.main.steps[1]: a step does one thing, but this one has queue and goto; split it into separate steps",
    );
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let dialplan = GOOD
        .replace("flow = \"main\"", "flow = \"mian\"")
        .replace("\"*\" = { repeat = true }", "\"x\" = { repeat = true }")
        .replace("[queue.sales]", "[queue.sale]");
    let errors = errors_for(&format!("[standards]\nanswer_after_rings = 5\n{dialplan}"));
    assert_eq!(errors.len(), 5, "{errors:#?}");
}

#[test]
fn greeting_longer_than_ten_seconds_is_refused() {
    struct Lengths;
    impl PromptCatalog for Lengths {
        fn duration(&self, language: &str, name: &str) -> Option<Duration> {
            match (language, name) {
                ("zh", "welcome") => Some(Duration::from_millis(11_200)),
                (_, "invalid") if language == "en" => None,
                _ => Some(Duration::from_secs(4)),
            }
        }
    }
    let dir = write_dir(GOOD);
    let config = load(dir.path()).unwrap();
    let errors: Vec<String> = check_prompts(&config, &Lengths)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errors,
        vec![
            "dialplans/hotline.toml: flow.main.steps[0].play: greeting prompt \"welcome\" (zh, prompts/zh/welcome.wav) lasts 11.2 s, longer than greeting_max 10 s",
            "dialplans/hotline.toml: flow.main.steps[2].menu.invalid_prompt: prompt \"invalid\" is missing for language \"en\" (no prompts/en/invalid.{wav,flac,mp3,ogg})",
        ]
    );
}

#[test]
fn greeting_exactly_at_the_limit_is_accepted() {
    struct Lengths;
    impl PromptCatalog for Lengths {
        fn duration(&self, _: &str, _: &str) -> Option<Duration> {
            Some(Duration::from_secs(10))
        }
    }
    let dir = write_dir(GOOD);
    let config = load(dir.path()).unwrap();
    assert!(check_prompts(&config, &Lengths).is_empty());
}

#[test]
fn trunk_address_errors() {
    let dir = write_dir(GOOD);
    std::fs::write(
        dir.path().join("hardware/trunks.toml"),
        "[trunk.pbx]\naddress = [\"10.0.0.0/8\", \"10.0.0.300\", 5]\n",
    )
    .unwrap();
    let errors: Vec<String> = load(dir.path())
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errors,
        vec![
            "hardware/trunks.toml: trunk.pbx.address[1]: \"10.0.0.300\" is not an IP address or CIDR network such as \"10.0.0.0/8\"",
            "hardware/trunks.toml: trunk.pbx.address[2]: must be an address string such as \"10.0.0.5\" or \"10.0.0.0/24\", or a list of them",
        ]
    );
}

#[test]
fn missing_folders_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let errors: Vec<String> = load(dir.path())
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(errors[0].starts_with("dialplans: cannot read the folder"));
    assert!(errors[1].starts_with("hardware: cannot read the folder"));
    assert!(errors[2].starts_with("prompts: cannot read the folder"));
}

#[test]
fn shape_errors_name_the_table_or_key() {
    let cases = [
        (
            GOOD.replace("greeting = true", "greting = true"),
            "dialplans/hotline.toml:8: flow.main: unknown field `greting`, expected one of `play`, `greeting`,",
        ),
        (
            GOOD.replace("numbers = [\"4008\"]\n", ""),
            "dialplans/hotline.toml:2: hotline.service: missing field `numbers`",
        ),
        (
            HOURS.replace("open_flow = \"main\"\n", ""),
            "dialplans/hotline.toml:5: hotline.office.hours: missing field `open_flow`",
        ),
        (
            GOOD.replace("numbers = [\"4008\"]", "numbers = 4008"),
            "dialplans/hotline.toml:3: hotline.service.numbers: invalid type: integer `4008`, expected a sequence",
        ),
        (
            format!("[standard]\nx = 1\n{GOOD}"),
            "dialplans/hotline.toml:1: standard: unknown field `standard`, expected one of `standards`,",
        ),
    ];
    for (dialplan, expected) in cases {
        let errors = errors_for(&dialplan);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with(expected),
            "{} should start with {expected}",
            errors[0]
        );
    }
}

#[test]
fn a_typo_in_one_file_does_not_make_its_flows_look_missing_from_another() {
    let dir = write_dir(GOOD);
    let hotline = dir.path().join("dialplans/hotline.toml");
    let text = std::fs::read_to_string(&hotline).unwrap();
    std::fs::write(
        &hotline,
        format!("{text}\n[standards]\nanswer_whithin_rings = 3\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("dialplans/other.toml"),
        "[flow.other]\nsteps = [ { goto = \"main\" } ]\n",
    )
    .unwrap();
    let errors: Vec<String> = load(dir.path())
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].starts_with("dialplans/hotline.toml"),
        "{errors:#?}"
    );
}

// ---- Issue 3: phones, queues, tiers, feature codes.

#[test]
fn shipped_phones_and_queues_load() {
    let config = load(shipped_dir()).unwrap();
    let phones = &config.hardware.phones;
    let extensions: Vec<&str> = phones.iter().map(|p| p.extension.as_str()).collect();
    assert_eq!(extensions, ["1001", "1002", "1003", "1004"]);
    for (index, phone) in phones.iter().enumerate() {
        let n = 1001 + index;
        assert_eq!(phone.user, n.to_string(), "user defaults to the extension");
        assert_eq!(
            phone.password.as_deref(),
            Some(format!("sample-{n}").as_str())
        );
        assert_eq!(phone.agent.id, format!("a{n}"));
        assert!(phone.login_on_register);
        assert_eq!(phone.file, "hardware/phones.toml");
    }
    let first = &phones[0];
    assert_eq!(first.kind, PhoneKind::DeskPhone);
    assert_eq!(first.model, "Yealink T54W");
    assert_eq!(first.agent.name, "王芳");
    assert_eq!(first.skills, ["sales", "support"]);
    assert_eq!(
        config.hardware.phone_by_user("1003").map(|p| p.kind),
        Some(PhoneKind::Headset)
    );
    assert_eq!(
        config.hardware.phone_by_agent("a1004").map(|p| p.kind),
        Some(PhoneKind::Softphone)
    );
    assert!(config.hardware.phone_by_extension("1005").is_none());

    let queues = &config.dialplan.queues;
    for name in ["sales", "support", "accounts", "operator"] {
        let queue = &queues[name];
        assert_eq!(queue.skills, [name]);
        assert!(
            phones.iter().any(|p| p.has_skills(&queue.skills)),
            "{name} has an agent"
        );
        assert_eq!(queue.max_wait, Duration::from_secs(600));
        assert_eq!(queue.exit_after(), Duration::from_secs(570));
        assert_eq!(
            queue.whisper.as_deref(),
            Some(format!("whisper_{name}").as_str())
        );
    }
    assert_eq!(queues["sales"].strategy, Strategy::LongestIdle);
    assert_eq!(queues["accounts"].strategy, Strategy::FewestCalls);
    assert_eq!(queues["operator"].strategy, Strategy::RoundRobin);
    assert_eq!(queues["sales"].exit, QueueExit::Callback);
    assert_eq!(queues["operator"].exit, QueueExit::Voicemail);
    assert_eq!(config.dialplan.feature_codes, FeatureCodes::default());
    assert_eq!(
        config.dialplan.priority_of("13800000001"),
        (10, Some("vip"))
    );
}

#[test]
fn shipped_summary_lists_phones_queue_settings_tiers_and_codes() {
    let config = load(shipped_dir()).unwrap();
    let text = summary(&config);
    for needle in [
        "1001: user 1001, desk phone Yealink T54W, agent a1001 (王芳), skills sales, support, logged in on register",
        "1003: user 1003, headset ",
        "1004: user 1004, softphone baresip, agent a1004 (Emily Chen), skills sales, operator",
        "sales: plays connecting; skills sales; longest idle; wrap-up 15s; max wait 10m, then callback (30s before, or after 1m with nobody taking calls); announce every 30s; music moh; whisper whisper_sales",
        "operator: plays connecting; skills operator; round robin;",
        "then voicemail (30s before, or after 1m with nobody taking calls)",
        "vip: priority 10, numbers 13800000001, +8613800000002",
        "feature codes: *21 login, *22 logout, *23 ready, *24 not ready",
    ] {
        assert!(text.contains(needle), "summary lacks {needle:?}:\n{text}");
    }
}

#[test]
fn queue_settings_have_the_documented_defaults() {
    let dir = write_dir(GOOD);
    let config = load(dir.path()).unwrap();
    let sales = &config.dialplan.queues["sales"];
    assert_eq!(sales.prompt, "connecting");
    assert!(sales.skills.is_empty());
    assert_eq!(sales.strategy, Strategy::LongestIdle);
    assert_eq!(sales.wrap_up, Duration::from_secs(15));
    assert_eq!(sales.max_wait, Duration::from_secs(600));
    assert_eq!(sales.exit_notice, Duration::from_secs(30));
    assert_eq!(sales.exit, QueueExit::Callback);
    assert_eq!(sales.unstaffed_wait, Duration::from_secs(60));
    assert_eq!(sales.announce_every, Duration::from_secs(30));
    assert_eq!(sales.moh, "moh");
    assert_eq!(sales.whisper, None);
    assert!(config.dialplan.tiers.is_empty());
    assert_eq!(config.dialplan.priority_of("13800000001"), (0, None));
}

const FULL_QUEUE: &str = r#"
[queue.sales]
prompt = "connecting"
skills = ["sales"]
strategy = "ring_all"
wrap_up = "0s"
max_wait = "5m"
exit_notice = "20s"
exit = { overflow = "operator" }
unstaffed_wait = "0s"
announce_every = "45s"
moh = "moh"
whisper = "whisper_sales"

[queue.operator]
exit = { voicemail = true }
"#;

fn full_queue_dir() -> tempfile::TempDir {
    let dir = write_dir(&GOOD.replace("[queue.sales]\n", FULL_QUEUE));
    for language in ["zh", "en"] {
        for prompt in ["whisper_sales", "voicemail_offer", "beep"] {
            write_prompt(dir.path(), &format!("{language}/{prompt}"));
        }
    }
    dir
}

#[test]
fn every_queue_setting_is_read() {
    let dir = full_queue_dir();
    let config = match load(dir.path()) {
        Ok(config) => config,
        Err(errors) => panic!("{errors:#?}"),
    };
    let sales = &config.dialplan.queues["sales"];
    assert_eq!(sales.skills, ["sales"]);
    assert_eq!(sales.strategy, Strategy::RingAll);
    assert_eq!(sales.wrap_up, Duration::ZERO);
    assert_eq!(sales.max_wait, Duration::from_secs(300));
    assert_eq!(sales.exit_notice, Duration::from_secs(20));
    assert_eq!(sales.exit_after(), Duration::from_secs(280));
    assert_eq!(sales.exit, QueueExit::Overflow("operator".into()));
    assert_eq!(sales.unstaffed_wait, Duration::ZERO);
    assert_eq!(sales.announce_every, Duration::from_secs(45));
    assert_eq!(sales.whisper.as_deref(), Some("whisper_sales"));
    assert_eq!(
        config.dialplan.queues["operator"].exit,
        QueueExit::Voicemail
    );
    // Reached only by overflow, the operator queue is still reached, in both languages.
    let reach = config
        .dialplan
        .reach(config.dialplan.hotline_for("4008").unwrap());
    assert!(reach.queues.contains("operator"), "{reach:?}");
    for (text, strategy) in [
        ("longest_idle", Strategy::LongestIdle),
        ("round_robin", Strategy::RoundRobin),
        ("fewest_calls", Strategy::FewestCalls),
    ] {
        let dir = write_dir(&GOOD.replace(
            "[queue.sales]\n",
            &format!("[queue.sales]\nstrategy = \"{text}\"\n"),
        ));
        assert_eq!(
            load(dir.path()).unwrap().dialplan.queues["sales"].strategy,
            strategy
        );
    }
}

#[test]
fn voicemail_and_whisper_prompts_must_exist_where_the_queue_is_reached() {
    let dir = full_queue_dir();
    std::fs::remove_file(dir.path().join("prompts/en/beep.wav")).unwrap();
    std::fs::remove_file(dir.path().join("prompts/zh/whisper_sales.wav")).unwrap();
    assert_eq!(
        errors_in(&dir),
        vec![
            "dialplans/hotline.toml: queue.operator.exit: prompt \"beep\" is missing for language \"en\" (no prompts/en/beep.{wav,flac,mp3,ogg})",
            "dialplans/hotline.toml: queue.sales.whisper: prompt \"whisper_sales\" is missing for language \"zh\" (no prompts/zh/whisper_sales.{wav,flac,mp3,ogg})",
        ]
    );
}

#[test]
fn callback_prompts_and_music_must_exist() {
    let dir = write_dir(&GOOD.replace("[queue.sales]\n", "[queue.sales]\nmoh = \"jazz\"\n"));
    std::fs::remove_file(dir.path().join("prompts/zh/callback_confirmed.wav")).unwrap();
    assert_eq!(
        errors_in(&dir),
        vec![
            "dialplans/hotline.toml: queue.sales.moh: prompt \"jazz\" is missing for language \"en\" (no prompts/en/jazz.{wav,flac,mp3,ogg})",
            "dialplans/hotline.toml: queue.sales.moh: prompt \"jazz\" is missing for language \"zh\" (no prompts/zh/jazz.{wav,flac,mp3,ogg})",
            "dialplans/hotline.toml: queue.sales.exit: prompt \"callback_confirmed\" is missing for language \"zh\" (no prompts/zh/callback_confirmed.{wav,flac,mp3,ogg})",
        ]
    );
}

fn with_sales_queue(settings: &str) -> String {
    GOOD.replace("[queue.sales]\n", &format!("[queue.sales]\n{settings}\n"))
}

#[test]
fn a_bad_unstaffed_wait_is_named_with_its_key() {
    assert_single_error(
        &with_sales_queue("unstaffed_wait = \"a minute\""),
        "dialplans/hotline.toml: queue.sales.unstaffed_wait: duration \"a minute\" does not start with a number",
    );
}

#[test]
fn exit_notice_must_be_shorter_than_max_wait() {
    assert_single_error(
        &with_sales_queue("max_wait = \"30s\""),
        "dialplans/hotline.toml: queue.sales.exit_notice: 30s must be shorter than max_wait 30s, or callers would be moved on as they arrive",
    );
    assert_eq!(
        errors_for(&with_sales_queue(
            "max_wait = \"30s\"\nexit_notice = \"29s\""
        )),
        Vec::<String>::new()
    );
}

#[test]
fn max_wait_over_ten_minutes_breaks_standard_s5() {
    assert_single_error(
        &with_sales_queue("max_wait = \"15m\""),
        "dialplans/hotline.toml: queue.sales.max_wait: 15m is longer than the 10m standard S5 allows a caller to wait",
    );
    assert_single_error(
        &with_sales_queue("max_wait = \"0s\""),
        "dialplans/hotline.toml: queue.sales.max_wait: must be longer than 0s",
    );
}

#[test]
fn bad_queue_durations_and_strategy() {
    assert_eq!(
        errors_for(&with_sales_queue(
            "strategy = \"fastest\"\nwrap_up = \"15\"\nannounce_every = \"0s\""
        )),
        vec![
            "dialplans/hotline.toml: queue.sales.strategy: \"fastest\" is not a strategy; use longest_idle, round_robin, ring_all or fewest_calls",
            "dialplans/hotline.toml: queue.sales.wrap_up: duration \"15\" has no unit; write it like \"15s\" or \"15ms\"",
            "dialplans/hotline.toml: queue.sales.announce_every: must be longer than 0s",
        ]
    );
}

#[test]
fn overflow_must_name_another_declared_queue() {
    assert_single_error(
        &with_sales_queue("exit = { overflow = \"operater\" }"),
        "dialplans/hotline.toml: queue.sales.exit.overflow: unknown queue \"operater\" (declare it as [queue.operater])",
    );
    assert_single_error(
        &with_sales_queue("exit = { overflow = \"sales\" }"),
        "dialplans/hotline.toml: queue.sales.exit.overflow: queue \"sales\" cannot overflow to itself; name another queue",
    );
}

#[test]
fn overflow_queues_must_not_loop() {
    let dialplan = format!(
        "{}\n[queue.support]\nexit = {{ overflow = \"sales\" }}\n",
        with_sales_queue("exit = { overflow = \"support\" }")
    );
    assert_single_error(
        &dialplan,
        "dialplans/hotline.toml: queue.sales.exit.overflow: overflow queues go round in a loop (sales → support → sales), so a caller would never leave",
    );
}

#[test]
fn an_overflow_queue_must_move_callers_on_later_than_the_queue_sending_them() {
    let overflowing = |sales: &str| format!("{}\n[queue.support]\n", with_sales_queue(sales));
    // Both wait the default 10m less 30s: callers would arrive only to leave.
    assert_single_error(
        &overflowing("exit = { overflow = \"support\" }"),
        "dialplans/hotline.toml: queue.sales.exit.overflow: callers overflow to support after waiting 570s here, but the maximum wait counts from the first queue and support moves them on at 570s (max_wait less exit_notice), leaving them no time there; give sales a shorter max_wait",
    );
    assert_eq!(
        errors_for(&overflowing(
            "exit = { overflow = \"support\" }\nmax_wait = \"10m\"\nexit_notice = \"31s\""
        )),
        Vec::<String>::new(),
        "one second in support is time there"
    );
}

#[test]
fn an_exit_is_exactly_one_thing() {
    assert_single_error(
        &with_sales_queue("exit = { callback = true, voicemail = true }"),
        "dialplans/hotline.toml: queue.sales.exit: an exit needs exactly one of callback, overflow or voicemail, but has callback and voicemail",
    );
    assert_single_error(
        &with_sales_queue("exit = { callback = false }"),
        "dialplans/hotline.toml: queue.sales.exit.callback: callback = false does nothing; write callback = true or choose another exit",
    );
}

#[test]
fn a_queue_whose_skills_no_agent_has_is_refused() {
    assert_single_error(
        &with_sales_queue("skills = [\"sales\", \"french\"]"),
        "dialplans/hotline.toml: queue.sales.skills: no agent has skills \"sales\" and \"french\"; give them to a phone in hardware/phones.toml",
    );
    assert_single_error(
        &with_sales_queue("skills = [\"sales\", \"\"]"),
        "dialplans/hotline.toml: queue.sales.skills[1]: a skill must be a non-empty name such as \"sales\"",
    );
}

#[test]
fn queues_without_any_phone_are_refused() {
    let dir = write_dir(GOOD);
    std::fs::remove_file(dir.path().join("hardware/phones.toml")).unwrap();
    assert_eq!(
        errors_in(&dir),
        vec!["dialplans/hotline.toml: queue.sales.skills: no agent can take its calls: hardware/phones.toml lists no phones"]
    );
}

#[test]
fn phone_kind_must_be_known() {
    assert_eq!(
        phone_errors(&PHONES.replace("kind = \"headset\"", "kind = \"deskphone\"")),
        vec!["hardware/phones.toml: phone.1002.kind: \"deskphone\" is not a device kind; use desk_phone, headset or softphone"]
    );
    assert_eq!(PhoneKind::DeskPhone.to_string(), "desk phone");
    assert_eq!(PhoneKind::Headset.to_string(), "headset");
    assert_eq!(PhoneKind::Softphone.to_string(), "softphone");
}

/// `users add` reads only the device lists: no dialplan needed, and a broken list is an
/// error, not a half-read list.
#[test]
fn the_device_lists_load_alone_and_a_broken_one_is_an_error() {
    let dir = write_dir(GOOD);
    std::fs::remove_dir_all(dir.path().join("dialplans")).unwrap();
    let hardware = super::load_hardware(dir.path()).unwrap();
    assert_eq!(hardware.phones.len(), 2);
    std::fs::write(
        dir.path().join("hardware/phones.toml"),
        PHONES.replace("kind = \"headset\"", "kind = \"deskphone\""),
    )
    .unwrap();
    let errors: Vec<String> = super::load_hardware(dir.path())
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("hardware/phones.toml: phone.1002.kind:"));
}

#[test]
fn a_phone_needs_a_password_or_an_ha1() {
    assert_eq!(
        phone_errors(&PHONES.replace("ha1_md5 = \"0123456789ABCDEF0123456789abcdef\"\n", "")),
        vec!["hardware/phones.toml: phone.1002: needs password = \"...\" or ha1_md5 / ha1_sha256, or the phone could never authenticate"]
    );
    assert_eq!(
        phone_errors(&PHONES.replace("\"secret-1001\"", "\"\"")),
        vec!["hardware/phones.toml: phone.1001.password: must not be empty; an empty password lets anyone register"]
    );
}

#[test]
fn ha1_values_must_be_hex_of_the_right_length() {
    assert_eq!(
        phone_errors(&PHONES.replace("0123456789ABCDEF0123456789abcdef", "0123456789abcdef")),
        vec!["hardware/phones.toml: phone.1002.ha1_md5: must be 32 hexadecimal digits (the MD5 of \"1002:hotline:PASSWORD\"), but is 16 characters"]
    );
    let sha = format!("ha1_sha256 = \"{}\"", "g".repeat(64));
    assert_eq!(
        phone_errors(&PHONES.replace("ha1_md5 = \"0123456789ABCDEF0123456789abcdef\"", &sha)),
        vec!["hardware/phones.toml: phone.1002.ha1_sha256: must be 64 hexadecimal digits (the SHA-256 of \"1002:hotline:PASSWORD\"), but is 64 characters with some that are not hexadecimal digits"]
    );
    // Good values are kept in lower case, the form digest computations compare against.
    let dir = write_dir(GOOD);
    let sha = "AB".repeat(32);
    std::fs::write(
        dir.path().join("hardware/phones.toml"),
        PHONES.replace("ha1_md5", &format!("ha1_sha256 = \"{sha}\"\nha1_md5")),
    )
    .unwrap();
    let config = load(dir.path()).unwrap();
    let phone = config.hardware.phone_by_user("1002").unwrap();
    assert_eq!(
        phone.ha1_md5.as_deref(),
        Some("0123456789abcdef0123456789abcdef")
    );
    assert_eq!(phone.ha1_sha256, Some("ab".repeat(32)));
    assert_eq!(phone.password, None);
    assert_eq!(phone.model, "");
    assert!(phone.skills.is_empty());
    assert!(
        !phone.login_on_register,
        "login_on_register defaults to false"
    );
}

#[test]
fn users_and_agent_ids_are_unique() {
    assert_eq!(
        phone_errors(&format!("{PHONES}user = \"1001\"\n")),
        vec!["hardware/phones.toml: phone.1002.user: user \"1001\" is already the user of phone 1001"]
    );
    assert_eq!(
        phone_errors(&PHONES.replace("id = \"a1002\"", "id = \"a1001\"")),
        vec!["hardware/phones.toml: phone.1002.agent.id: agent \"a1001\" already has phone 1001; an agent has one device"]
    );
}

#[test]
fn an_extension_listed_twice_is_a_toml_error_with_its_line() {
    let errors = phone_errors(&format!(
        "{PHONES}\n[phone.1001]\npassword = \"x\"\nkind = \"softphone\"\nagent = {{ id = \"a9\", name = \"X\" }}\n"
    ));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("hardware/phones.toml:15: phone.1001: ")
            && errors[0].contains("duplicate key"),
        "{}",
        errors[0]
    );
}

#[test]
fn names_skills_and_extensions_are_checked() {
    let phones = PHONES
        .replace("[phone.1002]", "[phone.\"10 02\"]")
        .replace("name = \"王芳\"", "name = \" \"")
        .replace("id = \"a1002\"", "id = \"a 1002\"")
        .replace(
            "skills = [\"sales\", \"support\"]",
            "skills = [\"sales\", \"\", \"sales\"]\nuser = \"10@01\"",
        );
    assert_eq!(
        phone_errors(&phones),
        // In extension order, as the phones are kept.
        vec![
            "hardware/phones.toml: phone.\"10 02\": extension \"10 02\" is not a SIP user name such as \"1001\"",
            "hardware/phones.toml: phone.\"10 02\".user: \"10 02\" is not a SIP user name such as \"1001\"",
            "hardware/phones.toml: phone.\"10 02\".agent.id: agent id \"a 1002\" must be letters, digits, _ and - such as \"a1001\"",
            "hardware/phones.toml: phone.1001.user: \"10@01\" is not a SIP user name such as \"1001\"",
            "hardware/phones.toml: phone.1001.agent.name: must not be empty; it is how the agent is shown",
            "hardware/phones.toml: phone.1001.skills[1]: a skill must be a non-empty name such as \"sales\"",
            "hardware/phones.toml: phone.1001.skills[2]: skill \"sales\" is listed twice",
        ]
    );
}

#[test]
fn unknown_phone_keys_name_file_line_and_key() {
    let errors = phone_errors(&PHONES.replace("model = ", "modle = "));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("hardware/phones.toml:5: phone.1001.modle: unknown field `modle`"),
        "{}",
        errors[0]
    );
}

const TIERS: &str = r#"
[tier.vip]
priority = 10
numbers = ["13800000001", "+8613800000002"]

[tier.gold]
priority = 5
numbers = ["13800000003"]
"#;

#[test]
fn caller_priority_comes_from_the_tier_of_their_number() {
    let dir = write_dir(&format!("{GOOD}{TIERS}"));
    let dialplan = load(dir.path()).unwrap().dialplan;
    assert_eq!(dialplan.priority_of("13800000001"), (10, Some("vip")));
    assert_eq!(dialplan.priority_of("+8613800000002"), (10, Some("vip")));
    assert_eq!(dialplan.priority_of("13800000003"), (5, Some("gold")));
    // Matched exactly, as the trunk sends it: the same number written otherwise is no VIP.
    assert_eq!(dialplan.priority_of("8613800000002"), (0, None));
    assert_eq!(dialplan.priority_of(""), (0, None));
    assert_eq!(dialplan.tiers["vip"].file, "dialplans/hotline.toml");
}

#[test]
fn a_number_in_two_tiers_is_refused() {
    assert_single_error(
        &format!(
            "{GOOD}{}",
            TIERS.replace("[\"13800000003\"]", "[\"13800000003\", \"13800000001\"]")
        ),
        "dialplans/hotline.toml: tier.vip.numbers[0]: number \"13800000001\" is already in tier \"gold\" in dialplans/hotline.toml; a caller has one priority",
    );
    assert_single_error(
        &format!(
            "{GOOD}{}",
            TIERS.replace("[\"13800000003\"]", "[\"13800000003\", \"13800000003\"]")
        ),
        "dialplans/hotline.toml: tier.gold.numbers[1]: number \"13800000003\" is listed twice",
    );
}

#[test]
fn tier_numbers_must_be_caller_numbers() {
    assert_eq!(
        errors_for(&format!(
            "{GOOD}{}",
            TIERS
                .replace("[\"13800000003\"]", "[]")
                .replace("\"+8613800000002\"", "\"138 0000 0002\"")
        )),
        vec![
            "dialplans/hotline.toml: tier.gold.numbers: a tier needs at least one caller number",
            "dialplans/hotline.toml: tier.vip.numbers[1]: \"138 0000 0002\" is not a caller number such as \"13800000001\"",
        ]
    );
}

#[test]
fn feature_codes_default_to_star_21_to_24() {
    let codes = FeatureCodes::default();
    assert_eq!(
        [
            codes.login.as_str(),
            &codes.logout,
            &codes.ready,
            &codes.not_ready
        ],
        ["*21", "*22", "*23", "*24"]
    );
    assert_eq!(codes.lookup("*21"), Some(FeatureCode::Login));
    assert_eq!(codes.lookup("*24"), Some(FeatureCode::NotReady));
    assert_eq!(codes.lookup("4008"), None);
    assert_eq!(
        FeatureCode::Ready.confirmation_prompt(),
        "agent_ready",
        "confirmation prompts are shipped under these names"
    );
    let dir = write_dir(&format!("{GOOD}\n[feature_codes]\nready = \"*77\"\n"));
    let codes = load(dir.path()).unwrap().dialplan.feature_codes;
    assert_eq!(codes.ready, "*77");
    assert_eq!(codes.login, "*21");
    assert_eq!(codes.lookup("*77"), Some(FeatureCode::Ready));
}

#[test]
fn feature_codes_start_with_a_star_and_differ() {
    assert_eq!(
        errors_for(&format!(
            "{GOOD}\n[feature_codes]\nlogin = \"21\"\nready = \"*22\"\nnot_ready = \"*2a\"\n"
        )),
        vec![
            "dialplans/hotline.toml: feature_codes.login: \"21\" must be * followed by digits, such as \"*21\"",
            "dialplans/hotline.toml: feature_codes.ready: \"*22\" is also the logout code; each code must be different",
            "dialplans/hotline.toml: feature_codes.not_ready: \"*2a\" must be * followed by digits, such as \"*21\"",
        ]
    );
}

#[test]
fn feature_codes_set_in_two_files_are_refused() {
    let dir = write_dir(&format!("{GOOD}\n[feature_codes]\nlogin = \"*31\"\n"));
    std::fs::write(
        dir.path().join("dialplans/other.toml"),
        "[feature_codes]\nlogin = \"*41\"\n",
    )
    .unwrap();
    assert_eq!(
        errors_in(&dir),
        vec!["dialplans/other.toml: feature_codes: feature codes are already set in dialplans/hotline.toml; set them in one file only"]
    );
}

#[test]
fn feature_codes_and_extensions_must_not_be_hotline_numbers() {
    assert_single_error(
        &GOOD.replace("numbers = [\"4008\"]", "numbers = [\"4008\", \"*22\"]"),
        "dialplans/hotline.toml: hotline.service.numbers: number \"*22\" is also the logout feature code",
    );
    assert_eq!(
        phone_errors(&PHONES.replace("[phone.1002]", "[phone.4008]")),
        vec!["hardware/phones.toml: phone.4008: extension \"4008\" is also a number of hotline \"service\" in dialplans/hotline.toml"]
    );
    assert_eq!(
        phone_errors(&PHONES.replace("[phone.1002]", "[phone.\"*23\"]")),
        vec![
            "hardware/phones.toml: phone.\"*23\": extension \"*23\" is also the ready feature code"
        ]
    );
}

#[test]
fn credentials_stay_out_of_debug_output() {
    let config = load(shipped_dir()).unwrap();
    let text = format!("{:?}", config.hardware);
    assert!(!text.contains("sample-1001"), "{text}");
    assert!(text.contains("password: Some(\"<hidden>\")"), "{text}");
    assert!(text.contains("extension: \"1001\""), "{text}");
}

#[test]
fn the_registrar_offers_md5_unless_told_otherwise() {
    let dir = write_dir(GOOD);
    assert_eq!(
        load(dir.path()).unwrap().hardware.digest_algorithms,
        vec!["MD5"]
    );
    let phones = format!("[registrar]\ndigest_algorithms = [\"SHA-256\", \"MD5\"]\n\n{PHONES}");
    std::fs::write(dir.path().join("hardware/phones.toml"), phones).unwrap();
    assert_eq!(
        load(dir.path()).unwrap().hardware.digest_algorithms,
        vec!["SHA-256", "MD5"]
    );
}

#[test]
fn an_unknown_digest_algorithm_is_refused() {
    let phones = format!("[registrar]\ndigest_algorithms = [\"SHA-1\"]\n\n{PHONES}");
    assert_eq!(
        phone_errors(&phones),
        vec!["hardware/phones.toml: registrar.digest_algorithms: \"SHA-1\" is not a digest algorithm; use \"MD5\" or \"SHA-256\""]
    );
}

#[test]
fn call_limits_default_to_200_calls_and_10_new_calls_a_second_from_one_address() {
    let standards = load(write_dir(GOOD).path()).unwrap().dialplan.standards;
    assert_eq!(standards.max_calls, Some(200));
    assert_eq!(standards.new_calls_per_source, 10);
    let dir = write_dir(&format!(
        "[standards]\nmax_calls = 30\nnew_calls_per_source = 2\n{GOOD}"
    ));
    let standards = load(dir.path()).unwrap().dialplan.standards;
    assert_eq!(standards.max_calls, Some(30));
    assert_eq!(standards.new_calls_per_source, 2);
    assert_eq!(
        errors_for(&format!(
            "[standards]\nmax_calls = 0\nnew_calls_per_source = 0\n{GOOD}"
        )),
        vec![
            "dialplans/hotline.toml: standards.max_calls: 0 would refuse every call; leave it out for the default 200",
            "dialplans/hotline.toml: standards.new_calls_per_source: 0 would refuse every call; leave it out for the default 10 a second",
        ]
    );
}

#[test]
fn an_agent_who_refuses_rests_five_seconds_and_is_paused_after_three_refusals_by_default() {
    let config = load(write_dir(GOOD).path()).unwrap();
    let sales = &config.dialplan.queues["sales"];
    assert_eq!(sales.retry_after_refusal, Duration::from_secs(5));
    assert_eq!(sales.pause_after_refusals, 3);
    let dir = write_dir(&with_sales_queue(
        "retry_after_refusal = \"30s\"\npause_after_refusals = 0",
    ));
    let sales = &load(dir.path()).unwrap().dialplan.queues["sales"];
    assert_eq!(sales.retry_after_refusal, Duration::from_secs(30));
    assert_eq!(sales.pause_after_refusals, 0);
}

#[test]
fn a_rest_after_refusal_under_a_second_would_be_a_storm_and_is_refused() {
    assert_single_error(
        &with_sales_queue("retry_after_refusal = \"0s\""),
        "dialplans/hotline.toml: queue.sales.retry_after_refusal: must be longer than 0s",
    );
    assert_single_error(
        &with_sales_queue("retry_after_refusal = \"200ms\""),
        "dialplans/hotline.toml: queue.sales.retry_after_refusal: 200ms would re-offer a refusing phone several times a second; use at least 1s",
    );
    assert_single_error(
        &with_sales_queue("retry_after_refusal = \"5\""),
        "dialplans/hotline.toml: queue.sales.retry_after_refusal: duration \"5\" has no unit; write it like \"5s\" or \"5ms\"",
    );
}

mod hold_settings;
mod media_settings;
mod registrar_settings;
mod transfer_settings;
