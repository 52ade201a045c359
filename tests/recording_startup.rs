//! What `hotline serve` does with recordings before it takes a call: a recording the last
//! run left unfinished (killed mid-call) is repaired and marked cut short, and recordings
//! past the retention setting are deleted and marked so.

mod common;

use std::time::{Duration, Instant};

use common::{PortBlock, Switch};
use hotline::recording::{absolute_path, header, relative_path, BYTES_PER_SECOND, HEADER_LEN};
use hotline::store::{NewCall, RecordingEnd, RecordingState, Store};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn seed_call(store: &Store, id: &str, started_at: jiff::Timestamp) -> String {
    store
        .begin_call(&NewCall {
            id: id.into(),
            sip_call_id: format!("{id}@seeded"),
            from: "sip:13800000000@trunk".into(),
            to: "sip:4008@hotline".into(),
            hotline: Some("service".into()),
            started_at,
        })
        .unwrap();
    let file = relative_path(started_at, id);
    store.recording_started(id, &file, started_at, 900).unwrap();
    file
}

fn recording_of(switch: &Switch, id: &str) -> Value {
    switch
        .call(id)
        .unwrap_or_else(|| panic!("no record of {id}"))["recording"]
        .clone()
}

#[test]
fn a_recording_killed_mid_call_is_repaired_and_an_expired_one_deleted_at_start_up() {
    let mut switch = Switch::start(PortBlock::reserve());
    switch.terminate(Duration::from_secs(10));
    let data = switch.data.path().to_path_buf();
    let now = jiff::Timestamp::now();
    {
        let store = Store::open(&data).unwrap();
        // Killed 1.5 s (and a torn half frame) into the audio; its header still says 0.
        let torn = seed_call(&store, "torn", now - jiff::SignedDuration::from_mins(5));
        let mut bytes = header(0).to_vec();
        bytes.extend((0..BYTES_PER_SECOND * 3 / 2 + 2).map(|i| (i % 251) as u8));
        let path = absolute_path(&data, &torn);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        // Finished 100 days ago: past the default 90-day retention.
        let old = seed_call(&store, "old", now - jiff::SignedDuration::from_hours(2_400));
        let old_path = absolute_path(&data, &old);
        std::fs::create_dir_all(old_path.parent().unwrap()).unwrap();
        std::fs::write(&old_path, header(0)).unwrap();
        store
            .recording_finished(
                "old",
                &RecordingEnd {
                    state: RecordingState::Complete,
                    duration_ms: 0,
                    sha256: String::new(),
                    lost_ms: 0,
                },
            )
            .unwrap();
    }

    switch.restart(Duration::from_secs(10));

    let torn = recording_of(&switch, "torn");
    assert_eq!(torn["state"], "cut_short", "{torn:#}");
    assert_eq!(torn["duration_ms"], 1_500, "{torn:#}");
    let path = absolute_path(&data, torn["file"].as_str().unwrap());
    let on_disk = std::fs::read(&path).unwrap();
    assert_eq!(on_disk.len() as u64, HEADER_LEN + BYTES_PER_SECOND * 3 / 2);
    let sha: String = Sha256::digest(&on_disk)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(torn["sha256"], sha.as_str());
    let wav = hound::WavReader::open(&path).expect("the repaired recording plays");
    assert_eq!(wav.duration(), 12_000);
    assert_eq!(wav.spec().channels, 2);

    // Retention runs on its own thread right after start-up: bounded wait for it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let old = loop {
        let old = recording_of(&switch, "old");
        if old["state"] == "deleted" || Instant::now() > deadline {
            break old;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(old["state"], "deleted", "{old:#}");
    assert!(!absolute_path(&data, old["file"].as_str().unwrap()).exists());
    assert_eq!(
        recording_of(&switch, "torn")["state"],
        "cut_short",
        "a recent recording is kept"
    );
    assert!(path.exists());
}
