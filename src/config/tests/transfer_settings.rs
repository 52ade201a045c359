//! The transfer settings of issue 8: `[transfer]` numbers and outside transfers, and the
//! agents' `[in_call_keys]`.

use std::net::SocketAddr;

use super::*;
use crate::config::{InCallKeys, OutsideTransfer, TransferSettings};

fn with(tables: &str) -> String {
    format!("{tables}\n{GOOD}")
}

#[test]
fn without_the_tables_agents_transfer_to_extensions_with_the_usual_keys() {
    let config = load(write_dir(GOOD).path()).unwrap();
    assert_eq!(config.dialplan.transfer, TransferSettings::default());
    assert_eq!(config.dialplan.transfer.outside, None);
    assert_eq!(
        config.dialplan.in_call_keys,
        InCallKeys {
            hold_reason: "*4".into(),
            blind_transfer: "#1".into(),
            attended_transfer: "*2".into(),
            digit_timeout: Duration::from_secs(3),
            pause_recording: "*7".into(),
        }
    );
    let summary = summary(&config);
    assert!(
        summary.contains("\ntransfer: extensions only; no outside numbers; keys *4 hold reason, #1 blind, *2 attended, *7 pause recording (dropped after 3s)\n"),
        "{summary}"
    );
}

#[test]
fn transfer_numbers_and_an_outside_trunk_are_read() {
    let config = load(
        write_dir(&with(
            "[transfer]\nnumbers = { \"8001\" = \"sales\", \"8100\" = \"sales\" }\noutside = { prefix = \"0\", trunk = \"127.0.0.1:5080\" }\n\
             [in_call_keys]\nhold_reason = \"#4\"\nblind_transfer = \"##\"\nattended_transfer = \"*3\"\ndigit_timeout = \"5s\"\npause_recording = \"*8\"\n",
        ))
        .path(),
    )
    .unwrap();
    assert_eq!(
        config.dialplan.transfer,
        TransferSettings {
            numbers: BTreeMap::from([
                ("8001".to_string(), "sales".to_string()),
                ("8100".to_string(), "sales".to_string()),
            ]),
            outside: Some(OutsideTransfer {
                prefix: "0".into(),
                trunk: SocketAddr::from(([127, 0, 0, 1], 5080)),
            }),
        }
    );
    assert_eq!(
        config.dialplan.in_call_keys,
        InCallKeys {
            hold_reason: "#4".into(),
            blind_transfer: "##".into(),
            attended_transfer: "*3".into(),
            digit_timeout: Duration::from_secs(5),
            pause_recording: "*8".into(),
        }
    );
    let summary = summary(&config);
    assert!(
        summary.contains("\ntransfer: extensions and 8001 queue sales, 8100 queue sales; outside numbers 0… through 127.0.0.1:5080; keys #4 hold reason, ## blind, *3 attended, *8 pause recording (dropped after 5s)\n"),
        "{summary}"
    );
}

#[test]
fn bad_transfer_numbers_and_outside_settings_are_refused_with_their_key() {
    let file = "dialplans/hotline.toml";
    let cases = [
        (
            "numbers = { \"80a1\" = \"sales\" }",
            format!("{file}: transfer.numbers.80a1: transfer number \"80a1\" must be 1 to 32 digits 0-9, as an agent dials it"),
        ),
        (
            "numbers = { \"8001\" = \"billing\" }",
            format!("{file}: transfer.numbers.8001: unknown queue \"billing\" (declare it as [queue.billing])"),
        ),
        (
            "numbers = { \"4008\" = \"sales\" }",
            format!("{file}: transfer.numbers.4008: transfer number \"4008\" is also a number of hotline \"service\" in dialplans/hotline.toml"),
        ),
        (
            "outside = { prefix = \"+\", trunk = \"127.0.0.1:5080\" }",
            format!("{file}: transfer.outside.prefix: \"+\" must be 1 to 32 digits 0-9, such as \"0\""),
        ),
        (
            "outside = { prefix = \"0\", trunk = \"pbx.example\" }",
            format!("{file}: transfer.outside.trunk: \"pbx.example\" must be the trunk's IP address and SIP port, such as \"127.0.0.1:5080\""),
        ),
        (
            "outside = { prefix = \"0\", trunk = \"127.0.0.1:0\" }",
            format!("{file}: transfer.outside.trunk: \"127.0.0.1:0\" must be the trunk's IP address and SIP port, such as \"127.0.0.1:5080\""),
        ),
        (
            "numbers = { \"8001\" = \"sales\" }\noutside = { prefix = \"80\", trunk = \"127.0.0.1:5080\" }",
            format!("{file}: transfer.outside.prefix: \"80\" also starts transfer number \"8001\", which would then go out through the trunk"),
        ),
    ];
    for (settings, expected) in cases {
        assert_single_error(&with(&format!("[transfer]\n{settings}\n")), &expected);
    }
}

