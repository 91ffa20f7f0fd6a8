//! An fd injection that stays on one CPU.
//!
//! A notification wakes the supervisor on the caller's CPU (the listener's
//! synchronous wake-up), and CONTINUE or an errno wakes the caller on the
//! supervisor's: a round trip stays on one CPU. An injection does not: the
//! caller installs the fd and completes the supervisor's ADDFD with an
//! ordinary wake-up, which an unpinned supervisor gets on another CPU,
//! often an idle one that must first come out of its halt (tens of
//! microseconds on a VM), while the caller runs on to its next call and
//! waits for it. So for the ADDFD alone the supervisor keeps to the CPU it
//! woke on, which is the caller's, then takes its whole affinity back: the
//! sandboxed processes are never pinned, and neither is the supervisor
//! while it waits, so parallel work stays parallel. Where the supervisor
//! may use one CPU only (`--cpus 0`, a pinned run) there is nothing to do.
//!
//! EXPERIMENTAL, off unless `SBCHECK_FOLLOW_CPU` is set: on a loaded
//! machine (no halted CPU to wait for) it made an unpinned injected open
//! slower, 13.1 -> 19.8-20.3 us (`cargo bench --bench enforce`, 2026-12-06,
//! load average 10-11), the supervisor's completion then preempting the
//! caller on their shared CPU in 94-99% of opens instead of 17%. Whether
//! it brings the quiet machine's 67 us towards the pinned 4.9 us is to be
//! measured there (docs/performance.md).

#[cfg(target_os = "linux")]
use crate::apply::sys::{affinity, pin_to_cpu, set_affinity};

/// The supervisor's CPUs, when there are several.
pub struct Follow {
    #[cfg(target_os = "linux")]
    spread: Option<libc::cpu_set_t>,
}

impl Follow {
    /// Reads the calling thread's affinity (the supervisor's).
    #[cfg(target_os = "linux")]
    pub fn new() -> Follow {
        let set = affinity();
        // SAFETY: CPU_COUNT reads the set.
        let several = unsafe { libc::CPU_COUNT(&set) } > 1
            && std::env::var_os("SBCHECK_FOLLOW_CPU").is_some();
        Follow {
            spread: several.then_some(set),
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub fn new() -> Follow {
        Follow {}
    }

    /// Runs `f` pinned to the CPU this thread runs on, then restores its
    /// affinity. Best effort: if the CPU cannot be read or set, `f` runs
    /// as it would have.
    #[cfg(target_os = "linux")]
    pub fn stay<T>(&self, f: impl FnOnce() -> T) -> T {
        let Some(spread) = &self.spread else {
            return f();
        };
        // SAFETY: sched_getcpu takes nothing (vDSO or rdpid).
        let cpu = unsafe { libc::sched_getcpu() };
        let pinned = usize::try_from(cpu).is_ok_and(|c| pin_to_cpu(c).is_ok());
        let out = f();
        if pinned {
            let _ = set_affinity(spread);
        }
        out
    }

    #[cfg(not(target_os = "linux"))]
    pub fn stay<T>(&self, f: impl FnOnce() -> T) -> T {
        f()
    }
}

impl Default for Follow {
    fn default() -> Self {
        Follow::new()
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn the_affinity_is_restored_after_the_injection() {
        let before = affinity();
        let f = Follow::new();
        // SAFETY: CPU_COUNT and sched_getcpu read only.
        let inside = f.stay(|| unsafe { libc::CPU_COUNT(&affinity()) });
        let after = affinity();
        // SAFETY: CPU_COUNT reads the sets.
        let (n_before, n_after) = unsafe { (libc::CPU_COUNT(&before), libc::CPU_COUNT(&after)) };
        assert_eq!(n_before, n_after);
        let expected = if f.spread.is_some() { 1 } else { n_before };
        assert_eq!(inside, expected, "pinned to one CPU inside when following");
    }
}
