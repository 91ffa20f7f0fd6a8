//! More than one thread answering a command's listener, while its calls
//! overlap.
//!
//! One supervisor thread serialises a parallel workload: while it answers
//! one compiler's open, the other compiler's call waits and its CPU idles
//! (two compilers at once took 1.56x their bare time under one supervisor,
//! one compiler alone 1.1x). Worker threads waiting in `NOTIF_RECV` beside
//! the main one answer such calls in parallel: the kernel hands each
//! notification to one waiter. But it wakes every waiter for it (the others
//! find nothing and sleep again), and for a sequential program that costs
//! more than it gives (`find /usr` took 673 ms against 525 ms with one
//! thread). So the workers wait behind a [`Gate`], which the main thread
//! opens when it sees calls overlap (a call from another thread than the
//! last one, with yet another call pending behind it) and closes again after
//! a long run of calls that do not.
//!
//! Each worker has its own [`Supervisor`] from [`Supervisor::worker`]: the
//! same profile, settings and log, its own counts (added back when it
//! ends). Only where idle CPUs poll ([`super::cpu`]): with synchronous
//! wake-ups every waiting thread would be woken onto the caller's CPU,
//! ahead of it.
//!
//! A worker ends when the listener hangs up (no process uses the filter) or
//! when [`Workers::finish`] stops it; closing the gate or stopping
//! interrupts a worker's wait with a signal whose handler does nothing.

use super::{Handled, Stats, Supervisor};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Once};
use std::thread::{Scope, ScopedJoinHandle};
use std::time::Duration;

/// Overlapping calls seen before the gate opens.
const OVERLAPS_TO_OPEN: u32 = 4;
/// Calls in a row without an overlap before it closes again.
const CALM_TO_CLOSE: u32 = 256;

/// The signal that interrupts a worker's wait (its handler does nothing).
fn wake_signal() -> i32 {
    libc::SIGRTMIN() + 6
}

extern "C" fn ignore(_: i32) {}

/// Installs the do-nothing handler once, without SA_RESTART, so the
/// signal ends a blocked ioctl with EINTR.
fn install_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: all-zero is a valid sigaction; the handler is an
        // extern "C" fn that touches nothing, async-signal-safe.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = ignore as extern "C" fn(i32) as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(wake_signal(), &sa, std::ptr::null_mut());
        }
    });
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether the workers answer, shared by the main thread and the workers.
#[derive(Default)]
pub struct Gate {
    /// Whether the gate is open: read without a lock on every call a
    /// worker answers, changed under `changing` so a waiter cannot miss it.
    is_open: AtomicBool,
    changing: Mutex<()>,
    changed: Condvar,
    stop: AtomicBool,
    threads: Mutex<Vec<libc::pthread_t>>,
    /// How many workers have returned, for [`Workers::finish`] to wait on.
    ended: Mutex<usize>,
    ended_changed: Condvar,
}

impl Gate {
    pub fn is_open(&self) -> bool {
        self.is_open.load(Ordering::SeqCst)
    }

    fn set(&self, open: bool) {
        {
            let _changing = lock(&self.changing);
            self.is_open.store(open, Ordering::SeqCst);
        }
        self.changed.notify_all();
        if !open {
            self.interrupt();
        }
    }

    /// Interrupts every worker's wait once.
    fn interrupt(&self) {
        for &t in lock(&self.threads).iter() {
            // SAFETY: `t` is a worker thread of this gate, which stays
            // joinable (so its pthread_t live) until `finish` has joined it
            // after its last interrupt.
            unsafe { libc::pthread_kill(t, wake_signal()) };
        }
    }

    /// Counts a worker out.
    fn end(&self) {
        *lock(&self.ended) += 1;
        self.ended_changed.notify_all();
    }

    /// Waits up to `limit` for `n` workers to have returned: whether they
    /// have.
    fn wait_ended(&self, n: usize, limit: Duration) -> bool {
        let ended = lock(&self.ended);
        let (ended, _) = self
            .ended_changed
            .wait_timeout_while(ended, limit, |e| *e < n)
            .unwrap_or_else(|p| p.into_inner());
        *ended >= n
    }

    /// Waits for the gate to open: `false` when the workers are stopped.
    fn wait_open(&self) -> bool {
        let mut changing = lock(&self.changing);
        while !self.is_open() && !self.stop.load(Ordering::SeqCst) {
            changing = self
                .changed
                .wait(changing)
                .unwrap_or_else(|p| p.into_inner());
        }
        !self.stop.load(Ordering::SeqCst)
    }
}

/// What the main thread knows of overlapping calls (see [`Watch::seen`]).
#[derive(Default)]
pub struct Watch {
    gate: Arc<Gate>,
    last_pid: i32,
    overlaps: u32,
    calm: u32,
}

impl Watch {
    /// A call of `pid` was just received: if it comes from another thread
    /// than the last one, whether another call waits behind it (one poll,
    /// only then). Opens or closes the gate.
    pub fn seen(&mut self, listener: &OwnedFd, pid: i32) {
        let overlap = pid != self.last_pid && pending(listener);
        self.last_pid = pid;
        if overlap {
            self.calm = 0;
            self.overlaps += 1;
            if self.overlaps >= OVERLAPS_TO_OPEN && !self.gate.is_open() {
                self.gate.set(true);
            }
        } else {
            self.calm += 1;
            if self.calm >= CALM_TO_CLOSE {
                // A start-up's few overlaps (a pipeline's programs loading
                // at once) do not add up across calm runs.
                self.calm = 0;
                self.overlaps = 0;
                if self.gate.is_open() {
                    self.gate.set(false);
                }
            }
        }
    }
}