#[test]
fn a_transfer_number_that_is_an_extension_is_refused() {
    assert_single_error(
        &with("[transfer]\nnumbers = { \"1001\" = \"sales\" }\n"),
        "hardware/phones.toml: phone.1001: extension \"1001\" is also a transfer number in [transfer] numbers",
    );
}

#[test]
fn extensions_starting_with_the_outside_prefix_are_refused() {
    let errors = errors_for(&with(
        "[transfer]\noutside = { prefix = \"100\", trunk = \"127.0.0.1:5080\" }\n",
    ));
    let message = |extension: &str| {
        format!("hardware/phones.toml: phone.{extension}: extension \"{extension}\" starts with the outside transfer prefix \"100\", so a transfer to it would go out through the trunk")
    };
    assert_eq!(errors, vec![message("1001"), message("1002")]);
    assert_eq!(
        errors_for(&with(
            "[transfer]\noutside = { prefix = \"0\", trunk = \"127.0.0.1:5080\" }\n",
        )),
        Vec::<String>::new()
    );
}

#[test]
fn transfer_settings_and_in_call_keys_in_two_files_are_refused_naming_both() {
    let dir = write_dir(&with("[transfer]\n[in_call_keys]\n"));
    std::fs::write(
        dir.path().join("dialplans/more.toml"),
        "[transfer]\nnumbers = {}\n[in_call_keys]\nhold_reason = \"*5\"\n",
    )
    .unwrap();
    assert_eq!(
        errors_in(&dir),
        vec![
            "dialplans/more.toml: transfer: transfer settings are already set in dialplans/hotline.toml; set them in one file only",
            "dialplans/more.toml: in_call_keys: in-call keys are already set in dialplans/hotline.toml; set them in one file only",
        ]
    );
}

#[test]
fn unknown_transfer_and_key_settings_are_refused() {
    assert_eq!(
        errors_for(&with("[transfer]\nnumber = {}\n")),
        vec!["dialplans/hotline.toml:2: transfer.number: unknown field `number`, expected `numbers` or `outside`"]
    );
    assert_eq!(
        errors_for(&with("[in_call_keys]\nhold = \"*4\"\n")),
        vec!["dialplans/hotline.toml:2: in_call_keys.hold: unknown field `hold`, expected one of `hold_reason`, `blind_transfer`, `attended_transfer`, `digit_timeout`, `pause_recording`"]
    );
}

