use std::fs;
use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::recording::{relative_path, BYTES_PER_SECOND};
use crate::store::NewCall;

/// A file as a writer killed mid-call leaves it: the header says `header_says` bytes of
/// audio, `audio` bytes follow (frame i's left sample is i, right sample is -i).
fn killed_recording(path: &Path, header_says: u32, audio: usize) -> Vec<u8> {
    let mut bytes = header(header_says).to_vec();
    let mut i: i16 = 0;
    while bytes.len() < HEADER_LEN as usize + audio {
        bytes.extend_from_slice(&i.to_le_bytes());
        bytes.extend_from_slice(&(-i).to_le_bytes());
        i = i.wrapping_add(1);
    }
    bytes.truncate(HEADER_LEN as usize + audio);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, &bytes).unwrap();
    bytes
}

#[test]
fn a_header_left_behind_the_data_is_rewritten_to_the_whole_frames_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.wav");
    // 2.5 s of audio plus a torn frame (3 bytes); the header was last updated at 1 s.
    let audio = (BYTES_PER_SECOND * 5 / 2) as usize + 3;
    let before = killed_recording(&path, BYTES_PER_SECOND as u32, audio);

    let repaired = repair_file(&path).unwrap();

    assert_eq!(repaired.data_bytes, BYTES_PER_SECOND * 5 / 2);
    assert_eq!(repaired.duration_ms, 2_500);
    assert_eq!(repaired.torn_bytes, 3);
    let after = fs::read(&path).unwrap();
    assert_eq!(after.len() as u64, HEADER_LEN + BYTES_PER_SECOND * 5 / 2);
    assert_eq!(&after[..HEADER_LEN as usize], &header(80_000)[..]);
    assert_eq!(
        &after[HEADER_LEN as usize..],
        &before[HEADER_LEN as usize..after.len()],
        "not one byte of audio is changed"
    );
    let reader = hound::WavReader::open(&path).unwrap();
    let spec = reader.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (2, 8_000, 16)
    );
    assert_eq!(reader.duration(), 20_000);
    let samples: Vec<i16> = reader.into_samples::<i16>().map(Result::unwrap).collect();
    assert_eq!(&samples[..6], &[0, 0, 1, -1, 2, -2]);
    assert_eq!(samples[39_998], 19_999);
    assert_eq!(samples[39_999], -19_999);
    let expected: String = Sha256::digest(&after)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(repaired.sha256, expected);
}

#[test]
fn a_file_cut_inside_its_header_becomes_an_empty_valid_recording() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.wav");
    fs::write(&path, &header(0)[..20]).unwrap();
    let repaired = repair_file(&path).unwrap();
    assert_eq!((repaired.data_bytes, repaired.duration_ms), (0, 0));
    assert_eq!(fs::read(&path).unwrap(), header(0).to_vec());
    assert_eq!(hound::WavReader::open(&path).unwrap().duration(), 0);
}

#[test]
fn a_finished_file_comes_out_of_a_repair_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.wav");
    let before = killed_recording(&path, 4_000, 4_000);
    let repaired = repair_file(&path).unwrap();
    assert_eq!((repaired.data_bytes, repaired.torn_bytes), (4_000, 0));
    assert_eq!(fs::read(&path).unwrap(), before);
}

fn call(store: &Store, id: &str) {
    store
        .begin_call(&NewCall {
            id: id.into(),
            sip_call_id: format!("{id}@test"),
            from: "sip:caller@test".into(),
            to: "sip:4008@test".into(),
            hotline: Some("service".into()),
            started_at: "2026-12-01T02:00:00Z".parse().unwrap(),
        })
        .unwrap();
}

#[test]
fn start_up_marks_every_unfinished_recording_cut_short_with_the_length_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let at: jiff::Timestamp = "2026-12-01T02:00:01Z".parse().unwrap();
    for id in ["torn", "gone", "done"] {
        call(&store, id);
        store
            .recording_started(id, &relative_path(at, id), at, 1_000)
            .unwrap();
    }
    let torn = absolute_path(dir.path(), &relative_path(at, "torn"));
    killed_recording(&torn, 0, 3 * BYTES_PER_SECOND as usize + 2);
    let done = absolute_path(dir.path(), &relative_path(at, "done"));
    killed_recording(&done, 8_000, 8_000);
    store
        .recording_finished(
            "done",
            &RecordingEnd {
                state: RecordingState::Complete,
                duration_ms: 250,
                sha256: "kept".into(),
                lost_ms: 0,
            },
        )
        .unwrap();

    let mut repairs = repair_unfinished(&store, dir.path()).unwrap();
    repairs.sort_by_key(|r| format!("{r:?}"));

    assert_eq!(repairs.len(), 2, "{repairs:?}");
    assert!(matches!(&repairs[0], Repair::CutShort { call_id, file }
        if call_id == "torn" && file.duration_ms == 3_000 && file.torn_bytes == 2));
    assert_eq!(
        repairs[1],
        Repair::Missing {
            call_id: "gone".into()
        }
    );
    let torn_row = store.recording("torn").unwrap().unwrap();
    assert_eq!(torn_row.state, RecordingState::CutShort);
    assert_eq!(torn_row.duration_ms, Some(3_000));
    assert_eq!(torn_row.sha256.as_deref().map(str::len), Some(64));
    assert_eq!(hound::WavReader::open(&torn).unwrap().duration(), 24_000);
    let gone_row = store.recording("gone").unwrap().unwrap();
    assert_eq!(
        (gone_row.state, gone_row.duration_ms),
        (RecordingState::CutShort, Some(0))
    );
    let done_row = store.recording("done").unwrap().unwrap();
    assert_eq!(
        done_row.state,
        RecordingState::Complete,
        "finished ones are left alone"
    );
    assert_eq!(done_row.sha256.as_deref(), Some("kept"));
    assert!(repair_unfinished(&store, dir.path()).unwrap().is_empty());
}

#[test]
fn a_file_that_cannot_be_opened_is_left_for_the_next_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let at: jiff::Timestamp = "2026-12-01T02:00:01Z".parse().unwrap();
    call(&store, "odd");
    store
        .recording_started("odd", &relative_path(at, "odd"), at, 0)
        .unwrap();
    // A folder where the file should be: no repair can open it for writing.
    let path = absolute_path(dir.path(), &relative_path(at, "odd"));
    fs::create_dir_all(&path).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o700)).unwrap();
    let repairs = repair_unfinished(&store, dir.path()).unwrap();
    assert!(
        matches!(&repairs[..], [Repair::Failed { call_id, why }] if call_id == "odd" && why.contains("odd.wav")),
        "{repairs:?}"
    );
    assert_eq!(
        store.recording("odd").unwrap().unwrap().state,
        RecordingState::Recording
    );
}

#[test]
fn audio_past_what_a_riff_header_can_describe_is_cut_at_the_last_whole_frame_below_4_gib() {
    // 2^32 - 36 bytes is the most a RIFF size can say; the last whole frame below it.
    let most = 4_294_967_256;
    assert_eq!(MAX_DATA_BYTES, most);
    assert_eq!(most % FRAME_BYTES, 0);
    assert!(most + 36 <= u64::from(u32::MAX));
    assert_eq!(
        audio_extent(HEADER_LEN + 5 * (1 << 30)),
        (most, 5 * (1 << 30) - most)
    );
    assert_eq!(audio_extent(HEADER_LEN + most + 3), (most, 3));
    assert_eq!(audio_extent(HEADER_LEN + 4_003), (4_000, 3));
    assert_eq!(audio_extent(10), (0, 0));
}
