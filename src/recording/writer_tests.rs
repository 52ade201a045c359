use std::os::unix::fs::PermissionsExt;

use super::*;

/// A frame of `value` on the left and `-value` on the right, as the file's bytes.
fn frame(value: i16) -> [u8; TICK_BYTES] {
    let mut wav = [0; TICK_BYTES];
    for pair in wav.chunks_exact_mut(4) {
        pair[..2].copy_from_slice(&value.to_le_bytes());
        pair[2..].copy_from_slice(&(-value).to_le_bytes());
    }
    wav
}

/// A new recording `c.wav` in a temporary folder (kept while the test holds it), with the
/// buffers the service lends it.
fn new_recording() -> (tempfile::TempDir, PathBuf, WriteBuffers, RecordingFile) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.wav");
    let mut buffers = WriteBuffers::default();
    let file = RecordingFile::create(&path, &mut buffers).unwrap();
    (dir, path, buffers, file)
}

fn put_loud(file: &mut RecordingFile, indexes: std::ops::Range<u64>) {
    for index in indexes {
        file.put(index, &frame(1000));
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_file_parses_mid_recording_with_the_length_flushed_so_far() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("recordings/2026/12/01/c.wav");
    let mut file = RecordingFile::create(&path, &mut WriteBuffers::default()).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    assert_eq!(mode(&dir.path().join("recordings")), 0o700);
    assert_eq!(hound::WavReader::open(&path).unwrap().len(), 0);
    put_loud(&mut file, 0..50);
    file.flush().unwrap();
    for index in 50..60 {
        file.put(index, &frame(2000));
    }
    // Ten frames wait in the batch: the file says 50 frames, and holds exactly them.
    let reader = hound::WavReader::open(&path).unwrap();
    assert_eq!(reader.spec().channels, 2);
    assert_eq!(reader.duration(), 50 * 160);
    let samples: Vec<i16> = reader.into_samples().map(|s| s.unwrap()).collect();
    assert_eq!(samples.len(), 50 * 320);
    assert_eq!((samples[0], samples[1]), (1000, -1000));
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        HEADER_LEN + 50 * TICK_BYTES as u64
    );
    file.flush().unwrap();
    assert_eq!(hound::WavReader::open(&path).unwrap().duration(), 60 * 160);
}

#[test]
fn missing_frames_are_silence_counted_lost_up_to_the_end_and_the_digest_is_the_files() {
    let (_dir, path, mut buffers, mut file) = new_recording();
    file.put(0, &frame(500));
    file.put(1, &frame(500));
    file.put(5, &frame(700));
    // A repeated or late index is ignored.
    file.put(5, &frame(9));
    file.put(2, &frame(9));
    let finished = file.finish(8, &mut buffers).unwrap();
    assert_eq!(finished.lost_frames, 3 + 2);
    assert_eq!(finished.duration_ms, 8 * 20);
    let bytes = std::fs::read(&path).unwrap();
    use sha2::Digest;
    let digest: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(finished.sha256, digest);
    let samples: Vec<i16> = hound::WavReader::open(&path)
        .unwrap()
        .into_samples()
        .map(|s| s.unwrap())
        .collect();
    let left: Vec<i16> = samples.iter().step_by(2 * 160).copied().collect();
    assert_eq!(left, vec![500, 500, 0, 0, 0, 700, 0, 0]);
}

#[test]
fn the_next_recording_writes_through_the_last_ones_batch_and_holds_none_of_its_audio() {
    let dir = tempfile::tempdir().unwrap();
    let mut buffers = WriteBuffers::default();
    let first_path = dir.path().join("first.wav");
    let mut first = RecordingFile::create(&first_path, &mut buffers).unwrap();
    for index in 0..30 {
        first.put(index, &frame(1234));
    }
    assert_eq!(buffers.spare_batches(), 0);
    // Finished with audio still in its batch: written, then the batch is lent again.
    first.finish(30, &mut buffers).unwrap();
    assert_eq!(buffers.spare_batches(), 1);
    let second_path = dir.path().join("second.wav");
    let mut second = RecordingFile::create(&second_path, &mut buffers).unwrap();
    assert_eq!(buffers.spare_batches(), 0);
    assert_eq!(second.pending_bytes(), 0);
    second.put(0, &frame(77));
    second.finish(2, &mut buffers).unwrap();
    let samples: Vec<i16> = hound::WavReader::open(&second_path)
        .unwrap()
        .into_samples()
        .map(|s| s.unwrap())
        .collect();
    assert_eq!(samples.len(), 2 * 320);
    assert!(samples[..320].iter().all(|&s| s == 77 || s == -77));
    assert!(samples[320..].iter().all(|&s| s == 0));
    assert_eq!(
        hound::WavReader::open(&first_path).unwrap().duration(),
        30 * 160
    );
}

