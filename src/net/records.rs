//! The call-record writer: one thread that owns the SQLite connection, so a slow disk
//! never stalls signalling or media. Records are sent to it in order and written in order,
//! gathered for at most [`BATCH_WINDOW`] into one transaction: a busy switch sends about a
//! dozen commands per call, and one commit for each cost more CPU than the rest of the call's
//! signalling.

use std::sync::mpsc::{self, TryRecvError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::store::Store;
use crate::switch::RecordCommand;

/// Commands written in one transaction at most: a burst after a stall is still committed in
/// bounded steps.
const BATCH_LIMIT: usize = 512;
/// How long the writer waits for more after the first command of a batch: what a record
/// may lag behind the call, and what a `kill -9` can lose on top of the queue.
pub const BATCH_WINDOW: Duration = Duration::from_millis(50);

/// Writes one command; a failure is logged with the command and the rest go on.
fn write(store: &Store, command: RecordCommand) {
    let result = match &command {
        RecordCommand::Begin(call) => store.begin_call(call),
        RecordCommand::Event { call_id, event } => store.append_event(call_id, event),
        RecordCommand::Finish {
            call_id,
            ended_at,
            outcome,
        } => store.finish_call(call_id, *ended_at, outcome),
        RecordCommand::SaveBindings { user, bindings } => store.save_bindings(user, bindings),
        RecordCommand::Callback(request) => store.add_callback(request),
        RecordCommand::MediaQuality {
            call_id,
            role,
            quality,
        } => store.save_media_quality(call_id, *role, quality),
        RecordCommand::RecordingStarted {
            call_id,
            file,
            started_at,
            offset_ms,
        } => store.recording_started(call_id, file, *started_at, *offset_ms),
        RecordCommand::RecordingFinished { call_id, end } => store.recording_finished(call_id, end),
    };
    if let Err(error) = result {
        tracing::error!(%error, ?command, "call record write failed");
    }
}

/// `first` and whatever else arrives within `window` of it (at most [`BATCH_LIMIT`]): one
/// commit for many events instead of one each.
///
/// The writer sleeps through the window and then takes what came, rather than waiting on
/// the channel: a sender then never finds it waiting, so a record costs the signalling
/// thread no futex wake-up and the writer one wake-up per batch instead of one per command
/// (a dozen per call under load). A backlog that already fills a batch is taken at once.
fn gather<T>(rx: &mpsc::Receiver<T>, first: T, window: Duration) -> Vec<T> {
    let mut batch = vec![first];
    take_waiting(rx, &mut batch);
    if batch.len() < BATCH_LIMIT {
        std::thread::sleep(window);
        take_waiting(rx, &mut batch);
    }
    batch
}

/// Moves what is queued into `batch`, up to [`BATCH_LIMIT`] in all.
fn take_waiting<T>(rx: &mpsc::Receiver<T>, batch: &mut Vec<T>) {
    while batch.len() < BATCH_LIMIT {
        match rx.try_recv() {
            Ok(command) => batch.push(command),
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
        }
    }
}

pub struct RecordWriter {
    tx: Option<mpsc::Sender<RecordCommand>>,
    thread: Option<JoinHandle<()>>,
}

impl RecordWriter {
    pub fn start(store: Store) -> RecordWriter {
        let (tx, rx) = mpsc::channel::<RecordCommand>();
        let thread = std::thread::Builder::new()
            .name("records".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let batch = gather(&rx, first, BATCH_WINDOW);
                    let batched = batch.len() > 1 && store.begin_batch().is_ok();
                    for command in batch {
                        write(&store, command);
                    }
                    if batched {
                        if let Err(error) = store.end_batch() {
                            tracing::error!(%error, "call record batch not committed");
                        }
                    }
                }
            })
            .expect("spawn the records thread");
        RecordWriter {
            tx: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn send(&self, command: RecordCommand) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(command);
        }
    }
}

impl Drop for RecordWriter {
    /// Everything sent so far is written before the writer goes away (shutdown flushes).
    fn drop(&mut self) {
        self.tx.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewCall;
    use crate::switch::timeline::{EventKind, TimelineEvent};

    #[test]
    fn commands_that_arrive_within_the_window_share_one_batch_and_later_ones_do_not() {
        let (tx, rx) = mpsc::channel();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            tx.send(2).unwrap();
            std::thread::sleep(Duration::from_millis(1_500));
            tx.send(3).unwrap();
        });
        let batch = gather(&rx, 1, Duration::from_millis(700));
        assert_eq!(batch, vec![1, 2]);
        sender.join().unwrap();
        assert_eq!(rx.try_recv(), Ok(3));
    }

    #[test]
    fn a_batch_stops_at_its_limit_even_inside_the_window() {
        let (tx, rx) = mpsc::channel();
        for i in 1..=BATCH_LIMIT + 5 {
            tx.send(i).unwrap();
        }
        let started = std::time::Instant::now();
        let batch = gather(&rx, 0, Duration::from_secs(30));
        assert_eq!(batch, (0..BATCH_LIMIT).collect::<Vec<_>>());
        assert_eq!(rx.try_recv(), Ok(BATCH_LIMIT));
        // A backlog that fills a batch is written at once, not after the window.
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "a full batch waited {:?} for a 30 s window",
            started.elapsed()
        );
    }

    #[test]
    fn a_burst_of_commands_is_written_whole_in_order_even_with_a_bad_one_inside() {
        let dir = tempfile::tempdir().unwrap();
        let writer = RecordWriter::start(Store::open(dir.path()).unwrap());
        writer.send(RecordCommand::Begin(NewCall {
            id: "c1".into(),
            sip_call_id: "abc@host".into(),
            from: "sip:caller@host".into(),
            to: "sip:4008@host".into(),
            hotline: Some("service".into()),
            started_at: "2025-03-11T02:00:00Z".parse().unwrap(),
        }));
        for i in 0..2_000u64 {
            let call_id = if i == 700 { "ghost" } else { "c1" };
            writer.send(RecordCommand::Event {
                call_id: call_id.into(),
                event: TimelineEvent {
                    offset_ms: i,
                    kind: EventKind::Ringing,
                },
            });
        }
        drop(writer);
        let record = Store::open(dir.path())
            .unwrap()
            .call("c1")
            .unwrap()
            .unwrap();
        let offsets: Vec<u64> = record.events.iter().map(|e| e.offset_ms).collect();
        let expected: Vec<u64> = (0..2_000).filter(|&i| i != 700).collect();
        assert_eq!(offsets, expected);
    }
}