/// Worker threads of one supervision.
pub struct Workers<'scope> {
    handles: Vec<ScopedJoinHandle<'scope, Stats>>,
    gate: Arc<Gate>,
}

impl<'scope> Workers<'scope> {
    /// Starts up to `n` workers answering `listener` as `main` would, behind
    /// a closed gate, and gives `main` the [`Watch`] that opens it. None
    /// where `main` cannot have workers (it records, or a zygote forks
    /// through it) or the listener cannot be duplicated.
    pub fn start<'env, 'p: 'scope>(
        scope: &'scope Scope<'scope, 'env>,
        main: &mut Supervisor<'p>,
        listener: &OwnedFd,
        n: usize,
    ) -> Workers<'scope> {
        install_handler();
        let gate = Arc::new(Gate::default());
        let mut handles = Vec::new();
        for _ in 0..n {
            let (Some(sup), Ok(fd)) = (main.worker(), listener.try_clone()) else {
                break;
            };
            let gate = gate.clone();
            handles.push(scope.spawn(move || serve(sup, fd, &gate)));
        }
        if !handles.is_empty() {
            main.set_watch(Some(Watch {
                gate: gate.clone(),
                ..Watch::default()
            }));
        }
        Workers { handles, gate }
    }

    /// Ends every worker and returns their counts, summed.
    pub fn finish(self) -> Stats {
        self.gate.stop.store(true, Ordering::SeqCst);
        self.gate.set(false);
        // A worker may be about to enter its wait when the signal comes:
        // interrupt again until each has returned. Waiting on the count
        // rather than sleeping a fixed time: a sleep of 1 ms before the
        // first check cost every short command that much (`sbcheck exec
        // /bin/true` 5.5 ms against 4.2 ms without workers).
        let n = self.handles.len();
        // (A worker that panicked is not counted, but has finished.)
        while !self.gate.wait_ended(n, Duration::from_millis(1))
            && !self.handles.iter().all(|h| h.is_finished())
        {
            self.gate.interrupt();
        }
        let mut total = Stats::default();
        for h in self.handles {
            if let Ok(s) = h.join() {
                total += s;
            }
        }
        total
    }
}

/// One worker: answers while the gate is open, until the listener hangs up
/// or it is stopped.
fn serve(mut sup: Supervisor<'_>, listener: OwnedFd, gate: &Gate) -> Stats {
    // SAFETY: pthread_self takes nothing.
    let me = unsafe { libc::pthread_self() };
    lock(&gate.threads).push(me);
    'life: while gate.wait_open() {
        while gate.is_open() {
            match sup.handle_one(&listener) {
                Ok(Handled::Answered | Handled::Interrupted) => {}
                Ok(Handled::Gone) if hung_up(&listener) => break 'life,
                Ok(Handled::Gone) => {}
                Err(_) => break 'life,
            }
        }
    }
    gate.end();
    sup.stats
}

/// Whether a call waits to be received.
fn pending(listener: &OwnedFd) -> bool {
    poll_now(listener) & libc::POLLIN != 0
}

/// Whether no process uses the listener's filter any more.
fn hung_up(listener: &OwnedFd) -> bool {
    poll_now(listener) & (libc::POLLHUP | libc::POLLERR) != 0
}

fn poll_now(listener: &OwnedFd) -> i16 {
    let mut p = libc::pollfd {
        fd: listener.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no wait.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    if n > 0 {
        p.revents
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::FromRawFd;

    /// An fd that polls readable (a call pending) or not, for a listener.
    fn listener(pending: bool) -> OwnedFd {
        // SAFETY: eventfd returns a new fd; the write puts 1 in its counter.
        unsafe {
            let fd = libc::eventfd(u32::from(pending), libc::EFD_CLOEXEC);
            assert!(fd >= 0);
            OwnedFd::from_raw_fd(fd)
        }
    }

    #[test]
    fn the_gate_opens_on_overlapping_calls_and_closes_after_calm() {
        let (busy, idle) = (listener(true), listener(false));
        let mut w = Watch::default();
        // One thread's calls, however many are pending, are no overlap.
        for _ in 0..100 {
            w.seen(&busy, 7);
        }
        assert!(!w.gate.is_open(), "one thread alone");
        // Threads taking turns with nothing behind them: no overlap.
        for pid in [7, 8].repeat(100) {
            w.seen(&idle, pid);
        }
        assert!(!w.gate.is_open(), "alternating threads, nothing pending");
        // Another thread's call with more waiting: overlaps.
        for pid in [7, 8, 7, 8] {
            w.seen(&busy, pid);
        }
        assert!(w.gate.is_open(), "four overlaps open it");
        for _ in 0..CALM_TO_CLOSE - 1 {
            w.seen(&idle, 7);
        }
        assert!(w.gate.is_open(), "still open before the calm run ends");
        w.seen(&idle, 7);
        assert!(!w.gate.is_open(), "a calm run closes it");
    }

    #[test]
    fn a_startups_few_overlaps_do_not_add_up_across_calm_runs() {
        let (busy, idle) = (listener(true), listener(false));
        let mut w = Watch::default();
        for round in 0..10 {
            for pid in [1, 2, 3] {
                w.seen(&busy, pid + round * 10);
            }
            for _ in 0..CALM_TO_CLOSE {
                w.seen(&idle, 99);
            }
        }
        assert!(!w.gate.is_open());
    }
}
