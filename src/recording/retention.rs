//! Retention: recordings older than the setting (days after the call started) are deleted
//! from disk and their rows say `deleted` (and when), so a reviewer who opens an old call
//! sees that its recording expired rather than a broken player. Run at start-up and then
//! every hour by the driver; recordings still being written are never touched.

use std::io;
use std::path::Path;

use super::absolute_path;
use crate::store::{Store, StoreError};

/// What one sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Sweep {
    /// Call ids whose recording was deleted (or was already gone) and is now marked so.
    pub deleted: Vec<String>,
    /// Files that could not be removed (`path: error`): their rows are left for next time.
    pub failed: Vec<String>,
}

/// Deletes every finished recording that started more than `days` days before `now`.
pub fn sweep(
    store: &Store,
    data_dir: &Path,
    now: jiff::Timestamp,
    days: u32,
) -> Result<Sweep, StoreError> {
    let cutoff = now
        .checked_sub(jiff::SignedDuration::from_hours(i64::from(days) * 24))
        .unwrap_or(jiff::Timestamp::MIN);
    let mut sweep = Sweep::default();
    for recording in store.recordings_started_before(cutoff)? {
        let path = absolute_path(data_dir, &recording.file);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => {
                sweep.failed.push(format!("{}: {error}", path.display()));
                continue;
            }
        }
        store.recording_deleted(&recording.call_id, now)?;
        sweep.deleted.push(recording.call_id);
    }
    Ok(sweep)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::{header, relative_path};
    use crate::store::{NewCall, RecordingEnd, RecordingState};

    fn recorded(store: &Store, data: &Path, id: &str, started: &str, finished: bool) -> String {
        let at: jiff::Timestamp = started.parse().unwrap();
        store
            .begin_call(&NewCall {
                id: id.into(),
                sip_call_id: format!("{id}@test"),
                from: "sip:caller@test".into(),
                to: "sip:4008@test".into(),
                hotline: None,
                started_at: at,
            })
            .unwrap();
        let file = relative_path(at, id);
        store.recording_started(id, &file, at, 0).unwrap();
        let path = absolute_path(data, &file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, header(0)).unwrap();
        if finished {
            store
                .recording_finished(
                    id,
                    &RecordingEnd {
                        state: RecordingState::Complete,
                        duration_ms: 0,
                        sha256: String::new(),
                        lost_ms: 0,
                    },
                )
                .unwrap();
        }
        file
    }

    #[test]
    fn recordings_older_than_the_setting_are_deleted_and_marked_and_newer_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path();
        let store = Store::open(data).unwrap();
        let old = recorded(&store, data, "old", "2026-08-01T10:00:00Z", true);
        let edge = recorded(&store, data, "edge", "2026-09-01T10:00:01Z", true);
        let live = recorded(&store, data, "live", "2026-07-01T10:00:00Z", false);
        let now: jiff::Timestamp = "2026-11-30T10:00:00Z".parse().unwrap();

        let done = sweep(&store, data, now, 90).unwrap();

        assert_eq!(done.deleted, vec!["old"]);
        assert!(done.failed.is_empty());
        assert!(!absolute_path(data, &old).exists());
        assert!(
            absolute_path(data, &edge).exists(),
            "89 days 23:59:59 old is kept"
        );
        assert!(
            absolute_path(data, &live).exists(),
            "one being written is never deleted"
        );
        assert_eq!(
            store.recording("old").unwrap().unwrap().state,
            RecordingState::Deleted
        );
        assert_eq!(
            store.recording("edge").unwrap().unwrap().state,
            RecordingState::Complete
        );
        assert!(sweep(&store, data, now, 90).unwrap().deleted.is_empty());
    }

    #[test]
    fn a_file_already_gone_is_still_marked_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path();
        let store = Store::open(data).unwrap();
        let file = recorded(&store, data, "gone", "2026-01-01T00:00:00Z", true);
        std::fs::remove_file(absolute_path(data, &file)).unwrap();
        let now: jiff::Timestamp = "2026-11-30T10:00:00Z".parse().unwrap();
        assert_eq!(sweep(&store, data, now, 30).unwrap().deleted, vec!["gone"]);
        assert_eq!(
            store.recording("gone").unwrap().unwrap().state,
            RecordingState::Deleted
        );
    }

    #[test]
    fn a_file_that_cannot_be_removed_keeps_its_row_for_the_next_sweep() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path();
        let store = Store::open(data).unwrap();
        let file = recorded(&store, data, "stuck", "2026-01-01T00:00:00Z", true);
        // A non-empty folder in the file's place: remove_file fails.
        let path = absolute_path(data, &file);
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir_all(path.join("x")).unwrap();
        let now: jiff::Timestamp = "2026-11-30T10:00:00Z".parse().unwrap();
        let done = sweep(&store, data, now, 30).unwrap();
        assert!(done.deleted.is_empty());
        assert_eq!(done.failed.len(), 1);
        assert!(done.failed[0].contains("stuck.wav"), "{:?}", done.failed);
        assert_eq!(
            store.recording("stuck").unwrap().unwrap().state,
            RecordingState::Complete
        );
    }
}
