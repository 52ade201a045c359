//! `hotline check` and the start-up validation of `hotline serve`, run as a new admin would:
//! on the shipped configuration, and on copies with one mistake each. A mistake must give a
//! non-zero exit and one line on stderr per problem, naming the file, the key and what is
//! wrong; `serve` must refuse to start with the same sentence.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::*;

fn hotline(args: &[&str], config: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hotline"));
    cmd.args(args).arg("--config").arg(config);
    let (out, killed) = run_bounded(&mut cmd, Duration::from_secs(20));
    assert!(!killed, "hotline {args:?} did not finish within 20 s");
    out
}

fn check(config: &Path) -> Output {
    hotline(&["check"], config)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The problem lines of a failed run: stderr without blank lines.
fn problems(out: &Output) -> Vec<String> {
    text(&out.stderr)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

fn assert_refused(out: &Output, what: &str) -> Vec<String> {
    assert!(
        !out.status.success(),
        "hotline check accepted {what}: exit {:?}\nstdout:\n{}",
        out.status.code(),
        text(&out.stdout)
    );
    let lines = problems(out);
    assert!(
        !lines.is_empty(),
        "hotline check refused {what} without saying why"
    );
    lines
}

/// Replaces `from` by `to` in one file of a config copy, exactly once.
fn edit(config: &ConfigCopy, file: &str, from: &str, to: &str) {
    let path = config.path().join(file);
    let before = std::fs::read_to_string(&path).expect("read config file");
    assert_eq!(
        before.matches(from).count(),
        1,
        "the shipped {file} changed: {from:?} is no longer there exactly once"
    );
    std::fs::write(&path, before.replacen(from, to, 1)).expect("write config file");
}

/// A 12 s 440 Hz tone at 8 kHz, 16-bit mono: a greeting two seconds over the 10 s limit.
fn write_long_greeting(path: &Path) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec).expect("create wav");
    for n in 0..12 * 8000u32 {
        let t = n as f64 / 8000.0;
        let sample = 4000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin();
        writer.write_sample(sample as i16).expect("write sample");
    }
    writer.finalize().expect("finish wav");
}

/// A copy of the shipped config whose Mandarin welcome greeting lasts 12 s.
fn config_with_long_greeting() -> ConfigCopy {
    let config = ConfigCopy::of_shipped();
    write_long_greeting(&config.path().join("prompts/zh/welcome.wav"));
    config
}

/// The dialplan flows that play `welcome` as the greeting, as (file, flow) pairs.
fn flows_greeting_with_welcome(config: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(config.join("dialplans"))
        .expect("dialplans dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    for file in files {
        let name = format!(
            "dialplans/{}",
            file.file_name().and_then(|n| n.to_str()).unwrap_or("")
        );
        let mut flow = None;
        for line in std::fs::read_to_string(&file).unwrap_or_default().lines() {
            let line = line.trim();
            if let Some(table) = line.strip_prefix("[flow.") {
                flow = table.strip_suffix(']').map(str::to_string);
            }
            let greets =
                line.starts_with("{ play = \"welcome\"") && line.contains("greeting = true");
            if let (true, Some(flow)) = (greets, flow.as_ref()) {
                found.push((name.clone(), flow.clone()));
            }
        }
    }
    found
}

