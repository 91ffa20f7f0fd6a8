//! Idle CPUs that poll while a command is supervised.
//!
//! Every answer the supervisor gives wakes a sleeping task: the caller after
//! CONTINUE, an errno or an fd injection, and, for an injection, the
//! supervisor itself once the caller has installed the fd. When the task is
//! woken on a CPU that is idle, that CPU must first come out of its halt:
//! on a virtual machine a halted vCPU is descheduled by the host, and waking
//! it costs tens of microseconds (a supervised, fd-injected open measured
//! 49.3 us unpinned against 12.7 us with the process and the supervisor
//! pinned to one CPU, `cargo bench --bench enforce`, 2026-12-06).
//!
//! The kernel's answer to exactly this is a CPU latency request (PM QoS):
//! while a process holds `/dev/cpu_dma_latency` open with 0 written to it,
//! cpuidle keeps idle CPUs in their polling state, so a wake-up on another
//! CPU costs what it costs on a busy one. The request is the kernel's to
//! drop: it ends when the fd is closed, by this guard or by the process's
//! exit, however that comes. It costs power on idle CPUs while the command
//! runs, not CPU time of any task or cgroup (the polling is the idle loop's).
//!
//! Writing the request needs root (the device is 0600 root's): elsewhere
//! the supervisor keeps the listener's synchronous wake-ups, which keep a
//! CONTINUE or errno round trip on one CPU but not an injection (see
//! docs/performance.md).
//!
//! Tried first and removed: pinning the supervisor to the caller's CPU for
//! the ADDFD (the caller, woken by the ADDFD while the supervisor runs, was
//! still placed on the other, idle CPU: 54.5 us against 51.8 us).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The device through which a process asks for a CPU wake-up latency.
const DEVICE: &[u8] = b"/dev/cpu_dma_latency\0";

/// A CPU latency request of 0 us, held until dropped.
#[derive(Debug)]
pub struct IdlePoll {
    _request: OwnedFd,
}

impl IdlePoll {
    /// Asks that idle CPUs poll instead of halting. `Err(errno)` where the
    /// request cannot be made (not root, no PM QoS device).
    pub fn hold() -> Result<IdlePoll, i32> {
        // SAFETY: DEVICE is NUL-terminated; open returns a new fd or -1.
        let fd = unsafe { libc::open(DEVICE.as_ptr().cast(), libc::O_WRONLY | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(crate::apply::sys::errno());
        }
        // SAFETY: the fd is new and ours alone.
        let request = unsafe { OwnedFd::from_raw_fd(fd) };
        let zero = 0i32.to_ne_bytes();
        // SAFETY: writes the 4 bytes of `zero` to our own fd.
        let wrote = unsafe { libc::write(request.as_raw_fd(), zero.as_ptr().cast(), zero.len()) };
        if wrote != zero.len() as isize {
            return Err(crate::apply::sys::errno());
        }
        Ok(IdlePoll { _request: request })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel shows the effective request in the same device: reading
    /// it gives the smallest latency any holder asked for.
    fn effective() -> Option<i32> {
        let bytes = std::fs::read("/dev/cpu_dma_latency").ok()?;
        Some(i32::from_ne_bytes(bytes.get(..4)?.try_into().ok()?))
    }

    #[test]
    fn the_request_holds_while_the_guard_lives() {
        match IdlePoll::hold() {
            Ok(guard) => {
                assert_eq!(effective(), Some(0), "0 us requested while held");
                drop(guard);
                // Another process may hold its own request; ours is gone
                // unless someone else asked for 0 too.
                let after = effective();
                assert!(after.is_some(), "the device stays readable");
            }
            // Not root, or no PM QoS device: the caller falls back.
            Err(e) => assert!(
                e == libc::EACCES || e == libc::EPERM || e == libc::ENOENT,
                "unexpected errno {e}"
            ),
        }
    }
}
