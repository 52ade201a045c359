//! The hold settings of issue 8: `[hold]` with its reasons, and the queues' `hold_reasons`,
//! `default_hold_reason` and `department`, with the prompts a hold can play.

use super::*;
use crate::config::{HoldReason, HoldSettings};

fn reason(name: &str, digit: char, prompt: &str, seconds: u64) -> (String, HoldReason) {
    (
        name.to_string(),
        HoldReason {
            name: name.to_string(),
            digit,
            prompt: prompt.to_string(),
            expected: Duration::from_secs(seconds),
        },
    )
}

fn hold_errors(hold: &str) -> Vec<String> {
    errors_for(&format!("{hold}\n{GOOD}"))
}

#[test]
fn without_a_hold_table_the_three_shipped_reasons_apply() {
    let config = load(write_dir(GOOD).path()).unwrap();
    let hold = &config.dialplan.hold;
    assert_eq!(hold.check_back, Duration::from_secs(30));
    assert_eq!(hold.max, Duration::from_secs(300));
    assert_eq!(hold.default_reason, "lookup");
    assert_eq!(
        hold.reasons,
        BTreeMap::from([
            reason("lookup", '1', "hold", 120),
            reason("colleague", '2', "hold_colleague", 180),
            reason("system", '3', "hold_system", 60),
        ])
    );
    let sales = &config.dialplan.queues["sales"];
    assert_eq!(sales.hold_reasons, Vec::<String>::new());
    assert_eq!(sales.default_hold_reason, None);
    assert_eq!(sales.department, None);
}

#[test]
fn a_hold_table_sets_the_timers_and_its_reasons_replace_the_shipped_ones() {
    let dir = write_dir(&format!(
        "[hold]\ncheck_back = \"45s\"\nmax = \"10m\"\ndefault_reason = \"billing\"\n\
         [hold.reason.billing]\ndigit = \"7\"\nprompt = \"hold_billing\"\nexpected = \"90s\"\n\
         [hold.reason.lookup]\ndigit = \"0\"\nprompt = \"hold\"\nexpected = \"10s\"\n{GOOD}"
    ));
    for language in ["zh", "en"] {
        write_prompt(dir.path(), &format!("{language}/hold_billing"));
        write_prompt(dir.path(), &format!("{language}/whisper_hold_billing"));
    }
    let config = load(dir.path()).unwrap();
    assert_eq!(
        config.dialplan.hold,
        HoldSettings {
            check_back: Duration::from_secs(45),
            max: Duration::from_secs(600),
            reasons: BTreeMap::from([
                reason("billing", '7', "hold_billing", 90),
                reason("lookup", '0', "hold", 10),
            ]),
            default_reason: "billing".to_string(),
        }
    );
    let summary = summary(&config);
    assert!(
        summary.contains(
            "\nhold: reasons 0 lookup (hold, 10s), 7 billing (hold_billing, 90s); default billing; check-back every 45s; agent reminded after 10m\n"
        ),
        "{summary}"
    );
}

#[test]
fn hold_durations_outside_their_bounds_are_refused_with_their_key() {
    let what_check_back = "how often a caller on hold hears that their agent will be back";
    let what_max = "how long a caller is on hold before the agent is reminded";
    let cases = [
        ("check_back = \"9s\"", format!("hold.check_back: \"9s\" is out of range: {what_check_back} must be from 10s to 10m")),
        ("check_back = \"11m\"", format!("hold.check_back: \"11m\" is out of range: {what_check_back} must be from 10s to 10m")),
        ("max = \"59s\"", format!("hold.max: \"59s\" is out of range: {what_max} must be from 1m to 1h")),
        ("max = \"61m\"", format!("hold.max: \"61m\" is out of range: {what_max} must be from 1m to 1h")),
        ("max = \"5\"", "hold.max: duration \"5\" has no unit; write it like \"5s\" or \"5ms\"".to_string()),
    ];
    for (setting, expected) in cases {
        assert_eq!(
            hold_errors(&format!("[hold]\n{setting}\n")),
            vec![format!("dialplans/hotline.toml: {expected}")]
        );
    }
    // The bounds themselves are fine.
    assert_eq!(
        hold_errors("[hold]\ncheck_back = \"10s\"\nmax = \"1h\"\n"),
        Vec::<String>::new()
    );
    assert_eq!(
        hold_errors("[hold]\ncheck_back = \"10m\"\nmax = \"1m\"\n"),
        Vec::<String>::new()
    );
}

/// `[hold.reason.lookup]` with these lines (the only reason).
fn lookup(lines: &str) -> Vec<String> {
    hold_errors(&format!("[hold.reason.lookup]\n{lines}\n"))
}

