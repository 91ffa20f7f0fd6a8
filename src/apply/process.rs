//! The sandboxed child's life: fork, enter the sandbox, run a body, report;
//! and the parent's side: take the listener, supervise, wait with a deadline.
//!
//! Handing the listener over follows the measured recipe: SCM_RIGHTS would
//! deadlock (sendmsg is itself notified), so the child writes the fd number
//! to a pipe, the parent takes it with `pidfd_getfd` and acknowledges.

use super::linux::{errno, take_listener, Filter, Supervisor};
use super::ApplyError;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// Messages on the report pipe: 8 bytes each (atomic below PIPE_BUF).
const MSG_LISTENER: u32 = 1;
const MSG_SETUP_FAILED: u32 = 2;
const MSG_RESULT: u32 = 3;

/// Exit code of a child whose sandbox setup failed.
const EXIT_SETUP_FAILED: i32 = 125;

/// How a supervised child ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The body ran and reported `result`; the child exited with `status`.
    Reported { result: i32 },
    /// The body did not report: it crashed or exited early.
    Died { status: ExitStatus },
    /// Still running at the deadline: the whole process group was killed.
    TimedOut,
    /// The sandbox could not be entered.
    SetupFailed(ApplyError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Code(c) => write!(f, "exit code {c}"),
            ExitStatus::Signal(s) => write!(f, "killed by signal {s}"),
        }
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), ApplyError> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 writes two fds into `fds`.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(ApplyError::Sys {
            call: "pipe2",
            errno: errno(),
        });
    }
    // SAFETY: both fds are new and owned by us alone.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Writes one 8-byte message. Async-signal-safe.
fn send(fd: RawFd, tag: u32, value: i32) {
    let mut msg = [0u8; 8];
    msg[..4].copy_from_slice(&tag.to_le_bytes());
    msg[4..].copy_from_slice(&value.to_le_bytes());
    let _ = super::sys::write(fd, &msg);
}

/// Closes every fd of the child except stdio and `keep`, so pipes other
/// tests' children hold cannot leak into this one. Async-signal-safe.
fn close_all_but(keep: [RawFd; 2]) {
    let (lo, hi) = (keep[0].min(keep[1]) as u32, keep[0].max(keep[1]) as u32);
    // SAFETY: close_range on integer ranges; fds outside `keep` are not used.
    unsafe {
        libc::syscall(libc::SYS_close_range, 3u32, lo.saturating_sub(1), 0u32);
        if hi > lo + 1 {
            libc::syscall(libc::SYS_close_range, lo + 1, hi - 1, 0u32);
        }
        libc::syscall(libc::SYS_close_range, hi + 1, u32::MAX, 0u32);
    }
}

/// The child after `fork()`: raw syscalls only, never returns.
fn child(filter: &Filter, report: RawFd, ack: RawFd, body: &dyn Fn() -> i32) -> ! {
    close_all_but([report, ack]);
    // Own process group, so a timeout can kill everything the probe started.
    // SAFETY: setpgid on ourselves.
    unsafe { libc::setpgid(0, 0) };
    match filter.install() {
        Ok(listener) => {
            send(report, MSG_LISTENER, listener);
            let mut byte = [0u8; 1];
            // Wait until the parent holds the listener.
            let _ = super::sys::read(ack, &mut byte);
            super::sys::close(listener);
            super::sys::close(ack);
            let result = body();
            send(report, MSG_RESULT, result);
            // SAFETY: _exit ends the child without running atexit handlers.
            unsafe { libc::_exit(0) }
        }
        Err(e) => {
            send(report, MSG_SETUP_FAILED, e);
            // SAFETY: as above.
            unsafe { libc::_exit(EXIT_SETUP_FAILED) }
        }
    }
}

