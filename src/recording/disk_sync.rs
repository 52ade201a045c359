//! The sync schedule of the recordings: ONE thread that, every [`SYNC_EVERY`] in which the
//! recording service wrote something (its [`WrittenMark`]), asks the kernel to put everything
//! written under the data directory's filesystem on the disk (`syncfs`), and once more when
//! the recording service stops. An idle switch syncs nothing: `syncfs` flushes every
//! program's dirty pages on that filesystem, not only the recordings'.
//!
//! One `syncfs` covers every recording at once — those being written and those finished
//! since the last one — where an `fdatasync` per file cost each file its own metadata write
//! (on ext4 without a journal, a synchronous inode write per call), and it runs off the
//! recordings thread, so writing audio never waits for the disk to confirm. A `kill -9`
//! loses nothing either way (written audio is in the page cache); what this bounds is what a
//! power cut can take: the last [`SYNC_EVERY`] of audio, of a call still going or of one that
//! ended in that time (its record already says `complete`; Asterisk and FreeSWITCH leave
//! this to the kernel's own writeback, about 30 s).
//!
//! Owns only its thread and the directory handle. Must not: touch a recording's file.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Audio reaches the disk at most this long after it was written.
pub const SYNC_EVERY: Duration = Duration::from_secs(5);

/// Set by the recording service after it writes; taken by the sync thread, which syncs only
/// when it was set. A write after the take sets it again for the next sync.
#[derive(Clone, Default)]
pub struct WrittenMark(Arc<AtomicBool>);

impl WrittenMark {
    pub fn set(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether it was set, clearing it.
    pub fn take(&self) -> bool {
        self.0.swap(false, Ordering::AcqRel)
    }
}

/// The running sync thread; [`DiskSync::stop`] syncs a last time and ends it.
pub struct DiskSync {
    stop: Sender<()>,
    thread: JoinHandle<()>,
    /// Syncs that succeeded so far.
    syncs: Arc<AtomicU64>,
    /// Scheduled wakes so far (each `every`), whether they synced or not.
    wakes: Arc<AtomicU64>,
}

impl DiskSync {
    /// Starts syncing the filesystem holding `dir` every `every` in which `written` was set.
    pub fn start(dir: &Path, every: Duration, written: WrittenMark) -> io::Result<DiskSync> {
        let handle = File::open(dir)?;
        let (stop, stopped) = mpsc::channel::<()>();
        let syncs = Arc::new(AtomicU64::new(0));
        let wakes = Arc::new(AtomicU64::new(0));
        let (counted, woken) = (Arc::clone(&syncs), Arc::clone(&wakes));
        let thread = std::thread::Builder::new()
            .name("recording-sync".into())
            .spawn(move || loop {
                let last = match stopped.recv_timeout(every) {
                    Err(RecvTimeoutError::Timeout) => false,
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => true,
                };
                if written.take() || last {
                    match sync_filesystem(handle.as_raw_fd()) {
                        Ok(()) => {
                            counted.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => tracing::error!(error = %e, "recordings: syncfs failed"),
                    }
                }
                if last {
                    return;
                }
                // Counted after the wake's sync: a wake that is counted has had its say.
                woken.fetch_add(1, Ordering::Release);
            })?;
        Ok(DiskSync {
            stop,
            thread,
            syncs,
            wakes,
        })
    }

    /// Syncs that succeeded so far.
    pub fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    /// Scheduled wakes so far, synced or not (the last one, at stop, is not counted).
    pub fn wakes(&self) -> u64 {
        self.wakes.load(Ordering::Acquire)
    }

    /// Syncs a last time, ends the thread, and says how many syncs succeeded in all.
    pub fn stop(self) -> u64 {
        drop(self.stop);
        let _ = self.thread.join();
        self.syncs.load(Ordering::Relaxed)
    }
}

/// `syncfs(2)`: every dirty page and inode of the filesystem holding the open file `fd`; a
/// descriptor that is not open is an error (`EBADF`).
pub fn sync_filesystem(fd: RawFd) -> io::Result<()> {
    // SAFETY: syncfs only reads its integer argument; any value is defined (EBADF if closed).
    if unsafe { libc::syncfs(fd) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn it_syncs_on_its_schedule_and_once_more_when_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let written = WrittenMark::default();
        let sync = DiskSync::start(dir.path(), Duration::from_millis(5), written.clone()).unwrap();
        // The schedule runs three times while not stopped, the service writing all along.
        until(|| {
            written.set();
            sync.syncs() >= 3
        });
        assert!(sync.syncs() >= 3, "{} syncs at one per 5 ms", sync.syncs());
        let before = sync.syncs();
        assert!(sync.stop() > before, "one last sync when stopped");
    }

    /// Yields until `done` or 20 s have passed (a loaded machine may hold the thread back):
    /// the test's assertions are about the wakes counted, not about how long they took.
    fn until(done: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done() && Instant::now() < deadline {
            std::thread::yield_now();
        }
    }

    #[test]
    fn nothing_written_nothing_synced_until_the_last_sync_at_stop() {
        let dir = tempfile::tempdir().unwrap();
        let written = WrittenMark::default();
        let sync = DiskSync::start(dir.path(), Duration::from_millis(5), written.clone()).unwrap();
        // Twenty scheduled wakes with nothing written.
        until(|| sync.wakes() >= 20);
        assert!(sync.wakes() >= 20, "{} wakes", sync.wakes());
        assert_eq!(sync.syncs(), 0);
        written.set();
        until(|| sync.syncs() >= 1);
        assert_eq!(sync.syncs(), 1, "one sync for the one write");
        // Five more wakes, nothing written since.
        let woken = sync.wakes();
        until(|| sync.wakes() >= woken + 5);
        assert!(sync.wakes() >= woken + 5, "{} wakes", sync.wakes());
        assert_eq!(sync.syncs(), 1, "the write was synced once");
        assert_eq!(sync.stop(), 2, "and once more when stopped");
    }

    #[test]
    fn stopping_before_the_first_tick_still_syncs_once() {
        let dir = tempfile::tempdir().unwrap();
        let sync = DiskSync::start(
            dir.path(),
            Duration::from_secs(3600),
            WrittenMark::default(),
        )
        .unwrap();
        let started = Instant::now();
        assert_eq!(sync.stop(), 1);
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "stop waited for the schedule"
        );
    }

    #[test]
    fn a_sync_the_kernel_refuses_is_an_error_not_a_success() {
        let dir = tempfile::tempdir().unwrap();
        let open = File::open(dir.path()).unwrap();
        assert!(sync_filesystem(open.as_raw_fd()).is_ok());
        let error = sync_filesystem(-1).unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::EBADF));
    }

    #[test]
    fn a_missing_directory_is_an_error_at_start() {
        let dir = tempfile::tempdir().unwrap();
        assert!(DiskSync::start(
            &dir.path().join("absent"),
            SYNC_EVERY,
            WrittenMark::default()
        )
        .is_err());
    }
}
