//! The registrar limits read from `hardware/phones.toml` ([registrar]).

use super::*;

#[test]
fn registrar_limits_are_read_from_phones_toml_with_defaults_for_what_is_missing() {
    let dir = write_dir(GOOD);
    let defaults = load(dir.path()).unwrap().hardware.registrar;
    assert_eq!(defaults.max_contacts, 5);
    assert_eq!(defaults.failures_allowed, 5);
    assert_eq!(defaults.first_block, Duration::from_secs(60));
    assert_eq!(defaults.longest_block, Duration::from_secs(3600));
    assert!(defaults.ignore.is_empty());
    let phones = format!(
        "[registrar]\nmax_contacts = 2\nfailures_allowed = 8\nfailure_window = \"2m\"\n\
         first_block = \"30s\"\nlongest_block = \"2h\"\nignore = [\"10.20.0.0/16\", \"::1\"]\n\n{PHONES}"
    );
    std::fs::write(dir.path().join("hardware/phones.toml"), phones).unwrap();
    let limits = load(dir.path()).unwrap().hardware.registrar;
    assert_eq!(limits.max_contacts, 2);
    assert_eq!(limits.failures_allowed, 8);
    assert_eq!(limits.failure_window, Duration::from_secs(120));
    assert_eq!(limits.first_block, Duration::from_secs(30));
    assert_eq!(limits.longest_block, Duration::from_secs(7200));
    assert_eq!(
        limits.ignore,
        vec![
            ("10.20.0.0".parse().unwrap(), 16),
            ("::1".parse().unwrap(), 128)
        ]
    );
}

#[test]
fn broken_registrar_limits_are_named_with_their_key() {
    let cases = [
        (
            "max_contacts = 0",
            "registrar.max_contacts: 0 is out of range; use a whole number from 1 to 100",
        ),
        (
            "failures_allowed = -1",
            "registrar.failures_allowed: -1 is out of range; use a whole number from 1 to 1000",
        ),
        (
            "first_block = \"0s\"",
            "registrar.first_block: \"0s\" must be longer than zero and at most a week (\"168h\")",
        ),
        (
            "first_block = \"2h\"\nlongest_block = \"1h\"",
            "registrar.longest_block: \"1h\" is shorter than first_block; blocks only grow",
        ),
    ];
    for (setting, message) in cases {
        let phones = format!("[registrar]\n{setting}\n\n{PHONES}");
        assert_eq!(
            phone_errors(&phones),
            vec![format!("hardware/phones.toml: {message}")],
            "{setting}"
        );
    }
    let phones = format!("[registrar]\nignore = [\"10.0.0.0/33\"]\n\n{PHONES}");
    let errors = phone_errors(&phones);
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("hardware/phones.toml: registrar.ignore[0]: "),
        "{errors:?}"
    );
}
