//! The two kernel objects a media worker sleeps on, wrapped over `libc`: a level-triggered
//! epoll instance (read readiness only, never write readiness) and the eventfd that tells
//! the worker commands are waiting in its channel.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A level-triggered epoll instance watching sockets for read readiness only: a datagram
/// left unread is reported again by the next wait, so one receive per readiness is enough.
pub(super) struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    pub(super) fn new() -> io::Result<Epoll> {
        // SAFETY: plain system call; the returned descriptor is owned from here on.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        Ok(Epoll {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Watches `fd` for input, reporting `token` when it has some.
    pub(super) fn add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: `event` outlives the call; both descriptors are open.
        let rc =
            unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut event) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Stops watching `fd` (before it is closed, so no stale readiness is reported).
    pub(super) fn delete(&self, fd: RawFd) {
        let mut event = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: as in `add`; a descriptor that is not watched just returns ENOENT.
        unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, &mut event) };
    }

    /// Waits at most `timeout_ms` for readiness and fills `events` (whose capacity bounds
    /// how many are taken at once). An interrupted wait returns no events.
    pub(super) fn wait(
        &self,
        events: &mut Vec<libc::epoll_event>,
        timeout_ms: i32,
    ) -> io::Result<()> {
        events.clear();
        let capacity = events.capacity().min(i32::MAX as usize) as i32;
        // SAFETY: the kernel writes at most `capacity` events into the vector's spare room,
        // and `n` of them are initialised when it returns.
        let n = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                events.as_mut_ptr(),
                capacity,
                timeout_ms,
            )
        };
        if n < 0 {
            let error = io::Error::last_os_error();
            return if error.kind() == io::ErrorKind::Interrupted {
                Ok(())
            } else {
                Err(error)
            };
        }
        // SAFETY: see above.
        unsafe { events.set_len(n as usize) };
        Ok(())
    }
}

/// A non-blocking eventfd: the SIP thread writes after queueing commands, the worker reads
/// it empty before taking them.
pub(super) struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    pub(super) fn new() -> io::Result<EventFd> {
        // SAFETY: plain system call; the returned descriptor is owned from here on.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        Ok(EventFd {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    pub(super) fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Wakes the worker. A full counter (EAGAIN) already means "wake up", so errors are moot.
    pub(super) fn notify(&self) {
        let one: u64 = 1;
        // SAFETY: writes eight bytes from a live u64.
        unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// Resets the counter; EAGAIN (already zero) is fine.
    pub(super) fn clear(&self) {
        let mut count: u64 = 0;
        // SAFETY: reads eight bytes into a live u64.
        unsafe { libc::read(self.fd.as_raw_fd(), (&mut count as *mut u64).cast(), 8) };
    }
}