#[test]
fn key_sequences_are_keypad_keys_after_star_or_hash_and_none_begins_another() {
    let file = "dialplans/hotline.toml";
    let shape = |s: &str| {
        format!("\"{s}\" must be * or # then up to 7 more keys of 0-9, * and #, such as \"*4\"")
    };
    let cases = [
        ("hold_reason = \"\"", format!("{file}: in_call_keys.hold_reason: {}", shape(""))),
        ("hold_reason = \"4\"", format!("{file}: in_call_keys.hold_reason: {}", shape("4"))),
        ("blind_transfer = \"#a\"", format!("{file}: in_call_keys.blind_transfer: {}", shape("#a"))),
        ("attended_transfer = \"*1234567\"", String::new()),
        ("attended_transfer = \"*12345678\"", format!("{file}: in_call_keys.attended_transfer: {}", shape("*12345678"))),
        (
            "blind_transfer = \"*4\"",
            format!("{file}: in_call_keys.blind_transfer: \"*4\" is also the hold reason keys; each sequence must be different"),
        ),
        (
            "attended_transfer = \"#12\"",
            format!("{file}: in_call_keys.attended_transfer: \"#12\" and the blind transfer keys \"#1\" begin alike; no sequence may begin another, or the shorter would always be taken first"),
        ),
        (
            "pause_recording = \"*4\"",
            format!("{file}: in_call_keys.pause_recording: \"*4\" is also the hold reason keys; each sequence must be different"),
        ),
        (
            "hold_reason = \"*\"\npause_recording = \"#7\"",
            format!("{file}: in_call_keys.attended_transfer: \"*2\" and the hold reason keys \"*\" begin alike; no sequence may begin another, or the shorter would always be taken first"),
        ),
        (
            "digit_timeout = \"900ms\"",
            format!("{file}: in_call_keys.digit_timeout: \"900ms\" is out of range: how long an unfinished key sequence waits for its next key must be from 1s to 10s"),
        ),
        (
            "digit_timeout = \"11s\"",
            format!("{file}: in_call_keys.digit_timeout: \"11s\" is out of range: how long an unfinished key sequence waits for its next key must be from 1s to 10s"),
        ),
    ];
    for (setting, expected) in cases {
        let errors = errors_for(&with(&format!("[in_call_keys]\n{setting}\n")));
        let expected: Vec<String> = [expected].into_iter().filter(|e| !e.is_empty()).collect();
        assert_eq!(errors, expected, "{setting}");
    }
}

#[test]
fn a_queue_reached_only_by_a_transfer_number_needs_its_prompts_in_every_callers_language() {
    // Billing is on no menu: only a transfer reaches it, from sales, whose callers may speak
    // Mandarin or English.
    let billing = "[queue.billing]\ndepartment = \"dept_billing\"\n";
    let dir = write_dir(&format!("{GOOD}{billing}"));
    write_prompt(dir.path(), "zh/dept_billing");
    assert_eq!(
        errors_in(&dir),
        Vec::<String>::new(),
        "nobody reaches billing"
    );
    std::fs::write(
        dir.path().join("dialplans/hotline.toml"),
        format!("[transfer]\nnumbers = {{ \"8009\" = \"billing\" }}\n{GOOD}{billing}"),
    )
    .unwrap();
    assert_eq!(
        errors_in(&dir),
        vec!["dialplans/hotline.toml: queue.billing.department: prompt \"dept_billing\" is missing for language \"en\" (no prompts/en/dept_billing.{wav,flac,mp3,ogg})"]
    );
}

#[test]
fn the_shipped_dialplan_transfers_to_its_four_queues_with_the_default_keys() {
    let config = load(shipped_dir()).unwrap();
    assert_eq!(
        config.dialplan.transfer.numbers,
        BTreeMap::from([
            ("8000".to_string(), "operator".to_string()),
            ("8001".to_string(), "sales".to_string()),
            ("8002".to_string(), "support".to_string()),
            ("8003".to_string(), "accounts".to_string()),
        ])
    );
    assert_eq!(config.dialplan.transfer.outside, None);
    assert_eq!(config.dialplan.in_call_keys, InCallKeys::default());
    let text = std::fs::read_to_string(shipped_dir().join("dialplans/hotline.toml")).unwrap();
    assert!(text.contains("\n# outside = { prefix = \"0\", trunk = \"127.0.0.1:5080\" }\n"));
    assert!(text.contains("[in_call_keys]\n"));
}