#[test]
fn a_reason_needs_one_digit_a_prompt_and_an_expected_time_in_bounds() {
    let file = "dialplans/hotline.toml";
    assert_eq!(
        lookup("digit = \"1\""),
        vec![format!("{file}: hold.reason.lookup: reason \"lookup\" needs digit, prompt and expected, but has no prompt or expected")]
    );
    for digit in ["12", "x", "", "*"] {
        assert_eq!(
            lookup(&format!("digit = \"{digit}\"\nprompt = \"hold\"\nexpected = \"2m\"")),
            vec![format!("{file}: hold.reason.lookup.digit: \"{digit}\" must be one digit 0-9, pressed after the hold-reason keys")]
        );
    }
    let what = "what the caller is told the hold lasts";
    for expected in ["9s", "31m"] {
        assert_eq!(
            lookup(&format!("digit = \"1\"\nprompt = \"hold\"\nexpected = \"{expected}\"")),
            vec![format!("{file}: hold.reason.lookup.expected: \"{expected}\" is out of range: {what} must be from 10s to 30m")]
        );
    }
    assert_eq!(
        lookup("digit = \"1\"\nprompt = \"../hold\"\nexpected = \"2m\""),
        vec![format!("{file}: hold.reason.lookup.prompt: prompt name \"../hold\" must be a plain file name without extension (letters, digits, _ and -)")]
    );
    for expected in ["10s", "30m"] {
        assert_eq!(
            lookup(&format!(
                "digit = \"1\"\nprompt = \"hold\"\nexpected = \"{expected}\""
            )),
            Vec::<String>::new()
        );
    }
}

#[test]
fn two_reasons_on_one_digit_are_refused() {
    assert_eq!(
        hold_errors(
            "[hold.reason.colleague]\ndigit = \"4\"\nprompt = \"hold_colleague\"\nexpected = \"3m\"\n\
             [hold.reason.lookup]\ndigit = \"4\"\nprompt = \"hold\"\nexpected = \"2m\"\n"
        ),
        vec!["dialplans/hotline.toml: hold.reason.lookup.digit: digit \"4\" already chooses reason \"colleague\"; each reason needs its own digit"]
    );
}

#[test]
fn the_default_reason_must_exist() {
    assert_eq!(
        hold_errors("[hold]\ndefault_reason = \"nap\"\n"),
        vec!["dialplans/hotline.toml: hold.default_reason: unknown hold reason \"nap\" (declare it as [hold.reason.nap])"]
    );
    // Reasons without "lookup" need their default named.
    assert_eq!(
        hold_errors("[hold.reason.colleague]\ndigit = \"2\"\nprompt = \"hold_colleague\"\nexpected = \"3m\"\n"),
        vec!["dialplans/hotline.toml: hold.default_reason: is not set and there is no reason \"lookup\" to default to; name one of \"colleague\""]
    );
    assert_eq!(
        hold_errors("[hold]\ndefault_reason = \"colleague\"\n[hold.reason.colleague]\ndigit = \"2\"\nprompt = \"hold_colleague\"\nexpected = \"3m\"\n"),
        Vec::<String>::new()
    );
}

#[test]
fn reason_names_and_unknown_keys_are_refused() {
    assert_eq!(
        hold_errors("[hold]\ndefault_reason = \"Look\"\n[hold.reason.Look]\ndigit = \"1\"\nprompt = \"hold\"\nexpected = \"2m\"\n"),
        vec!["dialplans/hotline.toml: hold.reason.Look: reason name \"Look\" must be lower-case letters, digits and _ (it names the prompt whisper_hold_<NAME>)"]
    );
    assert_eq!(
        hold_errors("[hold]\ncheckback = \"30s\"\n"),
        vec!["dialplans/hotline.toml:2: hold.checkback: unknown field `checkback`, expected one of `check_back`, `max`, `default_reason`, `reason`"]
    );
    assert_eq!(
        lookup("digit = \"1\"\nprompt = \"hold\"\nexpected = \"2m\"\nwhisper = \"x\""),
        vec!["dialplans/hotline.toml:5: hold.reason.lookup.whisper: unknown field `whisper`, expected one of `digit`, `prompt`, `expected`"]
    );
}

#[test]
fn hold_settings_in_two_files_are_refused_naming_both() {
    let dir = write_dir(&format!("[hold]\nmax = \"6m\"\n{GOOD}"));
    std::fs::write(
        dir.path().join("dialplans/more.toml"),
        "[hold]\nmax = \"7m\"\n",
    )
    .unwrap();
    assert_eq!(
        errors_in(&dir),
        vec!["dialplans/more.toml: hold: hold settings are already set in dialplans/hotline.toml; set them in one file only"]
    );
}

#[test]
fn a_queue_names_its_hold_reasons_and_default_from_the_dialplans_reasons() {
    let dir = write_dir(&with_sales_queue(
        "hold_reasons = [\"colleague\", \"system\"]\ndefault_hold_reason = \"system\"",
    ));
    let config = load(dir.path()).unwrap();
    let sales = &config.dialplan.queues["sales"];
    assert_eq!(sales.hold_reasons, vec!["colleague", "system"]);
    assert_eq!(sales.default_hold_reason.as_deref(), Some("system"));
    let summary = summary(&config);
    assert!(
        summary.contains("; hold reasons colleague, system; default hold reason system\n"),
        "{summary}"
    );
}

