//! The media settings: `[media] timeout` in a dialplan and `inband_dtmf` per trunk.

use super::*;

#[test]
fn the_media_timeout_is_sixty_seconds_unless_a_dialplan_sets_it() {
    let dir = write_dir(GOOD);
    let config = load(dir.path()).unwrap();
    assert_eq!(config.dialplan.media.timeout, Duration::from_secs(60));
    let config = load(write_dir(&format!("[media]\ntimeout = \"2s\"\n{GOOD}")).path()).unwrap();
    assert_eq!(config.dialplan.media.timeout, Duration::from_secs(2));
    let config = load(write_dir(&format!("[media]\ntimeout = \"90s\"\n{GOOD}")).path()).unwrap();
    assert_eq!(config.dialplan.media.timeout, Duration::from_secs(90));
    let config = load(write_dir(&format!("[media]\n{GOOD}")).path()).unwrap();
    assert_eq!(config.dialplan.media.timeout, Duration::from_secs(60));
}

#[test]
fn the_shipped_dialplan_documents_the_default_media_timeout_and_trunk_dtmf() {
    let config = load(shipped_dir()).unwrap();
    assert_eq!(config.dialplan.media.timeout, Duration::from_secs(60));
    let text = std::fs::read_to_string(shipped_dir().join("dialplans/hotline.toml")).unwrap();
    assert!(text.contains("[media]\n"), "hotline.toml documents [media]");
    assert!(text.contains("\ntimeout = \"60s\"\n"));
    let trunks = std::fs::read_to_string(shipped_dir().join("hardware/trunks.toml")).unwrap();
    assert!(trunks.contains("# inband_dtmf = false"), "{trunks}");
    assert_eq!(
        config
            .hardware
            .trunks
            .iter()
            .map(|t| (t.name.as_str(), t.inband_dtmf))
            .collect::<Vec<_>>(),
        vec![("local-pbx", false)]
    );
    let summary = summary(&config);
    assert!(
        summary.contains("media: a call without audio from the far end for 60 s is ended\n"),
        "{summary}"
    );
}

#[test]
fn a_media_timeout_below_a_second_or_above_a_day_is_refused_with_its_key() {
    let cases = [
        (
            "\"0s\"",
            "dialplans/hotline.toml: media.timeout: \"0s\" is too short: a call is ended after this long without audio from the far end, so one late packet would end it; use at least 1s (default 60s)",
        ),
        (
            "\"999ms\"",
            "dialplans/hotline.toml: media.timeout: \"999ms\" is too short: a call is ended after this long without audio from the far end, so one late packet would end it; use at least 1s (default 60s)",
        ),
        (
            "\"25h\"",
            "dialplans/hotline.toml: media.timeout: \"25h\" is too long; use at most 24h (default 60s)",
        ),
        (
            "\"60\"",
            "dialplans/hotline.toml: media.timeout: duration \"60\" has no unit; write it like \"60s\" or \"60ms\"",
        ),
    ];
    for (value, expected) in cases {
        assert_single_error(&format!("[media]\ntimeout = {value}\n{GOOD}"), expected);
    }
    // The limits themselves are fine.
    for value in ["\"1s\"", "\"24h\""] {
        assert_eq!(
            errors_for(&format!("[media]\ntimeout = {value}\n{GOOD}")),
            Vec::<String>::new()
        );
    }
}

#[test]
fn media_settings_in_two_files_are_refused_naming_both() {
    let dir = write_dir(&format!("[media]\ntimeout = \"30s\"\n{GOOD}"));
    std::fs::write(
        dir.path().join("dialplans/more.toml"),
        "[media]\ntimeout = \"20s\"\n",
    )
    .unwrap();
    assert_eq!(
        errors_in(&dir),
        vec!["dialplans/more.toml: media: media settings are already set in dialplans/hotline.toml; set them in one file only"]
    );
}

#[test]
fn an_unknown_media_key_names_file_line_and_key() {
    let errors = errors_for(&format!("[media]\ntimout = \"30s\"\n{GOOD}"));
    assert_eq!(
        errors,
        vec!["dialplans/hotline.toml:2: media.timout: unknown field `timout`, expected `timeout`"]
    );
}

#[test]
fn inband_dtmf_is_read_per_trunk_and_off_unless_set() {
    let dir = write_dir(GOOD);
    std::fs::write(
        dir.path().join("hardware/trunks.toml"),
        "[trunk.old-pbx]\naddress = \"10.0.0.5\"\ninband_dtmf = true\n\n\
         [trunk.sbc]\naddress = \"10.0.0.6\"\n\n\
         [trunk.carrier]\naddress = \"10.0.0.7\"\ninband_dtmf = false\n",
    )
    .unwrap();
    let config = load(dir.path()).unwrap();
    let flags: Vec<(&str, bool)> = config
        .hardware
        .trunks
        .iter()
        .map(|t| (t.name.as_str(), t.inband_dtmf))
        .collect();
    assert_eq!(
        flags,
        vec![("carrier", false), ("old-pbx", true), ("sbc", false)]
    );
    let summary = summary(&config);
    assert!(
        summary.contains("  old-pbx: 10.0.0.5/32; in-band DTMF detected\n")
            && summary.contains("  sbc: 10.0.0.6/32\n"),
        "{summary}"
    );
}

#[test]
fn inband_dtmf_that_is_not_true_or_false_names_file_line_and_key() {
    let dir = write_dir(GOOD);
    std::fs::write(
        dir.path().join("hardware/trunks.toml"),
        "[trunk.pbx]\naddress = \"10.0.0.5\"\ninband_dtmf = \"yes\"\n",
    )
    .unwrap();
    let errors = errors_in(&dir);
    assert_eq!(
        errors,
        vec!["hardware/trunks.toml:3: trunk.pbx.inband_dtmf: invalid type: string \"yes\", expected a boolean"]
    );
}