#[test]
fn shipped_config_passes_and_the_summary_names_4008_and_every_prompt_with_its_duration() {
    let root = repo_root();
    let out = check(&root);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "hotline check refused the shipped config: exit {:?}\n{}",
        out.status.code(),
        text(&out.stderr)
    );
    assert!(
        problems(&out).is_empty(),
        "a clean check should say nothing on stderr: {}",
        text(&out.stderr)
    );
    assert!(
        stdout.lines().any(|l| l.contains("4008")),
        "the summary does not name hotline 4008:\n{stdout}"
    );

    let mut checked = 0;
    for language in ["zh", "en"] {
        let dir = root.join("prompts").join(language);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .expect("prompt dir")
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_suffix(".wav").map(str::to_string)
            })
            .collect();
        names.sort();
        for name in names {
            let expected = prompt_duration(&root, language, &name)
                .unwrap_or_else(|| panic!("prompts/{language}/{name}.wav is not a WAV"));
            let label = format!("{language}/{name}");
            let line = stdout
                .lines()
                .find(|l| l.split_whitespace().next() == Some(label.as_str()))
                .unwrap_or_else(|| panic!("the summary does not list prompt {label}:\n{stdout}"));
            let mut words = line.split_whitespace().skip(1);
            let seconds: f64 = words
                .next()
                .and_then(|w| w.parse().ok())
                .unwrap_or_else(|| panic!("no duration on the summary line {line:?}"));
            assert_eq!(words.next(), Some("s"), "unit on {line:?}");
            assert!(
                (seconds - expected.as_secs_f64()).abs() <= 0.11,
                "{label} is {expected:?} long but the summary says {line:?}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 2, "no prompts in the shipped config?");
}

#[test]
fn unknown_key_is_one_line_naming_the_file_the_key_and_the_problem() {
    let config = ConfigCopy::of_shipped();
    // A typo in a hotline table of the second dialplan file.
    edit(
        &config,
        "dialplans/office.toml",
        "numbers = [\"4009\"]\n",
        "numbers = [\"4009\"]\nlanguge = \"en\"\n",
    );
    let out = check(config.path());
    let lines = assert_refused(&out, "an unknown key");
    assert_eq!(
        lines.len(),
        1,
        "one problem, one line on stderr, got:\n{}",
        lines.join("\n")
    );
    let line = &lines[0];
    assert!(
        line.starts_with("dialplans/office.toml"),
        "the line does not name the file first: {line}"
    );
    assert!(
        line.contains("hotline.office.languge"),
        "the line does not name the key: {line}"
    );
    assert!(
        line.contains("unknown"),
        "the line does not say the key is unknown: {line}"
    );
}

#[test]
fn menu_choice_to_a_missing_flow_is_one_line_naming_the_choice_and_the_flow() {
    let config = ConfigCopy::of_shipped();
    edit(
        &config,
        "dialplans/hotline.toml",
        "\"3\" = { flow = \"account\" }",
        "\"3\" = { flow = \"acount\" }",
    );
    let out = check(config.path());
    let lines = assert_refused(&out, "a menu choice to a missing flow");
    assert_eq!(
        lines.len(),
        1,
        "one problem, one line on stderr, got:\n{}",
        lines.join("\n")
    );
    let line = &lines[0];
    assert!(
        line.starts_with("dialplans/hotline.toml"),
        "the line does not name the file first: {line}"
    );
    assert!(
        line.contains("flow.main_menu") && line.contains("choices") && line.contains("\"3\""),
        "the line does not name the menu choice's key: {line}"
    );
    assert!(
        line.contains("unknown flow \"acount\""),
        "the line does not say which flow is missing: {line}"
    );
}

#[test]
fn greeting_over_ten_seconds_is_one_line_per_flow_that_plays_it() {
    let config = config_with_long_greeting();
    let out = check(config.path());
    let lines = assert_refused(&out, "a 12 s greeting");
    let flows = flows_greeting_with_welcome(config.path());
    assert!(
        !flows.is_empty(),
        "no shipped flow plays welcome as its greeting"
    );
    assert_eq!(
        lines.len(),
        flows.len(),
        "one line per flow greeting with the long prompt ({flows:?}), got:\n{}",
        lines.join("\n")
    );
    for (file, flow) in &flows {
        let line = lines
            .iter()
            .find(|l| l.starts_with(file.as_str()) && l.contains(&format!("flow.{flow}.")))
            .unwrap_or_else(|| {
                panic!(
                    "no line names {file} and flow.{flow}:\n{}",
                    lines.join("\n")
                )
            });
        assert!(
            line.contains("\"welcome\"") && line.contains("zh"),
            "the line does not name the prompt and its language: {line}"
        );
        assert!(
            line.contains("12 s") && line.contains("greeting_max") && line.contains("10 s"),
            "the line does not say the greeting is 12 s against greeting_max 10 s: {line}"
        );
    }
}

#[test]
fn serve_refuses_a_greeting_over_ten_seconds_with_the_same_sentence() {
    let config = config_with_long_greeting();
    let expected = assert_refused(&check(config.path()), "a 12 s greeting");

    let data = tempfile::Builder::new()
        .prefix("hotline-data-")
        .tempdir()
        .expect("data tempdir");
    let ports = PortBlock::reserve();
    let out = hotline(
        &[
            "serve",
            "--sip",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--rtp-ports",
            &ports.switch_rtp(),
            "--data",
            data.path().to_str().expect("utf-8 data dir"),
        ],
        config.path(),
    );
    let stdout = text(&out.stdout);
    assert!(
        !out.status.success(),
        "hotline serve started with a 12 s greeting: exit {:?}\nstdout:\n{stdout}",
        out.status.code()
    );
    assert!(
        !stdout.contains("hotline ready"),
        "hotline serve said it was ready with a 12 s greeting:\n{stdout}"
    );
    let said = text(&out.stderr);
    for sentence in &expected {
        assert!(
            said.lines()
                .any(|l| l.trim_end().ends_with(sentence.as_str())),
            "hotline serve did not give check's sentence {sentence:?}; it said:\n{said}"
        );
    }
}

#[test]
fn an_mp3_welcome_prompt_is_decoded_at_start_up_and_listed_with_its_length() {
    let config = ConfigCopy::of_shipped();
    let english = config.path().join("prompts/en");
    std::fs::remove_file(english.join("welcome.wav")).expect("remove the WAV greeting");
    // A 1.2 s 1 kHz tone, 48 kHz stereo MP3 (tests/fixtures/prompts/make.sh); the WAV it
    // replaces lasts 6.3 s, so the line below can only come from decoding the MP3.
    std::fs::copy(
        repo_root().join("tests/fixtures/prompts/en/tone_48k_stereo.mp3"),
        english.join("welcome.mp3"),
    )
    .expect("copy the MP3 greeting");

    let out = check(config.path());
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "hotline check refused an MP3 greeting: exit {:?}\n{}",
        out.status.code(),
        text(&out.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some("en/welcome"))
        .unwrap_or_else(|| panic!("the summary does not list en/welcome:\n{stdout}"));
    assert_eq!(
        line.split_whitespace().collect::<Vec<_>>(),
        ["en/welcome", "1.2", "s"]
    );
}