#[test]
fn a_queues_hold_reasons_must_exist_once_and_include_its_default() {
    let file = "dialplans/hotline.toml";
    let cases = [
        (
            "hold_reasons = [\"lookup\", \"nap\"]",
            format!("{file}: queue.sales.hold_reasons[1]: unknown hold reason \"nap\" (declare it as [hold.reason.nap])"),
        ),
        (
            "hold_reasons = [\"lookup\", \"lookup\"]",
            format!("{file}: queue.sales.hold_reasons[1]: hold reason \"lookup\" is listed twice"),
        ),
        (
            "hold_reasons = []",
            format!("{file}: queue.sales.hold_reasons: an empty list gives agents no reason to choose; leave hold_reasons out to allow every reason"),
        ),
        (
            "default_hold_reason = \"nap\"",
            format!("{file}: queue.sales.default_hold_reason: unknown hold reason \"nap\" (declare it as [hold.reason.nap])"),
        ),
        (
            "hold_reasons = [\"lookup\"]\ndefault_hold_reason = \"system\"",
            format!("{file}: queue.sales.default_hold_reason: \"system\" is not in this queue's hold_reasons; add it there or choose one of them"),
        ),
        (
            "hold_reasons = [\"system\"]",
            format!("{file}: queue.sales.hold_reasons: leaves out the dialplan's default reason \"lookup\"; add it or set default_hold_reason"),
        ),
    ];
    for (settings, expected) in cases {
        assert_single_error(&with_sales_queue(settings), &expected);
    }
}

#[test]
fn every_hold_prompt_is_needed_in_every_language_a_queue_is_reached_in() {
    let dir = write_dir(GOOD);
    std::fs::remove_file(dir.path().join("prompts/en/hold_overrun.wav")).unwrap();
    std::fs::remove_file(dir.path().join("prompts/zh/whisper_hold_system.wav")).unwrap();
    std::fs::remove_file(dir.path().join("prompts/en/ringback.wav")).unwrap();
    assert_eq!(
        errors_in(&dir),
        vec![
            "dialplans/hotline.toml: queue.sales.hold_reasons: prompt \"whisper_hold_system\" is missing for language \"zh\" (no prompts/zh/whisper_hold_system.{wav,flac,mp3,ogg})",
            "dialplans/hotline.toml: queue.sales.hold_reasons: prompt \"hold_overrun\" is missing for language \"en\" (no prompts/en/hold_overrun.{wav,flac,mp3,ogg})",
            "dialplans/hotline.toml: queue.sales: prompt \"ringback\" is missing for language \"en\" (no prompts/en/ringback.{wav,flac,mp3,ogg})",
        ]
    );
}

#[test]
fn a_reason_no_reached_queue_allows_needs_no_prompts() {
    let dir = write_dir(&with_sales_queue("hold_reasons = [\"lookup\", \"system\"]"));
    for language in ["zh", "en"] {
        for prompt in ["hold_colleague", "whisper_hold_colleague"] {
            std::fs::remove_file(dir.path().join(format!("prompts/{language}/{prompt}.wav")))
                .unwrap();
        }
    }
    assert_eq!(errors_in(&dir), Vec::<String>::new());
    // Allowed again, the colleague reason's prompts are missing in both languages.
    let text = GOOD.to_string();
    std::fs::write(dir.path().join("dialplans/hotline.toml"), text).unwrap();
    let errors = errors_in(&dir);
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert!(
        errors[0].contains("prompt \"hold_colleague\" is missing for language \"en\""),
        "{errors:?}"
    );
}

#[test]
fn a_queues_department_is_a_prompt_it_needs() {
    let dir = write_dir(&with_sales_queue("department = \"dept_sales\""));
    write_prompt(dir.path(), "zh/dept_sales");
    assert_eq!(
        errors_in(&dir),
        vec!["dialplans/hotline.toml: queue.sales.department: prompt \"dept_sales\" is missing for language \"en\" (no prompts/en/dept_sales.{wav,flac,mp3,ogg})"]
    );
    write_prompt(dir.path(), "en/dept_sales");
    let config = load(dir.path()).unwrap();
    assert_eq!(
        config.dialplan.queues["sales"].department.as_deref(),
        Some("dept_sales")
    );
}

#[test]
fn the_shipped_dialplan_writes_out_the_default_hold_settings_and_departments() {
    let config = load(shipped_dir()).unwrap();
    assert_eq!(config.dialplan.hold, HoldSettings::default());
    let departments: Vec<(&str, Option<&str>)> = config
        .dialplan
        .queues
        .values()
        .map(|q| (q.name.as_str(), q.department.as_deref()))
        .collect();
    assert_eq!(
        departments,
        vec![
            ("accounts", Some("dept_accounts")),
            ("operator", Some("dept_operator")),
            ("sales", Some("dept_sales")),
            ("support", Some("dept_support")),
        ]
    );
    let text = std::fs::read_to_string(shipped_dir().join("dialplans/hotline.toml")).unwrap();
    for table in [
        "[hold]\n",
        "[hold.reason.lookup]\n",
        "[hold.reason.colleague]\n",
        "[hold.reason.system]\n",
    ] {
        assert!(text.contains(table), "hotline.toml writes out {table}");
    }
}