#[test]
fn a_batch_holds_two_seconds_and_a_frame_without_growing_and_at_most_128_wait_spare() {
    let dir = tempfile::tempdir().unwrap();
    let mut buffers = WriteBuffers::default();
    let mut file = RecordingFile::create(&dir.path().join("c.wav"), &mut buffers).unwrap();
    // Each open recording holds two seconds and a frame of batch, no more.
    let room = file.pending.capacity();
    assert_eq!(room, BATCH_BYTES + TICK_BYTES);
    for index in 0..=100 {
        file.put(index, &frame(1));
    }
    assert_eq!(file.pending_bytes(), BATCH_BYTES + TICK_BYTES);
    assert_eq!(file.pending.capacity(), room);
    assert_eq!(BATCH_BYTES as u64, 2 * crate::recording::BYTES_PER_SECOND);
    for _ in 0..200 {
        buffers.give_back(Vec::new());
    }
    assert_eq!(buffers.spare_batches(), 128);
}

/// Each frame of the file as (left, right) of its first sample.
fn frames_of(path: &Path) -> Vec<(i16, i16)> {
    let samples: Vec<i16> = hound::WavReader::open(path)
        .unwrap()
        .into_samples()
        .map(|s| s.unwrap())
        .collect();
    samples
        .chunks_exact(2 * FRAME_SAMPLES)
        .map(|f| {
            assert!(
                f.chunks_exact(2).all(|p| p == [f[0], f[1]]),
                "a frame is all one value"
            );
            (f[0], f[1])
        })
        .collect()
}

#[test]
fn a_pause_silences_frames_already_on_disk_and_in_the_batch_and_a_resume_ends_it_at_its_frame() {
    let (_dir, path, mut buffers, mut file) = new_recording();
    put_loud(&mut file, 0..4);
    file.flush().unwrap();
    put_loud(&mut file, 4..6);
    // The keys were pressed in frame 2, heard once frames up to 5 were placed: 2 and 3 are
    // on disk, 4 and 5 in the batch.
    file.pause_from(2).unwrap();
    put_loud(&mut file, 6..8);
    // Resumed in frame 9, heard before frame 8 came.
    file.resume_at(9);
    put_loud(&mut file, 8..12);
    let finished = file.finish(12, &mut buffers).unwrap();
    assert_eq!(finished.lost_frames, 0, "paused frames are not lost");
    let loud = (1000, -1000);
    let mut expected = vec![loud; 12];
    for paused in &mut expected[2..9] {
        *paused = (0, 0);
    }
    assert_eq!(frames_of(&path), expected);
}

#[test]
fn a_resume_heard_late_leaves_what_was_placed_silent_and_a_pause_before_it_lands_joins_the_span() {
    let (_dir, path, mut buffers, mut file) = new_recording();
    file.put(0, &frame(1000));
    file.pause_from(1).unwrap();
    put_loud(&mut file, 1..4);
    // Resumed in frame 2, heard after frame 3 was placed: 2 and 3 stay silent.
    file.resume_at(2);
    file.put(4, &frame(1000));
    // Paused in frame 7 and resumed in frame 9, both heard before frame 5: then paused
    // again in frame 10 before frame 9 came: the span runs from 7.
    file.pause_from(7).unwrap();
    file.resume_at(9);
    file.pause_from(10).unwrap();
    put_loud(&mut file, 5..12);
    // A resume before the pause's own frame (a clock quirk) ends the span at its start.
    file.resume_at(3);
    file.put(12, &frame(1000));
    let finished = file.finish(13, &mut buffers).unwrap();
    assert_eq!(finished.lost_frames, 0);
    let quiet: Vec<bool> = frames_of(&path).iter().map(|&f| f == (0, 0)).collect();
    let expected: Vec<bool> = (0..13)
        .map(|i| (1..4).contains(&i) || (7..12).contains(&i))
        .collect();
    assert_eq!(quiet, expected);
}

#[test]
fn a_pause_just_after_a_resume_took_effect_leaves_the_frames_between_as_sound() {
    let (_dir, path, mut buffers, mut file) = new_recording();
    file.put(0, &frame(1000));
    file.pause_from(1).unwrap();
    file.resume_at(3);
    put_loud(&mut file, 1..3);
    // The span ended exactly where the frames placed end: the next pause starts afresh.
    file.pause_from(5).unwrap();
    put_loud(&mut file, 3..7);
    file.finish(7, &mut buffers).unwrap();
    let quiet: Vec<bool> = frames_of(&path).iter().map(|&f| f == (0, 0)).collect();
    assert_eq!(quiet, vec![false, true, true, false, false, true, true]);
}

#[test]
fn silencing_frames_on_disk_writes_nothing_past_the_audio() {
    let (_dir, path, mut buffers, mut file) = new_recording();
    put_loud(&mut file, 0..3);
    file.flush().unwrap();
    file.pause_from(1).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        HEADER_LEN + 3 * TICK_BYTES as u64
    );
    file.finish(3, &mut buffers).unwrap();
    assert_eq!(frames_of(&path), vec![(1000, -1000), (0, 0), (0, 0)]);
}
