//! The call-record writer: one thread that owns the SQLite connection, so a slow disk
//! never stalls signalling or media. Records are sent to it in order and written in order.

use std::sync::mpsc;
use std::thread::JoinHandle;

use crate::store::Store;
use crate::switch::RecordCommand;

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
                for command in rx {
                    let result = match &command {
                        RecordCommand::Begin(call) => store.begin_call(call),
                        RecordCommand::Event { call_id, event } => {
                            store.append_event(call_id, event)
                        }
                        RecordCommand::Finish {
                            call_id,
                            ended_at,
                            outcome,
                        } => store.finish_call(call_id, *ended_at, outcome),
                        RecordCommand::SaveBindings { user, bindings } => {
                            store.save_bindings(user, bindings)
                        }
                        RecordCommand::Callback(request) => store.add_callback(request),
                        RecordCommand::MediaQuality {
                            call_id,
                            role,
                            quality,
                        } => store.save_media_quality(call_id, *role, quality),
                    };
                    if let Err(error) = result {
                        tracing::error!(%error, ?command, "call record write failed");
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