/// Runs `body` in a forked child under the seccomp filter, supervised by
/// `supervisor`, killing the child's process group at `timeout`.
///
/// `body` runs after `fork()` in a possibly multi-threaded process: it must
/// only make raw syscalls on memory prepared before the call (see
/// [`super::sys`]), and must not allocate, lock or panic.
pub fn run_supervised(
    filter: &Filter,
    supervisor: &mut Supervisor<'_>,
    timeout: Duration,
    body: &dyn Fn() -> i32,
) -> Result<Ending, ApplyError> {
    let (report_rx, report_tx) = pipe()?;
    let (ack_rx, ack_tx) = pipe()?;
    let deadline = Instant::now() + timeout;
    // SAFETY: the child only runs `child`, which makes raw syscalls on memory
    // prepared before this point and never returns.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(ApplyError::Sys {
            call: "fork",
            errno: errno(),
        });
    }
    if pid == 0 {
        child(filter, report_tx.as_raw_fd(), ack_rx.as_raw_fd(), body);
    }
    drop((report_tx, ack_rx));
    let mut guard = ChildGuard { pid, reaped: false };
    let ending = parent(pid, supervisor, &report_rx, &ack_tx, deadline)?;
    let status = guard.wait(deadline);
    Ok(match (ending, status) {
        (Some(e), _) => e,
        (None, None) => Ending::TimedOut,
        (None, Some(status)) => Ending::Died { status },
    })
}

/// Supervises until the child reports a result, dies, or the deadline.
fn parent(
    pid: i32,
    supervisor: &mut Supervisor<'_>,
    report: &OwnedFd,
    ack: &OwnedFd,
    deadline: Instant,
) -> Result<Option<Ending>, ApplyError> {
    let mut listener: Option<OwnedFd> = None;
    loop {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            return Ok(None);
        };
        let mut fds = [
            libc::pollfd {
                fd: report.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: listener.as_ref().map_or(-1, |l| l.as_raw_fd()),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
        // SAFETY: fds is a valid array of two pollfd; a negative fd is ignored.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
        if n < 0 && errno() != libc::EINTR {
            return Err(ApplyError::Sys {
                call: "poll",
                errno: errno(),
            });
        }
        if fds[1].revents & libc::POLLIN != 0 {
            if let Some(l) = &listener {
                supervisor.handle_one(l)?;
            }
            continue;
        }
        if fds[0].revents & (libc::POLLIN | libc::POLLHUP) != 0 {
            let mut msg = [0u8; 8];
            let got = super::sys::read(report.as_raw_fd(), &mut msg).unwrap_or(0);
            if got != 8 {
                // EOF: the child died without reporting.
                return Ok(None);
            }
            let tag = u32::from_le_bytes([msg[0], msg[1], msg[2], msg[3]]);
            let value = i32::from_le_bytes([msg[4], msg[5], msg[6], msg[7]]);
            match tag {
                MSG_LISTENER => {
                    listener = Some(take_listener(pid, value)?);
                    let _ = super::sys::write(ack.as_raw_fd(), &[1]);
                }
                MSG_SETUP_FAILED => {
                    return Ok(Some(Ending::SetupFailed(ApplyError::Sys {
                        call: "seccomp(SECCOMP_SET_MODE_FILTER)",
                        errno: value,
                    })))
                }
                MSG_RESULT => return Ok(Some(Ending::Reported { result: value })),
                _ => return Ok(None),
            }
        }
    }
}

/// Reaps the child on every path; kills its process group if still alive.
struct ChildGuard {
    pid: i32,
    reaped: bool,
}

impl ChildGuard {
    /// Waits for this exact pid until `deadline`; `None` if it had to be killed.
    fn wait(&mut self, deadline: Instant) -> Option<ExitStatus> {
        loop {
            let mut status = 0;
            // SAFETY: waitpid on our own child's pid, never -1.
            let rc = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
            if rc == self.pid {
                self.reaped = true;
                return Some(decode_status(status));
            }
            if rc < 0 {
                self.reaped = true;
                return None;
            }
            if Instant::now() >= deadline {
                self.kill_and_reap();
                return None;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    fn kill_and_reap(&mut self) {
        // SAFETY: signalling our child's process group, then our child.
        unsafe {
            libc::kill(-self.pid, libc::SIGKILL);
            libc::kill(self.pid, libc::SIGKILL);
            let mut status = 0;
            libc::waitpid(self.pid, &mut status, 0);
        }
        self.reaped = true;
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if !self.reaped {
            self.kill_and_reap();
        }
    }
}

fn decode_status(status: i32) -> ExitStatus {
    if libc::WIFSIGNALED(status) {
        ExitStatus::Signal(libc::WTERMSIG(status))
    } else {
        ExitStatus::Code(libc::WEXITSTATUS(status))
    }
}
