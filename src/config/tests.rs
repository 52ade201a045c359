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

/// A config dir with `dialplan` as dialplans/hotline.toml, a loopback trunk and empty
/// prompt files (load only looks at names).
fn write_dir(dialplan: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("dialplans")).unwrap();
    std::fs::create_dir_all(root.join("hardware")).unwrap();
    std::fs::write(root.join("dialplans/hotline.toml"), dialplan).unwrap();
    std::fs::write(root.join("hardware/trunks.toml"), TRUNKS).unwrap();
    for prompt in PROMPTS {
        let path = root.join(format!("prompts/{prompt}.wav"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"").unwrap();
    }
    dir
}

fn errors_for(dialplan: &str) -> Vec<String> {
    let dir = write_dir(dialplan);
    match load(dir.path()) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
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
        "office_open"
    );
    assert_eq!(
        office
            .entry
            .flow_at("2025-03-11T12:00:00Z".parse().unwrap()),
        "office_closed"
    );
    assert_eq!(
        office
            .entry
            .flow_at("2025-10-01T04:00:00Z".parse().unwrap()),
        "office_closed"
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
